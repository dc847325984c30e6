"""`dvc repro` end to end in a temporary git repo, on a tiny image-folder archive.

One module-scoped run (a few hundred images, 1 epoch, all five models), committed as the
base, is shared by the tests; a second fixture then changes one model's param, reruns and
commits, for the caching, `dvc metrics diff` and review-report tests. Together they take
a few minutes on a 2-core machine.
"""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from helpers import (DEFAULT_PARAMS, ROOT, VEGA_DIR, chromium, commit, console_errors,
                     environment, net, pipeline, ran_stages, run, set_params, tiny_project)

from cnnbench import models as registry

MODELS = list(DEFAULT_PARAMS["models"])  # the project's models, in its order
FIGURES = {f"{m}_{kind}.png" for m in MODELS for kind in ("curves", "reliability")} | {
    f"{c}.png" for c in ("test_accuracy", "accuracy_vs_params", "accuracy_vs_time",
                         "accuracy_vs_macs", "val_accuracy", "corruption_accuracy")}
METRIC_KEYS = ["params.total", "params.trainable", "flops.macs", "train.loss", "train.accuracy",
               "test.loss", "test.accuracy", "time.train_s", "time.epoch_mean_s",
               "throughput.infer_img_s", "robustness.mean_corruption_accuracy",
               "robustness.relative", "robustness.clean_accuracy",
               "robustness.corruption.gaussian_noise", "robustness.corruption.frost",
               "robustness.severity.s5", "robustness.per_severity.jpeg_compression.s3",
               "calibration.ece", "calibration.brier", "calibration.nll"]
#: images of the corrupted subset (of the 60 test images)
CORRUPTED = 12


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    repo = tiny_project(tmp_path_factory.mktemp("pipeline"), 16, 6, "tar.gz",
                        robustness__images=CORRUPTED)
    result = run(["dvc", "repro"], repo)
    (repo / "repro.log").write_text(result.stdout + result.stderr)
    commit(repo, "base run")
    return repo


@pytest.fixture(scope="module")
def changed(repo) -> dict[str, str]:
    """A second `dvc repro` with nothing changed, then one with lenet5 trained for 2 epochs,
    committed; returns both outputs and the other models' metrics from before."""
    again = run(["dvc", "repro"], repo).stdout
    before = {m: (repo / f"metrics/{m}.json").read_text() for m in MODELS}
    set_params(repo, models__lenet5=net("lenet5", epochs=2))
    rerun = run(["dvc", "repro"], repo).stdout
    commit(repo, "lenet5: 2 epochs")
    return {"again": again, "rerun": rerun, **{f"before:{m}": t for m, t in before.items()}}


@pytest.mark.slow
def test_repro_runs_every_stage_and_writes_every_declared_output(repo):
    stages = run(["dvc", "stage", "list", "--all", "--name-only"], repo).stdout.split()
    expected = {"fetch", "prepare", "corrupt", "plot", "summarise"} | {
        f"{s}@{m}" for s in ("train", "robustness", "evaluate") for m in MODELS}
    assert set(stages) == expected
    assert ran_stages((repo / "repro.log").read_text()) == expected
    lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
    assert set(lock) == expected
    for name, stage in lock.items():
        for out in stage.get("outs", []):
            path = repo / out["path"]
            assert path.exists(), f"{name}: missing output {out['path']}"
            if path.is_dir():
                assert any(path.iterdir()), f"{name}: empty output folder {out['path']}"
    for model in MODELS:
        assert (repo / "models" / f"{model}.keras").stat().st_size > 0
        confusion = json.loads((repo / f"plots/eval/{model}/plots/sklearn/confusion.json")
                               .read_text())
        assert len(confusion) == 60 and {"actual", "predicted"} <= set(confusion[0])
        per_class = json.loads((repo / f"plots/eval/{model}/plots/custom/per_class_accuracy.json")
                               .read_text())
        assert [row["class"] for row in per_class] == sorted(row["class"] for row in per_class)
        assert len(per_class) == 10
    data = json.loads((repo / "reports/data.json").read_text())["data"]
    assert (data["train"]["count"], data["test"]["count"]) == (160, 60)
    assert set(data["train"]["per_class"].values()) == {16}


