"""Times of different machines are never compared: the summary's Table 3 has one table per
machine, the seed's CPU times sit beside CPU runs only, and the pull-request comparison
gives no change between two machines."""

from __future__ import annotations

import pandas as pd

from cnnbench.review.compare import metrics_table
from cnnbench.review.runs import ModelRuns
from cnnbench.report.summary import _epoch_tables

CPU = {"accelerator": "cpu", "cpu": "AMD EPYC", "cores": 2, "keras": "3", "backend": "tf"}
GPU = {"accelerator": "NVIDIA H200", "keras": "3", "backend": "jax"}
REFERENCE = {"machine": "8-core laptop CPU",
             "models": {"lenet5": {"epoch_s": [14.0], "test": {"accuracy": 0.46}}}}


def test_table_3_has_one_table_per_machine_and_the_seed_time_beside_cpu_runs_only():
    table = pd.DataFrame({"name": ["LeNet5", "VGG16"], "machine": ["2-core CPU", "H200"],
                          "on_cpu": [True, False], "time.epoch_mean_s": [30.0, 5.0],
                          "seed.time.epoch_mean_s": [14.2, 1180.8]},
                         index=pd.Index(["lenet5", "vgg16"], name="model"))
    epochs = pd.DataFrame({"model": ["lenet5", "vgg16"], "epoch": [1, 1],
                           "seconds": [30.0, 5.0]})
    text = "\n".join(_epoch_tables(table, epochs, REFERENCE))
    cpu, gpu = text.split("**H200**")
    assert "**2-core CPU**" in cpu and "LeNet5" in cpu and "VGG16" not in cpu
    assert "seed mean (8-core laptop CPU)" in cpu and "14.2" in cpu
    assert "VGG16" in gpu and "seed mean" not in gpu and "1180.8" not in gpu


def test_seconds_per_epoch_of_two_machines_get_no_change_and_no_seed_beside_a_gpu():
    base = {"lenet5": ModelRuns({"time": {"epoch_mean_s": 30.0}}, machine=CPU)}
    head = {"lenet5": ModelRuns({"time": {"epoch_mean_s": 5.0}}, machine=GPU)}
    moved = metrics_table(["lenet5"], base, head, REFERENCE)
    row = next(line for line in moved.splitlines() if "seconds per epoch" in line)
    assert "other machine" in row and "-25.0" not in row and "14.0" not in row
    head["lenet5"].machine = CPU
    same = metrics_table(["lenet5"], base, head, REFERENCE)
    row = next(line for line in same.splitlines() if "seconds per epoch" in line)
    assert "-25.0" in row and "14.0" in row
