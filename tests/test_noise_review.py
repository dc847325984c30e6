"""Run-to-run noise where a difference is shown: `cnnbench compare` (the pull-request
comment), `cnnbench experiments` and the summary's over-seeds table.

The comparison runs on a temporary git + DVC repository of hand-written result files (no
training): a base commit with ResNet18's and VGG16's metrics, training logs, data summary
and two seed repeats each, and a pull-request commit that changes a training param of both
models and moves ResNet18's test accuracy by +0.002 and VGG16's by +0.25.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import pytest
import yaml

from helpers import DEFAULT_PARAMS, ROOT, change_cell, commit, run, write_record

from cnnbench.report.noise import compare_runs, format_change
from cnnbench.report.provenance import protocol_digest
from cnnbench.training.code import code_digests

MODELS = ("resnet18", "vgg16")
DATA = {"source": {"name": "cifar10-jpeg.tar.gz", "sha256": "78" * 32},
        "train": {"count": 50000}, "test": {"count": 10000}}
MACHINE = {"cpu": "AMD EPYC", "cores": 2, "accelerator": "cpu", "backend": "tensorflow",
           "keras": "3.15.1", "numerics": "0123456789ab"}
#: the code each model trained with, as its training log records it
CODE = {m: {"stages/train.py": "5" * 12, f"src/cnnbench/models/{m}.py": m[:3] * 4}
        for m in ("resnet18", "vgg16")}
LOG = {"recipe": "seed", "optimizer": "adam", "learning_rate": 0.001, "batch_size": 32,
       "epochs": 5, "seed": 0, "precision": "float32", "machine": MACHINE}
#: test accuracy per seed of the base: seed 0 is the main run, 1 and 2 the repeats
BASE = {"resnet18": {0: 0.7756, 1: 0.7790, 2: 0.7731},
        "vgg16": {0: 0.6754, 1: 0.6801, 2: 0.6720}}
MOVE = {"resnet18": 0.002, "vgg16": 0.25}


def _metrics(model: str, accuracy: float, seed: int, protocol: str | None = None,
             code: dict | None = None) -> dict:
    record = {"model": model, "test": {"accuracy": accuracy, "loss": 0.9 + seed / 100},
              "train": {"accuracy": 0.8, "loss": 0.5, "epochs": 5},
              "time": {"epoch_mean_s": 30.0 + seed, "train_s": 150.0},
              "throughput": {"infer_img_s": 1000.0 + seed}}
    if protocol:
        record["repeat"] = {"experiment": f"seed{seed}", "seed": seed, "protocol": protocol,
                            "code": code, "machine": MACHINE}
    return record


def _side(repo: Path, accuracy: dict, log: dict, repeats: bool,
          code: dict | None = None) -> None:
    """One revision's files: params, per-model metrics, logs and (optionally) repeats;
    ``code``: what each model trained with (default ``CODE``)."""
    protocol = protocol_digest(log, DATA)
    code = code or CODE
    for model in MODELS:
        write_record(repo / f"metrics/{model}.json", _metrics(model, accuracy[model][0], 0))
        write_record(repo / f"plots/train/{model}/params.yaml",
               {"model": model, **log, "code": code[model]})
        for seed in (1, 2):
            path = repo / f"metrics/repeats/seed{seed}/{model}.json"
            if repeats:
                write_record(path,
                       _metrics(model, accuracy[model][seed], seed, protocol, code[model]))


def _project(repo: Path, base_repeats: bool = True) -> Path:
    """The base commit: two models, their main runs and (optionally) two repeats each."""
    repo.mkdir()
    vars_ = yaml.safe_load((ROOT / "dvc.yaml").read_text())["vars"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"vars": vars_}))
    params = {**DEFAULT_PARAMS, "models": {m: DEFAULT_PARAMS["models"][m] for m in MODELS}}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_record(repo / "reports/data.json", {"data": DATA})
    shutil.copytree(ROOT / "reference", repo / "reference")
    _side(repo, BASE, LOG, base_repeats)
    run(["git", "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    commit(repo, "base")
    return repo


def _pull_request(repo: Path, accuracy: dict, own_repeats: bool) -> None:
    """Both models trained for 6 epochs instead of 5, in params.yaml and in their logs."""
    params = yaml.safe_load((repo / "params.yaml").read_text())
    for model in MODELS:
        params["models"][model]["epochs"] = 6
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    _side(repo, accuracy, {**LOG, "epochs": 6}, repeats=own_repeats)
    commit(repo, "six epochs")


def _compare(repo: Path) -> str:
    return run([sys.executable, "-m", "cnnbench", "compare", "--base", "HEAD~1"], repo).stdout


def test_a_pr_without_its_own_repeats_is_judged_against_the_bases_interval(tmp_path):
    repo = _project(tmp_path / "repo")
    moved = {m: {0: BASE[m][0] + MOVE[m]} for m in MODELS}
    _pull_request(repo, moved, own_repeats=False)  # the old repeats stay, of 5 epochs
    text = _compare(repo)
    lines = text.splitlines()
    assert lines[0].startswith("## cnnbench: this pull request against `HEAD~1`")
    assert lines[2] == "1 change beyond run-to-run noise: VGG16 test accuracy +0.250."
    # every other row but the timings, which need repeats on both sides
    assert lines[3] == "5 within noise (`~`); 4 with noise unknown (too few seed repeats)."
    resnet = compare_runs(BASE["resnet18"], moved["resnet18"][0],
                          base_value=BASE["resnet18"][0], new_value=moved["resnet18"][0])
    assert resnet.kind == "interval" and resnet.beyond is False
    assert change_cell(text, "ResNet18", "test accuracy") == "~ +0.0020"
    vgg = compare_runs(BASE["vgg16"], moved["vgg16"][0], base_value=BASE["vgg16"][0],
                       new_value=moved["vgg16"][0])
    assert vgg.kind == "interval" and vgg.beyond
    assert change_cell(text, "VGG16", "test accuracy") == format_change(0.25, vgg)
    assert change_cell(text, "VGG16", "test accuracy").startswith("+0.2500 (noise ±0.0")
    # seconds per epoch: the base has repeats on this machine, the pull request none
    assert change_cell(text, "VGG16", "seconds per epoch") == "="
    # the pull request's repeats are of 5 epochs, its main runs of 6: not its noise
    for name in ("ResNet18", "VGG16"):
        assert (f"- Not counted (pull request): 2 repeats of {name} ran other params or data; "
                "run `cnnbench repeats` with experiments of the current params and data."
                ) in text
    resolve = next(line for line in lines if line.startswith("- ResNet18 test accuracy `~"))
    seeds = int(resolve.split("`: ")[1].split()[0])
    assert seeds > 3 and resolve.endswith("seeds per side (now 3 and 1)")
    assert "one run: the new side's single run against the base side's 3-run" in text


def test_a_pr_with_its_own_repeats_of_the_same_seeds_is_paired(tmp_path):
    repo = _project(tmp_path / "repo")
    moved = {"resnet18": {0: 0.7776, 1: 0.7780, 2: 0.7771},  # +0.002, -0.001, +0.004
             "vgg16": {0: 0.9254, 1: 0.9201, 2: 0.9220}}  # +0.25, +0.24, +0.25
    _pull_request(repo, moved, own_repeats=True)
    text = _compare(repo)
    lines = text.splitlines()
    assert lines[2] == "1 change beyond run-to-run noise: VGG16 test accuracy +0.250."
    for model, name in (("resnet18", "ResNet18"), ("vgg16", "VGG16")):
        expected = compare_runs(BASE[model], moved[model], base_value=BASE[model][0],
                                new_value=moved[model][0])
        assert expected.kind == "paired"
        assert change_cell(text, name, "test accuracy") == format_change(
            moved[model][0] - BASE[model][0], expected)
    assert change_cell(text, "ResNet18", "test accuracy") == "~ +0.0020"
    assert "- VGG16 test accuracy: paired over 3 seeds" in text
    assert "Not counted" not in text
    # both sides repeated on one machine: seconds per epoch get a verdict too (+0 each seed)
    assert change_cell(text, "VGG16", "seconds per epoch") == "~ +0.0"


def test_without_repeats_the_noise_is_unknown_and_nothing_is_guessed(tmp_path):
    repo = _project(tmp_path / "repo", base_repeats=False)
    moved = {m: {0: BASE[m][0] + MOVE[m]} for m in MODELS}
    _pull_request(repo, moved, own_repeats=False)
    text = _compare(repo)
    assert text.splitlines()[2] == ("No repeats: noise unknown, so no change can be told "
                                    "from run-to-run noise.")
    assert change_cell(text, "ResNet18", "test accuracy") == "+0.0020"
    assert change_cell(text, "VGG16", "test accuracy") == "+0.2500"
    assert "~" not in text.split("### Results")[1].split("### Params")[0].split("\n\n")[1]
    assert "<details>" not in text and "seeds per side" not in text


def _exp(name: str, rev: str, accuracy: dict[str, float]) -> dict:
    """One row of `dvc exp show --json` with these models' test accuracies."""
    return {"rev": rev, "name": name, "data": {
        "params": {"params.yaml": {"data": {"train": {"epochs": 5}}}},
        "metrics": {f"metrics/{m}.json": {"data": {"test": {"accuracy": a}}}
                    for m, a in accuracy.items()}}}


