"""Smoke test of the benchmark: it runs and writes its documented JSON (speed is not asserted)."""

from __future__ import annotations

import json

import pytest

from helpers import cnnbench


@pytest.mark.slow
def test_bench_runs_a_tiny_model_and_writes_json(tmp_path):
    out = tmp_path / "bench.json"
    result = cnnbench("bench", "--models", "lenet5", "--batch-size", "8", "--steps", "3",
                      "--warmup-steps", "3", "--repeats", "2", "--infer-images", "64",
                      "--infer-batch-size", "32", "--steps-per-execution", "1,3",
                      "--rounds", "2", "--json", str(out),
                      env={"ONEDNN_MAX_CPU_ISA": "AVX2", "ATEN_CPU_CAPABILITY": ""})
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    machine = report["machine"]
    # a run with oneDNN held to AVX2 stands for an AVX2 CPU: the result says so
    assert machine["kernel_caps"] == {"ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert "ONEDNN_MAX_CPU_ISA=AVX2)" in result.stdout.splitlines()[0]
    for key in ("cpu", "cores", "accelerator", "backend", "backend_version", "keras",
                "precision"):
        assert machine[key], key
    flags = set(next(line for line in open("/proc/cpuinfo") if line.startswith("flags"))
                .split(":", 1)[1].split())
    assert ("avx2" in machine["cpu_features"]) == ("avx2" in flags)
    assert ("avx512f" in machine["cpu_features"]) == ("avx512f" in flags)
    assert set(machine["cpu_features"]) <= flags
    rows = report["results"]  # interleaved: round 0 (spe 1, 3), then round 1
    assert [(r["round"], r["steps_per_execution"]) for r in rows] == [(0, 1), (0, 3), (1, 1),
                                                                       (1, 3)]
    for row in rows:
        assert (row["model"], row["batch_size"], row["precision"]) == ("lenet5", 8, "float32")
        assert row["train_img_s"] > 0 and row["infer_img_s"] > 0
        assert row["ms_per_step"] == pytest.approx(1000 * 8 / row["train_img_s"], rel=0.01)
    assert "lenet5" in result.stdout and "train img/s" in result.stdout


def test_bench_rejects_an_unknown_model_in_one_line():
    from cnnbench.models import available

    result = cnnbench("bench", "--models", "lenet5,resnet50")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(
        "--models: unknown model 'resnet50' (did you mean 'resnet18'?); known models: "
        + ", ".join(available()))


def test_bench_windows_must_be_whole_executions():
    result = cnnbench("bench", "--models", "lenet5", "--steps-per-execution", "8",
                      "--steps", "20", "--warmup-steps", "8")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(
        "--steps must be a multiple of --steps-per-execution (8), got 20")


@pytest.mark.slow
def test_bench_measures_the_pipelines_steps_per_call_by_default(tmp_path):
    """Without --steps-per-execution the benchmark runs what `dvc repro` runs here: the
    default of train.steps_per_execution null (8 steps per call on a CPU)."""
    from cnnbench.config import TrainParams
    from cnnbench.training.train import steps_per_execution

    out = tmp_path / "bench.json"
    result = cnnbench("bench", "--models", "lenet5", "--batch-size", "8", "--steps", "8",
                      "--warmup-steps", "8", "--repeats", "1", "--infer-images", "32",
                      "--infer-batch-size", "32", "--json", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    row, = json.loads(out.read_text())["results"]
    assert row["steps_per_execution"] == steps_per_execution(TrainParams()) == 8


@pytest.mark.slow
def test_the_timed_prediction_pass_follows_an_untimed_one_of_the_same_images(monkeypatch):
    """With several steps per call, a one-batch warm-up traces another function than a full
    pass, so timing the first full pass timed tracing (`make estimate` then thought a
    validation pass of ResNet18 took 3.5 times longer than it does)."""
    import keras

    import cnnbench.evaluate
    from cnnbench.tools.bench import measure

    calls = []
    predict, timed_predict = keras.Model.predict, cnnbench.evaluate.timed_predict

    def counted_predict(self, x, *args, **kwargs):
        calls.append(len(x))
        return predict(self, x, *args, **kwargs)

    def counted_timed_predict(model, x, batch_size):
        calls.append("timed")
        return timed_predict(model, x, batch_size)

    monkeypatch.setattr(keras.Model, "predict", counted_predict)
    monkeypatch.setattr(cnnbench.evaluate, "timed_predict", counted_timed_predict)
    result = measure("lenet5", 8, 8, 8, 1, infer_images=64, infer_batch_size=16,
                     steps_per_execution=4)
    timed = calls.index("timed")
    assert calls[:timed] == [64], calls  # the untimed full pass, then the timed one
    assert result["infer_img_s"] > 0 and result["infer_setup_s"] >= 0
