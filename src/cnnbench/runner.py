"""The stage wrapper: how every stage script and ``cnnbench`` command runs.

Every problem a user can cause (a bad param, a missing file, a corrupt archive)
raises ``errors.CnnbenchError`` with a message that names the key or file. ``run_stage``
turns it into one line on stderr and a non-zero exit, and turns Ctrl-C and SIGTERM into
one line instead of a traceback, after temporary files are cleaned up; an error that follows
a stop request is reported as the stop. It also keeps
TensorFlow's start-up notices (logged before its logging is set up, so that
TF_CPP_MIN_LOG_LEVEL cannot hide them) off the screen; any other line TensorFlow writes
while it loads, a warning about a bad setting for instance, still shows.

``parser`` builds every stage's and command's argument parser, with the one ``--params``
option. The wrapper writes no output and shapes none, so no stage of ``dvc.yaml``
depends on it: an edit here never makes a result stale. It imports only ``errors`` and
``stop``, never the code that reads data, trains or evaluates (a test checks both).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.abc
import importlib.machinery
import os
import re
import signal
import sys
import tempfile
from collections.abc import Callable

from cnnbench import stop
from cnnbench.errors import CnnbenchError

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


def _terminate(signum, frame) -> None:
    stop.REQUESTED.set()
    raise KeyboardInterrupt


def _quiet_unraisable(unraisable) -> None:
    """Python's hook for exceptions it cannot raise (inside ``__del__``, GC callbacks):
    our own interrupt landing there is silent, since the stop flag still ends the run;
    everything else goes to the default hook."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and stop.REQUESTED.is_set():
        return
    sys.__unraisablehook__(unraisable)


#: Lines TensorFlow writes to stderr on every start, whatever TF_CPP_MIN_LOG_LEVEL says.
STARTUP_NOTICES = re.compile(
    r"WARNING: All log messages before absl::InitializeLog\(\) is called are written to STDERR"
    r"|I\d{4} [\d:. ]+\d+ port\.cc:\d+\] oneDNN custom operations are on\. ")


@contextlib.contextmanager
def without_startup_notices():
    """Write stderr (file descriptor 2) to a file for the block, then replay every line of it
    but ``STARTUP_NOTICES``, also when the block raises."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            for line in captured.read().decode(errors="replace").splitlines(keepends=True):
                if not STARTUP_NOTICES.match(line):
                    sys.stderr.write(line)
            sys.stderr.flush()


class _QuietTensorFlow(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Import hook: the first ``import tensorflow`` runs ``without_startup_notices``."""

    def __init__(self) -> None:
        self.loader = None  # TensorFlow's own loader, once found

    def find_spec(self, fullname, path, target=None):
        if fullname != "tensorflow" or self.loader is not None:
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None:
            self.loader, spec.loader = spec.loader, self
        return spec

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        module.__loader__ = module.__spec__.loader = self.loader
        with without_startup_notices():
            self.loader.exec_module(module)


def run_stage(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> int:
    """Run a stage's ``main`` and map errors to one-line messages and exit codes.

    The signal handlers, the unraisable hook and the stop flag are the run's own: they are
    put back as they were when it returns, so a caller in the same process (a test, the
    ``cnnbench`` command) is not stopped later by an interrupt this run already handled."""
    prog = sys.argv[0].rsplit("/", 1)[-1]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any stage imports TensorFlow
    stop.REQUESTED.clear()
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
    for signum in handlers:  # SIGTERM cleans up as Ctrl-C does
        signal.signal(signum, _terminate)
    hook = sys.unraisablehook
    sys.unraisablehook = _quiet_unraisable  # no "Exception ignored ... Traceback" on Ctrl-C
    quiet = _QuietTensorFlow()
    sys.meta_path.insert(0, quiet)
    try:
        main(argv)
    except (KeyboardInterrupt, Exception) as err:
        # Once a stop was asked for, whatever ends the run is the stop: the interrupt can land
        # inside library code that masks it, or leave an object half-built so that the next
        # call fails with some other error. Either way nothing was written (``atomic_path``).
        if isinstance(err, KeyboardInterrupt) or stop.REQUESTED.is_set():
            print(f"{prog}: interrupted; nothing was written. Run `dvc repro` again to redo "
                  "it.", file=sys.stderr)
            return EXIT_INTERRUPTED
        if isinstance(err, CnnbenchError):
            print(f"{prog}: error: {err}", file=sys.stderr)
            return EXIT_ERROR
        raise
    finally:
        sys.meta_path.remove(quiet)
        for signum, handler in handlers.items():
            signal.signal(signum, handler)
        sys.unraisablehook = hook
        stop.REQUESTED.clear()
    return 0


def add_params(parser: argparse.ArgumentParser) -> None:
    """The ``--params`` option, the same for every stage and command."""
    parser.add_argument("--params", default="params.yaml", metavar="FILE",
                        help="params file to read (default: %(default)s)")


def parser(doc: str | None, params: bool = True, **kwargs) -> argparse.ArgumentParser:
    """An argument parser whose description is ``doc`` as written, with ``--params``."""
    result = argparse.ArgumentParser(description=doc,
                                     formatter_class=argparse.RawDescriptionHelpFormatter,
                                     **kwargs)
    if params:
        add_params(result)
    return result


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line arguments of the stages that score one trained model (evaluate,
    robustness)."""
    parser.add_argument("model", help="entry of models in the params, e.g. resnet18")
    parser.add_argument("--model", dest="model_file", required=True,
                        help=".keras file written by the train stage")
    parser.add_argument("--data", required=True, help=".npz written by the prepare stage")


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """The command-line arguments of the stages that read a whole run (plot, summarise)."""
    parser.add_argument("--metrics-dir", required=True, help="folder of <model>.json metrics")
    parser.add_argument("--logs-dir", required=True, help="folder of <model>/ training logs")
    parser.add_argument("--data-metrics", required=True, help="data statistics from prepare")
    parser.add_argument("--reference", required=True, help="the seed report's numbers (YAML)")
