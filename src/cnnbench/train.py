"""Train one registered model on the prepared data, logging every epoch through DVCLive.

As in the seed report, the test split doubles as validation data: every epoch ends
with a pass over it. Per epoch, DVCLive records ``train/loss``, ``train/accuracy``,
``val/loss``, ``val/accuracy``, ``time/epoch_s`` (the whole epoch, validation
included, as Keras reports it) and ``time/train_s`` (the training part alone); its
``metrics.json`` summary also gets the run's totals under ``time``.

Run through the pipeline (``dvc repro train@resnet18``) or ``stages/train.py --help``.
"""

from __future__ import annotations

import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import keras
import numpy as np

from cnnbench import models
from cnnbench.cli import CnnbenchError
from cnnbench.config import TrainParams
from cnnbench.data import load_prepared
from cnnbench.files import atomic_path


class LiveLogger(keras.callbacks.Callback):
    """Log each epoch's Keras metrics and wall time to a ``dvclive.Live``.

    DVCLive's own ``DVCLiveCallback`` imports TensorFlow and records no timing, so this
    small callback is used on every Keras backend instead.
    """

    def __init__(self, live) -> None:
        super().__init__()
        self.live = live
        self.epoch_s: list[float] = []
        self.train_s: list[float] = []
        self._epoch_start = self._train_end = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch_start = time.perf_counter()
        self._train_end = 0.0

    def on_test_begin(self, logs=None) -> None:
        if self._epoch_start and not self._train_end:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        now = time.perf_counter()
        self.epoch_s.append(now - self._epoch_start)
        self.train_s.append((self._train_end or now) - self._epoch_start)
        for key, value in (logs or {}).items():
            name = f"val/{key[4:]}" if key.startswith("val_") else f"train/{key}"
            self.live.log_metric(name, float(value))
        self.live.log_metric("time/epoch_s", round(self.epoch_s[-1], 3))
        self.live.log_metric("time/train_s", round(self.train_s[-1], 3))
        self.live.next_step()

    def on_train_end(self, logs=None) -> None:
        self.live.summary["epochs"] = len(self.epoch_s)
        self.live.summary["time"] = {
            "train_s": round(sum(self.epoch_s), 3),
            "epoch_mean_s": round(float(np.mean(self.epoch_s)), 3) if self.epoch_s else 0.0,
            "train_part_s": round(sum(self.train_s), 3),
        }


def open_live(log_dir: str | os.PathLike):
    """A ``dvclive.Live`` writing to ``log_dir`` only: no dvc.yaml, no experiment, no report."""
    from dvclive import Live
    from scmrepo.exceptions import SCMError

    try:
        return Live(str(log_dir), dvcyaml=False, save_dvc_exp=False, report=None)
    except SCMError as err:  # DVCLive asks git for the base revision
        raise CnnbenchError(f"git: {err}; commit once (`git commit`) before `dvc repro`, "
                            "DVCLive logs against a base revision") from None


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and the backend; make TensorFlow ops deterministic when it runs them."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def make_optimizer(params: TrainParams) -> keras.optimizers.Optimizer:
    return keras.optimizers.get({"class_name": params.optimizer,
                                 "config": {"learning_rate": params.learning_rate}})


def compile_model(name: str, num_classes: int, params: TrainParams) -> keras.Model:
    model = models.build(name, num_classes=num_classes)
    model.compile(optimizer=make_optimizer(params), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def train(name: str, data_file: str | os.PathLike, model_out: str | os.PathLike,
          log_dir: str | os.PathLike, params: TrainParams) -> keras.callbacks.History:
    """Train ``name`` with ``params``; save the model to ``model_out`` and logs to ``log_dir``."""
    dataset = load_prepared(data_file)
    seed_everything(params.seed)
    model = compile_model(name, len(dataset.class_names), params)
    verbose = 1 if sys.stdout.isatty() else 2
    print(f"train {name}: {len(dataset.train.y)} images, {params.epochs} epochs, "
          f"batch {params.batch_size}, {params.optimizer} lr={params.learning_rate}, "
          f"backend {keras.backend.backend()}", flush=True)
    with atomic_path(log_dir) as tmp_log:
        with open_live(tmp_log) as live:
            live.log_params({"model": name, **asdict(params)})
            history = model.fit(
                dataset.train.x, dataset.train.y,
                batch_size=params.batch_size, epochs=params.epochs, shuffle=True,
                validation_data=(dataset.test.x, dataset.test.y),
                callbacks=[LiveLogger(live)], verbose=verbose,
            )
        with atomic_path(Path(model_out), suffix=".keras") as tmp_model:
            model.save(tmp_model)
    return history
