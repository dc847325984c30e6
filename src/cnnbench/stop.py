"""The stop flag: set by Ctrl-C or SIGTERM, checked before an output becomes visible.

Process-wide by nature, like the signals themselves: the KeyboardInterrupt that the
handler (``runner``) raises can be swallowed when it lands inside a ``__del__`` or a
garbage-collector callback ("Exception ignored in ..."), so writers check this flag
before an output becomes visible (``files.atomic_path``) and training checks it after
every batch. It imports nothing, so every floor may use it.
"""

from __future__ import annotations

import threading

REQUESTED = threading.Event()


def raise_if_stopped() -> None:
    """Raise KeyboardInterrupt if Ctrl-C or SIGTERM arrived, even if it was swallowed."""
    if REQUESTED.is_set():
        raise KeyboardInterrupt
