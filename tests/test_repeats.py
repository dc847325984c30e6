"""Seed repeats: experiments with other seeds, collected and averaged in the summary.

A unit test of the averaging on hand-written files, then the whole path on a tiny
project: `dvc repro`, two `dvc exp run --temp` experiments (another seed, and another seed
*and* another epoch count), `cnnbench repeats`, the summarise stage's table, and the review's
common case: a network's code changed and its seed 0 rerun (the gate and `cnnbench compare`).
"""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

from helpers import (add_network, change_cell, commit, environment, ran_stages, run,
                     run_lenet5_project, write_record)

from cnnbench.report.provenance import protocol_digest
from cnnbench.report.results import load_repeats, main_runs
from cnnbench.report.statistics import over_seeds

DATA = {"source": {"name": "x.tar.gz", "sha256": "ab" * 32},
        "train": {"count": 100}, "test": {"count": 20}}
PARAMS = {"recipe": "seed", "optimizer": "adam", "learning_rate": 0.001, "batch_size": 32,
          "epochs": 5, "seed": 0, "precision": "float32", "code": {"a.py": "c0"},
          "machine": {"cpu": "x", "numerics": "n0"}}
#: what a repeat of PARAMS records (``cnnbench repeats``), but its protocol
SAME = {"code": PARAMS["code"], "machine": PARAMS["machine"]}


def test_protocol_digest_ignores_the_seed_and_speed_knobs_only():
    base = protocol_digest(PARAMS, DATA)
    assert protocol_digest({**PARAMS, "seed": 7}, DATA) == base
    assert protocol_digest({**PARAMS, "steps_per_execution": 8, "jit_compile": True},
                           DATA) == base
    assert protocol_digest({**PARAMS, "machine": {"cpu": "y"}}, DATA) == base
    for change in ({"epochs": 6}, {"precision": "mixed_bfloat16"}, {"batch_size": 64},
                   {"learning_rate": 0.01}):
        assert protocol_digest({**PARAMS, **change}, DATA) != base, change
    assert protocol_digest(PARAMS, {**DATA, "source": {"sha256": "cd" * 32}}) != base
    assert protocol_digest(PARAMS, {**DATA, "train": {"count": 50}}) != base


def test_over_seeds_averages_the_main_run_with_repeats_of_its_protocol(tmp_path):
    write_record(tmp_path / "logs/lenet5/params.yaml", PARAMS)
    write_record(tmp_path / "data.json", {"data": DATA})
    protocol = protocol_digest(PARAMS, DATA)
    other = protocol_digest({**PARAMS, "epochs": 1}, DATA)
    for seed, accuracy, digest in ((1, 0.50, protocol), (2, 0.46, protocol),
                                   (3, 0.10, other), (0, 0.99, protocol)):
        write_record(tmp_path / f"repeats/seed{seed}/lenet5.json",
               {"model": "lenet5", "test": {"accuracy": accuracy, "loss": 1.0 + seed},
                "repeat": {"experiment": f"e{seed}", "seed": seed, "protocol": digest,
                           **SAME}})
    metrics = pd.DataFrame({"test.accuracy": [0.48], "test.loss": [1.5]}, index=["lenet5"])
    repeats = load_repeats(["lenet5"], tmp_path / "repeats")
    assert sorted(repeats["seed"]) == [0, 1, 2, 3]
    table, left_out = over_seeds(metrics, repeats,
                                 main_runs(["lenet5"], tmp_path / "logs",
                                                tmp_path / "data.json"))
    row = table.loc["lenet5"]
    assert row["seeds"] == "0 1 2" and row["n"] == 3
    assert row["test.accuracy.mean"] == pytest.approx(0.48)
    assert row["test.accuracy.std"] == pytest.approx(0.02)  # sample std of .48 .50 .46
    assert row["test.loss.mean"] == pytest.approx((1.5 + 2.0 + 3.0) / 3)
    # one more run, 95 %: t(0.975, 2 df) = 4.3027 (tables), times s = 0.02, times √(4/3)
    half = 4.302653 * 0.02 * (4 / 3) ** 0.5
    assert row["test.accuracy.one_run_low"] == pytest.approx(0.48 - half, abs=1e-6)
    assert row["test.accuracy.one_run_high"] == pytest.approx(0.48 + half, abs=1e-6)
    assert len(left_out) == 2
    assert ("1 repeat of LeNet5 ran other params or data; run `cnnbench repeats` with "
            "experiments of the current params and data") in left_out
    assert any("seed0" in line and "already counted" in line for line in left_out)