@pytest.mark.slow
def test_metrics_show_lists_every_model_with_the_documented_keys(repo):
    shown = json.loads(run(["dvc", "metrics", "show", "--json"], repo).stdout)
    files = shown[""]["data"]
    for model in MODELS:
        metrics = files[f"metrics/{model}.json"]["data"]
        for key in METRIC_KEYS:
            node = metrics
            for part in key.split("."):
                node = node[part]
            assert isinstance(node, int | float), (model, key, node)
        assert metrics["test"]["images"] == 60
        assert metrics["robustness"]["images"] == CORRUPTED
        assert len(metrics["robustness"]["corruption"]) == 15
        assert metrics["calibration"]["images"] == 60
        scores = json.loads((repo / f"plots/robustness/{model}.json").read_text())
        assert {k: metrics[k] for k in scores} == scores  # merged as the stage wrote them


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.slow
def test_test_metrics_agree_with_the_last_validation_pass(repo, model):
    """The saved and reloaded model scores exactly as the trained one did in its last epoch."""
    metrics = json.loads((repo / f"metrics/{model}.json").read_text())
    log = json.loads((repo / f"plots/train/{model}/metrics.json").read_text())
    assert metrics["test"]["accuracy"] == pytest.approx(log["val"]["accuracy"], abs=1e-6)
    assert metrics["test"]["loss"] == pytest.approx(log["val"]["loss"], rel=1e-4)


@pytest.mark.slow
def test_the_seed_protocol_holds_nothing_out_and_logs_as_before(repo):
    """data.validation 0: no held-out images, and the training logs and metrics carry no
    protocol key, as before the option existed (held out: tests/test_validation.py)."""
    import numpy as np

    with np.load(repo / "data/prepared/cifar10.npz") as npz:
        assert sorted(npz.files) == ["class_names", "x_test", "x_train", "y_test", "y_train"]
    for model in MODELS:
        log = yaml.safe_load((repo / f"plots/train/{model}/params.yaml").read_text())
        assert "protocol" not in log
        assert not {"protocol", "validation"} & set(
            json.loads((repo / f"metrics/{model}.json").read_text()))
    assert "protocol: seed (test split as validation)" in (repo / "repro.log").read_text()
    assert "Protocol: seed (test split as validation)" in (repo / "reports/summary.md").read_text()


@pytest.mark.slow
def test_second_repro_runs_nothing(changed):
    assert ran_stages(changed["again"]) == set()
    assert "Data and pipelines are up to date" in changed["again"]


@pytest.mark.slow
def test_changing_one_models_param_reruns_only_that_model(repo, changed):
    assert ran_stages(changed["rerun"]) == {"train@lenet5", "robustness@lenet5",
                                            "evaluate@lenet5", "plot", "summarise"}
    assert json.loads((repo / "metrics/lenet5.json").read_text())["train"]["epochs"] == 2
    for model in MODELS[1:]:
        assert (repo / f"metrics/{model}.json").read_text() == changed[f"before:{model}"]


@pytest.mark.slow
def test_each_stage_tracks_only_the_recipe_it_trains_with(repo, changed):
    """Editing an unused recipe reruns nothing; switching recipe reruns the train stages
    (their evaluations follow from the new models); flip TTA reruns the evaluations only."""
    def pending() -> set[str]:
        return set(json.loads(run(["dvc", "status", "--json"], repo).stdout))

    try:
        set_params(repo, recipes__modern__epochs=2)
        assert pending() == set()
        set_params(repo, train__recipe="modern")
        assert pending() == {f"train@{m}" for m in MODELS}
        lock = yaml.safe_load((repo / "dvc.lock").read_text())["stages"]
        assert lock["train@lenet5"]["params"]["params.yaml"]["recipes.seed"] == {}
        run(["git", "checkout", "--", "params.yaml"], repo)
        set_params(repo, evaluate__tta_flip=True)
        assert pending() == {f"evaluate@{m}" for m in MODELS}
    finally:
        run(["git", "checkout", "--", "params.yaml"], repo)
    assert pending() == set()


