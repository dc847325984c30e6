"""Data-parallel training across two worker processes on 127.0.0.1 (Keras + jax.distributed).

Two copies of the train stage join through Keras' environment variables and train LeNet5
on a tiny data set with ``train.distribution: data_parallel`` on the JAX backend. Both
must end with identical weights, each must have fed a different half of every global batch
(checked against the epoch order computed here), the loss must fall, and the per-epoch
metrics must be those of a single-worker run with the same params.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from archives import make_image_folder
from helpers import STAGES, closed_port, network_files, write_params
from cnnbench.data.prepare import prepare
from cnnbench.training.inputs import epoch_order

TRAIN = STAGES / "train.py"
BATCH = 16


def jax_env(**extra: str) -> dict[str, str]:
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", **extra}
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)
    return env


def start(folder: Path, run: str, params: Path, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, str(TRAIN), "lenet5", "--data", str(folder / "data.npz"),
         "--model-out", str(folder / run / "model.keras"), "--log-dir", str(folder / run / "log"),
         "--checkpoint-dir", str(folder / run / "ckpt"), "--params", str(params)],
        cwd=folder, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(process: subprocess.Popen) -> str:
    try:
        output, _ = process.communicate(timeout=600)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output[-4000:]
    return output


def curves(log: Path) -> dict[str, list[float]]:
    out = {}
    for path in sorted((log / "plots" / "metrics").rglob("*.tsv")):
        if "time" not in path.parts:
            rows = path.read_text().split("\n")[1:]
            out[str(path.relative_to(log))] = [float(r.split("\t")[-1]) for r in rows if r]
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    folder = network_files(tmp_path_factory.mktemp("distributed"), "lenet5")
    source = make_image_folder(folder / "src", train_per_class=24, test_per_class=4)
    prepare(source, folder / "data.npz", folder / "data.json")  # 240 train, 40 test images
    params = write_params(folder / "params.yaml", data__source=str(source), train__epochs=3,
                          train__batch_size=BATCH, train__learning_rate=0.01,
                          train__distribution="data_parallel")
    single = write_params(folder / "single.yaml", data__source=str(source), train__epochs=3,
                          train__batch_size=BATCH, train__learning_rate=0.01)
    cluster = {"KERAS_DISTRIBUTION_JOB_ADDRESSES": f"127.0.0.1:{closed_port()}",
               "KERAS_DISTRIBUTION_NUM_PROCESSES": "2"}
    workers = [start(folder, f"worker{rank}", params,
                     jax_env(**cluster, KERAS_DISTRIBUTION_PROCESS_ID=str(rank)))
               for rank in range(2)]
    for worker in workers:
        finish(worker)
    finish(start(folder, "single", single, jax_env()))
    return folder


@pytest.mark.slow
def test_both_workers_end_with_identical_weights(runs):
    import keras

    first, second = (keras.models.load_model(runs / f"worker{r}" / "model.keras", compile=False)
                     for r in range(2))
    for a, b in zip(first.weights, second.weights, strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.slow
def test_each_worker_fed_its_own_half_of_every_global_batch(runs):
    order = epoch_order(240, seed=0, epoch=0)
    logged = [yaml.safe_load((runs / f"worker{r}" / "log" / "params.yaml").read_text())["worker"]
              for r in range(2)]
    for rank, worker in enumerate(logged):
        expected = np.concatenate([order[i:i + BATCH][rank * BATCH // 2:(rank + 1) * BATCH // 2]
                                   for i in range(0, 240, BATCH)])
        assert (worker["rank"], worker["workers"], worker["images"]) == (rank, 2, 120)
        assert worker["ids_sha256"] == hashlib.sha256(expected.astype(np.int64)
                                                      .tobytes()).hexdigest()
    assert logged[0]["ids_sha256"] != logged[1]["ids_sha256"]


@pytest.mark.slow
def test_the_loss_fell_and_matches_a_single_worker_run(runs):
    distributed = curves(runs / "worker0" / "log")
    assert distributed == curves(runs / "worker1" / "log")  # the same global metrics
    losses = distributed["plots/metrics/train/loss.tsv"]
    assert losses[-1] < losses[0]
    single = curves(runs / "single" / "log")
    assert set(single) == set(distributed)
    for name, values in single.items():
        assert distributed[name] == pytest.approx(values, rel=1e-4, abs=1e-5), name


@pytest.mark.slow
def test_data_parallel_off_jax_or_without_workers_is_a_clear_error(runs, tmp_path):
    env = {k: v for k, v in jax_env().items() if not k.startswith("KERAS_DISTRIBUTION")}
    result = finish_error(start(runs, "nocluster", runs / "params.yaml", env))
    assert "train.distribution=data_parallel needs KERAS_DISTRIBUTION_JOB_ADDRESSES" in result
    env["KERAS_BACKEND"] = "tensorflow"
    result = finish_error(start(runs, "tf", runs / "params.yaml", env))
    assert "runs on Keras' JAX backend; set KERAS_BACKEND=jax" in result


def finish_error(process: subprocess.Popen) -> str:
    output, _ = process.communicate(timeout=300)
    assert process.returncode == 2, output[-3000:]
    assert "Traceback" not in output
    return output.strip().splitlines()[-1]
