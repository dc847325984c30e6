"""params.yaml validation: every bad key or value stops a stage with one line naming it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

from helpers import ROOT, SEED_REFERENCE, changed_params, net, network_files, write_params

from cnnbench.errors import ParamsError
from cnnbench.config import load_params, parse_params


def test_project_params_are_valid_and_follow_the_seed_protocol():
    params = load_params(ROOT / "params.yaml")
    assert list(params.models) == list(yaml.safe_load((ROOT / "params.yaml").read_text())
                                       ["models"])
    assert params.architectures == {m: f"src/cnnbench/models/{m}.py" for m in params.models}
    seed = params.train_for("resnet18")
    assert (seed.optimizer, seed.learning_rate, seed.batch_size, seed.epochs) == ("adam", 0.001,
                                                                                 32, 5)
    # the data set the committed results used, by its catalogue name
    assert params.data.source == "cifar10-jpeg" and params.data.train_limit is None


def test_model_overrides_apply_to_that_model_only():
    params = parse_params(changed_params(models__vgg16=net("vgg16", epochs=2,
                                                           learning_rate=1)))
    assert params.train_for("vgg16").epochs == 2
    assert params.train_for("vgg16").learning_rate == 1.0
    assert params.train_for("lenet5").epochs == 5


def test_the_seed_recipe_is_the_default_and_changes_nothing():
    params = load_params(ROOT / "params.yaml")
    seed = params.train_for("lenet5")
    assert seed.recipe == "seed" and not seed.augments and not params.evaluate.tta_flip
    assert (seed.schedule, seed.weight_decay, seed.label_smoothing) == ("constant", 0.0, 0.0)


def test_a_recipe_overrides_train_and_a_model_overrides_its_recipe():
    params = parse_params(changed_params(train__recipe="modern", train__seed=7,
                                         models__vgg16=net("vgg16", epochs=2)))
    modern = params.train_for("lenet5")
    assert (modern.recipe, modern.optimizer, modern.nesterov, modern.schedule) == (
        "modern", "sgd", True, "onecycle")
    assert modern.augments and modern.label_smoothing > 0
    assert modern.seed == 7  # a train key the recipe leaves alone
    assert params.train_for("vgg16").epochs == 2  # the model's override wins
    assert params.train_for("vgg16").optimizer == "sgd"


def test_a_change_to_one_recipe_leaves_the_others_alone():
    params = parse_params(changed_params(recipes__modern__epochs=99))
    assert params.train_for("lenet5").epochs == 5


@pytest.mark.parametrize("changes, message", [
    ({"train__recipe": "moden"}, r"train\.recipe must name an entry of 'recipes' \(seed, "
                                 r"modern\), got 'moden' \(did you mean 'modern'\?\)"),
    ({"recipes__modern__optimiser": "sgd"},
     r"unknown key 'recipes\.modern\.optimiser' \(did you mean 'recipes\.modern\.optimizer'"),
    ({"recipes__modern__schedule": "linear"},
     r"recipes\.modern\.schedule must be one of constant, cosine, onecycle, got 'linear'"),
    ({"recipes__modern__warmup": 1.5}, r"recipes\.modern\.warmup must be in \[0, 1\), got 1\.5"),
    ({"recipes__modern__label_smoothing": 1.0},
     r"recipes\.modern\.label_smoothing must be in \[0, 1\), got 1\.0"),
    ({"recipes__modern__crop_padding": -4},
     r"recipes\.modern\.crop_padding must be in \[0, 16\] pixels, got -4"),
    ({"recipes__modern__momentum": 1.5}, r"recipes\.modern\.momentum must be in \[0, 1\)"),
    ({"recipes__modern__flip": "yes"}, r"recipes\.modern\.flip must be true or false, "
                                       r"got 'yes'"),
    ({"recipes__modern": [1]}, r"recipes\.modern must be a mapping of train overrides"),
    ({"recipes__modern__recipe": "seed"}, r"recipes\.modern\.recipe: a recipe cannot select"),
    ({"models__vgg16": net("vgg16", recipe="modern")}, r"models\.vgg16\.recipe: a recipe is "
                                                       r"chosen for "
                                              r"all models by train\.recipe"),
    ({"train__cutout": 2}, r"train\.cutout must be in \[0, 1\), got 2"),
    ({"train__weight_decay": -1}, r"train\.weight_decay must be in \[0, 1\], got -1"),
])
def test_bad_recipes_name_the_key_and_value(changes, message):
    with pytest.raises(ParamsError, match=message):
        parse_params(changed_params(**changes))


COUNT = r"must be an integer in \[1, 2147483647\]"


@pytest.mark.parametrize("changes, message", [
    ({"train__epoch": 3}, r"unknown key 'train\.epoch' \(did you mean 'train\.epochs'\?\)"),
    ({"trian": {}}, r"unknown section 'trian' \(did you mean 'train'\?\); the sections "
                    r"are data, train, recipes, models, evaluate"),
    ({"data__sourse": "x"}, r"unknown key 'data\.sourse' \(did you mean 'data\.source'\?\)"),
    ({"train__epochs": 0}, rf"train\.epochs {COUNT}, got 0"),
    ({"train__epochs": "five"}, r"train\.epochs must be an integer, got 'five'"),
    ({"train__epochs": 2.5}, r"train\.epochs must be an integer, got 2\.5"),
    ({"train__batch_size": -32}, rf"train\.batch_size {COUNT}, got -32"),
    ({"train__learning_rate": 0}, r"train\.learning_rate must be in \(0, 10\], got 0"),
    ({"train__optimizer": "adamm"}, r"train\.optimizer must be one of .*got 'adamm' "
                                    r"\(did you mean 'adam'"),
    ({"data__train_limit": 0}, rf"data\.train_limit {COUNT} or null, got 0"),
    ({"data__test_limit": True}, r"data\.test_limit must be an integer or null, got True"),
    ({"data__source": None}, r"missing key 'data\.source'"),
    ({"models__vgg16": net("vgg16", epochs=0)}, rf"models\.vgg16\.epochs {COUNT}"),
    ({"models__vgg16": net("vgg16", epoch=2)}, r"unknown key 'models\.vgg16\.epoch'"),
    ({"models__vgg16": 3}, r"models\.vgg16 must be a mapping with its architecture"),
    ({"models__vgg16": {}}, r"models\.vgg16\.architecture: missing; name the network's \.py "
                            r"file, e\.g\. vgg16: \{architecture: src/cnnbench/models/vgg16\.py\}"),
    ({"models": {}}, r"models must map at least one model name"),
    ({"train__precision": "bfloat16"}, r"train\.precision must be one of float32, "
                                       r"mixed_bfloat16, got 'bfloat16'"),
    ({"train__steps_per_execution": 0}, rf"train\.steps_per_execution {COUNT} or null"),
    ({"train__jit_compile": "yes"}, r"train\.jit_compile must be true or false or null"),
    ({"models__big": {"epochs": 2}}, r"models\.big\.architecture: missing"),
    ({"models__big": {"architecture": "resnet18"}}, r"models\.big\.architecture must be the "
                                                    r"path of a \.py file in the project"),
    ({"models__big": {"architecture": "../x.py"}}, r"models\.big\.architecture: "
                                                   r"'\.\./x\.py' is outside the project"),
    ({"models__big": {"architecture": "/etc/x.py"}}, r"is outside the project"),
    ({"models__Big-1": net("vgg16")}, r"models\.Big-1: names are lowercase letters, digits"),
    ({"variants": {"big": net("vgg16")}}, r"^unknown section 'variants'; the sections are "
                                          r"data, train, recipes, models, evaluate, robustness: "
                                          r"move its keys into one of them or delete it$"),
    ({"evaluate__tta_flip": "yes"}, r"evaluate\.tta_flip must be true or false, got 'yes'"),
    ({"train__tta_flip": True}, r"unknown key 'train\.tta_flip'"),
    # every number is refused where its consumer would fail, not deep inside a stage
    ({"train__seed": 2**70}, r"train\.seed must be in \[0, 4294967293\], got 1180591620717411303424"),
    ({"train__seed": -1}, r"train\.seed must be in \[0, 4294967293\], got -1"),
    ({"data__seed": -1}, r"data\.seed must be a non-negative integer, got -1"),
    ({"train__batch_size": 2**40}, rf"train\.batch_size {COUNT}, got 1099511627776"),
    ({"train__epochs": 2**31}, rf"train\.epochs {COUNT}, got 2147483648"),
    ({"train__steps_per_execution": 2**63}, rf"train\.steps_per_execution {COUNT}"),
    ({"data__train_limit": 2**64}, rf"data\.train_limit {COUNT}"),
    ({"evaluate__batch_size": 2**31}, rf"evaluate\.batch_size {COUNT}"),
    ({"train__learning_rate": float("nan")}, r"train\.learning_rate must be in \(0, 10\], "
                                              r"got nan"),
    ({"train__learning_rate": float("inf")}, r"train\.learning_rate must be in \(0, 10\]"),
    ({"train__momentum": float("nan")}, r"train\.momentum must be in \[0, 1\)"),
])
def test_bad_params_name_the_key_and_value(changes, message, monkeypatch):
    monkeypatch.chdir(ROOT)  # architecture paths are relative to the project
    with pytest.raises(ParamsError, match=message):
        parse_params(changed_params(**changes))


def test_the_seed_bounds_are_what_the_consumers_accept():
    """train.seed stops where the augmentation layers' seed + 2 still fits JAX's 32-bit
    seeds; data.seed has no bound, since prepare draws its subset from any integer."""
    from cnnbench.data.prepare import stratified_indices

    top = 2**32 - 3
    assert parse_params(changed_params(train__seed=top)).train.seed == top
    with pytest.raises(ParamsError, match=rf"train\.seed must be in \[0, {top}\], "
                                          rf"got {top + 1}"):
        parse_params(changed_params(train__seed=top + 1))
    huge = parse_params(changed_params(data__seed=2**70)).data.seed
    labels = np.arange(40) % 4
    picked = stratified_indices(labels, 8, huge, "data.train_limit")
    assert np.bincount(labels[picked]).tolist() == [2, 2, 2, 2]
    assert not np.array_equal(picked, stratified_indices(labels, 8, huge + 1,
                                                         "data.train_limit"))


def test_two_entries_may_train_one_network_in_two_settings():
    params = parse_params(changed_params(models__resnet18_bf16=net(
        "resnet18", precision="mixed_bfloat16")))
    assert list(params.models)[-2:] == ["resnet18", "resnet18_bf16"]
    assert params.architectures["resnet18_bf16"] == "src/cnnbench/models/resnet18.py"
    assert params.train_for("resnet18_bf16").precision == "mixed_bfloat16"
    assert params.train_for("resnet18").precision == "float32"


def test_missing_and_malformed_params_files_name_the_file(tmp_path):
    with pytest.raises(ParamsError, match=r"nope\.yaml: no such file"):
        load_params(tmp_path / "nope.yaml")
    bad = tmp_path / "params.yaml"
    bad.write_text("data: [unclosed\n")
    with pytest.raises(ParamsError, match=r"params\.yaml: not valid YAML \(line \d+\)"):
        load_params(bad)


def test_train_stage_rejects_bad_params_in_one_line_before_training(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(yaml.safe_dump(changed_params(train__batch_size=0)))
    model_out = tmp_path / "lenet5.keras"
    result = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "train.py"), "lenet5", "--data", "missing.npz",
         "--model-out", str(model_out), "--log-dir", str(tmp_path / "log"),
         "--checkpoint-dir", str(tmp_path / "ckpt"),
         "--params", str(params)],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"train.py: error: {params}: train.batch_size must be an integer in [1, 2147483647], "
        "got 0"]
    assert not model_out.exists()


def test_train_stage_rejects_a_model_missing_from_params(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "stages" / "train.py"), "lenet", "--data", "x.npz",
         "--model-out", str(tmp_path / "m.keras"), "--log-dir", str(tmp_path / "log"),
         "--checkpoint-dir", str(tmp_path / "ckpt"),
         "--params", str(ROOT / "params.yaml")],
        capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert "model 'lenet' is not listed under 'models'" in result.stderr
    assert "did you mean 'lenet5'" in result.stderr
    assert "Traceback" not in result.stderr


def test_with_the_project_folder_each_architecture_file_must_be_in_it(tmp_path):
    assert load_params(ROOT / "params.yaml", root=ROOT).architectures["lenet5"].endswith(".py")
    with pytest.raises(ParamsError, match=r"models\.mynet\.architecture: "
                                          r"'src/cnnbench/models/mynet\.py': no such file in "):
        parse_params(changed_params(models__mynet=net("mynet")), root=ROOT)
    (tmp_path / "outside.py").write_text("")
    (tmp_path / "project").mkdir()
    (tmp_path / "project" / "nets").symlink_to(tmp_path)
    with pytest.raises(ParamsError, match=r"models\.big\.architecture: 'nets/outside\.py' is "
                                          r"outside the project \(a link out of it\)"):
        parse_params(changed_params(models={"big": {"architecture": "nets/outside.py"}}),
                     root=tmp_path / "project")


def cnnbench_check(folder: Path, **changes) -> subprocess.CompletedProcess:
    """``cnnbench check`` run in ``folder`` on the project's params with ``changes``."""
    write_params(folder / "params.yaml", **changes)
    return subprocess.run([sys.executable, "-m", "cnnbench", "check"], cwd=folder,
                          capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("changes, line", [
    # DVC's own parser would stop first: "Could not find 'item.architecture'"
    ({"models__smallnet": {}}, "models.smallnet.architecture: missing; name the network's .py "
                               "file, e.g. smallnet: {architecture: "
                               "src/cnnbench/models/smallnet.py}"),
    # no stage depends on it, so no stage would ever say so
    ({"variants": {"big": net("vgg16")}}, "unknown section 'variants'; the sections are data, "
                                          "train, recipes, models, evaluate, robustness: move "
                                          "its keys into one of them or delete it"),
    ({"train__epochs": "five"}, "train.epochs must be an integer, got 'five'"),
    ({"models__mynet": net("mynet")}, "models.mynet.architecture: "
                                      "'src/cnnbench/models/mynet.py': no such file in "),
])
def test_cnnbench_check_names_the_key_and_what_to_write_in_one_line(tmp_path, changes, line):
    network_files(tmp_path, *SEED_REFERENCE)  # the project's networks
    result = cnnbench_check(tmp_path, **changes)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert result.stderr.startswith(f"cnnbench check: error: params.yaml: {line}")
    assert cnnbench_check(tmp_path).stdout == (
        "params.yaml: valid; 5 models: lenet5, alexnet8, vgg16, inception10, resnet18\n")


def test_make_repro_checks_the_params_before_dvc_runs(tmp_path):
    for name in ("src", "pyproject.toml", "dvc.yaml"):
        (tmp_path / name).symlink_to(ROOT / name)
    installed = tmp_path / "installed"
    installed.touch()  # newer than pyproject.toml: make installs nothing
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(changed_params(models={
        "smallnet": {}})))
    result = subprocess.run(
        ["make", "-f", str(ROOT / "Makefile"), "repro", f"PYTHON={sys.executable}",
         f"VENV={Path(sys.executable).parent.parent}", f"STAMP={installed}"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode != 0
    assert "cnnbench check: error: params.yaml: models.smallnet.architecture: missing" in (
        result.stderr)
    assert "dvc repro" not in result.stdout  # make echoes each command before it runs it
    assert "item.architecture" not in result.stdout + result.stderr


def test_the_review_workflow_checks_the_params_before_dvc_runs():
    workflow = yaml.safe_load((ROOT / ".github" / "workflows" / "review.yml").read_text())
    runs = [step.get("run", "") for step in workflow["jobs"]["results"]["steps"]]
    first_dvc = next(i for i, run in enumerate(runs) if "dvc " in run or "cnnbench " in run)
    assert runs[first_dvc] == "cnnbench check"
