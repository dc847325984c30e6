"""The prepared data, as train and evaluate see it: ``Dataset``/``Split`` and ``load_prepared``.

Kept apart from ``data`` (fetch, archive readers, prepare), so that a change to how
archives are read reruns fetch and prepare only, never the training of every model.
"""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from cnnbench.errors import DataError

SPLITS = ("train", "test")


@dataclass(frozen=True)
class Split:
    """One split: uint8 images (N, 32, 32, 3) and int32 labels (N,)."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Dataset:
    train: Split
    test: Split
    class_names: tuple[str, ...]

    def split(self, name: str) -> Split:
        return {"train": self.train, "test": self.test}[name]


def load_prepared(path: str | os.PathLike) -> Dataset:
    """Load the file written by ``prepare``."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no prepared data; run `dvc repro prepare` first")
    try:
        npz = np.load(path, allow_pickle=False)
        if not isinstance(npz, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with npz:
            return Dataset(Split(npz["x_train"], npz["y_train"]),
                           Split(npz["x_test"], npz["y_test"]),
                           tuple(str(c) for c in npz["class_names"]))
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a prepared cnnbench data file ({err})") from None