def test_experiments_mark_changes_within_the_first_rows_noise(tmp_path, monkeypatch):
    """The workspace has seed repeats of ResNet18 only: an experiment 0.002 above it is
    within noise, one 0.25 above beyond it; LeNet5's changes are plain, noise unknown."""
    from cnnbench.review.experiments import rows, table
    from cnnbench.review.project import pipeline_paths
    from cnnbench.review.runs import side_runs

    monkeypatch.chdir(tmp_path)
    vars_ = yaml.safe_load((ROOT / "dvc.yaml").read_text())["vars"]
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"vars": vars_}))
    write_record(tmp_path / "reports/data.json", {"data": DATA})
    _side(tmp_path, BASE, LOG, repeats=True)
    write_record(tmp_path / "metrics/lenet5.json", _metrics("lenet5", 0.4778, 0))
    write_record(tmp_path / "plots/train/lenet5/params.yaml", {"model": "lenet5", **LOG, "code": {}})
    main = {"lenet5": 0.4778, "resnet18": BASE["resnet18"][0]}
    shown = [{**_exp(None, "workspace", main), "name": None},
             {**_exp("main", "a" * 40, main), "experiments": [
                 {"revs": [_exp("near", "b" * 40, {"lenet5": 0.4778 + 0.002,
                                                   "resnet18": main["resnet18"] + 0.002})]},
                 {"revs": [_exp("far", "c" * 40, {"lenet5": 0.4778 + 0.25,
                                                  "resnet18": main["resnet18"] + 0.25})]}]}]
    assert rows(shown)[0][1] == "workspace"
    models = ["lenet5", "resnet18"]
    text = table(shown, models, "test.accuracy", "metrics",
                 noise=side_runs(None, models, pipeline_paths()))
    lines = text.splitlines()
    rows = {line.split()[1] if line.startswith("└") else line.split()[0]: line
            for line in lines[4:] if line.strip() and not line.startswith(("~", "noise"))}
    assert rows["workspace"].split()[1:3] == ["0.4778", "0.7756"]
    assert rows["near"].split()[2:5] == ["+0.0020", "~", "+0.0020"]
    assert rows["far"].split()[2:4] == ["+0.2500", "+0.2500"]
    band = compare_runs(BASE["resnet18"], main["resnet18"] + 0.25).band
    notes = " ".join(lines[lines.index("") + 1:][-4:])
    assert f"ResNet18 ±{band:.4f} (3 runs)" in notes
    assert "noise unknown: LeNet5 (no seed repeats of workspace's protocol" in notes
    assert max(map(len, lines)) <= 120