def test_over_seeds_says_which_seeds_ran_on_which_machine(tmp_path):
    write_record(tmp_path / "logs/alexnet8/params.yaml", PARAMS)
    write_record(tmp_path / "data.json", {"data": DATA})
    # another machine of the main run's numerics (its fingerprint)
    gpu = {"cpu": "Xeon", "cores": 16, "accelerator": "NVIDIA H200", "keras": "3.15.1",
           "backend": "jax", "numerics": "n0"}
    for seed, machine in ((1, gpu), (2, gpu)):
        write_record(tmp_path / f"repeats/seed{seed}/alexnet8.json",
               {"model": "alexnet8", "test": {"accuracy": 0.5, "loss": 1.0},
                "repeat": {"experiment": f"e{seed}", "seed": seed, "machine": machine,
                           "protocol": protocol_digest(PARAMS, DATA), "code": SAME["code"]}})
    metrics = pd.DataFrame({"test.accuracy": [0.58], "test.loss": [1.2]}, index=["alexnet8"])
    repeats = load_repeats(["alexnet8"], tmp_path / "repeats")
    protocols = main_runs(["alexnet8"], tmp_path / "logs", tmp_path / "data.json")
    cpu = "2-core AMD EPYC, Keras 3.15.1 on tensorflow"
    table, _ = over_seeds(metrics, repeats, protocols, {"alexnet8": cpu})
    assert table.loc["alexnet8", "machines"] == (
        f"seed 0 on {cpu}; seeds 1, 2 on NVIDIA H200, Keras 3.15.1 on jax")
    one_machine = repeats.assign(machine=cpu)
    table, _ = over_seeds(metrics, one_machine, protocols, {"alexnet8": cpu})
    assert table.loc["alexnet8", "machines"] == ""


@pytest.mark.parametrize("change, reason", [
    ({"code": {"a.py": "c1"}}, "predate `a.py`; run `cnnbench repeats` with experiments "
                               "of the current code"),
    ({"code": None}, "predate recorded code fingerprints"),
    ({"machine": {"cpu": "x", "numerics": "n1"}}, "ran with other numerics (numerics n1, "
                                                  "not numerics n0)"),
    ({"machine": {"accelerator": "NVIDIA H200", "backend": "jax"}},
     "ran with other numerics (NVIDIA H200 on jax, not numerics n0)"),
])
def test_a_repeat_of_other_code_or_numerics_is_left_out_with_the_reason(tmp_path, change,
                                                                       reason):
    """Equal params and data are not enough: a repeat counts only if its code and its
    numerics (fingerprint, or backend and device before it) are the main run's."""
    write_record(tmp_path / "logs/lenet5/params.yaml", PARAMS)
    write_record(tmp_path / "data.json", {"data": DATA})
    for seed in (1, 2):
        write_record(tmp_path / f"repeats/seed{seed}/lenet5.json",
               {"model": "lenet5", "test": {"accuracy": 0.5, "loss": 1.0},
                "repeat": {"experiment": f"e{seed}", "seed": seed,
                           "protocol": protocol_digest(PARAMS, DATA), **SAME, **change}})
    metrics = pd.DataFrame({"test.accuracy": [0.48], "test.loss": [1.5]}, index=["lenet5"])
    table, left_out = over_seeds(metrics, load_repeats(["lenet5"], tmp_path / "repeats"),
                                 main_runs(["lenet5"], tmp_path / "logs",
                                           tmp_path / "data.json"))
    assert table.loc["lenet5", "n"] == 1
    assert len(left_out) == 1 and left_out[0].startswith(f"2 repeats of LeNet5 {reason}")


