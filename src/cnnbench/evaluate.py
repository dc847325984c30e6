"""Score one trained model on the test split and write its metrics and DVC plots.

The metrics JSON (``--metrics``; committed to git, so ``dvc metrics diff`` works across commits):

- ``params.total`` / ``params.trainable`` / ``params.non_trainable``
- ``flops.macs``: forward multiply-accumulates per image (``cnnbench.models.macs``)
- ``train.loss`` / ``train.accuracy``: the last epoch's running averages, as Keras
  reports them and as the seed's Table 1 lists them (dropout active)
- ``test.loss`` / ``test.accuracy``: the trained model on the test split (Table 2), scored
  by Keras itself with plain cross-entropy, so the loss means what the training log's
  ``val/loss`` means when the recipe has no label smoothing. When the recipe asks for flip
  test-time augmentation (``tta_flip``), they score the mean prediction of each image and
  its mirror image, and ``test.accuracy_without_tta`` / ``test.loss_without_tta`` keep
  the plain scores
- ``time.train_s`` / ``time.epoch_mean_s``: training wall time (Table 3)
- ``throughput.infer_img_s`` (and ``throughput.train_img_s``): images per second
- ``device``: what it was evaluated on (GPU with driver and CUDA, or CPU; Keras backend)
- ``protocol`` and ``validation.loss`` / ``validation.accuracy`` / ``validation.images``:
  only when ``data.validation`` held training images out (the last epoch's scores on them);
  absent in the seed's protocol, which validates on the test split
- ``robustness.*`` / ``calibration.*``: the robustness stage's scores, merged as they are
  (``cnnbench.robustness``)

and in the plots folder the confusion matrix and per-class accuracy, through DVCLive.

Run through the pipeline (``dvc repro evaluate@resnet18``) or ``stages/evaluate.py --help``.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import keras
import numpy as np

from cnnbench.errors import DataError
from cnnbench.data.dataset import Dataset, load_prepared
from cnnbench.files import atomic_path, write_json
from cnnbench.models.macs import count_macs
from cnnbench.models.saving import load_model
from cnnbench.training.logs import open_live
from cnnbench.machine import describe, label

def count_params(model: keras.Model) -> dict[str, int]:
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    non_trainable = sum(int(np.prod(w.shape)) for w in model.non_trainable_weights)
    return {"total": trainable + non_trainable, "trainable": trainable,
            "non_trainable": non_trainable}


def timed_predict(model: keras.Model, x: np.ndarray, batch_size: int) -> tuple[np.ndarray, float]:
    """Class probabilities for ``x`` and the steady-state images/s (after one warm-up batch)."""
    model.predict(x[:batch_size], batch_size=batch_size, verbose=0)
    start = time.perf_counter()
    probs = model.predict(x, batch_size=batch_size, verbose=0)
    return np.asarray(probs, dtype=np.float64), len(x) / (time.perf_counter() - start)


def flip_tta(model: keras.Model, x: np.ndarray, probs: np.ndarray,
             batch_size: int) -> np.ndarray:
    """Flip test-time augmentation: the mean of ``probs`` (of ``x``) and those of ``x``
    mirrored left-right."""
    flipped = model.predict(x[:, :, ::-1], batch_size=batch_size, verbose=0)
    return (probs + np.asarray(flipped, dtype=np.float64)) / 2


def crossentropy(probs: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of class probabilities ``probs`` against labels ``y``."""
    picked = np.clip(probs[np.arange(len(y)), y], 1e-7, 1.0)  # Keras' epsilon
    return float(-np.mean(np.log(picked)))


def _read_json(path: str | os.PathLike, what: str, fix: str) -> object:
    """``path`` parsed as JSON, or a one-line error naming ``what`` it should hold."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read {what} ({err}); run `dvc repro` to {fix} "
                        "first") from None


def read_train_log(path: str | os.PathLike) -> dict:
    log = _read_json(path, "the training log", "train")
    if not isinstance(log, dict) or not {"loss", "accuracy"} <= set(log.get("train", {})):
        raise DataError(f"{path}: not a cnnbench training log (no train/loss and train/accuracy)")
    return log


def apply_protocol(metrics: dict, dataset: Dataset, log: dict) -> None:
    """Add ``protocol`` and the last epoch's ``validation`` scores to ``metrics`` when
    training validated on held-out training images; the seed's metrics stay as they were."""
    if dataset.validation is None:
        return
    val = log.get("val", {})
    metrics["protocol"] = dataset.protocol
    metrics["validation"] = {key: round(val[key], 6) for key in ("loss", "accuracy")
                             if key in val}
    metrics["validation"]["images"] = int(len(dataset.validation.y))


