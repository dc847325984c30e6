"""`cnnbench estimate`: the arithmetic from measured step times, and a run on a tiny model set
(its speed is not asserted; the estimate is checked against real runs in docs/guide)."""

from __future__ import annotations

import json

import pytest

from helpers import cnnbench, net, write_params

from cnnbench.config import TrainParams, parse_params
from cnnbench.tools.estimate import Timing, duration, estimate_model, split_sizes

TIMING = Timing(step_s=0.5, setup_s=7.0, predict_img_s=100.0, predict_setup_s=2.0, save_s=3.0)


def test_train_and_evaluate_stages_add_up_from_the_step_time():
    """Worked by hand from TIMING, 10 s start-up, 50,000 / 10,000 images, batch 32:
    an epoch is 1563 steps (the last batch a short one) x 0.5 s + 10,000 / 100 img/s of
    validation = 881.5 s; train = 10 + 7 warm-up + 2 validation tracing + 5 x 881.5
    + 7 x 3 s of saves (5 checkpoints, the model, DVC's copy) = 4447.5 s; evaluate =
    10 + 3 loading + 2 x 2 tracing + 2 passes x 100 s = 217 s."""
    five, six = (estimate_model("vgg16", TrainParams(batch_size=32, epochs=epochs), TIMING,
                                startup_s=10.0, train_images=50_000, test_images=10_000)
                 for epochs in (5, 6))
    assert (five.steps_per_epoch, five.epoch_s, five.train_stage_s, five.evaluate_stage_s,
            five.total_s) == (1563, 881.5, 4447.5, 217.0, 4664.5)
    # one more epoch costs that epoch and its checkpoint, in the train stage only
    assert six.train_stage_s - five.train_stage_s == 881.5 + 3.0
    assert six.evaluate_stage_s == five.evaluate_stage_s


def test_flip_tta_adds_a_third_pass_over_the_test_split():
    plain, tta = (estimate_model("resnet18", TrainParams(), TIMING, 0.0, 1000, 500, flip)
                  for flip in (False, True))
    assert tta.evaluate_stage_s - plain.evaluate_stage_s == 500 / 100.0
    assert tta.train_stage_s == plain.train_stage_s


def test_the_data_size_is_the_limits_or_all_of_cifar10():
    base = {"data": {"source": "x"}, "models": {"lenet5": net("lenet5")}}
    assert split_sizes(parse_params(base)) == (50_000, 10_000)
    limited = {**base, "data": {"source": "x", "train_limit": 2000, "test_limit": 500}}
    assert split_sizes(parse_params(limited)) == (2000, 500)


def test_durations_read_as_hours_minutes_or_seconds():
    assert [duration(s) for s in (45.4, 750, 11_100)] == ["45 s", "12 min 30 s", "3 h 05 min"]


@pytest.mark.slow
def test_estimate_times_each_model_of_the_params_and_writes_json(tmp_path):
    params = write_params(tmp_path / "params.yaml", data__train_limit=640,
                          data__test_limit=100, train__batch_size=16,
                          models={"lenet5": net("lenet5", epochs=3), "alexnet8": net("alexnet8")})
    out = tmp_path / "estimate.json"
    result = cnnbench("estimate", "--params", str(params), "--steps", "2", "--repeats", "2",
                      "--warmup-steps", "1", "--json", str(out), timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    lenet5, alexnet8 = report["models"]
    assert (lenet5["model"], lenet5["epochs"], lenet5["batch_size"]) == ("lenet5", 3, 16)
    assert (alexnet8["model"], alexnet8["epochs"]) == ("alexnet8", 5)
    for row in report["models"]:
        assert (row["train_images"], row["test_images"], row["steps_per_epoch"]) == (640, 100, 40)
        assert row["train_stage_s"] > report["startup_s"] > 0
        assert row["total_s"] == row["train_stage_s"] + row["evaluate_stage_s"]
    assert report["total_s"] == round(lenet5["total_s"] + alexnet8["total_s"], 1)
    assert "alexnet8" in result.stdout and "dvc repro" in result.stdout


def test_estimate_names_a_model_missing_from_the_params(tmp_path):
    params = write_params(tmp_path / "params.yaml", models={"lenet5": net("lenet5")})
    result = cnnbench("estimate", "--params", str(params), "--models", "vgg16")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "cnnbench estimate: error: model 'vgg16' is not listed under 'models' in params.yaml"]
