"""The command-line wrapper shared by every stage script.

Every problem a user can cause (a bad param, a missing file, a corrupt archive)
raises ``errors.CnnbenchError`` with a message that names the key or file. ``run_stage``
turns it into one line on stderr and a non-zero exit, and turns Ctrl-C and SIGTERM into
one line instead of a traceback, after temporary files are cleaned up.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable

from cnnbench.errors import CnnbenchError

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


# Set by the SIGINT/SIGTERM handler. Process-wide by nature, like the signals themselves:
# the KeyboardInterrupt the handler raises can be swallowed when it lands inside a
# ``__del__`` or a garbage-collector callback ("Exception ignored in ..."), so writers
# check this flag before an output becomes visible (``files.atomic_path``) and training
# checks it after every batch.
_STOP_REQUESTED = threading.Event()


def _terminate(signum, frame) -> None:
    _STOP_REQUESTED.set()
    raise KeyboardInterrupt


def _quiet_unraisable(unraisable) -> None:
    """Python's hook for exceptions it cannot raise (inside ``__del__``, GC callbacks):
    our own interrupt landing there is silent, since the stop flag still ends the run;
    everything else goes to the default hook."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt) and _STOP_REQUESTED.is_set():
        return
    sys.__unraisablehook__(unraisable)


def raise_if_stopped() -> None:
    """Raise KeyboardInterrupt if Ctrl-C or SIGTERM arrived, even if it was swallowed."""
    if _STOP_REQUESTED.is_set():
        raise KeyboardInterrupt


def run_stage(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> int:
    """Run a stage's ``main`` and map errors to one-line messages and exit codes."""
    prog = sys.argv[0].rsplit("/", 1)[-1]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any stage imports TensorFlow
    _STOP_REQUESTED.clear()
    for signum in (signal.SIGINT, signal.SIGTERM):  # SIGTERM cleans up as Ctrl-C does
        signal.signal(signum, _terminate)
    sys.unraisablehook = _quiet_unraisable  # no "Exception ignored ... Traceback" on Ctrl-C
    try:
        main(argv)
    except CnnbenchError as err:
        print(f"{prog}: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"{prog}: interrupted; nothing was written. Run `dvc repro` again to redo it.",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def add_run_arguments(parser) -> None:
    """The command-line arguments of the stages that read a whole run (plot, summarise)."""
    parser.add_argument("--metrics-dir", required=True, help="folder of <model>.json metrics")
    parser.add_argument("--logs-dir", required=True, help="folder of <model>/ training logs")
    parser.add_argument("--data-metrics", required=True, help="data statistics from prepare")
    parser.add_argument("--reference", required=True, help="the seed report's numbers (YAML)")
    parser.add_argument("--params", default="params.yaml",
                        help="params file; its `models` are read (default: %(default)s)")