@pytest.mark.slow
def test_editing_the_robustness_code_or_params_retrains_nothing(repo, changed):
    """The corruptions and the robustness params rerun corrupt, the scoring code the
    robustness stages (and what follows when their scores change): never a train stage."""
    def pending() -> set[str]:
        return set(json.loads(run(["dvc", "status", "--json"], repo).stdout))

    try:
        with (repo / "src/cnnbench/data/corrupt.py").open("a") as fh:
            fh.write("# edited\n")
        assert pending() == {"corrupt"}
        run(["git", "checkout", "--", "src"], repo)
        set_params(repo, robustness__seed=1)
        assert pending() == {"corrupt"}
        run(["git", "checkout", "--", "params.yaml"], repo)
        with (repo / "src/cnnbench/robustness.py").open("a") as fh:
            fh.write("# edited\n")
        assert pending() == {f"robustness@{m}" for m in MODELS}
        # the same scores again: evaluate (and what follows) needs no rerun either
        assert ran_stages(run(["dvc", "repro", "evaluate@lenet5"], repo).stdout) == {
            "robustness@lenet5"}
    finally:
        run(["git", "checkout", "--", "params.yaml", "src", "dvc.lock"], repo)
    assert pending() == set()


@pytest.mark.slow
def test_metrics_diff_reports_that_model_and_no_other(repo, changed):
    diff = json.loads(run(["dvc", "metrics", "diff", "HEAD~1", "--json"], repo).stdout)
    assert set(diff) == {"metrics/lenet5.json"}
    assert diff["metrics/lenet5.json"]["train.epochs"] == {"old": 1, "new": 2, "diff": 1}


@pytest.mark.slow
def test_summary_tables_equal_the_metrics_they_come_from(repo):
    import pandas as pd

    table = pd.read_csv(repo / "reports/summary.csv", index_col="model")
    epochs = pd.read_csv(repo / "reports/epoch_times.csv")
    markdown = (repo / "reports/summary.md").read_text()
    assert list(table.index) == MODELS
    for model in MODELS:
        metrics = json.loads((repo / f"metrics/{model}.json").read_text())
        row = table.loc[model]
        for key in ("train.accuracy", "train.loss", "test.accuracy", "test.loss",
                    "time.epoch_mean_s", "time.train_s", "params.total",
                    "throughput.infer_img_s"):
            section, name = key.split(".")
            assert row[key] == metrics[section][name], (model, key)
        seconds = epochs[epochs["model"] == model]["seconds"]
        assert len(seconds) == metrics["train"]["epochs"]
        assert seconds.sum() == pytest.approx(metrics["time"]["train_s"], abs=0.01)
        assert f"{metrics['test']['accuracy']:.4f}" in markdown
        assert row["calibration.ece"] == metrics["calibration"]["ece"]
        assert row["robustness.relative"] == metrics["robustness"]["relative"]
        assert re.search(rf"\| {row['name']} +\| {metrics['test']['accuracy']:.4f} +\| "
                         rf"{metrics['calibration']['ece']:.4f} +\|", markdown), model
    ranked = sorted(MODELS, key=lambda m: -round(table.loc[m, "test.accuracy"], 4))
    line = table.loc[ranked[0], "name"]
    for previous, model in zip(ranked, ranked[1:]):
        tie = round(table.loc[model, "test.accuracy"], 4) == round(
            table.loc[previous, "test.accuracy"], 4)
        line += (" = " if tie else " > ") + table.loc[model, "name"]
    assert f"- ours: {line}\n" in markdown
    assert "- seed: ResNet18 > Inception10 > VGG16 > AlexNet8 > LeNet5" in markdown
    assert table.loc["resnet18", "seed.test.accuracy"] == 0.8026
    for heading in ("Table 1", "Table 2", "Table 3", "Robustness to corrupted images",
                    "Calibration (clean test split)"):
        assert f"## {heading}" in markdown


@pytest.mark.slow
def test_plot_stage_writes_every_figure(repo):
    from PIL import Image

    folder = repo / "plots/figures"
    assert {p.name for p in folder.iterdir()} == FIGURES
    assert {p.name for p in (repo / "plots/curves").iterdir()} == {
        f"{split}_{metric}.csv" for split in ("train", "val") for metric in ("accuracy", "loss")
    } | {"corruption_accuracy.csv"}
    for png in folder.glob("*.png"):
        with Image.open(png) as image:
            assert 480 <= image.width <= 600 and image.height >= 300, png.name


