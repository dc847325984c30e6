"""Prepare: decode the fetched source into one compact ``.npz`` and a data summary.

The ``.npz`` (read back by ``dataset.load_prepared``) holds ``x_train``/``x_test`` (uint8,
NHWC), ``y_train``/``y_test`` (int32) and ``class_names``; the summary holds counts per
split and class and per-channel statistics. Subsets are seeded and stratified. Models
scale pixels to [0, 1] themselves (x / 255).
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


def stratified_indices(y: np.ndarray, limit: int | None, seed: int, key: str) -> np.ndarray:
    """Sorted indices of a seeded subset of ``limit`` items with class proportions kept."""
    if limit is None:
        return np.arange(len(y))
    if limit <= 0:
        raise DataError(f"{key} must be a positive integer or null, got {limit}")
    if limit > len(y):
        raise DataError(f"{key} is {limit}, larger than the {len(y)} images available")
    classes, counts = np.unique(y, return_counts=True)
    quota = counts * limit / len(y)
    take = np.floor(quota).astype(int)
    # hand the remaining places to the classes with the largest fractional parts
    for i in np.argsort(-(quota - take), kind="stable")[: limit - take.sum()]:
        take[i] += 1
    rng = np.random.default_rng(seed)
    picked = [rng.permutation(np.flatnonzero(y == c))[:n] for c, n in zip(classes, take)]
    return np.sort(np.concatenate(picked))


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

    Everything sits under a top-level ``data`` key (``data.train.count``, ...).
    """
    summary: dict = {"source": source or {}, "classes": list(dataset.class_names)}
    for name in SPLITS:
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


def prepare(raw_dir: str | os.PathLike, out_file: str | os.PathLike,
            summary_file: str | os.PathLike, train_limit: int | None = None,
            test_limit: int | None = None, seed: int = 0, resize: bool = False) -> Dataset:
    """Decode the fetched source, take the seeded stratified subsets, write both outputs."""
    fetched = fetched_source(raw_dir)
    full = read_source(fetched, resize=resize)
    train_idx = stratified_indices(full.train.y, train_limit, seed, "data.train_limit")
    test_idx = stratified_indices(full.test.y, test_limit, seed + 1, "data.test_limit")
    dataset = Dataset(Split(full.train.x[train_idx], full.train.y[train_idx]),
                      Split(full.test.x[test_idx], full.test.y[test_idx]), full.class_names)
    with atomic_path(out_file, suffix=".npz") as tmp:
        with open(tmp, "wb") as fh:
            np.savez(fh, x_train=dataset.train.x, y_train=dataset.train.y,
                     x_test=dataset.test.x, y_test=dataset.test.y,
                     class_names=np.asarray(dataset.class_names))
    source = {"name": fetched.name,
              "sha256": sha256sum(fetched) if fetched.is_file() else None}
    write_json(summary_file, data_summary(dataset, source))
    return dataset
