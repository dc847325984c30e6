"""A failed or killed run loses nothing: every earlier output stays in the workspace.

DVC deletes a stage's outputs before running it unless they are ``persist: true``; the
stage scripts replace every output atomically, so dvc.yaml marks them all persistent.
End to end, in a temporary git + DVC project trained once (lenet5 alone, 1 epoch, a tiny
image-folder archive): after a bad ``data.source``, a bad param given to ``dvc exp run
-S`` and a ``dvc repro`` killed with SIGKILL mid-training, every output of the earlier
run is still there byte for byte, ``dvc status`` lists no deleted output, and the next
``dvc repro`` finishes. And a folder output is swapped in one step, never half deleted.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, environment, lock_outputs, ran_stages, run, set_params, tree
from cnnbench import files
from cnnbench.files import atomic_path


# `repo` (conftest.py): a copy of the `trained` project for each test to break.


def digest(path: Path) -> str | None:
    """A digest of a file's bytes, or of a folder's file names and bytes; None if absent."""
    if path.is_file():
        return hashlib.sha256(path.read_bytes()).hexdigest()
    if not path.is_dir():
        return None
    h = hashlib.sha256()
    for item in sorted(p for p in path.rglob("*") if p.is_file()):
        h.update(str(item.relative_to(path)).encode() + b"\0" + item.read_bytes())
    return h.hexdigest()


def outputs(repo: Path) -> dict[str, str | None]:
    """Every output dvc.lock lists, with its digest."""
    return {path: digest(repo / path) for path in lock_outputs(repo)}


def assert_nothing_lost(repo: Path, before: dict[str, str | None]) -> None:
    assert None not in before.values()
    assert outputs(repo) == before  # all there, byte for byte: none deleted or partial
    status = run(["dvc", "status"], repo).stdout
    assert "deleted" not in status, status
    assert not [p for p in repo.rglob(".*.tmp*") if ".dvc" not in p.parts]


def test_every_output_is_kept_while_its_stage_runs():
    """Every stage writes its outputs atomically, so DVC need not delete them first."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    for name, stage in stages.items():
        stage = stage.get("do", stage)
        for kind in ("outs", "metrics", "plots"):
            for out in stage.get(kind, []):
                flags = next(iter(out.values())) if isinstance(out, dict) else {}
                assert flags.get("persist") is True, f"{name}: {kind} {out} is not persist"


@pytest.mark.slow
def test_a_bad_source_keeps_every_output(repo, tmp_path):
    before = outputs(repo)
    set_params(repo, data__source=str(tmp_path / "missing.tar.gz"))
    result = run(["dvc", "repro"], repo, check=False)
    assert result.returncode != 0
    assert "fetch.py: error: data.source" in result.stderr + result.stdout
    assert_nothing_lost(repo, before)

    run(["git", "checkout", "params.yaml"], repo)
    again = run(["dvc", "repro"], repo)
    assert ran_stages(again.stdout) == set()  # nothing to redo: the outputs never left
    assert outputs(repo) == before


@pytest.mark.parametrize("change, expected", [
    ("train.epochs=0", "train.epochs must be an integer in [1, 2147483647], got 0"),
    ("+train.epoch=2", "unknown key 'train.epoch' (did you mean 'train.epochs'?)"),
], ids=["out-of-range", "typo"])
@pytest.mark.slow
def test_a_failed_exp_run_keeps_every_output(repo, change, expected):
    before = outputs(repo)
    result = run(["dvc", "exp", "run", "-S", change], repo, check=False)
    assert result.returncode != 0
    assert "train.py: error:" in result.stdout + result.stderr
    assert expected in result.stdout + result.stderr
    assert_nothing_lost(repo, before)
    # DVC leaves the -S edit in params.yaml; git restores the committed params
    assert run(["git", "status", "--porcelain"], repo).stdout.split() == ["M", "params.yaml"]
    run(["git", "checkout", "params.yaml"], repo)
    assert "Data and pipelines are up to date." in run(["dvc", "status"], repo).stdout


@pytest.mark.slow
def test_a_repro_killed_mid_training_keeps_every_output_and_resumes(repo):
    before = outputs(repo)
    # 3 epochs: after the first checkpoint, two more epochs (each saving a checkpoint) and
    # the later stages keep `dvc repro` running well past the kill
    set_params(repo, train__epochs=3)
    state = repo / "checkpoints/lenet5/current/state.json"
    process = subprocess.Popen(["dvc", "repro"], cwd=repo, env=environment(),
                               start_new_session=True, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while not state.exists() and process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        assert process.poll() is None, "training ended before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)  # dvc, its shell and the stage alike
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert_nothing_lost(repo, before)

    result = run(["dvc", "repro"], repo)
    assert "resuming from the checkpoint of epoch" in result.stdout
    assert {"train@lenet5", "evaluate@lenet5"} <= ran_stages(result.stdout)
    assert "Data and pipelines are up to date." in run(["dvc", "status"], repo).stdout
    assert not (repo / "checkpoints/lenet5").exists()


class Killed(BaseException):
    """Stands for a SIGKILL: the process stops where it is, nothing else runs."""


@pytest.mark.parametrize("renameat2", [True, False], ids=["exchange", "fallback"])
def test_a_folder_output_is_the_old_or_the_new_one_even_if_killed_while_replaced(
        tmp_path, monkeypatch, renameat2):
    target = tmp_path / "plots"
    target.mkdir()
    old = {f"old{i}.tsv": str(i).encode() for i in range(3)}
    for name, data in old.items():
        (target / name).write_bytes(data)
    if not renameat2:  # a system without renameat2: two renames through a third name
        monkeypatch.setattr(files.ctypes, "CDLL", lambda *a, **k: object())
    seen = []

    def rmtree_then_killed(path, ignore_errors=False):
        seen.append(tree(target))  # the target as the deletion starts
        next(p for p in Path(path).iterdir()).unlink()  # one file gone, then killed
        raise Killed

    monkeypatch.setattr(files.shutil, "rmtree", rmtree_then_killed)
    with pytest.raises(Killed), atomic_path(target) as tmp:
        tmp.mkdir()
        (tmp / "new.tsv").write_text("new")
    assert seen and all(t in (old, {"new.tsv": b"new"}) for t in seen)
    assert tree(target) == {"new.tsv": b"new"}