def read_scores(path: str | os.PathLike) -> dict:
    """The robustness stage's JSON: its ``robustness`` and ``calibration`` sections."""
    scores = _read_json(path, "the robustness scores", "score the model")
    if not isinstance(scores, dict) or set(scores) != {"robustness", "calibration"}:
        raise DataError(f"{path}: not robustness scores (robustness and calibration)")
    return scores



def evaluate(name: str, model_file: str | os.PathLike, data_file: str | os.PathLike,
             train_log: str | os.PathLike, metrics_out: str | os.PathLike,
             plots_dir: str | os.PathLike, batch_size: int, tta_flip: bool = False,
             architecture: str | None = None, extra: dict | None = None) -> dict:
    """Evaluate ``model_file`` on the test split; write ``metrics_out`` and ``plots_dir``.

    ``tta_flip``: score the mean prediction of each image and its mirror image.
    ``architecture``: the network's file, imported before the model is loaded (its own
    registered classes), ``name``'s package model by default.
    ``extra``: more sections of the metrics (the robustness stage's, ``read_scores``).
    """
    if not Path(model_file).is_file():
        raise DataError(f"{model_file}: no trained model; run `dvc repro train@{name}` first")
    log = read_train_log(train_log)
    dataset = load_prepared(data_file)
    # The plain cross-entropy whatever the training loss was (label smoothing changes it)
    model = load_model(model_file, architecture or name)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    y = dataset.test.y
    # Keras' own loss, exactly as in training and validation on this backend
    scores = model.evaluate(dataset.test.x, y, batch_size=batch_size, verbose=0,
                            return_dict=True)
    probs, infer_img_s = timed_predict(model, dataset.test.x, batch_size)
    test = {"loss": round(float(scores["loss"]), 6),
            "accuracy": round(float(scores["accuracy"]), 6),
            "images": int(len(y))}
    if tta_flip:
        probs = flip_tta(model, dataset.test.x, probs, batch_size)
        test = {"loss": round(crossentropy(probs, y), 6),
                "accuracy": round(float(np.mean(probs.argmax(axis=1) == y)), 6),
                "images": int(len(y)), "tta": "flip",
                "accuracy_without_tta": test["accuracy"], "loss_without_tta": test["loss"]}
    predicted = probs.argmax(axis=1)
    classes = dataset.class_names
    per_class = [{"class": c, "accuracy": round(float(np.mean(predicted[y == i] == i)), 6)}
                 for i, c in enumerate(classes) if np.any(y == i)]
    time_log = log.get("time", {})
    epochs = int(log.get("epochs", 0))
    metrics = {
        "model": name,
        "params": count_params(model),
        "flops": {"macs": count_macs(model)},  # forward multiply-accumulates per image
        "train": {"loss": round(log["train"]["loss"], 6),
                  "accuracy": round(log["train"]["accuracy"], 6),
                  "epochs": epochs},
        "test": test,
        "time": {"train_s": time_log.get("train_s"), "epoch_mean_s": time_log.get("epoch_mean_s")},
        "throughput": {
            "infer_img_s": round(infer_img_s, 1),
            "train_img_s": round(len(dataset.train.y) * epochs / time_log["train_part_s"], 1)
            if time_log.get("train_part_s") else None,
            "infer_batch_size": batch_size,
        },
        **(extra or {}),
        "device": label(describe()),
    }
    apply_protocol(metrics, dataset, log)
    with atomic_path(plots_dir) as tmp:
        with open_live(tmp) as live:
            live.log_sklearn_plot("confusion_matrix", [classes[i] for i in y],
                                  [classes[i] for i in predicted], name="confusion")
            live.log_plot("per_class_accuracy", per_class, x="class", y="accuracy",
                          template="bar_horizontal", title=f"{name}: test accuracy per class")
    write_json(metrics_out, metrics)
    return metrics