def test_a_repeat_that_imported_the_package_from_an_install_matches_by_package_file(
        tmp_path):
    """A run that imported cnnbench from an install (a clone whose stage scripts found
    another checkout's editable install) names its package files ``cnnbench/...``; the
    main run, importing from the project, ``src/cnnbench/...``. Same digests pool; a
    changed one is named as in the project."""
    main_code = {"stages/train.py": "t0", "src/cnnbench/models/lenet5.py": "m0",
                 "src/cnnbench/errors.py": "e0"}
    write_record(tmp_path / "logs/lenet5/params.yaml", {**PARAMS, "code": main_code})
    write_record(tmp_path / "data.json", {"data": DATA})
    installed = {"stages/train.py": "t0", "src/cnnbench/models/lenet5.py": "m0",
                 "cnnbench/errors.py": "e0"}
    for seed, errors in ((1, "e0"), (2, "e1")):
        write_record(tmp_path / f"repeats/seed{seed}/lenet5.json",
                     {"model": "lenet5", "test": {"accuracy": 0.5, "loss": 1.0},
                      "repeat": {"experiment": f"e{seed}", "seed": seed, **SAME,
                                 "protocol": protocol_digest(PARAMS, DATA),
                                 "code": {**installed, "cnnbench/errors.py": errors}}})
    metrics = pd.DataFrame({"test.accuracy": [0.48], "test.loss": [1.5]}, index=["lenet5"])
    table, left_out = over_seeds(metrics, load_repeats(["lenet5"], tmp_path / "repeats"),
                                 main_runs(["lenet5"], tmp_path / "logs",
                                           tmp_path / "data.json"))
    assert table.loc["lenet5", "n"] == 2
    assert left_out == ["1 repeat of LeNet5 predates `src/cnnbench/errors.py`; run "
                        "`cnnbench repeats` with experiments of the current code"]


def test_one_run_has_no_std_and_a_missing_folder_no_repeats(tmp_path):
    write_record(tmp_path / "logs/lenet5/params.yaml", PARAMS)
    write_record(tmp_path / "data.json", {"data": DATA})
    metrics = pd.DataFrame({"test.accuracy": [0.48], "test.loss": [1.5]}, index=["lenet5"])
    repeats = load_repeats(["lenet5"], tmp_path / "nothing-here")
    table, left_out = over_seeds(metrics, repeats, main_runs(
        ["lenet5"], tmp_path / "logs", tmp_path / "data.json"))
    assert table.loc["lenet5", "n"] == 1 and math.isnan(table.loc["lenet5", "test.accuracy.std"])
    assert math.isnan(table.loc["lenet5", "test.accuracy.one_run_high"])
    assert left_out == []


def test_the_summary_says_whether_the_seeds_single_run_is_within_our_noise():
    """Two models, three runs each: one spread wide enough to hold the seed's number, one
    so tight that the seed's number is outside what one more run of ours would give."""
    from cnnbench.report.statistics import one_run_range
    from cnnbench.report.summary import render_markdown

    runs = {"alexnet8": [0.5844, 0.5864, 0.5626], "resnet18": [0.7756, 0.7760, 0.7752]}
    seed = {"alexnet8": 0.6351, "resnet18": 0.8026}
    ranges = {m: one_run_range(v) for m, v in runs.items()}
    assert ranges["alexnet8"][0] < seed["alexnet8"] < ranges["alexnet8"][1]
    assert seed["resnet18"] > ranges["resnet18"][1]
    table = pd.DataFrame({
        "name": {"alexnet8": "AlexNet8", "resnet18": "ResNet18"},
        "seeds": "0 1 2", "n": 3,
        "test.accuracy.mean": {m: sum(v) / 3 for m, v in runs.items()},
        "test.accuracy.std": {m: pd.Series(v).std() for m, v in runs.items()},
        "test.accuracy.one_run_low": {m: r[0] for m, r in ranges.items()},
        "test.accuracy.one_run_high": {m: r[1] for m, r in ranges.items()},
        **{f"{pre}{split}.{key}": 0.5 for pre in ("", "seed.", "diff.")
           for split in ("train", "test") for key in ("accuracy", "loss")},
        "test.accuracy.runs": {m: dict(enumerate(v)) for m, v in runs.items()},
        "seed.test.accuracy": seed,
        "diff.test.accuracy.mean": {m: round(sum(v) / 3 - seed[m], 4) for m, v in runs.items()},
        "machines": "",
        "time.epoch_mean_s": 1.0, "seed.time.epoch_mean_s": 1.0, "params.total": 1,
        "params.trainable": 1, "params.non_trainable": 0, "throughput.train_img_s": 1.0,
        "throughput.infer_img_s": 1.0, "machine": "m", "on_cpu": True})
    epochs = pd.DataFrame({"model": ["alexnet8", "resnet18"], "epoch": 1, "seconds": 1.0})
    markdown = render_markdown(table, epochs, {"description": "test"},
                               {"source": "seed", "machine": "m", "ranking": []})
    section = markdown.split("### Test accuracy over seeds")[1].split("##")[0]
    rows = {line.split("|")[1].strip(): line for line in section.splitlines()
            if line.startswith(("| AlexNet8", "| ResNet18"))}
    low, high = ranges["alexnet8"]
    assert f"{low:.4f}–{high:.4f}" in rows["AlexNet8"]
    # Δ mean, ours − seed: within noise for AlexNet8, beyond it for ResNet18 (the band is
    # the one-more-run range's half-width)
    assert rows["AlexNet8"].rstrip(" |").endswith("| ~ -0.0573")
    half = (ranges["resnet18"][1] - ranges["resnet18"][0]) / 2
    assert rows["ResNet18"].rstrip(" |").endswith(f"| -0.0270 (noise ±{half:.3g})")


