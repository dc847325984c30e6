"""Small CIFAR-10-shaped data sets made on the fly, so tests never need the network."""

from __future__ import annotations

import io
import pickle
import shutil
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("airplane", "automobile", "bird", "cat", "deer",
           "dog", "frog", "horse", "ship", "truck")


def class_images(n: int, class_id: int, seed: int) -> np.ndarray:
    """``n`` 32x32 RGB images whose mean colour depends on the class, so they are learnable."""
    rng = np.random.default_rng(seed * 1000 + class_id)
    base = np.array([class_id * 25, 255 - class_id * 25, (class_id * 70) % 256], dtype=np.int16)
    noise = rng.integers(-40, 41, size=(n, 32, 32, 3))
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def make_image_folder(dest: Path, train_per_class: int = 4, test_per_class: int = 2,
                      classes: tuple[str, ...] = CLASSES, fmt: str = "dir",
                      top: str | None = "cifar10", image_format: str = "PNG") -> Path:
    """Write image-folder data ``[top/]{train,test}/<class>/NNNN.png`` and return its path.

    ``fmt`` is ``dir``, ``tar``, ``tar.gz`` or ``zip``; PNG keeps the pixels exact.
    """
    dest.mkdir(parents=True, exist_ok=True)
    staging = dest / "staging"
    root = staging / top if top else staging
    for split, per_class, seed in (("train", train_per_class, 1), ("test", test_per_class, 2)):
        for class_id, name in enumerate(classes):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i, img in enumerate(class_images(per_class, class_id, seed)):
                Image.fromarray(img).save(folder / f"{i:04d}.{image_format.lower()}",
                                          format=image_format)
    if fmt == "dir":
        return staging
    out = dest / f"images.{fmt}"
    if fmt == "zip":
        with zipfile.ZipFile(out, "w") as zf:
            for path in sorted(staging.rglob("*")):
                zf.write(path, path.relative_to(staging).as_posix())
    else:
        with tarfile.open(out, "w:gz" if fmt == "tar.gz" else "w") as tar:
            for path in sorted(staging.iterdir()):
                tar.add(path, arcname=path.name)
    shutil.rmtree(staging)
    return out


def python2_pickle(obj: dict) -> bytes:
    """``obj`` pickled as Python 2's cPickle (protocol 2) wrote CIFAR-10's batches.

    ``obj`` maps bytes to bytes, lists of bytes or ints, or 2-D uint8 arrays. Python 3 cannot
    write this form itself: it pickles bytes through ``_codecs.encode`` at protocol 2.
    """
    def string(data: bytes) -> bytes:  # Python 2 str: SHORT_BINSTRING or BINSTRING
        if len(data) < 256:
            return b"U" + bytes([len(data)]) + data
        return b"T" + struct.pack("<i", len(data)) + data

    def integer(n: int) -> bytes:  # BININT
        return b"J" + struct.pack("<i", n)

    def value(item) -> bytes:
        if isinstance(item, bytes):
            return string(item)
        if isinstance(item, list):
            return b"](" + b"".join(value(x) for x in item) + b"e"  # EMPTY_LIST MARK .. APPENDS
        if isinstance(item, int):
            return integer(item)
        dtype = (b"cnumpy\ndtype\n" + string(b"u1") + integer(0) + integer(1) + b"\x87R"
                 + b"(" + integer(3) + string(b"|") + b"NNN" + integer(-1) + integer(-1)
                 + integer(0) + b"tb")
        return (b"cnumpy.core.multiarray\n_reconstruct\ncnumpy\nndarray\n" + integer(0)
                + b"\x85" + string(b"b") + b"\x87R"  # _reconstruct(ndarray, (0,), 'b')
                + b"(" + integer(1) + b"".join(integer(n) for n in item.shape) + b"\x86"
                + dtype + b"\x89" + string(item.tobytes()) + b"tb")  # __setstate__
    items = b"".join(string(key) + value(item) for key, item in obj.items())
    return b"\x80\x02}(" + items + b"u."


def make_official_tarball(path: Path, per_batch: int = 6, python2: bool = False,
                          meta: object | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Write a tarball in the official CIFAR-10 python layout (5 train batches, 1 test batch).

    ``python2``: pickle as the real tarball does (``python2_pickle``), else with this
    Python's default protocol. ``meta``: an object to pickle as ``batches.meta`` instead of
    the class names. Returns the NHWC train images and labels written, to compare against.
    """
    rng = np.random.default_rng(0)

    def member(tar: tarfile.TarFile, name: str, obj: object) -> None:
        data = python2_pickle(obj) if python2 and obj is not meta else pickle.dumps(obj)
        info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    train_x, train_y = [], []
    with tarfile.open(path, "w:gz") as tar:
        member(tar, "batches.meta", meta if meta is not None else
               {b"label_names": [c.encode() for c in CLASSES]})
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            x = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
            y = rng.integers(0, 10, size=per_batch).tolist()
            flat = x.transpose(0, 3, 1, 2).reshape(per_batch, -1)  # rows of R..., G..., B...
            member(tar, name, {b"data": flat, b"labels": y})
            if name != "test_batch":
                train_x.append(x)
                train_y.extend(y)
    return np.concatenate(train_x), np.asarray(train_y)
