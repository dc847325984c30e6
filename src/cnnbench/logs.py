"""Training logs through DVCLive, on every Keras backend.

``open_live`` opens a ``dvclive.Live`` that writes only its own folder (no dvc.yaml, no
experiment, no report: the pipeline declares its plots in dvc.yaml). ``LiveLogger`` is
the Keras callback that logs each epoch's metrics and wall time to it.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import time
from pathlib import Path

import keras
import numpy as np

from cnnbench.cli import CnnbenchError


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


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _accelerator(backend: str) -> str:
    """The first GPU's name on the running backend, or ``cpu``."""
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            return "cpu" if device.platform == "cpu" else device.device_kind
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            return gpus[0].name if gpus else "cpu"
        if backend == "torch":
            import torch

            return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu"
    except Exception:  # noqa: BLE001 - a description, never a reason to fail a run
        return "unknown"
    return "cpu"


def machine_info() -> dict:
    """What a timing was measured on: CPU, cores, accelerator, backend and versions."""
    backend = keras.backend.backend()
    package = {"tensorflow": "tensorflow", "jax": "jax", "torch": "torch"}.get(backend, backend)
    try:
        backend_version = importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        backend_version = importlib.metadata.version(f"{package}-cpu") \
            if package == "tensorflow" else "unknown"
    return {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "accelerator": _accelerator(backend),
        "backend": backend,
        "backend_version": backend_version,
        "keras": keras.__version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
    }