def test_a_file_that_is_not_a_repeat_is_a_one_line_error(tmp_path):
    from cnnbench.errors import DataError

    write_record(tmp_path / "seed1/lenet5.json", {"model": "lenet5", "test": {"accuracy": 0.5}})
    with pytest.raises(DataError, match=r"seed1/lenet5.json: not a seed repeat"):
        load_repeats(["lenet5"], tmp_path)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """A one-model project (LeNet5, 1 epoch, tiny data) run and committed, plus two
    experiments run beside it: seed 1 (a repeat) and seed 3 with 2 epochs (not one)."""
    repo = run_lenet5_project(tmp_path_factory.mktemp("repeats"), 8, 4, "tar.gz", "main run")
    seed1 = run(["dvc", "exp", "run", "--temp", "-n", "seed1", "-S", "train.seed=1"], repo)
    run(["dvc", "exp", "run", "--temp", "-n", "long3", "-S", "train.seed=3",
         "-S", "train.epochs=2"], repo)
    return repo, seed1.stdout


@pytest.mark.slow
def test_repeats_are_collected_from_experiments_and_averaged(project):
    repo, seed1_output = project
    assert {"train@lenet5", "evaluate@lenet5"} <= ran_stages(seed1_output)
    assert run(["git", "status", "--porcelain"], repo).stdout == ""  # --temp: workspace kept
    result = run([sys.executable, "-m", "cnnbench", "repeats", "--out", "metrics/repeats"], repo)
    assert "2 model run(s) from 2 experiment(s)" in result.stdout
    one = json.loads((repo / "metrics/repeats/seed1/lenet5.json").read_text())
    assert one["repeat"]["experiment"] == "seed1" and one["repeat"]["seed"] == 1
    logged = yaml.safe_load((repo / "plots/train/lenet5/params.yaml").read_text())
    # what produced the repeat, as its own training log recorded it: the main run's code
    # (the files of dvc.yaml's train stage) and numerics, one machine
    assert one["repeat"]["machine"] == logged["machine"]
    assert one["repeat"]["code"] == logged["code"]
    deps = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]["train@lenet5"]["deps"]
    # (the package's files are named from src/ when imported from the project itself)
    assert ({path.removeprefix("src/") for path in logged["code"]}
            == {d["path"].removeprefix("src/") for d in deps if d["path"].endswith(".py")})
    assert len(logged["machine"]["numerics"]) == 12
    assert (repo / "metrics/repeats/seed3/lenet5.json").exists()

    shown = json.loads(run(["dvc", "metrics", "show", "metrics/repeats", "--json"],
                           repo).stdout)
    files = next(iter(shown.values()))["data"]
    assert files["metrics/repeats/seed1/lenet5.json"]["data"]["test"] == one["test"]

    rerun = run(["dvc", "repro"], repo).stdout
    assert ran_stages(rerun) == {"summarise", "plot"}  # the repeats are in metrics/
    table = pd.read_csv(repo / "reports/summary.csv", index_col="model")
    main = json.loads((repo / "metrics/lenet5.json").read_text())
    mean = (main["test"]["accuracy"] + one["test"]["accuracy"]) / 2
    assert table.loc["lenet5", "seeds"] == "0 1" and table.loc["lenet5", "n"] == 2
    assert table.loc["lenet5", "test.accuracy.mean"] == pytest.approx(mean)
    markdown = (repo / "reports/summary.md").read_text()
    assert "### Test accuracy over seeds" in markdown
    assert f"{mean:.4f}" in markdown
    assert ("left out: 1 repeat of LeNet5 ran other params or data; run `cnnbench repeats`"
            in markdown)
    source = json.loads((repo / "reports/data.json").read_text())["data"]["source"]
    assert f"Data: {source['name']}, sha256 `{source['sha256']}`." in markdown


