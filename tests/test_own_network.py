"""Bring your own network, in one temporary project on a tiny image-folder archive (1 epoch):
the docs' example followed literally, a second entry of lenet5's network trained beside it,
and networks written as users write them (subclassed, keras.applications, a Lambda layer,
logits).

The temporary projects import cnnbench from their own copy of ``src`` (PYTHONPATH), as a
clone would, so a network file added there is found by the stages.
"""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml
from helpers import (ROOT, SEED_REFERENCE, add_model_line, add_network, commit,
                     net, ran_stages, run, tiny_project)

GUIDE = ROOT / "docs" / "guide" / "your-own-network.md"
SEED = SEED_REFERENCE["lenet5"]
ONLY_MYNET = {"train@mynet", "robustness@mynet", "evaluate@mynet", "plot", "summarise"}


def _blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", GUIDE.read_text(), flags=re.DOTALL)


def _env(repo: Path) -> dict[str, str]:
    return {"PYTHONPATH": str(repo / "src")}


def _dvc(repo: Path, *args: str, check: bool = True):
    return run(["dvc", *args], repo, env=_env(repo), check=check)


def _pending(repo: Path) -> set[str]:
    return set(json.loads(_dvc(repo, "status", "--json").stdout))


@pytest.fixture(scope="module")
def own(tmp_path_factory) -> dict:
    """One project for every test here. lenet5, a second entry of its network (batch 16), a
    registered subclassed keras.Model and keras.applications' MobileNetV2 (each added as one
    file and one line) run and committed; then the guide's mynet added, planned
    (`dvc status`), run and committed."""
    base = tmp_path_factory.mktemp("own")
    repo = tiny_project(base, 2, 1, models={"lenet5": net("lenet5"),
                                            "lenet5_b16": net("lenet5", batch_size=16)})
    for name in ("subnet", "mobilenet"):
        add_network(repo, name)
    _dvc(repo, "repro")
    commit(repo, "lenet5, its variant, subnet, mobilenet")
    code, = _blocks("python")
    line = next(b for b in _blocks("yaml") if b.lstrip().startswith("mynet:"))
    (repo / "src/cnnbench/models/mynet.py").write_text(code)
    add_model_line(repo, line)
    planned = _pending(repo)  # `dvc repro --dry` stops at evaluate@mynet's missing model
    _dvc(repo, "repro")
    commit(repo, "mynet")
    return {"repo": repo, "planned": planned, "line": line}


@pytest.fixture(scope="module")
def variant(own) -> Path:
    return own["repo"]


@pytest.fixture(scope="module")
def users(own) -> Path:
    return own["repo"]


@pytest.mark.slow
def test_the_guide_adds_one_file_and_one_params_line(own):
    assert own["line"].strip() == "mynet: {architecture: src/cnnbench/models/mynet.py}"
    changed = run(["git", "diff", "--name-only", "HEAD~1", "--", "src", "params.yaml"],
                  own["repo"]).stdout.split()
    assert changed == ["params.yaml", "src/cnnbench/models/mynet.py"]


@pytest.mark.slow
def test_status_plans_only_the_new_networks_stages_then_plot_and_summarise(own):
    assert own["planned"] == ONLY_MYNET


@pytest.mark.slow
def test_new_network_is_in_the_summary_figures_and_plots_diff(own):
    repo = own["repo"]
    table = pd.read_csv(repo / "reports/summary.csv", index_col="model")
    assert list(table.index) == ["lenet5", "lenet5_b16", "subnet", "mobilenet", "mynet"]
    assert table.loc["mynet", "name"] == "MyNet"
    assert pd.isna(table.loc["mynet", "seed.test.accuracy"])
    metrics = json.loads((repo / "metrics/mynet.json").read_text())
    # 2 conv layers (3x3x3->16 at 32x32, 3x3x16->32 at 16x16) and a 32->10 dense layer
    assert metrics["flops"]["macs"] == 32 * 32 * 16 * 27 + 16 * 16 * 32 * 144 + 32 * 10
    summary = (repo / "reports/summary.md").read_text()
    row = next(line for line in summary.splitlines() if line.startswith("| MyNet"))
    assert "–" in row  # the seed report has no number for it
    assert "- seed: LeNet5\n" in summary and "MyNet" in summary.split("- ours: ")[1]
    figures = {p.name for p in (repo / "plots/figures").iterdir()}
    assert {"mynet_curves.png", "accuracy_vs_macs.png"} <= figures
    curves = (repo / "plots/curves/val_accuracy.csv").read_text()  # charted, dvc.yaml as is
    assert ",MyNet," in curves and ",LeNet5," in curves
    diff = json.loads(_dvc(repo, "plots", "diff", "HEAD~1", "--json").stdout)["data"]
    assert {"plots/eval/mynet/plots/sklearn/confusion.json",
            "plots/eval/mynet/plots/custom/per_class_accuracy.json",
            "plots/figures/mynet_curves.png"} <= set(diff)
    assert [chart["revisions"] for chart in diff["plots/eval/mynet/plots/sklearn/confusion.json"]
            ] == [["workspace"]]  # new in this revision
    assert diff["plots/eval/lenet5/plots/sklearn/confusion.json"][0]["revisions"] == [
        "workspace", "HEAD~1"]


