"""Parallel experiments and shared results, in a temporary git + DVC copy of the project.

One module-scoped tiny run (lenet5 only, a few hundred images, 1 epoch) is committed as
the base. On it:

- two experiments queued with different `train.seed` run at the same time under
  `dvc queue start -j 2`, each in its own temporary workspace, and each ends with its own
  metrics (those of the one with the base's settings equal the base run's exactly);
- a copy of it pushes its outputs to a DVC remote (a local folder, and an S3 bucket on a
  moto server on 127.0.0.1), and a fresh `git clone` pulls them (`dvc pull`, or
  `dvc repro --pull`) and then has nothing to reproduce.

About a minute and a half on a 2-core machine, most of it the base run and the two
experiments.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, environment, net, pipeline, ran_stages, run, run_lenet5_project

# Fake credentials of the moto server; they exist only in these tests' environment.
S3_ENV = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
          "AWS_DEFAULT_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
          "AWS_CONFIG_FILE": "/nonexistent", "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent"}
BUCKET = "cnnbench"
# Outputs in the DVC cache (the rest are committed to git with `cache: false`).
CACHED = ["data/raw", "data/prepared/cifar10.npz", "models/lenet5.keras",
          "data/corrupted/cifar10-c.npz"]
QUEUE_TIMEOUT_S = 600


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """The pipeline with lenet5 alone, run on a tiny archive and committed with dvc.lock."""
    return run_lenet5_project(tmp_path_factory.mktemp("sharing"), 16, 6, "tar.gz", "base run")


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


@pytest.mark.slow
def test_two_queued_experiments_run_at_once_each_in_its_own_workspace(project):
    """`seed1` changes train.seed; `seed0` restates the base's seed 0 as a lenet5 override,
    which reruns training with the base's settings: its metrics must equal the base run's
    (made alone, in the workspace) exactly, and seed1's must differ."""
    head = run(["git", "rev-parse", "HEAD"], project).stdout.strip()
    base_metrics = (project / "metrics/lenet5.json").read_text()
    queued = {"seed1": "train.seed=1", "seed0": "++models.lenet5.seed=0"}
    # seed1 also names the same archive by a path relative to the project, so its fetch
    # reruns in its temporary clone, where that path must still be read from the project.
    archive = yaml.safe_load((project / "params.yaml").read_text())["data"]["source"]
    relative = os.path.relpath(archive, project)
    assert relative.startswith("..")
    for name, override in queued.items():
        extra = ["-S", f"data.source={relative}"] if name == "seed1" else []
        out = run(["dvc", "exp", "run", "--queue", "-S", override, *extra, "-n", name],
                  project).stdout
        assert f"Queued experiment '{name}'" in out
    assert queue_status(project) == {"seed1": "Queued", "seed0": "Queued"}

    finished = False
    try:
        # to a file, not a pipe: the workers it starts inherit its output and outlive it,
        # so reading a pipe to its end would wait for them
        with open(project.parent / "queue-start.log", "w+") as out:
            subprocess.run(["dvc", "queue", "start", "-j", "2"], cwd=project, stdout=out,
                           stderr=subprocess.STDOUT, env=environment(), timeout=120,
                           check=True)
            out.seek(0)
            started = out.read()
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
        fetched = {"fetch"} if name == "seed1" else set()
        assert ran_stages(log) == {"train@lenet5", "robustness@lenet5", "evaluate@lenet5",
                                   "plot", "summarise", *fetched}, log
        assert "--checkpoint-dir checkpoints/lenet5" in log

    # Each experiment has its own params, metrics and model.
    shown = json.loads(run(["dvc", "exp", "show", "--json"], project).stdout)
    baseline = next(rev for rev in shown if rev["rev"] == head)
    exps = {e["name"]: e for e in baseline["experiments"]}
    assert set(exps) == set(queued)
    data = {name: e["revs"][0]["data"] for name, e in exps.items()}
    params = {name: d["params"]["params.yaml"]["data"] for name, d in data.items()}
    assert params["seed1"]["train"]["seed"] == 1 and params["seed1"]["models"]["lenet5"] == net("lenet5")
    assert params["seed0"]["train"]["seed"] == 0
    assert params["seed0"]["models"]["lenet5"] == net("lenet5", seed=0)
    for name in queued:
        assert exps[name]["executor"]["state"] == "success"
        for out in ("data/prepared/cifar10.npz", "reports/data.json"):  # the same data
            assert data[name]["outs"][out]["hash"] == baseline["data"]["outs"][out]["hash"]
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
    paths = []
    for stage in pipeline()["stages"].values():
        body = stage.get("do", stage)
        for field in ("deps", "outs", "metrics"):
            paths += [next(iter(p)) if isinstance(p, dict) else p for p in body.get(field, [])]
        paths += re.findall(r"--[\w-]+ (\S+)", body["cmd"])
    assert "checkpoints/${key}" in paths
    for path in paths:
        assert not Path(path).is_absolute() and ".." not in Path(path).parts, path
    ignored = (ROOT / ".gitignore").read_text().split()
    assert "/checkpoints/" in ignored  # never in git, so never copied into an experiment