@pytest.mark.slow
def test_an_experiment_held_in_the_workspace_repeats_the_committed_run(project, tmp_path):
    """`dvc exp run` without --queue (which resumes a killed run from its checkpoint) or
    `dvc exp apply` leaves the experiment's run in the workspace: it repeats the last
    commit's main run, not itself."""
    repo = Path(shutil.copytree(project[0], tmp_path / "repo", symlinks=True))
    run(["dvc", "exp", "apply", "seed1"], repo)
    assert yaml.safe_load((repo / "plots/train/lenet5/params.yaml").read_text())["seed"] == 1
    result = run([sys.executable, "-m", "cnnbench", "repeats", "--out", "out", "seed1"], repo)
    assert "seed1: lenet5 seed 1: test accuracy" in result.stdout
    assert json.loads((repo / "out/seed1/lenet5.json").read_text())["repeat"]["seed"] == 1


@pytest.mark.slow
def test_collect_names_an_unknown_experiment(project):
    repo, _ = project
    result = subprocess.run([sys.executable, "-m", "cnnbench", "repeats", "--out", "out",
                             "no-such-exp"], cwd=repo, env=environment(), text=True,
                            capture_output=True)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "experiment 'no-such-exp'" in result.stderr


def test_a_run_trained_on_two_machines_says_which_model_ran_where(tmp_path):
    from cnnbench.report.results import describe_run

    write_record(tmp_path / "data.json", {"data": DATA})
    for model, cpu in (("lenet5", "AMD EPYC"), ("alexnet8", "Intel Xeon"),
                       ("vgg16", "AMD EPYC")):
        write_record(tmp_path / f"logs/{model}/params.yaml",
               {**PARAMS, "machine": {"cpu": cpu, "cores": 2, "accelerator": "cpu",
                                      "keras": "3.15.1", "backend": "tensorflow"}})
    text = describe_run(["lenet5", "alexnet8", "vgg16"], tmp_path / "logs",
                        tmp_path / "data.json")
    assert "2-core AMD EPYC, Keras 3.15.1 on tensorflow (LeNet5, VGG16)" in text
    assert "2-core Intel Xeon, Keras 3.15.1 on tensorflow (AlexNet8)" in text
    one = describe_run(["lenet5"], tmp_path / "logs", tmp_path / "data.json")
    assert one.endswith("seed recipe; 2-core AMD EPYC, Keras 3.15.1 on tensorflow")


