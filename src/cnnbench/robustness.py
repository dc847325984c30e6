"""Score one trained model on the corrupted test images and its calibration on the clean ones.

Writes a JSON that the evaluate stage merges into the model's metrics
(docs/guide/robustness.md says what each number means):

- ``robustness.mean_corruption_accuracy``: accuracy over every corruption and severity
- ``robustness.clean_accuracy``: accuracy on the same subset, uncorrupted
- ``robustness.relative``: mean corruption accuracy / clean accuracy (1 = nothing lost)
- ``robustness.corruption.<name>``: accuracy under one corruption, mean of its severities
- ``robustness.severity.s<k>``: accuracy at severity k, mean of the corruptions
- ``robustness.per_severity.<name>.s<k>``: one corruption at one severity
- ``robustness.images``: images in the subset (each seen under every corruption)
- ``calibration.ece``: expected calibration error on the whole clean test split, 15
  equal-width confidence bins (Guo et al., 2017)
- ``calibration.brier``: Brier score, the mean over images of the squared distance
  between the probability vector and the one-hot label (0 to 2)
- ``calibration.nll``: mean negative log-likelihood of the true class
- ``calibration.images``: images of the clean test split

and a CSV of the reliability diagram: per confidence bin, its range, the mean confidence,
the accuracy and the image count. Predictions are plain, without test-time augmentation.

Run through the pipeline (``dvc repro robustness@resnet18``) or ``stages/robustness.py --help``.
"""

from __future__ import annotations

import os

import numpy as np
import pandas as pd

from cnnbench.data.dataset import load_prepared
from cnnbench.errors import DataError
from cnnbench.evaluate import crossentropy
from cnnbench.files import atomic_path, write_json
from cnnbench.models.saving import load_model

BINS = 15  # Guo et al. (2017)


def _bin_of(confidence: np.ndarray, bins: int) -> np.ndarray:
    """The bin of each confidence: (k/bins, (k+1)/bins], the first one closed at 0."""
    scaled = np.round(confidence * bins, 9)  # 0.4 * 15 is 6.000000000000001: bin 5, not 6
    return np.clip(np.ceil(scaled).astype(int) - 1, 0, bins - 1)


def reliability(probs: np.ndarray, y: np.ndarray, bins: int = BINS) -> pd.DataFrame:
    """Per equal-width confidence bin: its range, mean confidence, accuracy and count."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == y
    which = _bin_of(confidence, bins)
    count = np.bincount(which, minlength=bins)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_conf = np.bincount(which, confidence, bins) / count
        accuracy = np.bincount(which, correct.astype(float), bins) / count
    edges = np.arange(bins + 1) / bins
    return pd.DataFrame({"low": edges[:-1], "high": edges[1:], "confidence": mean_conf,
                         "accuracy": accuracy, "count": count})


def expected_calibration_error(probs: np.ndarray, y: np.ndarray, bins: int = BINS) -> float:
    """ECE: the count-weighted mean |accuracy - confidence| over the confidence bins."""
    table = reliability(probs, y, bins).query("count > 0")
    gaps = (table["accuracy"] - table["confidence"]).abs()
    return float((gaps * table["count"]).sum() / len(y))


def brier_score(probs: np.ndarray, y: np.ndarray) -> float:
    """The mean squared distance between each probability vector and its one-hot label."""
    onehot = np.eye(probs.shape[1])[y]
    return float(np.mean(np.sum((probs - onehot) ** 2, axis=1)))


def calibration(probs: np.ndarray, y: np.ndarray) -> dict:
    return {"ece": round(expected_calibration_error(probs, y), 6),
            "brier": round(brier_score(probs, y), 6),
            "nll": round(crossentropy(probs, y), 6), "images": int(len(y))}


def summarise(correct: np.ndarray, clean_correct: np.ndarray, corruptions: list[str],
              severities: list[int]) -> dict:
    """The robustness metrics from ``correct`` (corruption, severity, image) booleans and
    ``clean_correct`` of the same images."""
    accuracy = correct.mean(axis=2)  # corruption x severity
    mean = float(accuracy.mean())
    clean = float(clean_correct.mean())
    level = [f"s{s}" for s in severities]
    return {
        "mean_corruption_accuracy": round(mean, 6),
        "clean_accuracy": round(clean, 6),
        "relative": round(mean / clean, 6) if clean else None,
        "images": int(correct.shape[2]),
        "corruption": {n: round(float(a), 6) for n, a in zip(corruptions, accuracy.mean(1))},
        "severity": {s: round(float(a), 6) for s, a in zip(level, accuracy.mean(0))},
        "per_severity": {n: {s: round(float(a), 6) for s, a in zip(level, row)}
                         for n, row in zip(corruptions, accuracy)},
    }


def load_corrupted(path: str | os.PathLike) -> dict:
    """The corrupted set written by the corrupt stage."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {key: npz[key] for key in ("x", "y", "indices", "corruptions",
                                              "severities")}
    except (OSError, KeyError, ValueError) as err:
        raise DataError(f"{path}: not a corrupted set ({err}); run `dvc repro corrupt`") \
            from None


def score(name: str, model_file: str | os.PathLike, data_file: str | os.PathLike,
          corrupted_file: str | os.PathLike, out_json: str | os.PathLike,
          reliability_csv: str | os.PathLike, batch_size: int,
          architecture: str | None = None) -> dict:
    """Score ``model_file`` on the corrupted set and the clean test split; write both.
    ``architecture``: the network's file, imported before loading (``name``'s by default)."""
    if not os.path.isfile(model_file):
        raise DataError(f"{model_file}: no trained model; run `dvc repro train@{name}` first")
    test = load_prepared(data_file).test
    corrupted = load_corrupted(corrupted_file)
    if corrupted["x"].shape[3:] != test.x.shape[1:]:
        raise DataError(f"{corrupted_file}: images of shape {corrupted['x'].shape[3:]}, the "
                        f"test split's are {test.x.shape[1:]}; run `dvc repro corrupt`")
    model = load_model(model_file, architecture or name)

    def predict(x: np.ndarray) -> np.ndarray:
        return np.asarray(model.predict(x, batch_size=batch_size, verbose=0), dtype=np.float64)

    probs = predict(test.x)
    x, y = corrupted["x"], corrupted["y"]
    flat = predict(x.reshape(-1, *x.shape[3:]))
    correct = (flat.argmax(axis=1).reshape(x.shape[:3]) == y)
    clean_correct = probs[corrupted["indices"]].argmax(axis=1) == y
    result = {"robustness": summarise(correct, clean_correct,
                                      [str(c) for c in corrupted["corruptions"]],
                                      [int(s) for s in corrupted["severities"]]),
              "calibration": calibration(probs, test.y)}
    with atomic_path(reliability_csv, suffix=".csv") as tmp:
        reliability(probs, test.y).to_csv(tmp, index=False, float_format="%.6g")
    write_json(out_json, result)
    return result
