"""Small CIFAR-10-shaped data sets made on the fly, so tests never need the network."""

from __future__ import annotations

import io
import pickle
import shutil
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


def make_official_tarball(path: Path, per_batch: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Write a tarball in the official CIFAR-10 python layout (5 train batches, 1 test batch).

    Returns the NHWC train images and labels that were written, to compare against.
    """
    rng = np.random.default_rng(0)

    def member(tar: tarfile.TarFile, name: str, obj: object) -> None:
        data = pickle.dumps(obj)
        info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))

    train_x, train_y = [], []
    with tarfile.open(path, "w:gz") as tar:
        member(tar, "batches.meta", {b"label_names": [c.encode() for c in CLASSES]})
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            x = rng.integers(0, 256, size=(per_batch, 32, 32, 3), dtype=np.uint8)
            y = rng.integers(0, 10, size=per_batch).tolist()
            flat = x.transpose(0, 3, 1, 2).reshape(per_batch, -1)  # rows of R..., G..., B...
            member(tar, name, {b"data": flat, b"labels": y})
            if name != "test_batch":
                train_x.append(x)
                train_y.extend(y)
    return np.concatenate(train_x), np.asarray(train_y)
