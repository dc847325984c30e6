"""The ``cnnbench`` command: one entry point for the tools around the pipeline.

    cnnbench check           validate params.yaml before `dvc repro`
    cnnbench estimate        how long `dvc repro` will take on this machine
    cnnbench bench --help    each command has its own --help

(``python -m cnnbench`` is the same command; the Makefile and the pull-request workflow
call it too.) The pipeline's stages keep their own scripts in ``stages/``, which
``dvc repro`` runs. Each command is a module with a ``main(argv)``; it runs under
``runner.run_stage``, so a user's mistake is one line on stderr and exit code 2. Importing
this module loads no command, so ``cnnbench extras`` runs before the environment exists.
"""

from __future__ import annotations

import argparse
import importlib
import sys

from cnnbench.runner import run_stage

#: command -> (module whose ``main(argv)`` it runs, one line of help). One line adds one.
COMMANDS = {
    "check": ("cnnbench.config.check", "validate the whole params.yaml before DVC runs (make "
              "repro runs it first)"),
    "estimate": ("cnnbench.tools.estimate", "how long `dvc repro` will take here, per model and in "
                 "total"),
    "bench": ("cnnbench.tools.bench", "training and inference throughput of the models"),
    "review": ("cnnbench.review.review", "Markdown review of the working tree against a base "
               "revision"),
    "repeats": ("cnnbench.review.repeats", "collect seed repeats from DVC experiments"),
    "compare": ("cnnbench.review.compare", "per-model results of the working tree against a base "
                "revision, as Markdown"),
    "gate": ("cnnbench.review.gate", "fail, naming the stages, when the committed results are stale"),
    "refresh": ("cnnbench.review.refresh", "record edits that cannot change any output "
                "(comments, docstrings, formatting) without rerunning"),
    "experiments": ("cnnbench.review.experiments", "experiments side by side within 120 columns"),
    "extras": ("cnnbench.tools.build", "the pyproject extras to install on this machine "
               "(make setup)"),
}


def parser() -> argparse.ArgumentParser:
    """The top-level parser: it only lists the commands (each parses its own arguments)."""
    top = argparse.ArgumentParser(prog="cnnbench", description=__doc__.split("\n\n")[0],
                                  epilog="Run `cnnbench COMMAND --help` for a command's "
                                  "options.")
    commands = top.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name, (_, line) in COMMANDS.items():
        commands.add_parser(name, help=line, add_help=False)
    return top


def main(argv: list[str] | None = None) -> int:
    """Run ``cnnbench COMMAND ARGS...``; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] not in COMMANDS:
        parser().parse_args(argv[:1])  # --help, or an unknown or missing command: exits
    module, _ = COMMANDS[argv[0]]
    sys.argv[0] = f"cnnbench {argv[0]}"  # the name run_stage's one-line errors start with
    return run_stage(lambda args: importlib.import_module(module).main(args), argv[1:])