@pytest.mark.slow
def test_editing_or_removing_the_network_touches_only_its_stages(own):
    repo = own["repo"]
    module = repo / "src/cnnbench/models/mynet.py"
    params = repo / "params.yaml"
    try:
        module.write_text(module.read_text() + "\n# edited\n")
        touched = {"train@mynet", "robustness@mynet", "evaluate@mynet"}  # each imports it
        assert _pending(repo) == touched
        assert ran_stages(_dvc(repo, "repro", "--dry").stdout) == touched
        run(["git", "checkout", "--", "src"], repo)
        params.write_text(params.read_text().replace(own["line"], ""))
        assert _pending(repo) == {"plot", "summarise"}
    finally:
        run(["git", "checkout", "--", "src", "params.yaml"], repo)
    assert _pending(repo) == set()


@pytest.mark.slow
def test_a_variant_trains_beside_its_network_and_both_are_summarised(variant):
    table = pd.read_csv(variant / "reports/summary.csv", index_col="model")
    assert table.loc["lenet5", "seed.test.accuracy"] == SEED["test"]["accuracy"]
    assert pd.isna(table.loc["lenet5_b16", "seed.test.accuracy"])
    assert table.loc["lenet5", "flops.macs"] == table.loc["lenet5_b16", "flops.macs"] > 0
    logged = yaml.safe_load((variant / "plots/train/lenet5_b16/params.yaml").read_text())
    assert (logged["batch_size"], logged["architecture"]) == (
        16, "src/cnnbench/models/lenet5.py")
    assert "| lenet5_b16 |" in (variant / "reports/summary.md").read_text()


@pytest.mark.slow
def test_editing_a_shared_network_reruns_every_entry_built_from_it(variant):
    module = variant / "src/cnnbench/models/lenet5.py"
    try:
        module.write_text(module.read_text() + "\n# edited\n")
        assert _pending(variant) == {f"{stage}@{entry}"
                                     for stage in ("train", "robustness", "evaluate")
                                     for entry in ("lenet5", "lenet5_b16")}
    finally:
        run(["git", "checkout", "--", "src"], variant)


@pytest.mark.slow
def test_a_subclassed_and_a_nested_applications_network_train_evaluate_and_are_summarised(
        users):
    table = pd.read_csv(users / "reports/summary.csv", index_col="model")
    assert table.loc["subnet", "test.accuracy"] >= 0  # evaluate@subnet loaded its model
    # SubNet: a 3x3x3->8 convolution at 32x32, then 8->10 dense; MobileNetV2 through its
    # nested model (the 35% width: about a million)
    assert table.loc["subnet", "flops.macs"] == 32 * 32 * 8 * 27 + 8 * 10
    assert table.loc["mobilenet", "flops.macs"] > 10**6
    summary = (users / "reports/summary.md").read_text()
    assert any(line.startswith("| subnet ") for line in summary.splitlines())
    assert "subnet" in summary.split("- ours: ")[1]


@pytest.mark.slow
@pytest.mark.parametrize("name, error, fix", [
    ("lambdanet", "the saved network would not load in Keras' safe mode (Requested the "
                  "deserialization of a `Lambda` layer whose `function` is a Python lambda)",
     "use a Rescaling layer or a registered layer instead of a Lambda"),
    ("logitnet", "the output is not a probability distribution (values from ",
     "end with a softmax"),
])
def test_a_network_evaluate_could_not_use_stops_its_train_stage_in_seconds(users, name,
                                                                           error, fix):
    add_network(users, name)
    try:
        start = time.monotonic()
        result = _dvc(users, "repro", check=False)
        seconds = time.monotonic() - start
    finally:
        (users / f"src/cnnbench/models/{name}.py").unlink()
        run(["git", "checkout", "--", "params.yaml"], users)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert ran_stages(result.stdout) == {f"train@{name}"}
    errors = [line for line in output.splitlines() if line.startswith("train.py: error:")]
    assert len(errors) == 1
    assert errors[0].startswith(f"train.py: error: src/cnnbench/models/{name}.py: {error}")
    assert fix in errors[0]
    assert "Traceback" not in output and "Epoch 1/" not in output  # refused before training
    # within the first minute of `dvc repro` (one start of the stage: about 10 s on a 2-core
    # AMD EPYC (Zen 3) running the test suite)
    assert seconds < 60, f"refused after {seconds:.0f} s"
    assert not (users / "models" / f"{name}.keras").exists()
    assert not (users / "checkpoints" / name).exists()


def test_each_model_keeps_one_distinct_colour_when_others_are_added():
    from cnnbench.report.figures import model_colours
    from cnnbench.models import available

    before = model_colours(available())
    after = model_colours([*available(), "mynet", "resnet18_bf16"])
    assert len(set(after.values())) == len(after)
    assert {k: after[k] for k in before} == before  # adding a model moves no colour
    assert model_colours(available()) == before  # the same in every figure
