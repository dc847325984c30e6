"""The prepared data, as train and evaluate see it: ``Dataset``/``Split`` and ``load_prepared``.

The ``.npz`` holds ``x_train``/``y_train``, ``x_test``/``y_test`` and ``class_names``, and
``x_val``/``y_val`` only when ``data.validation`` holds training images out.

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


#: The seed's protocol: the test split is the per-epoch validation data.
SEED_PROTOCOL = "seed (test split as validation)"


def held_out_protocol(images: int) -> str:
    """The protocol of ``data.validation: images``: the test split is scored once."""
    return f"held-out validation ({images:,} images)"


@dataclass(frozen=True)
class Split:
    """One split: uint8 images (N, 32, 32, 3) and int32 labels (N,)."""

    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Dataset:
    """The prepared splits; ``validation`` is the held-out part of the training images
    (``data.validation``), None in the seed's protocol, which validates on ``test``."""

    train: Split
    test: Split
    class_names: tuple[str, ...]
    validation: Split | None = None

    def split(self, name: str) -> Split:
        return {"train": self.train, "test": self.test, "validation": self.validation}[name]

    @property
    def validation_split(self) -> Split:
        """What training validates on every epoch: the held-out images, else the test split."""
        return self.test if self.validation is None else self.validation

    @property
    def protocol(self) -> str:
        """Which split training validated on, as logs, metrics and the summary name it."""
        return (SEED_PROTOCOL if self.validation is None else
                held_out_protocol(len(self.validation.y)))


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
            validation = (Split(npz["x_val"], npz["y_val"]) if "x_val" in npz.files
                          else None)  # written only when data.validation holds images out
            return Dataset(Split(npz["x_train"], npz["y_train"]),
                           Split(npz["x_test"], npz["y_test"]),
                           tuple(str(c) for c in npz["class_names"]), validation)
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as err:
        raise DataError(f"{path}: not a prepared cnnbench data file ({err})") from None
