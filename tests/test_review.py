"""The pull-request workflow (.github/workflows/review.yml), checked without GitHub.

The workflow validates against GitHub's schema and passes zizmor; its steps' own `run`
commands (read from the file, so the test runs what the workflow runs) are run in a
temporary git repo with a base and a pull-request commit (LeNet5 only, 1 epoch, a tiny
archive): results current, then a param changed without rerunning, then the comment
posted and updated through a fake `gh`.
"""

from __future__ import annotations

import json
import re
import stat
import shutil
import sys
from pathlib import Path

import pytest
import yaml

from helpers import ROOT, commit, net, run, set_params, tiny_project

WORKFLOW = ROOT / ".github" / "workflows" / "review.yml"
BIN = Path(sys.executable).parent
FAKE_GH = """#!/bin/sh
# A fake `gh`: writes its arguments, one a line, and the body file it was given.
printf '%s\\n' "$@" > "$FAKE_GH_ARGS"
while [ "$#" -gt 0 ]; do [ "$1" = --body-file ] && cp "$2" "$FAKE_GH_ARGS.body"; shift; done
"""


def step(step_id: str) -> str:
    """The `run` command of the workflow step with this id."""
    jobs = yaml.safe_load(WORKFLOW.read_text())["jobs"]
    return next(s["run"] for job in jobs.values() for s in job["steps"]
                if s.get("id") == step_id)


def run_step(step_id: str, repo: Path, check: bool = True, **env: str):
    return run(["bash", "-e", "-c", step(step_id)], repo, check=check,
               env={"BASE_SHA": "HEAD~1", "DETAILS_URL": "https://example.com/run/1", **env})


@pytest.fixture(scope="module")
def project(tmp_path_factory) -> Path:
    """Base commit: LeNet5 for 1 epoch; pull-request commit: 2 epochs, rerun, committed."""
    repo = tiny_project(tmp_path_factory.mktemp("review"), 4, 2, "tar.gz",
                        models={"lenet5": net("lenet5")})
    for message, changes in (("base run", {}), ("lenet5: 2 epochs",
                                                {"models__lenet5__epochs": 2})):
        set_params(repo, **changes)
        run(["dvc", "repro"], repo)
        commit(repo, message)
    return repo


@pytest.fixture()
def clone(project, tmp_path) -> Path:
    """A fresh clone of the project, as the workflow checks it out: no DVC cache, no data."""
    clone = tmp_path / "clone"
    run(["git", "clone", "-q", str(project), str(clone)], tmp_path)
    return clone