def test_two_cpus_of_one_name_are_told_apart_by_their_vector_extensions(tmp_path):
    """Virtual AMD EPYCs of three generations all call themselves "AMD EPYC": the
    recorded features say which kernels (and speed) a run had."""
    from cnnbench.report.provenance import machine_label
    from cnnbench.report.results import describe_run

    cpu = {"cpu": "AMD EPYC", "cores": 2, "accelerator": "cpu", "keras": "3.15.1",
           "backend": "tensorflow"}
    zen3 = {**cpu, "cpu_features": ["avx2", "fma"]}
    zen5 = {**cpu, "cpu_features": ["avx2", "fma", "avx512f", "avx512_bf16"]}
    assert machine_label(zen3) == "2-core AMD EPYC (AVX2), Keras 3.15.1 on tensorflow"
    assert machine_label(zen5) == ("2-core AMD EPYC (AVX-512, AVX512-BF16), Keras 3.15.1 "
                                   "on tensorflow")
    assert machine_label({**cpu, "cpu_features": ["avx2", "avx512f", "amx_bf16"]}) == (
        "2-core AMD EPYC (AMX), Keras 3.15.1 on tensorflow")
    assert machine_label(cpu) == "2-core AMD EPYC, Keras 3.15.1 on tensorflow"  # older logs
    gpu = {**zen5, "accelerator": "NVIDIA H200", "backend": "jax"}
    assert machine_label(gpu) == "NVIDIA H200, Keras 3.15.1 on jax"
    write_record(tmp_path / "data.json", {"data": DATA})
    for model, machine in (("lenet5", zen3), ("alexnet8", zen5)):
        write_record(tmp_path / f"logs/{model}/params.yaml", {**PARAMS, "machine": machine})
    text = describe_run(["lenet5", "alexnet8"], tmp_path / "logs", tmp_path / "data.json")
    assert "(AVX2), Keras 3.15.1 on tensorflow (LeNet5)" in text
    assert "(AVX-512, AVX512-BF16), Keras 3.15.1 on tensorflow (AlexNet8)" in text


@pytest.mark.slow
def test_a_summary_of_some_models_names_the_others_as_not_run(project, tmp_path):
    """Summarise with only LeNet5's metrics, `models` listing LeNet5 and VGG16."""
    from cnnbench.report.summary import summarise

    repo, _ = project
    table = summarise(["lenet5", "vgg16"], repo / "metrics", repo / "plots/train",
                      repo / "reports/data.json", repo / "reference/seed_report.yaml",
                      tmp_path / "s.md", tmp_path / "s.csv", tmp_path / "e.csv")
    assert list(table.index) == ["lenet5"]
    markdown = (tmp_path / "s.md").read_text()
    assert "Not run yet: VGG16 (no metrics; `dvc repro evaluate@vgg16`" in markdown
    from cnnbench.errors import DataError

    with pytest.raises(DataError, match="no metrics of any model"):
        summarise(["vgg16"], repo / "metrics", repo / "plots/train",
                  repo / "reports/data.json", repo / "reference/seed_report.yaml",
                  tmp_path / "t.md", tmp_path / "t.csv", tmp_path / "f.csv")
    assert not (tmp_path / "t.md").exists()


@pytest.mark.slow
def test_collect_skips_a_model_without_a_main_run(project):
    from cnnbench.review.project import pipeline_paths
    from cnnbench.review.repeats import collect

    repo, _ = project
    lines = []
    import os

    cwd = os.getcwd()
    os.chdir(repo)
    try:
        written = collect(["seed1"], ["lenet5", "vgg16"], repo / "out2", pipeline_paths(),
                          log=lines.append)
    finally:
        os.chdir(cwd)
    assert [p.relative_to(repo / "out2").as_posix() for p in written] == ["seed1/lenet5.json"]
    assert "vgg16: no main run in the workspace to repeat; skipped" in lines


def _set_accuracy(repo: Path, accuracy: dict[str, float]) -> None:
    """Write test accuracies into metrics files (``{path: value}``) and record them as the
    evaluate stages' outputs (``dvc commit``), so that the results stay current."""
    for path, value in accuracy.items():
        record = json.loads((repo / path).read_text())
        record["test"]["accuracy"] = value
        write_record(repo / path, record)
    run(["dvc", "commit", "-f", "-q", "evaluate@lenet5", "evaluate@subnet"], repo)


