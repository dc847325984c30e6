"""Prepare: decode the fetched source into one compact ``.npz`` and a data summary.

The ``.npz`` (read back by ``dataset.load_prepared``) holds ``x_train``/``x_test`` (uint8,
NHWC), ``y_train``/``y_test`` (int32) and ``class_names``, and ``x_val``/``y_val`` only when
``data.validation`` holds training images out for per-epoch validation; the summary holds
counts per split and class and per-channel statistics. Subsets and the held-out images are
seeded and stratified. Models scale pixels to [0, 1] themselves (x / 255).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from cnnbench.data.dataset import SPLITS, Dataset, Split
from cnnbench.data.readers import read_source
from cnnbench.errors import DataError
from cnnbench.files import atomic_path, sha256sum, write_json


def fetched_source(raw_dir: str | os.PathLike) -> Path:
    """The single file or folder that ``fetch`` left in ``raw_dir``."""
    raw_dir = Path(raw_dir)
    if not raw_dir.is_dir():
        raise DataError(f"{raw_dir}: no fetched data; run `dvc repro fetch` first")
    entries = [p for p in raw_dir.iterdir() if not p.name.startswith(".")]
    if len(entries) != 1:
        raise DataError(f"{raw_dir}: expected exactly one fetched file or folder, "
                        f"found {len(entries)}")
    return entries[0]


def class_quotas(counts: np.ndarray, limit: int) -> np.ndarray:
    """How many of ``limit`` items each class of ``counts`` items gets, in proportion."""
    quota = counts * limit / counts.sum()
    take = np.floor(quota).astype(int)
    # hand the remaining places to the classes with the largest fractional parts
    for i in np.argsort(-(quota - take), kind="stable")[: limit - take.sum()]:
        take[i] += 1
    return take


def stratified_indices(y: np.ndarray, limit: int | None, seed: int, key: str) -> np.ndarray:
    """Sorted indices of a seeded subset of ``limit`` items with class proportions kept."""
    if limit is None:
        return np.arange(len(y))
    if limit <= 0:
        raise DataError(f"{key} must be a positive integer or null, got {limit}")
    if limit > len(y):
        raise DataError(f"{key} is {limit}, larger than the {len(y)} images available")
    classes, counts = np.unique(y, return_counts=True)
    take = class_quotas(counts, limit)
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(y == c))[:n] for c, n in zip(classes, take)]
    return np.sort(np.concatenate(picked))


def validation_indices(y: np.ndarray, validation: int, seed: int) -> np.ndarray:
    """Sorted indices of the ``validation`` training images held out (``data.validation``),
    stratified and seeded; every class keeps at least one training image."""
    counts = np.unique(y, return_counts=True)[1]

    def spares(n: int) -> bool:  # every class keeps an image
        return bool(np.all(class_quotas(counts, n) < counts))

    if validation >= len(y) or not spares(validation):
        most = next((n for n in range(min(validation, len(y)) - 1, 0, -1) if spares(n)), 0)
        raise DataError(f"data.validation is {validation}, more than the {len(y)} training "
                        f"images ({counts.min()} in the smallest class) can spare with one "
                        f"left in every class; use at most {most}")
    return stratified_indices(y, validation, seed, "data.validation")


def channel_stats(x: np.ndarray, chunk: int = 4096) -> tuple[list[float], list[float]]:
    """Per-channel mean and std of pixels scaled to [0, 1], without a float copy of ``x``."""
    total = np.zeros(3)
    total_sq = np.zeros(3)
    for start in range(0, len(x), chunk):
        block = x[start:start + chunk].reshape(-1, 3).astype(np.float64) / 255.0
        total += block.sum(axis=0)
        total_sq += np.square(block).sum(axis=0)
    n = x.shape[0] * x.shape[1] * x.shape[2]
    mean = total / n
    std = np.sqrt(np.maximum(total_sq / n - mean**2, 0.0))
    return [round(float(v), 6) for v in mean], [round(float(v), 6) for v in std]


def data_summary(dataset: Dataset, source: dict | None = None) -> dict:
    """Counts per split and class and per-channel statistics, for the prepare stage's data
    summary (an output, not a DVC metric: `dvc metrics diff` lists the models' metrics only).

    Everything sits under a top-level ``data`` key (``data.train.count``, ...); the
    ``validation`` split is there only when training images were held out.
    """
    summary: dict = {"source": source or {}, "classes": list(dataset.class_names)}
    names = SPLITS if dataset.validation is None else ("train", "validation", "test")
    for name in names:
        split = dataset.split(name)
        counts = np.bincount(split.y, minlength=len(dataset.class_names))
        mean, std = channel_stats(split.x)
        summary[name] = {
            "count": int(len(split.y)),
            "per_class": {c: int(n) for c, n in zip(dataset.class_names, counts)},
            "mean": dict(zip("rgb", mean)),
            "std": dict(zip("rgb", std)),
        }
    return {"data": summary}


def hold_out(train: Split, validation: int, seed: int) -> tuple[Split, Split | None]:
    """``(kept, held_out)``: ``validation`` images of ``train`` held out for per-epoch
    validation (stratified, seeded), or ``train`` itself and None when it is 0."""
    if not validation:
        return train, None
    held = validation_indices(train.y, validation, seed)
    kept = np.setdiff1d(np.arange(len(train.y)), held)
    return Split(train.x[kept], train.y[kept]), Split(train.x[held], train.y[held])


def prepare(raw_dir: str | os.PathLike, out_file: str | os.PathLike,
            summary_file: str | os.PathLike, train_limit: int | None = None,
            test_limit: int | None = None, seed: int = 0, resize: bool = False,
            validation: int = 0) -> Dataset:
    """Decode the fetched source, take the seeded stratified subsets, hold ``validation``
    of the training images out (seed + 2), write both outputs."""
    fetched = fetched_source(raw_dir)
    full = read_source(fetched, resize=resize)
    train_idx = stratified_indices(full.train.y, train_limit, seed, "data.train_limit")
    test_idx = stratified_indices(full.test.y, test_limit, seed + 1, "data.test_limit")
    train, held = hold_out(Split(full.train.x[train_idx], full.train.y[train_idx]),
                           validation, seed + 2)
    dataset = Dataset(train, Split(full.test.x[test_idx], full.test.y[test_idx]),
                      full.class_names, held)
    # x_val/y_val only when images are held out: with 0 the file is the seed protocol's
    extra = {} if held is None else {"x_val": held.x, "y_val": held.y}
    with atomic_path(out_file, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, x_train=dataset.train.x, y_train=dataset.train.y,
                     x_test=dataset.test.x, y_test=dataset.test.y,
                     class_names=np.asarray(dataset.class_names), **extra)
    source = {"name": fetched.name,
              "sha256": sha256sum(fetched) if fetched.is_file() else None}
    write_json(summary_file, data_summary(dataset, source))
    return dataset