def copy_project(project: Path, dest: Path) -> Path:
    """A copy of the project (git history, DVC cache and workspace), without DVC's
    temporary files, so that each test configures its own remote."""
    def ignore(folder: str, names: list[str]) -> list[str]:
        return ["tmp"] if Path(folder) == project / ".dvc" else []

    shutil.copytree(project, dest, ignore=ignore)
    return dest


def share_through_remote(project: Path, tmp_path: Path, url: str,
                         local_config: dict[str, str], env: dict[str, str]) -> None:
    """Clone A pushes its results to ``url``; fresh clones pull them and reproduce nothing.

    ``local_config`` holds remote options that must stay out of git (an endpoint, say);
    every clone sets them with `dvc remote modify --local`.
    """
    def configure(repo: Path) -> None:
        for option, value in local_config.items():
            run(["dvc", "remote", "modify", "--local", "storage", option, value], repo)

    a = copy_project(project, tmp_path / "a")
    run(["dvc", "remote", "add", "-d", "storage", url], a)
    configure(a)
    run(["git", "add", ".dvc/config"], a)
    run(["git", "commit", "-qm", "remote storage"], a)
    committed = run(["git", "show", "HEAD:.dvc/config"], a).stdout
    assert url in committed and not any(v in committed for v in local_config.values())
    assert ".dvc/config.local" not in run(["git", "ls-files"], a).stdout
    pushed = run(["dvc", "push"], a, env=env).stdout
    # data/raw is a folder: its one file and DVC's listing of it
    assert f"{len(CACHED) + 1} files pushed" in pushed, pushed

    b = tmp_path / "b"
    run(["git", "clone", "-q", str(a), str(b)], tmp_path)
    assert not any((b / path).exists() for path in CACHED)
    assert "Data and pipelines are up to date" not in run(["dvc", "status"], b).stdout
    configure(b)
    run(["dvc", "pull"], b, env=env)
    for path in CACHED:
        assert (b / path).exists(), path
    assert (b / "models/lenet5.keras").read_bytes() == (a / "models/lenet5.keras").read_bytes()
    assert (b / CACHED[1]).read_bytes() == (a / CACHED[1]).read_bytes()
    assert "Data and pipelines are up to date" in run(["dvc", "status"], b).stdout
    again = run(["dvc", "repro"], b, env=env).stdout
    assert ran_stages(again) == set() and "Data and pipelines are up to date" in again

    c = tmp_path / "c"
    run(["git", "clone", "-q", str(a), str(c)], tmp_path)
    configure(c)
    pulled = run(["dvc", "repro", "--pull"], c, env=env).stdout
    assert ran_stages(pulled) == set(), pulled
    assert (c / "models/lenet5.keras").read_bytes() == (a / "models/lenet5.keras").read_bytes()
    assert "Data and pipelines are up to date" in run(["dvc", "status"], c).stdout


@pytest.mark.slow
def test_a_clone_pulls_results_from_a_local_remote_and_reproduces_nothing(project, tmp_path):
    remote = tmp_path / "remote"
    share_through_remote(project, tmp_path, str(remote), {}, {})
    assert any(p.is_file() for p in (remote / "files" / "md5").rglob("*"))


@pytest.fixture(scope="module")
def s3_endpoint():
    """An S3-compatible server (moto) on 127.0.0.1 with an empty bucket; its URL."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        url = f"http://{host}:{port}"
        boto3.client("s3", endpoint_url=url, region_name="us-east-1",
                     aws_access_key_id="testing",
                     aws_secret_access_key="testing").create_bucket(Bucket=BUCKET)
        yield url
    finally:
        server.stop()


@pytest.mark.slow
def test_a_clone_pulls_results_from_an_s3_remote_and_reproduces_nothing(
        project, tmp_path, s3_endpoint):
    import boto3

    share_through_remote(project, tmp_path, f"s3://{BUCKET}/dvcstore",
                         {"endpointurl": s3_endpoint}, S3_ENV)
    s3 = boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1",
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"]]
    assert len(keys) == len(CACHED) + 1 and all(k.startswith("dvcstore/files/md5/") for k in keys)
