"""Training logs through DVCLive, on every Keras backend.

``EpochHistory`` is the Keras callback that records each epoch's metrics and wall time
(and stops a diverged run); ``write_training_log`` writes them through a ``dvclive.Live``
once training has finished, so that a log is complete or absent and a resumed run logs
its earlier epochs too. DVCLive's own ``DVCLiveCallback`` imports TensorFlow and records
no timing, hence this small callback on every backend. ``open_live`` opens a Live that
writes only its own folder (no dvc.yaml, no experiment, no report: the pipeline declares
its plots in dvc.yaml).
"""

from __future__ import annotations

import math
import os
import time

import keras

from cnnbench.errors import CnnbenchError
from cnnbench.files import atomic_path


class DivergenceError(CnnbenchError):
    """The loss became NaN or infinite."""


class EpochHistory(keras.callbacks.Callback):
    """Record each epoch's Keras metrics and wall time; stop on a NaN or infinite loss.

    ``records`` (one dict per finished epoch) may start with the epochs of an earlier,
    interrupted run; ``write_training_log`` turns it into the DVCLive log at the end.
    """

    def __init__(self, model_name: str, records: list[dict] | None = None) -> None:
        super().__init__()
        self.model_name = model_name
        self.records: list[dict] = list(records or [])
        self._epoch_start = self._train_end = 0.0

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self._epoch_start = time.perf_counter()
        self._train_end = 0.0

    def on_test_begin(self, logs=None) -> None:
        if self._epoch_start and not self._train_end:
            self._train_end = time.perf_counter()

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        now = time.perf_counter()
        record = {"epoch": epoch}
        for key, value in (logs or {}).items():
            value = float(value)
            if "loss" in key and not math.isfinite(value):
                raise DivergenceError(
                    f"{self.model_name}: {key} became {value} in epoch {epoch + 1}; training "
                    "diverged (try a lower train.learning_rate)")
            name = f"val/{key[4:]}" if key.startswith("val_") else f"train/{key}"
            record[name] = value
        record["time/epoch_s"] = round(now - self._epoch_start, 3)
        record["time/train_s"] = round((self._train_end or now) - self._epoch_start, 3)
        self.records.append(record)


def write_training_log(log_dir: str | os.PathLike, records: list[dict], params: dict) -> None:
    """Write the DVCLive log of a finished training run into ``log_dir``, atomically.

    Per epoch: ``train/*``, ``val/*``, ``time/epoch_s`` (the whole epoch, validation
    included) and ``time/train_s`` (its training part). The summary (``metrics.json``) adds
    ``epochs`` and the run's totals under ``time``.
    """
    epoch_s = [r["time/epoch_s"] for r in records]
    with atomic_path(log_dir) as tmp, open_live(tmp) as live:
        live.log_params(params)
        for record in records:
            for name, value in record.items():
                if name != "epoch":
                    live.log_metric(name, value)
            live.next_step()
        live.summary["epochs"] = len(records)
        live.summary["time"] = {
            "train_s": round(sum(epoch_s), 3),
            "epoch_mean_s": round(sum(epoch_s) / len(epoch_s), 3) if epoch_s else 0.0,
            "train_part_s": round(sum(r["time/train_s"] for r in records), 3),
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