@pytest.mark.slow
def test_figures_are_the_same_bytes_when_redrawn(repo, tmp_path):
    from cnnbench.report.figures import plot_all

    drawn = []
    for name in ("a", "b"):
        plot_all(MODELS, repo / "metrics", repo / "plots/train", repo / "reports/data.json",
                 repo / "reference/seed_report.yaml", tmp_path / name,
                 robustness_dir=repo / "plots/robustness")
        drawn.append({p.name: p.read_bytes() for p in (tmp_path / name).iterdir()})
    assert set(drawn[0]) == FIGURES
    assert drawn[0] == drawn[1]


@pytest.mark.slow
def test_review_report_against_a_base_commit(repo, changed):
    out = repo / "reports/review"
    run([sys.executable, "-m", "cnnbench", "review", "--base", "HEAD~1", "--out", str(out),
         "--summary", "reports/summary.md", "--figures", "plots/figures",
         "--vega-dir", str(VEGA_DIR)], repo)
    review = (out / "review.md").read_text()
    results = review.split("## Results")[1].split("## Params")[0]
    assert [line.split("|")[1].strip() for line in results.splitlines()
            if line.startswith("| ") and line.split("|")[1].strip()][1:] == [
                "LeNet5", "AlexNet8", "VGG16", "Inception10", "ResNet18"]
    assert "`models.lenet5.epochs`" in review.split("## Params")[1].split("## Summary")[0]
    metrics = review.split("## Every metric that changed")[1]
    assert "metrics/lenet5.json" in metrics and "train.epochs" in metrics
    assert "metrics/vgg16.json" not in metrics
    assert "### Table 2: test set" in review
    assert "(../../plots/figures/test_accuracy.png)" in review
    page = (out / "plots/index.html").read_text()
    assert "cdn.jsdelivr" not in page and 'src="vendor/vega.min.js"' in page


@pytest.mark.slow
def test_review_works_in_a_clone_where_nothing_was_ever_run(repo, changed, tmp_path):
    """Metrics and plot data are in git: a fresh clone (no DVC cache, no models) can review."""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(repo), str(clone)], tmp_path)
    assert not (clone / "models").exists() and not (clone / ".dvc" / "cache").exists()
    run([sys.executable, "-m", "cnnbench", "review", "--base", "HEAD~1", "--out", "review",
         "--summary", "reports/summary.md", "--figures", "plots/figures"], clone)
    review = (clone / "review" / "review.md").read_text()
    assert "metrics/lenet5.json" in review and "train.epochs" in review
    assert (clone / "review" / "plots" / "index.html").stat().st_size > 1000


@pytest.mark.slow
def test_review_rejects_an_unknown_base(repo):
    result = run([sys.executable, "-m", "cnnbench", "review", "--base", "no-such-branch",
                  "--summary", "reports/summary.md", "--figures", "plots/figures"], repo,
                 check=False)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].endswith(
        "--base 'no-such-branch' is not a commit of this git repository")


@pytest.mark.slow
def test_plots_diff_page_renders_in_chromium(repo, changed, tmp_path):
    out = tmp_path / "review"
    run([sys.executable, "-m", "cnnbench", "review", "--base", "HEAD~1", "--out", str(out),
         "--summary", "reports/summary.md", "--figures", "plots/figures",
         "--vega-dir", str(VEGA_DIR)], repo)
    result = chromium(tmp_path, out / "plots" / "index.html", "--dump-dom")
    canvases = re.findall(r'<canvas width="(\d+)" height="(\d+)" class="marks"', result.stdout)
    # the corruption heat map (both revisions in one), and a confusion matrix, per-class bars
    # and a reliability diagram per model; four training-curve charts as SVG
    expected = 1 + 3 * len(MODELS)
    assert len(canvases) == expected, result.stderr[-2000:]
    assert len(re.findall(r'<svg [^>]*class="marks"', result.stdout)) == 4
    assert all(int(w) > 100 and int(h) > 100 for w, h in canvases), canvases
    assert result.stdout.count("<img") == 2 * len(FIGURES)  # each figure of both revisions
    problems = console_errors(result)
    assert not problems, problems