# --- Every run carries the code it trained with, and noise is pooled only over like runs. ---
#
# The review scenario of a pull request that changes a network: a copy of the project (its
# own `src/` and `stages/`) holds hand-written results of ResNet18 and VGG16 (seed 0 and seed
# repeats 1 and 2), each training log carrying the code fingerprint the train stage records
# (`cnnbench.training.code.code_digests` of the copy's files, as the stage computes it). The
# pull request sets VGG16's `DROPOUT = 0.3` and reruns its seed 0 (+0.25 test accuracy), and
# ResNet18's seed 0 moves by +0.002 with its code untouched; `cnnbench compare` judges both.
# The gate's warning about such stale repeats runs on the tiny pipeline in test_repeats.py.

VGG16 = "src/cnnbench/models/vgg16.py"


@contextmanager
def _inside(folder: Path):
    before = os.getcwd()
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(before)


def _code(repo: Path) -> dict:
    """Each model's code fingerprint in ``repo``, as its train stage would log it."""
    with _inside(repo):
        return {m: code_digests("stages/train.py", f"src/cnnbench/models/{m}.py")
                for m in MODELS}


def _code_project(repo: Path) -> Path:
    """The base commit: the project's code and paths (no stages, so no stage is stale),
    two models' runs and repeats."""
    for name in ("stages", "src", "reference"):
        shutil.copytree(ROOT / name, repo / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    vars_ = yaml.safe_load((ROOT / "dvc.yaml").read_text())["vars"]
    (repo / "dvc.yaml").write_text(yaml.safe_dump({"vars": vars_}))
    params = yaml.safe_load((ROOT / "params.yaml").read_text())
    params["models"] = {m: params["models"][m] for m in MODELS}
    (repo / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    write_record(repo / "reports/data.json", {"data": DATA})
    _side(repo, BASE, LOG, repeats=True, code=_code(repo))
    run(["git", "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    commit(repo, "base")
    return repo


def _rerun_seed0(repo: Path, *edits: tuple[str, str]) -> str:
    """Edit vgg16.py, write both models' new seed-0 runs (VGG16 +0.25, ResNet18 +0.002)
    with the code they now record, commit, and return `cnnbench compare --base HEAD~1`."""
    path = repo / VGG16
    for old, new in edits:
        assert old in path.read_text()
        path.write_text(path.read_text().replace(old, new))
    moved = {"resnet18": {0: BASE["resnet18"][0] + 0.002}, "vgg16": {0: BASE["vgg16"][0] + 0.25}}
    _side(repo, moved, LOG, repeats=False, code=_code(repo))  # the repeats stay as committed
    commit(repo, "vgg16: edited, seed 0 rerun")
    return run([sys.executable, "-m", "cnnbench", "compare", "--base", "HEAD~1"], repo).stdout


def test_a_changed_network_is_beyond_noise_and_its_old_repeats_are_named(tmp_path):
    repo = _code_project(tmp_path / "repo")
    before = _code(repo)
    text = _rerun_seed0(repo, ("DROPOUT = 0.2", "DROPOUT = 0.3"))
    after = _code(repo)
    assert [p for p in after["vgg16"] if after["vgg16"][p] != before["vgg16"][p]] == [VGG16]
    assert after["resnet18"] == before["resnet18"]
    lines = text.splitlines()
    assert lines[2] == "1 change beyond run-to-run noise: VGG16 test accuracy +0.250."
    assert change_cell(text, "VGG16", "test accuracy").startswith("+0.2500 (noise ±")
    assert change_cell(text, "ResNet18", "test accuracy") == "~ +0.0020"
    assert "- ResNet18 test accuracy: paired over 3 seeds" in text
    assert ("- Not counted (pull request): 2 repeats of VGG16 predate "
            f"`{VGG16}`; run `cnnbench repeats` with experiments of the current code.") in text


def test_a_change_without_like_repeats_is_named_as_not_judged_not_called_noise(tmp_path):
    """VGG16 has no repeats on the base (ResNet18 has): its +0.25 cannot be judged, and the
    first lines say so by name instead of "No change beyond run-to-run noise"."""
    repo = _code_project(tmp_path / "repo")
    for seed in (1, 2):
        (repo / f"metrics/repeats/seed{seed}/vgg16.json").unlink()
    commit(repo, "vgg16: no repeats")
    lines = _rerun_seed0(repo, ("DROPOUT = 0.2", "DROPOUT = 0.3")).splitlines()
    assert lines[2:5] == [
        "No change beyond run-to-run noise among those that seed repeats can judge.",
        "Not judged, no seed repeats of the same code, params, data and numerics: VGG16 test "
        "accuracy +0.250.",
        "5 within noise (`~`); 5 with noise unknown (too few seed repeats)."]


def test_a_comment_only_edit_keeps_the_repeats_in_the_pool(tmp_path):
    repo = _code_project(tmp_path / "repo")
    before = _code(repo)
    text = _rerun_seed0(repo, ("DROPOUT = 0.2", "DROPOUT = (  # the seed report's rate\n"
                                                "    0.2\n)"),
                        ('"""VGG16 as in the seed report', '"""The VGG16 of the seed report'))
    assert _code(repo) == before
    assert "- VGG16 test accuracy: paired over 3 seeds" in text
    assert "Not counted" not in text


def test_the_numerics_fingerprint_repeats_itself_and_leaves_layer_names_alone():
    """Equal numbers give equal digests; and the network it trains must not shift the
    automatic layer names of the network trained after it."""
    import keras

    from cnnbench.machine import numerics

    def number(name: str) -> int:
        return int(name.rpartition("_")[2]) if "_" in name else 0

    before = number(keras.layers.Dense(2).name)
    first = numerics()
    assert number(keras.layers.Dense(2).name) == before + 1
    assert numerics() == first and len(first) == 12


def test_left_out_repeats_are_counted_per_reason_with_the_fix():
    from cnnbench.report.provenance import left_out

    code, numerics = ("code", "predate `a.py`"), ("numerics", "ran with other numerics (x)")
    assert left_out("vgg16", [code, numerics, code]) == [
        "2 repeats of VGG16 predate `a.py`; run `cnnbench repeats` with experiments of the "
        "current code",
        "1 repeat of VGG16 ran with other numerics (x); run `cnnbench repeats` with "
        "experiments on the main run's machine"]
    assert left_out("vgg16", [code])[0].startswith("1 repeat of VGG16 predates `a.py`;")


def _add_scores(repo: Path, scores: dict) -> None:
    """Robustness and calibration numbers in the metrics files (main run and repeats) of
    the seeds in ``scores``."""
    for path in (repo / "metrics").rglob("*.json"):
        record = json.loads(path.read_text())
        seed = record.get("repeat", {}).get("seed", 0)
        if seed not in scores[record["model"]]:
            continue
        mca, ece = scores[record["model"]][seed]
        record["robustness"] = {"mean_corruption_accuracy": mca, "relative": mca / 0.8}
        record["calibration"] = {"ece": ece, "brier": 2 * ece}
        path.write_text(json.dumps(record))


@pytest.mark.slow
def test_compare_lists_robustness_and_calibration_rows_with_noise_verdicts(tmp_path):
    repo = _project(tmp_path / "repo")
    base = {"resnet18": {0: (0.500, 0.050), 1: (0.505, 0.052), 2: (0.496, 0.049)},
            "vgg16": {0: (0.400, 0.030), 1: (0.404, 0.031), 2: (0.397, 0.029)}}
    _add_scores(repo, base)
    run(["git", "commit", "-qa", "--amend", "--no-edit"], repo)
    _pull_request(repo, {m: {0: BASE[m][0]} for m in MODELS}, own_repeats=False)
    _add_scores(repo, {"resnet18": {0: (0.501, 0.0505)}, "vgg16": {0: (0.600, 0.030)}})
    run(["git", "commit", "-qa", "--amend", "--no-edit"], repo)
    text = _compare(repo)
    assert change_cell(text, "ResNet18", "mean corruption accuracy") == "~ +0.0010"
    assert change_cell(text, "VGG16", "mean corruption accuracy").startswith("+0.2000 (noise ±0.0")
    assert change_cell(text, "VGG16", "relative robustness").startswith("+0.2500 (noise ±0.0")
    assert change_cell(text, "ResNet18", "calibration ECE").startswith("~ +0.0005")
    assert change_cell(text, "VGG16", "Brier score").startswith("~ ")
    assert "VGG16 mean corruption accuracy +0.200" in text.splitlines()[2]
