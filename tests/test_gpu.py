"""Set-up picks the build for the machine; runs name their device and stay deterministic.

- ``make setup``/``repro``/``test`` install the GPU build where a (fake) ``nvidia-smi``
  lists an NVIDIA GPU, the CPU build where it is missing or lists none, and what
  ``DEVICE``/``BACKEND`` force either way; ``repro`` installs no test extra (``make -n``:
  no wheel is installed).
- ``cnnbench.machine`` reads the GPU, driver and CUDA from ``nvidia-smi``; a training log
  names its device and the XLA determinism flag, which JAX accepts.
- ``train.steps_per_execution`` changes no number: 1 and 4 train the same weights.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import yaml

from archives import make_image_folder
from helpers import ROOT
from cnnbench import machine
from cnnbench.tools import build as build_picker
from cnnbench.config import TrainParams
from cnnbench.data.prepare import prepare
from cnnbench.training.train import XLA_DETERMINISTIC, deterministic_ops, train

H200 = """#!/bin/sh
case "$1" in
  --query-gpu=*) echo "NVIDIA H200, 570.86.15";;
  *) echo "| NVIDIA-SMI 570.86.15   Driver Version: 570.86.15   CUDA Version: 12.8 |";;
esac
"""
NO_DEVICE = """#!/bin/sh
echo "No devices were found"; exit 6
"""


def fake_path(tmp_path: Path, script: str | None) -> str:
    """A PATH whose only ``nvidia-smi`` (if any) prints ``script``'s output."""
    folder = tmp_path / "bin"
    folder.mkdir(parents=True, exist_ok=True)
    if script is not None:
        (folder / "nvidia-smi").write_text(script)
        (folder / "nvidia-smi").chmod(0o755)
    return str(folder)


def make_n(tmp_path: Path, smi: str | None, target: str = "repro", **variables: str) -> str:
    """``make -n target`` with only the fake ``nvidia-smi`` on PATH; its output."""
    args = [f"{k}={v}" for k, v in {"PYTHON": sys.executable,
                                    "VENV": str(tmp_path / "venv"), **variables}.items()]
    done = subprocess.run([shutil.which("make"), "-n", target, *args], cwd=ROOT,
                          env={"PATH": fake_path(tmp_path, smi), "HOME": str(tmp_path)},
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


@pytest.mark.parametrize("smi, device, backend, extras", [
    (H200, "auto", "tensorflow", "cuda"),             # GPU found
    (None, "auto", "tensorflow", "cpu"),              # no nvidia-smi
    (NO_DEVICE, "auto", "tensorflow", "cpu"),         # nvidia-smi without a GPU
    (H200, "cpu", "tensorflow", "cpu"),               # forced to the CPU
    (None, "gpu", "tensorflow", "cuda"),              # forced to the GPU
    (H200, "auto", "jax", "cpu,jax-cuda"),
    (None, "auto", "jax", "cpu,jax"),
])
def test_repro_installs_the_build_the_machine_or_the_user_asks_for(tmp_path, smi, device,
                                                                  backend, extras):
    out = make_n(tmp_path, smi, DEVICE=device, BACKEND=backend)
    assert f"pip install --quiet -e '.[{extras}]'" in out  # runtime only: no test extra
    assert f"KERAS_BACKEND={backend} " in out and "dvc repro" in out
    test = make_n(tmp_path, smi, "test", DEVICE=device, BACKEND=backend)
    assert f"pip install --quiet -e '.[{extras},test]'" in test


def test_a_keras_backend_in_the_environment_picks_the_jax_build(tmp_path):
    done = subprocess.run([shutil.which("make"), "-n", "repro", f"PYTHON={sys.executable}",
                           f"VENV={tmp_path / 'venv'}"], cwd=ROOT, capture_output=True,
                          text=True, env={"PATH": fake_path(tmp_path, H200),
                                          "KERAS_BACKEND": "jax"}, timeout=120)
    assert "-e '.[cpu,jax-cuda]'" in done.stdout and "KERAS_BACKEND=jax " in done.stdout


def test_an_unknown_device_is_a_one_line_error(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cnnbench", "extras", "--device", "tpu"],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path,
                          env={"PATH": fake_path(tmp_path, H200),
                               "PYTHONPATH": str(ROOT / "src")})
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "cnnbench extras: error: DEVICE must be one of auto, gpu, cpu, got 'tpu'"]


