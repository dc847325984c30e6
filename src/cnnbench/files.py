"""Atomic file writes: an output is either complete or absent, never half-written; and
file digests, read in chunks."""

from __future__ import annotations

import ctypes
import errno
import glob
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cnnbench.stop import raise_if_stopped


@contextmanager
def atomic_path(target: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path beside ``target``; move it onto ``target`` on success.

    The temporary file or folder lives in the target's own directory, so the final
    ``os.replace`` is atomic; an existing folder is swapped with the new one in one step
    (``exchange``) and its old copy deleted afterwards, so that ``target`` is the old or
    the new output at every moment, SIGKILL included. On any error (or Ctrl-C, or SIGTERM
    through ``run_stage``) the temporary path is removed and ``target`` is left as it was;
    one left by a SIGKILL is removed by the next write of the same target.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    for stale in target.parent.glob(f".{glob.escape(target.name)}.*.tmp{suffix}"):
        _remove(stale)  # left by a run that was killed (SIGKILL) while writing
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp" + suffix,
                                    dir=target.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    tmp.unlink()
    try:
        yield tmp
        raise_if_stopped()  # a Ctrl-C or SIGTERM swallowed on the way must not publish
        if target.is_dir() and not target.is_symlink():
            exchange(tmp, target)  # the old folder is now at tmp, removed below
        else:
            os.replace(tmp, target)
    finally:
        _remove(tmp)


def exchange(a: Path, b: Path) -> None:
    """Swap two paths in one atomic step: Linux's ``renameat2(RENAME_EXCHANGE)``.

    Where the system or file system lacks it, three renames through a third name: a
    SIGKILL between the first two leaves ``b`` absent (never partial) and its old copy
    under a temporary name beside it, which the next write of ``b`` removes.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    renameat2 = getattr(libc, "renameat2", None)
    if renameat2 is not None:
        at_fdcwd, rename_exchange = -100, 2
        if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
            return
        err = ctypes.get_errno()
        if err not in (errno.EINVAL, errno.ENOSYS, errno.ENOTSUP):
            raise OSError(err, os.strerror(err), str(b))
    aside = Path(tempfile.mkdtemp(prefix=f".{b.name}.", suffix=".tmp", dir=b.parent))
    os.replace(b, aside)
    os.replace(a, b)
    os.replace(aside, a)


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    elif path.exists() or path.is_symlink():
        path.unlink()


def write_json(path: str | os.PathLike, obj: object) -> None:
    """Write ``obj`` as indented JSON, atomically."""
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False) + "\n")


def md5sum(path: str | os.PathLike) -> str:
    """The md5 of a file's bytes (hex)."""
    return digest_file(path, hashlib.md5()).hexdigest()


def sha256sum(path: str | os.PathLike) -> str:
    """The sha256 of a file's bytes (hex)."""
    return digest_file(path, hashlib.sha256()).hexdigest()


def digest_file(path: str | os.PathLike, digest, chunk: int = 1 << 20):
    """``digest`` (a ``hashlib`` object) updated with a file's bytes, read in chunks."""
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest
