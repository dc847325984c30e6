"""Parallel experiments, in a temporary git + DVC copy of the project.

One module-scoped tiny run (lenet5 only, a few hundred images, 1 epoch) is committed as
the base. On it:

- two experiments queued with different `train.seed` run at the same time under
  `dvc queue start -j 2`, each in its own temporary workspace, and each ends with its own
  metrics (those of the one with the base's settings equal the base run's exactly).

About a minute and a half on a 2-core machine, most of it the base run and the two
experiments.
"""

from __future__ import annotations

import json
import re
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from archives import make_image_folder
from helpers import ROOT, make_project, ran_stages, run

QUEUE_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The pipeline with lenet5 alone, run on a tiny archive and committed with dvc.lock."""
    base = tmp_path_factory.mktemp("sharing")
    archive = make_image_folder(base / "data", train_per_class=16, test_per_class=6,
                                fmt="tar.gz")
    repo = make_project(base / "repo", data__source=str(archive), train__epochs=1,
                        evaluate__batch_size=32, models={"lenet5": {}})
    run(["dvc", "repro"], repo)
    run(["git", "add", "-A"], repo)
    run(["git", "commit", "-qm", "base run"], repo)
    return repo


def lenet5_metrics(data: dict) -> dict:
    return data["metrics"]["metrics/lenet5.json"]["data"]


def queue_status(repo: Path) -> dict[str, str]:
    """Experiment name -> status (Queued, Running, Success, Failed) of `dvc queue status`."""
    lines = run(["dvc", "queue", "status"], repo).stdout.splitlines()
    rows = [line.split() for line in lines[1:] if line.strip() and not line.startswith("Worker")]
    return {row[1]: row[-1] for row in rows if len(row) >= 3}


def worker_tasks(repo: Path) -> list[tuple[datetime, datetime]]:
    """(received, succeeded) times of each task in the queue workers' logs."""
    stamp = r"\[(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+): INFO/MainProcess\] Task \S+\[([\w-]+)\]"
    tasks = []
    for log in sorted((repo / ".dvc/tmp/exps/celery").glob("dvc-exp-worker-*.out")):
        times = {}
        for when, task, event in re.findall(stamp + r" (received|succeeded)", log.read_text()):
            times.setdefault(task, {})[event] = datetime.strptime(when, "%Y-%m-%d %H:%M:%S,%f")
        tasks += [(t["received"], t["succeeded"]) for t in times.values() if len(t) == 2]
    return tasks


