"""Stale-results gate: fail when the committed results no longer match the code and params.

    cnnbench gate

Reads ``dvc status --json`` and lists each stage whose command, code, params or
committed outputs differ from what ``dvc.lock`` recorded, with the reason, then the
stages downstream of them that a ``dvc repro`` would also rerun; exits 1 if there is any.
A stage stale only by edits that cannot change any output (comments, docstrings or
formatting of the Python files it depends on) is named apart, with the fix: ``cnnbench
refresh``, which records such edits without rerunning. A file that is simply absent
(``deleted``, ``not in cache``: data, models and other cached outputs of a clone that did
not ``dvc pull``) is not a change, so the gate runs in a fresh clone without the DVC cache.
A change to files no stage depends on (docs) passes.

It also warns, one line per model and without failing, when a model's committed seed
repeats are no noise of its main run (other code, params, data or numerics:
``cnnbench.report.provenance``), with the command that refreshes them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import yaml

from cnnbench import runner
from cnnbench.errors import CnnbenchError
from cnnbench.report.provenance import left_out

#: What ``dvc status`` says of a file that is not in the workspace or cache: not a change.
ABSENT = ("deleted", "not in cache")
SHOWN = 4  # reasons listed per stage; the rest are counted
#: The gate's verdict on stages that ``cnnbench refresh`` can record.
COSMETIC = ("stale only by edits that cannot change any output (comments, docstrings, "
            "formatting)")


def _reasons(entries: list) -> list[str]:
    """The changes in one stage's ``dvc status --json`` entries, absent files left out."""
    reasons = []
    for entry in entries:
        if isinstance(entry, str):  # "changed command", "always changed"
            reasons.append(entry)
            continue
        for kind, changes in entry.items():
            for path, status in changes.items():
                if isinstance(status, dict):  # params: {key: modified/new/deleted}
                    reasons += [f"param {key} {how}" for key, how in status.items()]
                elif status not in ABSENT:
                    reasons.append(f"{kind.removeprefix('changed ')[:-1]} {path} {status}")
    return reasons


def stale_stages(status: dict) -> dict[str, list[str]]:
    """``{stage: [reason, ...]}`` for the stages of a ``dvc status --json`` that changed."""
    stale = {stage: _reasons(entries) for stage, entries in status.items()}
    return {stage: reasons for stage, reasons in stale.items() if reasons}


def downstream(stages: list[str]) -> list[str]:
    """The stages that depend, directly or not, on ``stages`` (pipeline order)."""
    import networkx as nx
    from dvc.repo import Repo

    with Repo() as repo:
        graph = repo.index.graph  # edges point from a stage to the stages it depends on
        names = {stage.addressing: stage for stage in graph}
        order = [s.addressing for s in reversed(list(nx.topological_sort(graph)))]
        after = set()
        for name in stages:
            if name in names:
                after |= {s.addressing for s in nx.ancestors(graph, names[name])}
    return [s for s in order if s in after and s not in stages]


def dvc(*args: str) -> str:
    """Run a DVC command of this environment; its failure is a one-line error."""
    result = subprocess.run([sys.executable, "-m", "dvc", *args], capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise CnnbenchError(f"dvc {' '.join(args)} failed: {lines[-1] if lines else 'no output'}")
    return result.stdout


def report(stale: dict[str, list[str]], also: list[str]) -> str:
    """Markdown lines saying which stages are stale and why (empty when none is)."""
    if not stale:
        return ""
    lines = [f"- `{stage}`: {', '.join(reasons[:SHOWN])}"
             + (f" and {len(reasons) - SHOWN} more" if len(reasons) > SHOWN else "")
             for stage, reasons in stale.items()]
    if also:
        lines.append(f"- and downstream: {', '.join(f'`{s}`' for s in also)}")
    return "\n".join(lines)


def check() -> tuple[dict[str, list[str]], dict[str, list[str]], list[str]]:
    """The current project's stale stages that ``dvc repro`` must rerun, with the reasons;
    those stale only by edits that cannot change any output, with their changed files; and
    the stages downstream of the first (where a stage of the second, which reruns anyway,
    is listed instead)."""
    from cnnbench.review.refresh import harmless  # it builds on this module

    status = json.loads(dvc("status", "--json") or "{}")
    stale = stale_stages(status)
    cosmetic = harmless(status) if stale else {}
    rerun = {stage: reasons for stage, reasons in stale.items() if stage not in cosmetic}
    also = downstream(list(rerun)) if rerun else []
    cosmetic = {stage: files for stage, files in cosmetic.items() if stage not in also}
    return rerun, cosmetic, also


def stale_repeats(params: str | Path = "params.yaml") -> list[str]:
    """One line per model of ``params`` whose committed seed repeats are not all noise of
    its main run, saying why and what refreshes them."""
    from cnnbench.review.paths import pipeline_paths
    from cnnbench.review.runs import Tree, side_runs

    models = list((yaml.safe_load(Path(params).read_text()) or {}).get("models") or {})
    runs = side_runs(Tree(), models, pipeline_paths())
    return ["; ".join(left_out(model, found.left_out)) for model, found in runs.items()
            if found.left_out]


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, prog="cnnbench gate")
    args = parser.parse_args(argv)
    for line in stale_repeats(args.params):
        print(f"gate: warning: {line}")
    stale, cosmetic, also = check()
    if not stale and not cosmetic:
        print("gate: results are current (dvc.lock matches the code and params)")
        return
    if stale:
        print("gate: the committed results do not match the code and params; "
              "run `dvc repro` and commit dvc.lock and its outputs. Stale stages:")
        print(report(stale, also))
    if cosmetic:
        print(f"gate: {COSMETIC}: run `cnnbench refresh` and commit dvc.lock"
              + (" (no rerun needed for these)" if stale else "") + ". Stages:")
        print(report(cosmetic, []))
    raise SystemExit(1)