def test_a_venv_with_another_build_is_not_mixed(tmp_path):
    (tmp_path / "venv").mkdir()
    (tmp_path / "venv" / ".installed-cuda").touch()  # a GPU build, now asked for the CPU's
    done = subprocess.run([shutil.which("make"), "setup", "DEVICE=cpu",
                           f"PYTHON={sys.executable}", f"VENV={tmp_path / 'venv'}"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120,
                          env={"PATH": f"{fake_path(tmp_path, None)}:/usr/bin:/bin"})
    assert done.returncode != 0
    assert "holds another build (cuda); run make clean-venv" in done.stdout
    assert not (tmp_path / "venv" / "bin").exists()


def test_every_build_is_an_extra_of_the_project():
    text = (ROOT / "pyproject.toml").read_text()  # (tomllib needs Python 3.11)
    runtime, extras = text.split("[project.optional-dependencies]")[0], text.split(
        "[project.optional-dependencies]")[1].split("\n[")[0]
    names = set(re.findall(r"^([\w-]+) = \[", extras, re.M))
    for build in build_picker.EXTRAS.values():
        assert set(build.split(",")) <= names
    assert "tensorflow" not in runtime.split("dependencies = [")[1].split("]")[0]


def test_machine_names_the_gpu_its_driver_and_cuda(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", fake_path(tmp_path, H200))
    assert machine.nvidia_gpus() == [{"name": "NVIDIA H200", "driver": "570.86.15"}]
    assert machine.driver_cuda() == "12.8"
    gpu = {"accelerator": "NVIDIA H200", "gpu_driver": "570.86.15", "backend_cuda": "12.5.1",
           "keras": "3.15.1", "backend": "tensorflow"}
    assert machine.label(gpu) == ("NVIDIA H200 (driver 570.86.15, CUDA 12.5.1), "
                                  "Keras 3.15.1 on tensorflow")
    monkeypatch.setenv("PATH", fake_path(tmp_path / "none", NO_DEVICE))
    assert machine.nvidia_gpus() == [] and machine.driver_cuda() == ""


def test_deterministic_ops_adds_the_xla_flag_and_keeps_the_users(monkeypatch):
    import keras

    if keras.backend.backend() == "tensorflow":  # process-wide, with no way back: a later
        import tensorflow as tf  # test's unseeded random ops would fail in this worker

        monkeypatch.setattr(tf.config.experimental, "enable_op_determinism", lambda: None)
    monkeypatch.setenv("XLA_FLAGS", "--xla_dump_to=/tmp/x")
    deterministic_ops()
    assert os.environ["XLA_FLAGS"] == f"--xla_dump_to=/tmp/x {XLA_DETERMINISTIC}"
    monkeypatch.setenv("XLA_FLAGS", "--xla_gpu_deterministic_ops=false")
    deterministic_ops()
    assert os.environ["XLA_FLAGS"] == "--xla_gpu_deterministic_ops=false"


def test_jax_starts_with_the_deterministic_flag():
    # XLA aborts on a flag it does not know; this one must be known to the pinned jaxlib
    code = ("import os; from cnnbench.training.train import deterministic_ops; deterministic_ops(); "
            "import jax; print(jax.numpy.ones(3).sum(), os.environ['XLA_FLAGS'])")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "KERAS_BACKEND": "jax",
                                            "XLA_FLAGS": ""})
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["3.0", XLA_DETERMINISTIC]


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gpu")
    source = make_image_folder(folder / "src", train_per_class=9, test_per_class=2, fmt="dir")
    prepare(source, folder / "data.npz", folder / "data.json")
    return folder


@pytest.mark.slow
def test_steps_per_execution_changes_no_number_and_the_log_names_the_device(prepared):
    params = TrainParams(batch_size=8, epochs=1)  # 90 images: 12 steps, the last one short
    runs = {}
    for spe in (1, 4):
        run = prepared / f"spe{spe}"
        records = train("lenet5", prepared / "data.npz", run / "model.keras", run / "log",
                        run / "ckpt", replace(params, steps_per_execution=spe))
        runs[spe] = [{k: v for k, v in r.items() if not k.startswith("time/")}
                     for r in records]
    assert runs[1] == runs[4]
    import keras

    weights = [keras.models.load_model(prepared / f"spe{spe}" / "model.keras").get_weights()
               for spe in (1, 4)]
    assert all(np.array_equal(a, b) for a, b in zip(*weights, strict=True))
    logged = yaml.safe_load((prepared / "spe1" / "log" / "params.yaml").read_text())["machine"]
    assert logged["accelerator"] == "cpu" and logged["cpu"] == machine.cpu_model()
    assert XLA_DETERMINISTIC in logged["xla_flags"]
    auto = prepared / "auto"  # train.steps_per_execution null: the log says what ran
    train("lenet5", prepared / "data.npz", auto / "model.keras", auto / "log", auto / "ckpt",
          replace(params, steps_per_execution=None, epochs=1))
    assert yaml.safe_load((auto / "log" / "params.yaml").read_text())[
        "steps_per_execution"] == 8


def test_steps_per_execution_null_is_eight_on_a_cpu_and_more_on_a_gpu(monkeypatch):
    from cnnbench.training import train as train_module

    auto = TrainParams(steps_per_execution=None)
    assert train_module.steps_per_execution(auto) == 8  # this machine trains on its CPU
    monkeypatch.setattr(train_module, "trains_on_gpu", lambda: True)
    assert train_module.steps_per_execution(auto) == train_module.GPU_STEPS_PER_EXECUTION > 1
    assert train_module.steps_per_execution(replace(auto, steps_per_execution=3)) == 3
