"""Fetch: copy or download a CIFAR-10 source into a fresh folder.

``data.source`` is a name from the catalogue (``catalogue.py``: ``cifar10``,
``cifar10-jpeg``), an http(s) URL or a local path. A name's file is looked for in the
folders of ``CNNBENCH_DATA``, then in the user cache, then downloaded into the cache (if
its entry lists a URL), and its checksum must match the catalogue's. A URL or path is the
official python tarball (its md5 is checked when the file has the official name) or
image-folder data. The folder is written atomically, and the source's structure is checked
by ``readers`` before it replaces the old folder, so a bad download never becomes the fetch
stage's output.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path, PurePosixPath

from cnnbench.data import catalogue
from cnnbench.data.readers import (OFFICIAL_MD5, OFFICIAL_NAME, dir_entries, images_digest,
                                   read_source)
from cnnbench.errors import DataError
from cnnbench.files import atomic_path, md5sum, sha256sum

LOCAL_COPY_HINT = ("without internet, point data.source at a local copy: "
                   "`dvc exp run -S data.source=PATH` or edit params.yaml")


def is_url(source: str) -> bool:
    return urllib.parse.urlparse(source).scheme in ("http", "https")


def _download(url: str, dest: Path, label: str | None = None, hint: str = LOCAL_COPY_HINT,
              desc: str | None = None) -> None:
    """Download ``url`` to ``dest``; errors start with ``label`` and end with ``hint``."""
    from tqdm import tqdm

    label = label or f"data.source {url}"
    try:
        with urllib.request.urlopen(url, timeout=30) as response:
            total = int(response.headers.get("Content-Length") or 0) or None
            received = 0
            with open(dest, "wb") as fh, tqdm(total=total, unit="B", unit_scale=True,
                                              unit_divisor=1024,
                                              desc=f"fetch {desc or dest.name}") as bar:
                while block := response.read(1 << 16):
                    fh.write(block)
                    received += len(block)
                    bar.update(len(block))
    except urllib.error.HTTPError as err:
        raise DataError(f"{label}: HTTP {err.code} {err.reason}; {hint}") from None
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as err:
        reason = getattr(err, "reason", None) or f"{type(err).__name__}: {err}"
        raise DataError(f"{label} is unreachable ({reason}); {hint}") from None
    if total is not None and received != total:
        raise DataError(f"{label}: download incomplete, got {received} of {total} "
                        f"bytes; try again or {hint}")


_DIGESTS = {"md5": md5sum, "sha256": sha256sum}


def _check_checksums(path: Path, entry: catalogue.Entry, label: str, what: str,
                     remedy: str) -> str:
    """Require ``path`` to be ``entry``'s file: every file checksum the catalogue lists, or
    else, where it lists one, the digest of its images. Returns what matched, for the log."""
    got = {kind: _DIGESTS[kind](path) for kind in entry.checksums()}
    if got == entry.checksums():
        return " and ".join(got)
    mismatch = "; ".join(f"{kind} {got[kind]}, but the catalogue lists {kind} {expected}"
                         for kind, expected in entry.checksums().items() if got[kind] != expected)
    if entry.images_sha256:
        try:
            images = images_digest(path)
        except DataError as err:
            mismatch += (f"; and its images cannot be compared with the catalogue's images "
                         f"sha256 {entry.images_sha256} ({err})")
        else:
            if images == entry.images_sha256:
                return "images sha256"
            mismatch += (f"; and its images' sha256 is {images}, but the catalogue lists "
                         f"images sha256 {entry.images_sha256}")
    raise DataError(f"{label}: {what} is not the catalogue's {entry.file}: it has {mismatch}; "
                    f"the file is corrupt or another version: {remedy}")


def _locate(entry: catalogue.Entry, relative_to: str | os.PathLike | None) -> Path | None:
    """The first ``entry.file`` in the search path (CNNBENCH_DATA's folders, the cache)."""
    for folder in catalogue.search_path(relative_to):
        if (folder / entry.file).is_file():
            return folder / entry.file
    return None


@contextlib.contextmanager
def _locked(fh):
    """Hold an exclusive lock on the open file ``fh`` (where the system has ``fcntl``), so
    that two fetches filling the same cache entry at once download it one after the other."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux or macOS
        yield
        return
    fcntl.flock(fh, fcntl.LOCK_EX)
    try:
        yield
    finally:
        fcntl.flock(fh, fcntl.LOCK_UN)


def _download_to_cache(name: str, entry: catalogue.Entry, label: str, hint: str) -> Path:
    """Download ``entry`` into the user cache, atomically and checksum-checked; its path."""
    cache = catalogue.cache_dir()
    target = cache / entry.file
    try:
        cache.mkdir(parents=True, exist_ok=True)
        lock_file = open(cache / f".{entry.file}.lock", "a")
    except OSError as err:
        raise DataError(f"{label}: cannot write the cache folder {cache} ({err.strerror}); "
                        f"set XDG_CACHE_HOME to a writable folder, or {hint}") from None
    with lock_file, _locked(lock_file):
        if target.is_file():  # another fetch downloaded it while this one waited
            return target
        with atomic_path(target) as tmp:  # a failed check leaves nothing in the cache
            _download(entry.url, tmp, label=f"{label}: download {entry.url}", hint=hint,
                      desc=entry.file)
            _check_checksums(tmp, entry, label, f"the download {entry.url}",
                             f"nothing was kept in {cache}; try again, or {hint}")
    print(f"fetch: {name}: downloaded {entry.url} into {target}")
    return target


def fetch_named(name: str, out_dir: str | os.PathLike,
                relative_to: str | os.PathLike | None = None) -> Path:
    """Fetch the catalogue entry ``name`` into the fresh folder ``out_dir`` as its ``file``.

    The file is taken from the first folder of ``CNNBENCH_DATA`` (relative folders read from
    ``relative_to``) that holds it, else from the user cache, else downloaded into the cache
    from the entry's ``url``. A file found with another checksum than the catalogue's is an
    error, not skipped; ``out_dir`` is then left as it was.
    """
    try:
        entry = catalogue.lookup(name)
    except KeyError as err:
        raise DataError(f"data.source {err.args[0]}") from None
    label = f"data.source {name!r}"
    sums = ", ".join(f"{kind} {value}" for kind, value in entry.checksums().items())
    hint = (f"without internet, put {entry.file} ({sums}) in a folder and name that folder in "
            f"{catalogue.DATA_ENV}")
    found = _locate(entry, relative_to)
    if found is None:
        if entry.url is None:
            dirs = catalogue.data_dirs(relative_to)
            searched = (f"{catalogue.DATA_ENV} ({os.pathsep.join(map(str, dirs))})" if dirs
                        else f"{catalogue.DATA_ENV} (not set)")
            origin = f"; its images come from {entry.origin}" if entry.origin else ""
            raise DataError(f"{label}: {entry.file} is in neither {searched} nor the cache "
                            f"{catalogue.cache_dir()}, and the catalogue lists no download "
                            f"for it: {hint}{origin}")
        found = _download_to_cache(name, entry, label, hint)
        remedy = f"remove {found} to download it again"
    elif found.parent == catalogue.cache_dir():
        remedy = f"remove {found}" + (" to download it again" if entry.url else "")
    else:
        remedy = f"replace or remove {found}"
    out_dir = Path(out_dir)
    with atomic_path(out_dir) as tmp:
        tmp.mkdir()
        dest = tmp / entry.file
        shutil.copyfile(found, dest)
        # the copy is what the stage publishes, so the copy is what gets checked
        matched = _check_checksums(dest, entry, label, str(found), remedy)
        read_source(dest, decode=False)  # refuse a malformed source before replacing out_dir
    print(f"fetch: {name}: {found} ({matched} as in the catalogue)")
    return out_dir / entry.file


def fetch(source: str, out_dir: str | os.PathLike,
          relative_to: str | os.PathLike | None = None) -> Path:
    """Copy or download ``source`` into the fresh folder ``out_dir``; return the copy's path.

    A catalogue name (no '/' and no '.') is fetched by ``fetch_named``. A relative local
    ``source`` is read from ``relative_to`` (default: the current folder).
    The folder is written atomically: after an error or Ctrl-C it is absent, not partial.
    A file named like the official tarball must have the official md5, and the source's
    structure (members, splits, classes) is checked before the folder is replaced.
    """
    if catalogue.is_name(source):
        return fetch_named(source, out_dir, relative_to)
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