def test_workflow_is_valid_against_githubs_schema():
    result = run([str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows",
                  str(WORKFLOW)], ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_workflow_has_no_zizmor_findings_even_pedantic():
    """Pinned actions, least permissions, no template injection, explained permissions."""
    result = run([str(BIN / "zizmor"), "--offline", "--persona", "pedantic", str(WORKFLOW)],
                 ROOT, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout


def test_only_the_comment_job_can_write_and_not_for_forks():
    workflow = yaml.safe_load(WORKFLOW.read_text())
    assert workflow["permissions"] == {} and "pull_request_target" not in workflow[True]
    writers = {name for name, job in workflow["jobs"].items()
               if "write" in job["permissions"].values()}
    assert writers == {"comment"}
    assert "head.repo.full_name == github.repository" in workflow["jobs"]["comment"]["if"]


@pytest.mark.slow
def test_current_results_pass_the_gate_and_the_comparison_has_the_deltas(clone):
    assert "results are current" in run_step("gate", clone).stdout
    run_step("compare", clone)
    text = (clone / "comparison.md").read_text()
    base = json.loads(run(["git", "show", "HEAD~1:metrics/lenet5.json"], clone).stdout)
    head = json.loads((clone / "metrics/lenet5.json").read_text())
    loss_row = next(line for line in text.splitlines() if "| test loss" in line)
    cells = [c.strip() for c in loss_row.strip("|").split("|")]
    change = head["test"]["loss"] - base["test"]["loss"]
    assert cells[2:] == [f"{base['test']['loss']:.4f}", f"{head['test']['loss']:.4f}",
                         f"{change:+.4f}", "1.4734"]  # the seed report's LeNet5 test loss
    assert "Results are current" in text
    assert "| `models.lenet5.epochs` | null   | 2    |" in text
    assert "**Data:** unchanged (images.tar.gz, 40 train / 20 test images" in text


@pytest.mark.slow
def test_a_param_changed_without_rerunning_fails_the_gate_naming_the_stages(clone):
    set_params(clone, models__lenet5=net("lenet5", epochs=3))
    run(["git", "commit", "-qam", "lenet5: 3 epochs, not rerun"], clone)
    result = run_step("gate", clone, check=False)
    assert result.returncode == 1
    assert "- `train@lenet5`: param models.lenet5 modified" in result.stdout
    downstream = next(line for line in result.stdout.splitlines()
                      if line.startswith("- and downstream: "))
    assert "`evaluate@lenet5`" in downstream  # its model changes; its own params did not
    run_step("compare", clone)
    assert "Stale results" in (clone / "comparison.md").read_text()


@pytest.mark.slow
def test_a_code_change_names_the_stage_and_those_downstream(clone):
    with (clone / "stages" / "prepare.py").open("a") as fh:
        fh.write("CHANGED = True\n")  # code: a comment alone is for `cnnbench refresh`
    run(["git", "commit", "-qam", "prepare changed, not rerun"], clone)
    result = run_step("gate", clone, check=False)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert "- `prepare`: dep stages/prepare.py modified" in lines
    downstream = next(line for line in lines if line.startswith("- and downstream: "))
    assert set(re.findall(r"`([^`]+)`", downstream)) == {
        "corrupt", "train@lenet5", "robustness@lenet5", "evaluate@lenet5", "plot", "summarise"}


def test_the_gate_ignores_absent_files_and_counts_the_rest():
    from cnnbench.review.gate import stale_stages

    status = {
        "fetch": [{"changed outs": {"data/raw": "not in cache"}}],
        "train@vgg16": [{"changed deps": {"data/prepared/cifar10.npz": "deleted"}},
                        {"changed outs": {"models/vgg16.keras": "not in cache"}}],
        "evaluate@vgg16": [{"changed outs": {"metrics/vgg16.json": "modified"}}],
        "plot": ["changed command"],
        "summarise": [{"changed deps": {"params.yaml": {"models": "modified"},
                                        "src/cnnbench/summary.py": "modified"}}],
    }
    assert stale_stages(status) == {
        "evaluate@vgg16": ["out metrics/vgg16.json modified"],
        "plot": ["changed command"],
        "summarise": ["param models modified", "dep src/cnnbench/summary.py modified"]}


@pytest.mark.slow
def test_pull_is_skipped_cleanly_without_a_remote(clone):
    result = run_step("pull", clone)
    assert "No DVC remote configured: nothing to pull" in result.stdout


@pytest.mark.slow
def test_a_docs_only_change_passes_the_gate(clone):
    (clone / "docs").mkdir()
    (clone / "docs" / "note.md").write_text("A note.\n")
    (clone / "README.md").write_text("Changed.\n")
    run(["git", "add", "-A"], clone)
    run(["git", "commit", "-qm", "docs"], clone)
    assert run_step("gate", clone).returncode == 0


@pytest.mark.slow
def test_metrics_diff_lists_model_metrics_only(project):
    shown = json.loads(run(["dvc", "metrics", "diff", "HEAD~1", "--all", "--json"],
                           project).stdout)
    assert set(shown) == {"metrics/lenet5.json"}


def test_the_comment_step_edits_the_workflows_last_comment_or_creates_it(tmp_path):
    fake = tmp_path / "bin" / "gh"
    fake.parent.mkdir()
    fake.write_text(FAKE_GH)
    fake.chmod(fake.stat().st_mode | stat.S_IXUSR)
    (tmp_path / "comparison.md").write_text("## cnnbench\n")
    recorded = tmp_path / "args"
    run_step("post", tmp_path, PATH=f"{fake.parent}:/usr/bin:/bin", FAKE_GH_ARGS=str(recorded),
             GITHUB_REPOSITORY="owner/cnnbench", PR_NUMBER="7")
    assert recorded.read_text().split("\n")[:8] == [
        "pr", "comment", "7", "--repo", "owner/cnnbench", "--edit-last", "--create-if-none",
        "--body-file"]
    assert (tmp_path / "args.body").read_text() == "## cnnbench\n"


def test_a_long_comparison_is_cut_with_a_visible_note():
    from cnnbench.review.compare import LIMIT, fit

    body = fit("| a row of a long table |\n" * 5000)
    assert len(body) <= LIMIT
    assert body.rstrip().endswith("the `review` artifact of this workflow run has all of it.")
    assert "| a row of a long table |\n\n---\n**Truncated:**" in body
    assert fit("short") == "short"


def _exp_row(name: str, lr: float, accuracy: float) -> dict:
    """One row of `dvc exp show --json` with the five models' metrics."""
    models = ["lenet5", "alexnet8", "vgg16", "inception10", "resnet18"]
    return {"rev": "f" * 40, "name": name, "data": {
        "params": {"params.yaml": {"data": {"train": {"learning_rate": lr, "batch_size": 32},
                                            "models": {m: {} for m in models}}}},
        "metrics": {f"metrics/{m}.json": {"data": {"test": {"accuracy": accuracy + i / 10}}}
                    for i, m in enumerate(models)}}}


def test_five_models_of_experiments_fit_in_120_columns():
    from cnnbench.review.experiments import table

    baseline = {**_exp_row("main", 0.001, 0.4), "experiments": [
        {"revs": [_exp_row(f"an-experiment-with-a-long-name-{i}", 0.001 * i, 0.3)]}
        for i in range(2, 4)]}
    text = table([baseline], ["lenet5", "alexnet8", "vgg16", "inception10", "resnet18"],
                 "test.accuracy", "metrics")
    lines = text.splitlines()
    assert max(map(len, lines)) <= 120, text
    assert lines[2].split() == ["experiment", "LeNet5", "AlexNet8", "VGG16", "Inception10",
                                "ResNet18", "changed", "params"]
    row = next(line for line in lines if "long-name-2" in line)
    # the change against the first row, plain: no seed repeats, noise unknown
    assert row.split() == ["└", "an-experiment-with-a-long-name-2", "-0.1000", "-0.1000",
                           "-0.1000", "-0.1000", "-0.1000", "train.learning_rate=0.002"]
    assert "noise unknown: LeNet5, AlexNet8, VGG16, Inception10, ResNet18" in text


@pytest.mark.slow
def test_experiments_command_on_a_real_experiment(project, tmp_path):
    """The workspace, its baseline and an experiment that changed two params (the table's
    layout with more rows: test_five_models_of_experiments_fit_in_120_columns)."""
    repo = Path(shutil.copytree(project, tmp_path / "repo", symlinks=True))  # its DVC cache too
    run(["dvc", "exp", "run", "-q", "-n", "lr2b16", "-S", "train.learning_rate=0.002",
         "-S", "train.batch_size=16"], repo)
    text = run([sys.executable, "-m", "cnnbench", "experiments"], repo).stdout
    assert max(map(len, text.splitlines())) <= 120, text
    row = next(line for line in text.splitlines() if line.startswith("└ lr2b16"))
    assert row.rstrip().endswith("train.batch_size=16 train.learning_rate=0.002"), text
