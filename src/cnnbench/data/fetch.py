"""Fetch: copy or download a CIFAR-10 source into a fresh folder.

``data.source`` is an http(s) URL or a local path, of the official python tarball (its md5
is checked when the file has the official name) or of image-folder data. The folder is
written atomically, and the source's structure is checked by ``readers`` before it
replaces the old folder, so a bad download never becomes the fetch stage's output.
"""

from __future__ import annotations

import http.client
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from cnnbench.data.readers import OFFICIAL_MD5, OFFICIAL_NAME, dir_entries, read_source
from cnnbench.errors import DataError
from cnnbench.files import atomic_path, md5sum

LOCAL_COPY_HINT = ("without internet, point data.source at a local copy: "
                   "`dvc exp run -S data.source=PATH` or edit params.yaml")


def is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https")


def _download(url: str, dest: Path) -> None:
    from tqdm import tqdm

    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with open(dest, "wb") as fh, tqdm(total=total, unit="B", unit_scale=True,
                                              unit_divisor=1024, desc=f"fetch {dest.name}") as bar:
                while block := response.read(1 << 16):
                    fh.write(block)
                    received += len(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as err:
        raise DataError(f"data.source {url}: HTTP {err.code} {err.reason}; "
                        f"{LOCAL_COPY_HINT}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or f"{type(err).__name__}: {err}"
        raise DataError(f"data.source {url} is unreachable ({reason}); {LOCAL_COPY_HINT}") from None
    if total is not None and received != total:
        raise DataError(f"data.source {url}: download incomplete, got {received} of {total} "
                        f"bytes; try again or {LOCAL_COPY_HINT}")


def fetch(source: str, out_dir: str | os.PathLike,
          relative_to: str | os.PathLike | None = None) -> Path:
    """Copy or download ``source`` into the fresh folder ``out_dir``; return the copy's path.

    A relative local ``source`` is read from ``relative_to`` (default: the current folder).
    The folder is written atomically: after an error or Ctrl-C it is absent, not partial.
    A file named like the official tarball must have the official md5, and the source's
    structure (members, splits, classes) is checked before the folder is replaced.
    """
    out_dir = Path(out_dir)
    if is_url(source):
        name = PurePosixPath(urllib.parse.urlparse(source).path).name or "download"
    else:
        base = Path(relative_to) if relative_to is not None else Path.cwd()
        path = base / Path(source).expanduser()
        if not path.exists():
            raise DataError(f"data.source {source!r}: no such file or directory "
                            f"(relative paths are read from {base.resolve()})")
        name = path.resolve().name
        if path.is_dir():
            dir_entries(path, name)  # no link, device or oversized file gets copied
        elif not path.is_file():
            raise DataError(f"data.source {source!r} is not a regular file or folder")
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        dest = tmp / name
        if is_url(source):
            _download(source, dest)
        elif path.is_dir():
            shutil.copytree(path, dest, symlinks=True)
        else:
            shutil.copyfile(path, dest)
        if name == OFFICIAL_NAME and dest.is_file():
            digest = md5sum(dest)
            if digest != OFFICIAL_MD5:
                raise DataError(f"data.source {source}: md5 {digest} does not match the official "
                                f"CIFAR-10 tarball's {OFFICIAL_MD5}; the file is corrupt or not "
                                "CIFAR-10")
        read_source(dest, decode=False)  # refuse a malformed source before replacing out_dir
    return out_dir / name