@pytest.mark.slow
def test_a_changed_network_is_beyond_noise_and_the_gate_warns_of_its_stale_repeats(
        project, tmp_path):
    """The review's common case on the tiny pipeline: LeNet5 and SubNet (a user's network)
    each with a seed-1 repeat, committed; LeNet5's network changed and its seed 0 rerun with
    `dvc repro`. The gate passes and warns, in one line, that LeNet5's repeat predates the
    network; `cnnbench compare` names LeNet5's change beyond noise and SubNet's within it.
    On the way, collecting an experiment that did not retrain a model skips that model.
    The test accuracies are set to the review scenario's (LeNet5 +0.25, SubNet +0.002, runs
    of one seed 0.006 apart), so that the verdicts do not hang on a tiny data set's noise;
    what produced each run (code, numerics, params, data) is the pipeline's own record."""
    repo = Path(shutil.copytree(project[0], tmp_path / "repo", symlinks=True))
    shutil.rmtree(repo / "metrics/repeats", ignore_errors=True)  # another test's
    collect = [sys.executable, "-m", "cnnbench", "repeats", "--out", "metrics/repeats"]
    run([*collect, "seed1"], repo)  # an experiment of HEAD, the commit before subnet
    add_network(repo, "subnet")
    run(["dvc", "repro", "-q"], repo)
    commit(repo, "subnet")
    run(["dvc", "exp", "run", "--temp", "-n", "subnet1", "-S", "train.seed=1",
         "evaluate@subnet"], repo)
    # subnet1 retrained SubNet alone: for LeNet5 alone there is nothing to collect
    params = yaml.safe_load((repo / "params.yaml").read_text())
    params["models"] = {"lenet5": params["models"]["lenet5"]}
    (tmp_path / "lenet5.yaml").write_text(yaml.safe_dump(params))
    alone = run([sys.executable, "-m", "cnnbench", "repeats", "--params",
                 str(tmp_path / "lenet5.yaml"), "--out", "out", "subnet1"], repo, check=False)
    assert alone.returncode == 2
    assert "subnet1: lenet5 skipped: trained with the main run's seed 0" in alone.stdout
    assert alone.stderr.strip().splitlines()[-1].endswith("no seed repeat found in subnet1")
    assert not (repo / "out").exists()
    run([*collect, "subnet1"], repo)
    _set_accuracy(repo, {"metrics/lenet5.json": 0.7163, "metrics/subnet.json": 0.9000,
                         "metrics/repeats/seed1/lenet5.json": 0.7100,
                         "metrics/repeats/seed1/subnet.json": 0.8950})
    run(["dvc", "repro", "-q"], repo)  # their summary
    commit(repo, "subnet; seed 1")
    current = run([sys.executable, "-m", "cnnbench", "gate"], repo).stdout
    assert "warning" not in current  # each repeat is of its main run's code
    network = repo / "src/cnnbench/models/lenet5.py"
    network.write_text(network.read_text().replace("((6, 5), (16, 5))", "((6, 5), (12, 5))"))
    run(["dvc", "repro", "-q"], repo)
    result = run([sys.executable, "-m", "cnnbench", "gate"], repo, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert [line for line in result.stdout.splitlines() if "warning" in line] == [
        "gate: warning: 1 repeat of LeNet5 predates `src/cnnbench/models/lenet5.py`; run "
        "`cnnbench repeats` with experiments of the current code"]
    assert "left out: 1 repeat of LeNet5 predates" in (repo / "reports/summary.md").read_text()

    _set_accuracy(repo, {"metrics/lenet5.json": 0.9663, "metrics/subnet.json": 0.9020})
    commit(repo, "lenet5: narrower second convolution, seed 0 rerun")
    text = run([sys.executable, "-m", "cnnbench", "compare", "--base", "HEAD~1"], repo).stdout
    headline = text.splitlines()[2]
    assert re.match(r"\d+ changes? beyond run-to-run noise: ", headline), headline
    assert "LeNet5 test accuracy +0.250" in headline and "subnet" not in headline
    assert change_cell(text, "LeNet5", "test accuracy").startswith("+0.2500 (noise ±")
    assert change_cell(text, "subnet", "test accuracy") == "~ +0.0020"
    assert "- subnet test accuracy: paired over 2 seeds" in text
    assert ("- Not counted (pull request): 1 repeat of LeNet5 predates "
            "`src/cnnbench/models/lenet5.py`; run `cnnbench repeats` with experiments of the "
            "current code.") in text