@pytest.mark.slow
def test_a_second_concurrent_repro_gets_dvcs_lock_error(repo, changed):
    log = repo / "plots/train/alexnet8/metrics.json"
    before = json.loads(log.read_text())
    first = subprocess.Popen(["dvc", "repro", "--force", "--single-item", "train@alexnet8"],
                             cwd=repo, env=environment(), stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT, text=True)
    try:
        for line in first.stdout:  # DVC holds its lock while the stage runs
            if "Running stage 'train@alexnet8'" in line:
                break
        second = run(["dvc", "repro"], repo, check=False)
        output, _ = first.communicate(timeout=600)
    finally:
        if first.poll() is None:
            first.kill()
    assert second.returncode != 0
    assert "is busy, it is being" in second.stderr and ".dvc/tmp/rwlock" in second.stderr
    assert first.returncode == 0, output[-3000:]
    after = json.loads(log.read_text())
    assert {k: v for k, v in after.items() if k != "time"} == {
        k: v for k, v in before.items() if k != "time"}


def _module_file(module: str) -> Path | None:
    base = ROOT / "src" / Path(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path: Path) -> set[Path]:
    """cnnbench source files that ``path`` imports, at any depth of the file, and the
    ``__init__.py`` of every package above it (Python runs them first)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
        else:
            continue
        for name in names:
            if name.startswith("cnnbench.") and (file := _module_file(name)):
                found.add(file)
    src = ROOT / "src"
    if path.is_relative_to(src):
        found |= {folder / "__init__.py" for folder in path.parents
                  if folder.is_relative_to(src / "cnnbench") and (folder / "__init__.py").is_file()}
    return found - {path}


def _closure(start: set[Path], stop_at: set[Path] = frozenset()) -> set[Path]:
    """Every source file ``start`` imports, directly or not, without following ``stop_at``."""
    seen, todo = set(), list(start)
    while todo:
        path = todo.pop()
        if path not in seen and path not in stop_at:
            seen.add(path)
            todo.extend(_imports(path))
    return seen


#: The stage wrapper (signals, one-line errors, TensorFlow's start-up notices): it writes
#: no output, so no stage depends on it.
WRAPPER = ROOT / "src" / "cnnbench" / "runner.py"


def _stages() -> dict:
    return pipeline()["stages"]


def test_each_stage_depends_on_exactly_the_source_files_it_imports():
    """dvc.yaml's code deps equal the import closure of each stage script but the stage
    wrapper (plus, for train, evaluate and robustness, the network's own file, which the
    registry imports lazily),
    so only what shapes a stage's outputs reruns it. Foreach stages are checked for every
    model of the package and for a network file outside it."""
    for name, stage in _stages().items():
        entries = [(m, f"src/cnnbench/models/{m}.py") for m in registry.available()]
        entries = entries + [("mynet", "nets/mynet.py")] if "foreach" in stage else [(None, None)]
        for model, architecture in entries:
            body = stage.get("do", stage)
            deps = {d.replace("${key}", model or "").replace("${item.architecture}",
                                                            architecture or "")
                    for d in body["deps"]}
            declared = {ROOT / d for d in deps if d.endswith(".py")}
            script = ROOT / "stages" / f"{name}.py"
            network = (ROOT / architecture if name in ("train", "evaluate", "robustness")
                       else None)
            roots = {script}
            if network:  # the network, and the blocks the package's networks share
                roots |= {p for p in (network, ROOT / "src/cnnbench/models/blocks.py")
                          if p.is_file()}
            found = _closure(roots, stop_at={WRAPPER}) | ({network} if network else set())
            assert declared == found, (f"{name}@{model}: deps differ from imports: "
                                       f"missing {sorted(map(str, found - declared))}, "
                                       f"extra {sorted(map(str, declared - found))}")


def test_no_stage_depends_on_the_stage_wrapper_and_it_reaches_no_numerics():
    """The wrapper is in no stage's deps, and it imports only the error classes and the
    stop flag: nothing that reads data, builds a network, trains or evaluates."""
    for name, stage in _stages().items():
        assert "src/cnnbench/runner.py" not in stage.get("do", stage)["deps"], name
    reached = {p.relative_to(ROOT / "src" / "cnnbench").as_posix()
               for p in _closure({WRAPPER})}
    assert reached == {"runner.py", "errors.py", "stop.py", "__init__.py"}, reached