def test_two_queued_experiments_run_at_once_each_in_its_own_workspace(project):
    """`seed1` changes train.seed; `seed0` restates the base's seed 0 as a lenet5 override,
    which reruns training with the base's settings: its metrics must equal the base run's
    (made alone, in the workspace) exactly, and seed1's must differ."""
    head = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    base_metrics = (project / "metrics/lenet5.json").read_text()
    queued = {"seed1": "train.seed=1", "seed0": "++models.lenet5.seed=0"}
    for name, override in queued.items():
        out = run(["dvc", "exp", "run", "--queue", "-S", override, "-n", name], project).stdout
        assert f"Queued experiment '{name}'" in out
    assert queue_status(project) == {"seed1": "Queued", "seed0": "Queued"}

    finished = False
    try:
        started = run(["dvc", "queue", "start", "-j", "2"], project).stdout
        assert "Started '2' new experiments task queue workers" in started
        deadline = time.monotonic() + QUEUE_TIMEOUT_S
        polls = 0
        while not finished and time.monotonic() < deadline:
            # A finished experiment is a git ref: cheap to poll, while each `dvc` command
            # would take CPU from the experiments. Failures show in `dvc queue status`.
            time.sleep(1)
            polls += 1
            refs = run(["git", "for-each-ref", "--format=%(refname)", "refs/exps"],
                       project).stdout.split()
            done = [ref for ref in refs if not ref.startswith("refs/exps/celery/")]
            if len(done) == 2 or polls % 20 == 0:
                status = queue_status(project)
                finished = set(status.values()) <= {"Success", "Failed"}
    finally:
        # Workers stop by themselves 10 s after the queue is empty; on a failure, also kill
        # the experiments still running so that nothing outlives the test.
        run(["dvc", "queue", "stop", *([] if finished else ["--kill"])], project, check=False)
    logs = {n: run(["dvc", "queue", "logs", n], project, check=False).stdout for n in queued}
    assert status == {"seed1": "Success", "seed0": "Success"}, logs

    # Both ran at the same time, one per worker.
    tasks = worker_tasks(project)
    assert len(tasks) == 2, tasks
    (start1, end1), (start2, end2) = tasks
    assert start1 < end2 and start2 < end1, tasks

    # Each in its own temporary clone under .dvc/tmp/exps, removed afterwards; fetch and
    # prepare came from the shared cache, and each trained its own model.
    infos = [json.loads(p.read_text())
             for p in (project / ".dvc/tmp/exps/run").glob("*/*.run")]
    roots = {Path(info["root_dir"]) for info in infos}
    assert len(roots) == 2 and {info["name"] for info in infos} == set(queued)
    for root in roots:
        assert root.parent == project / ".dvc/tmp/exps" and not root.exists()
    for name, log in logs.items():
        assert ran_stages(log) == {"train@lenet5", "evaluate@lenet5", "plot", "summarise"}, log
        assert "--checkpoint-dir checkpoints/lenet5" in log

    # Each experiment has its own params, metrics and model.
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    baseline = next(rev for rev in shown if rev["rev"] == head)
    exps = {e["name"]: e for e in baseline["experiments"]}
    assert set(exps) == set(queued)
    data = {name: e["revs"][0]["data"] for name, e in exps.items()}
    params = {name: d["params"]["params.yaml"]["data"] for name, d in data.items()}
    assert params["seed1"]["train"]["seed"] == 1 and params["seed1"]["models"]["lenet5"] == {}
    assert params["seed0"]["train"]["seed"] == 0
    assert params["seed0"]["models"]["lenet5"] == {"seed": 0}
    for name in queued:
        assert exps[name]["executor"]["state"] == "success"
        assert data[name]["metrics"]["metrics/data.json"] == baseline["data"]["metrics"][
            "metrics/data.json"]
    one, zero = lenet5_metrics(data["seed1"]), lenet5_metrics(data["seed0"])
    base = json.loads(base_metrics)
    for section in ("train", "test"):
        assert zero[section] == base[section]  # loss, accuracy, epochs, images: all equal
        assert one[section]["loss"] != base[section]["loss"]
    assert one["params"] == zero["params"] == base["params"]
    models = {d["outs"]["models/lenet5.keras"]["hash"] for d in data.values()}
    assert len(models) == 2

    # The workspace is as it was: nothing written there, no checkpoint in it.
    assert run(["git", "status", "--porcelain"], project).stdout == ""
    assert (project / "metrics/lenet5.json").read_text() == base_metrics
    assert not any((project / "checkpoints").rglob("*"))


def test_every_pipeline_path_is_inside_the_workspace():
    """Queued experiments share nothing but DVC's cache only if every path the stages read
    or write (checkpoints included) is relative to the workspace and stays inside it."""
    text = (ROOT / "dvc.yaml").read_text()
    for key, value in yaml.safe_load(text)["vars"][0].items():
        text = text.replace("${" + key + "}", value)
    pipeline = yaml.safe_load(text)
    paths = []
    for stage in pipeline["stages"].values():
        body = stage.get("do", stage)
        for field in ("deps", "outs", "metrics"):
            paths += [next(iter(p)) if isinstance(p, dict) else p for p in body.get(field, [])]
        paths += re.findall(r"--[\w-]+ (\S+)", body["cmd"])
    assert "checkpoints/${key}" in paths
    for path in paths:
        assert not Path(path).is_absolute() and ".." not in Path(path).parts, path
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/checkpoints/" in ignored  # never in git, so never copied into an experiment
