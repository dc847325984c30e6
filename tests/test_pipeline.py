"""`dvc repro` end to end in a temporary git repo, on a tiny image-folder archive.

One module-scoped run (a few hundred images, 1 epoch, all five models) is shared by
the tests; it takes a couple of minutes on a 2-core machine.
"""

from __future__ import annotations

import ast
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from archives import make_image_folder

ROOT = Path(__file__).resolve().parents[1]
PROJECT_FILES = ["dvc.yaml", "params.yaml", "stages", "src", ".dvcignore", ".dvc/config",
                 ".dvc/.gitignore", ".gitignore"]
MODELS = ["lenet5", "alexnet8", "vgg16", "inception10", "resnet18"]
METRIC_KEYS = ["params.total", "params.trainable", "train.loss", "train.accuracy", "test.loss",
               "test.accuracy", "time.train_s", "time.epoch_mean_s", "throughput.infer_img_s"]


def run(cmd: list[str], cwd: Path, check: bool = True) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
           "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    result = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                             f"{result.stdout[-4000:]}\n{result.stderr[-4000:]}")
    return result


def ran_stages(output: str) -> set[str]:
    return set(re.findall(r"Running stage '([^']+)'", output))


def set_params(repo: Path, **changes) -> None:
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = params
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(yaml.safe_dump(params, sort_keys=False))


@pytest.fixture(scope="module")
def repo(tmp_path_factory) -> Path:
    base = tmp_path_factory.mktemp("pipeline")
    archive = make_image_folder(base / "data", train_per_class=16, test_per_class=6,
                                fmt="tar.gz")
    repo = base / "repo"
    for name in PROJECT_FILES:
        src, dst = ROOT / name, repo / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
        else:
            shutil.copy2(src, dst)
    set_params(repo, data__source=str(archive), train__epochs=1, evaluate__batch_size=32)
    run(["git", "init", "-q"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "project"], repo)
    result = run(["dvc", "repro"], repo)
    (repo / "repro.log").write_text(result.stdout + result.stderr)
    return repo


def test_repro_runs_every_stage_and_writes_every_declared_output(repo):
    stages = run(["dvc", "stage", "list", "--all", "--name-only"], repo).stdout.split()
    expected = {"fetch", "prepare"} | {f"{s}@{m}" for s in ("train", "evaluate") for m in MODELS}
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
    data = json.loads((repo / "metrics/data.json").read_text())["data"]
    assert (data["train"]["count"], data["test"]["count"]) == (160, 60)
    assert set(data["train"]["per_class"].values()) == {16}


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
        assert metrics["train"]["epochs"] == 1 and metrics["test"]["images"] == 60


@pytest.mark.parametrize("model", MODELS)
def test_test_metrics_agree_with_the_last_validation_pass(repo, model):
    """The saved and reloaded model scores exactly as the trained one did in its last epoch."""
    metrics = json.loads((repo / f"metrics/{model}.json").read_text())
    log = json.loads((repo / f"plots/train/{model}/metrics.json").read_text())
    assert metrics["test"]["accuracy"] == pytest.approx(log["val"]["accuracy"], abs=1e-6)
    assert metrics["test"]["loss"] == pytest.approx(log["val"]["loss"], rel=1e-4)


def test_reruns_only_what_changed(repo):
    again = run(["dvc", "repro"], repo)
    assert ran_stages(again.stdout) == set()
    assert "Data and pipelines are up to date" in again.stdout

    before = {m: (repo / f"metrics/{m}.json").read_text() for m in MODELS}
    set_params(repo, models__lenet5={"epochs": 2})
    changed = run(["dvc", "repro"], repo)
    assert ran_stages(changed.stdout) == {"train@lenet5", "evaluate@lenet5"}
    assert json.loads((repo / "metrics/lenet5.json").read_text())["train"]["epochs"] == 2
    for model in MODELS[1:]:
        assert (repo / f"metrics/{model}.json").read_text() == before[model]


def _module_file(module: str) -> Path | None:
    base = ROOT / "src" / Path(*module.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def _imports(path: Path) -> set[Path]:
    """cnnbench source files that ``path`` imports, at any depth of the file."""
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
    return found


def _closure(start: set[Path]) -> set[Path]:
    seen, todo = set(), list(start)
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo.extend(_imports(path))
    return seen


def test_each_stage_depends_on_exactly_the_source_files_it_imports():
    """dvc.yaml's code deps equal the import closure of each stage script (plus the model's
    own module, which the registry imports lazily), so only what a stage reads reruns it."""
    text = (ROOT / "dvc.yaml").read_text()
    for key, value in yaml.safe_load(text)["vars"][0].items():
        text = text.replace("${" + key + "}", value)
    stages = yaml.safe_load(text)["stages"]
    for name, stage in stages.items():
        for model in (MODELS if "foreach" in stage else [None]):
            body = stage.get("do", stage)
            deps = {d.replace("${key}", model or "") for d in body["deps"]}
            declared = {ROOT / d for d in deps if d.endswith(".py")}
            script = ROOT / "stages" / f"{name}.py"
            roots = {script} | ({_module_file(f"cnnbench.models.{model}")}
                                if name == "train" else set())
            assert declared == _closure(roots), f"{name}@{model}: deps differ from imports"
