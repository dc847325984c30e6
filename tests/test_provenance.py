"""Every run carries the code it trained with, and noise is pooled only over like runs.

The review scenario of a pull request that changes a network: a copy of the project (its
own `src/` and `stages/`) holds hand-written results of ResNet18 and VGG16 (seed 0 and seed
repeats 1 and 2), each training log carrying the code fingerprint the train stage records
(`cnnbench.training.code.code_digests` of the copy's files, as the stage computes it). The
pull request sets VGG16's `DROPOUT = 0.3` and reruns its seed 0 (+0.25 test accuracy), and
ResNet18's seed 0 moves by +0.002 with its code untouched; `cnnbench compare` judges both.
The gate's warning about such stale repeats runs on the tiny pipeline in test_repeats.py.
"""

from __future__ import annotations

import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import yaml

from helpers import ROOT, run
from test_noise_review import BASE, DATA, LOG, MODELS, _cell, _commit, _side, _write

from cnnbench.training.code import code_digests

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


def _project(repo: Path) -> Path:
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
    _write(repo, "reports/data.json", {"data": DATA})
    _side(repo, BASE, LOG, repeats=True, code=_code(repo))
    run(["git", "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    _commit(repo, "base")
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
    _commit(repo, "vgg16: edited, seed 0 rerun")
    return run([sys.executable, "-m", "cnnbench", "compare", "--base", "HEAD~1"], repo).stdout


def test_a_changed_network_is_beyond_noise_and_its_old_repeats_are_named(tmp_path):
    repo = _project(tmp_path / "repo")
    before = _code(repo)
    text = _rerun_seed0(repo, ("DROPOUT = 0.2", "DROPOUT = 0.3"))
    after = _code(repo)
    assert [p for p in after["vgg16"] if after["vgg16"][p] != before["vgg16"][p]] == [VGG16]
    assert after["resnet18"] == before["resnet18"]
    lines = text.splitlines()
    assert lines[2] == "1 change beyond run-to-run noise: VGG16 test accuracy +0.250."
    assert _cell(text, "VGG16", "test accuracy").startswith("+0.2500 (noise ±")
    assert _cell(text, "ResNet18", "test accuracy") == "~ +0.0020"
    assert "- ResNet18 test accuracy: paired over 3 seeds" in text
    assert ("- Not counted (pull request): 2 repeats of VGG16 predate "
            f"`{VGG16}`; run `cnnbench repeats` with experiments of the current code.") in text


def test_a_comment_only_edit_keeps_the_repeats_in_the_pool(tmp_path):
    repo = _project(tmp_path / "repo")
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
