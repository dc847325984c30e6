"""Errors and the command-line wrapper shared by every stage script.

Every problem a user can cause (a bad param, a missing file, a corrupt archive)
raises ``CnnbenchError`` with a message that names the key or file. ``run_stage``
turns it into one line on stderr and a non-zero exit, and turns Ctrl-C and SIGTERM into
one line instead of a traceback, after temporary files are cleaned up.
"""

from __future__ import annotations

import os
import signal
import sys
from collections.abc import Callable

EXIT_ERROR = 2
EXIT_INTERRUPTED = 130


class CnnbenchError(Exception):
    """A problem with the user's input, reported as one line without a traceback."""


class ParamsError(CnnbenchError):
    """A bad key or value in params.yaml."""


class DataError(CnnbenchError):
    """A data source or data file that cannot be used."""


def _terminate(signum, frame) -> None:
    raise KeyboardInterrupt


def run_stage(main: Callable[[list[str] | None], None], argv: list[str] | None = None) -> int:
    """Run a stage's ``main`` and map errors to one-line messages and exit codes."""
    prog = sys.argv[0].rsplit("/", 1)[-1]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before any stage imports TensorFlow
    signal.signal(signal.SIGTERM, _terminate)  # clean up temporary files as for Ctrl-C
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
