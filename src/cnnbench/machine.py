"""What this machine is: CPU model and features, NVIDIA GPUs, the backend and versions.

Every log, metric, benchmark and set-up choice takes its machine facts from here:

- ``cpu_model``, ``cpu_features``: Linux's /proc/cpuinfo (``platform`` elsewhere);
- ``nvidia_gpus``, ``driver_cuda``: ``nvidia-smi``, if it is on PATH and lists a GPU;
- ``describe``: all of it plus the running Keras backend, the device it trains on and the
  versions (imports Keras, so only once the environment exists);
- ``numerics``: a digest of a few fixed training steps of a tiny network on fixed data:
  two machines (or backends, or library versions) with equal digests compute equal numbers;
- ``label``: a machine in a few words, for tables and figures.

It needs only the standard library until ``describe`` is called, so that the build picker
(``cnnbench.tools.build``) can use it with the system's Python before the environment exists.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
import re
import shutil
import subprocess
from pathlib import Path

#: The instruction-set extensions that decide which kernels oneDNN and XLA can use.
FEATURES = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16", "amx_tile")

def _cpuinfo() -> dict[str, str]:
    """The first processor's fields of /proc/cpuinfo (empty where there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return {}
    fields: dict[str, str] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, _, value = line.partition(":")
        fields.setdefault(key.strip(), value.strip())
    return fields


def cpu_model() -> str:
    """The CPU's marketing name (``AMD EPYC 7763 64-Core Processor``)."""
    return (_cpuinfo().get("model name") or platform.processor()
            or platform.machine())


def cpu_features() -> list[str]:
    """Which of ``FEATURES`` this CPU reports (empty where /proc/cpuinfo is missing)."""
    flags = _cpuinfo().get("flags", "").split()
    return [f for f in FEATURES if f in flags]


def _nvidia_smi(*args: str) -> str:
    """``nvidia-smi``'s output, or '' when it is missing or fails (no GPU, no driver)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return ""
    try:
        done = subprocess.run([exe, *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return ""
    return done.stdout if done.returncode == 0 else ""


def nvidia_gpus() -> list[dict[str, str]]:
    """One ``{"name", "driver"}`` per NVIDIA GPU that ``nvidia-smi`` lists."""
    out = _nvidia_smi("--query-gpu=name,driver_version", "--format=csv,noheader")
    rows = [[f.strip() for f in line.split(",")] for line in out.splitlines() if "," in line]
    return [{"name": row[0], "driver": row[1]} for row in rows if row[0]]


def driver_cuda() -> str:
    """The newest CUDA version the installed driver supports (``12.8``), or ''."""
    match = re.search(r"CUDA Version:\s*([\d.]+)", _nvidia_smi())
    return match.group(1) if match else ""


def _version(*packages: str) -> str:
    """The installed version of the first of ``packages`` that is installed, else ''."""
    for package in packages:
        try:
            return importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            continue
    return ""


def _backend_device(backend: str) -> tuple[str, str]:
    """``(device, cuda)``: the first GPU the backend trains on, or ``cpu``, and the CUDA
    version the backend was built for ('' on CPU builds)."""
    try:
        if backend == "jax":
            import jax

            device = jax.devices()[0]
            cuda = next((f"{major}" for major in ("13", "12")
                         if _version(f"jax-cuda{major}-plugin")), "")
            return ("cpu" if device.platform == "cpu" else device.device_kind), cuda
        if backend == "tensorflow":
            import tensorflow as tf

            gpus = tf.config.list_physical_devices("GPU")
            name = (tf.config.experimental.get_device_details(gpus[0]).get("device_name")
                    or gpus[0].name) if gpus else "cpu"
            return name, str(tf.sysconfig.get_build_info().get("cuda_version", ""))
        if backend == "torch":
            import torch

            return (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "cpu",
                    torch.version.cuda or "")
    except Exception:  # noqa: BLE001 - a description, never a reason to fail a run
        return "unknown", ""
    return "cpu", ""


def trains_on_gpu() -> bool:
    """Whether the running Keras backend trains on a GPU."""
    import keras

    return _backend_device(keras.backend.backend())[0] not in ("cpu", "unknown")


def describe() -> dict:
    """What a run or a timing used: CPU, cores, the device the backend trains on, its
    driver and CUDA, Keras' backend, the versions and ``XLA_FLAGS``."""
    import keras

    backend = keras.backend.backend()
    device, cuda = _backend_device(backend)
    gpus = nvidia_gpus() if device != "cpu" else []
    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "cpu_features": cpu_features(),
        "accelerator": device,
        "gpu_driver": gpus[0]["driver"] if gpus else "",
        "driver_cuda": driver_cuda() if gpus else "",
        "backend_cuda": cuda,
        "backend": backend,
        "backend_version": _version(backend, f"{backend}-cpu") or "unknown",
        "keras": keras.__version__,
        "xla_flags": os.environ.get("XLA_FLAGS", ""),  # the GPU determinism in force
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def numerics() -> str:
    """A short digest of the weights after three SGD steps of a tiny convolutional network
    (fixed weights, fixed data, float32, the running backend's kernels): equal digests,
    equal numbers (a run records it with its machine; about a second). The weights and data
    come from a fixed NumPy generator, but building the layers draws from the backend's
    generator: call it before seeding a run."""
    import hashlib

    import keras
    import numpy as np

    draw = np.random.default_rng(0)
    x = draw.random((16, 8, 8, 3), dtype="float32")
    y = keras.utils.to_categorical(draw.integers(0, 3, 16), 3)
    # named, so that the networks built after it get the layer names they get without it
    model = keras.Sequential([
        keras.Input((8, 8, 3), name="numerics_input"),
        keras.layers.Conv2D(4, 3, activation="relu", dtype="float32", name="numerics_conv"),
        keras.layers.GlobalAveragePooling2D(dtype="float32", name="numerics_pool"),
        keras.layers.Dense(3, activation="softmax", dtype="float32", name="numerics_dense"),
    ], name="numerics")
    model.set_weights([draw.standard_normal(w.shape).astype("float32")
                       for w in model.get_weights()])
    model.compile(optimizer=keras.optimizers.SGD(0.1), loss="categorical_crossentropy",
                  jit_compile=False)
    for _ in range(3):
        model.train_on_batch(x, y)
    weights = b"".join(np.asarray(w, dtype="float32").tobytes() for w in model.get_weights())
    return hashlib.sha256(weights).hexdigest()[:12]


def label(machine: dict) -> str:
    """A ``describe()`` in a few words: the GPU with its driver and CUDA, or the cores and
    CPU, then Keras and its backend (``NVIDIA H200 (driver 570.86, CUDA 12.8), Keras
    3.15.1 on jax``)."""
    device = machine.get("accelerator", "cpu")
    if device == "cpu":
        device = f"{machine.get('cores', '?')}-core {machine.get('cpu', 'CPU')}"
    else:
        details = [f"driver {machine['gpu_driver']}" if machine.get("gpu_driver") else "",
                   f"CUDA {machine['backend_cuda']}" if machine.get("backend_cuda") else ""]
        device += f" ({', '.join(d for d in details if d)})" if any(details) else ""
    return f"{device}, Keras {machine.get('keras', '?')} on {machine.get('backend', '?')}"
