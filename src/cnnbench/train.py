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
from dataclasses import asdict
from pathlib import Path

import keras

from cnnbench import models
from cnnbench.config import TrainParams
from cnnbench.data import load_prepared
from cnnbench.files import atomic_path
from cnnbench.logs import LiveLogger, machine_info, open_live


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
            live.log_params({"model": name, **asdict(params), "machine": machine_info()})
            history = model.fit(
                dataset.train.x, dataset.train.y,
                batch_size=params.batch_size, epochs=params.epochs, shuffle=True,
                validation_data=(dataset.test.x, dataset.test.y),
                callbacks=[LiveLogger(live)], verbose=verbose,
            )
        with atomic_path(Path(model_out), suffix=".keras") as tmp_model:
            model.save(tmp_model)
    return history
