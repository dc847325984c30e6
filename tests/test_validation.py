"""``data.validation``: training images held out for per-epoch validation.

prepare holds out N of the (possibly limited) training images, stratified and seeded, and
writes them as ``x_val``/``y_val``; training validates on them, and the test split is
scored once, by evaluate. With 0 (the seed's protocol) the prepared file, the logs and the
metrics are what they were before the option existed.
"""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml

from archives import make_image_folder
from helpers import changed_params, make_project, net, run

from cnnbench.config import parse_params
from cnnbench.data.dataset import load_prepared
from cnnbench.data.fetch import fetch
from cnnbench.data.prepare import prepare, stratified_indices, validation_indices
from cnnbench.data.readers import read_source
from cnnbench.errors import DataError, ParamsError

CLASSES = ("airplane", "cat", "truck")
PER_CLASS = 6  # training images per class of the tiny data


@pytest.fixture(scope="module")
def raw_dir(tmp_path_factory) -> Path:
    """A fetched image-folder archive: 3 classes, 6 train and 3 test images per class."""
    base = tmp_path_factory.mktemp("validation")
    source = make_image_folder(base / "src", PER_CLASS, 3, classes=CLASSES, fmt="tar.gz")
    fetch(str(source), base / "raw")
    return base / "raw"


def _rows(x: np.ndarray) -> set[bytes]:
    return {image.tobytes() for image in x}


def _prepare(raw_dir: Path, folder: Path, **kwargs):
    folder.mkdir(parents=True, exist_ok=True)
    return prepare(raw_dir, folder / "data.npz", folder / "data.json", **kwargs)


def test_held_out_images_are_disjoint_stratified_and_from_the_training_subset(raw_dir,
                                                                           tmp_path):
    seed_protocol = _prepare(raw_dir, tmp_path / "seed", train_limit=12, seed=3)
    held = _prepare(raw_dir, tmp_path / "held", train_limit=12, seed=3, validation=6)
    loaded = load_prepared(tmp_path / "held" / "data.npz")
    assert loaded.validation is not None
    for got in (held, loaded):
        train, val = got.train, got.validation
        assert not _rows(train.x) & _rows(val.x)  # disjoint
        # together exactly the training subset the seed protocol trains on
        assert _rows(train.x) | _rows(val.x) == _rows(seed_protocol.train.x)
        np.testing.assert_array_equal(np.bincount(val.y), [2, 2, 2])  # stratified
        np.testing.assert_array_equal(np.bincount(train.y), [2, 2, 2])
        assert val.x.dtype == np.uint8 and val.y.dtype == np.int32
        np.testing.assert_array_equal(got.test.x, seed_protocol.test.x)  # test untouched
    summary = json.loads((tmp_path / "held" / "data.json").read_text())["data"]
    assert list(summary) == ["source", "classes", "train", "validation", "test"]
    assert summary["validation"]["count"] == 6 and summary["train"]["count"] == 6
    assert summary["validation"]["per_class"] == dict.fromkeys(CLASSES, 2)
    assert loaded.protocol == "held-out validation (6 images)"


def test_the_split_is_seeded(raw_dir, tmp_path):
    first = _prepare(raw_dir, tmp_path / "a", seed=1, validation=9)
    again = _prepare(raw_dir, tmp_path / "b", seed=1, validation=9)
    other = _prepare(raw_dir, tmp_path / "c", seed=2, validation=9)
    assert (tmp_path / "a/data.npz").read_bytes() == (tmp_path / "b/data.npz").read_bytes()
    np.testing.assert_array_equal(first.validation.x, again.validation.x)
    assert _rows(first.validation.x) != _rows(other.validation.x)
    np.testing.assert_array_equal(np.bincount(other.validation.y), [3, 3, 3])


def test_with_0_the_prepared_file_is_the_seed_protocols(raw_dir, tmp_path):
    """validation 0, or no key at all, writes the bytes prepare wrote before the option
    existed: the subsets' five arrays, no x_val/y_val, and a summary without validation."""
    dataset = _prepare(raw_dir, tmp_path / "zero", train_limit=12, seed=3, validation=0)
    _prepare(raw_dir, tmp_path / "absent", train_limit=12, seed=3)
    full = read_source(next(raw_dir.iterdir()))
    train = stratified_indices(full.train.y, 12, 3, "data.train_limit")
    test = stratified_indices(full.test.y, None, 4, "data.test_limit")
    before = io.BytesIO()  # what prepare wrote before data.validation
    np.savez(before, x_train=full.train.x[train], y_train=full.train.y[train],
             x_test=full.test.x[test], y_test=full.test.y[test],
             class_names=np.asarray(full.class_names))
    written = (tmp_path / "zero" / "data.npz").read_bytes()
    assert written == before.getvalue() == (tmp_path / "absent" / "data.npz").read_bytes()
    assert zipfile.ZipFile(io.BytesIO(written)).namelist() == [
        f"{name}.npy" for name in ("x_train", "y_train", "x_test", "y_test", "class_names")]
    summary = (tmp_path / "zero" / "data.json").read_bytes()
    assert summary == (tmp_path / "absent" / "data.json").read_bytes()
    assert "validation" not in json.loads(summary)["data"]
    assert dataset.validation is None and load_prepared(tmp_path / "zero/data.npz").validation is None
    assert dataset.protocol == "seed (test split as validation)"


def test_too_many_held_out_images_name_the_key_and_keep_the_outputs(raw_dir, tmp_path):
    folder = tmp_path / "out"
    _prepare(raw_dir, folder, seed=0, validation=3)
    before = [(folder / name).read_bytes() for name in ("data.npz", "data.json")]
    for validation in (16, 18, 40):  # 15 of 18 leave each class one image
        with pytest.raises(DataError, match=rf"^data\.validation is {validation}, more than "
                           r"the 18 training images .*; use at most 15$"):
            _prepare(raw_dir, folder, seed=0, validation=validation)
    assert [(folder / name).read_bytes() for name in ("data.npz", "data.json")] == before
    kept = _prepare(raw_dir, tmp_path / "most", seed=0, validation=15)
    np.testing.assert_array_equal(np.bincount(kept.train.y), [1, 1, 1])


def test_a_class_with_few_images_keeps_one():
    y = np.repeat(np.arange(2), [1, 9])  # class 0's one image gets a place from 5 on
    with pytest.raises(DataError, match=r"\(1 in the smallest class\).*use at most 4$"):
        validation_indices(y, 5, seed=0)
    held = validation_indices(y, 4, seed=0)
    assert 0 not in y[held] and len(held) == 4


@pytest.mark.parametrize("value, message", [
    (-1, r"data\.validation must be an integer in \[0, 2147483647\] \(0: validate on the "
         r"test split\), got -1"),
    (2**31, r"data\.validation must be an integer in \[0, 2147483647\]"),
    ("100", r"data\.validation must be an integer, got '100'"),
    (True, r"data\.validation must be an integer, got True"),
    (0.5, r"data\.validation must be an integer, got 0\.5"),
])
def test_bad_validation_params_name_the_key(value, message):
    with pytest.raises(ParamsError, match=message):
        parse_params(changed_params(data__validation=value))


def test_the_default_is_the_seed_protocol():
    assert parse_params(changed_params()).data.validation == 0
    assert parse_params(changed_params(data__validation=None)).data.validation == 0


@pytest.mark.slow
def test_training_validates_on_the_held_out_images_and_says_so(tmp_path):
    """lenet5 on tiny data with 20 images held out: its log, metrics and summary name the
    protocol and its last validation pass is the saved model's score on those images (the
    seed protocol's run: tests/test_pipeline.py)."""
    import keras

    archive = make_image_folder(tmp_path / "data", train_per_class=8, test_per_class=4,
                                fmt="tar")
    repo = make_project(tmp_path / "repo", data__source=str(archive), data__validation=20,
                        train__epochs=1, evaluate__batch_size=32,
                        models={"lenet5": net("lenet5")})
    output = run(["dvc", "repro"], repo).stdout
    protocol = "held-out validation (20 images)"
    assert "prepare: 60 train, 20 validation and 40 test images" in output
    assert "train lenet5: 60 images" in output and f"protocol: {protocol}" in output
    log = yaml.safe_load((repo / "plots/train/lenet5/params.yaml").read_text())
    assert log["protocol"] == protocol
    metrics = json.loads((repo / "metrics/lenet5.json").read_text())
    last = json.loads((repo / "plots/train/lenet5/metrics.json").read_text())["val"]
    assert metrics["protocol"] == protocol
    assert metrics["validation"] == {"loss": round(last["loss"], 6),
                                     "accuracy": round(last["accuracy"], 6), "images": 20}
    data = load_prepared(repo / "data/prepared/cifar10.npz")
    model = keras.saving.load_model(repo / "models/lenet5.keras", compile=False)
    model.compile(loss="sparse_categorical_crossentropy", metrics=["accuracy"])
    on_val = model.evaluate(data.validation.x, data.validation.y, verbose=0, return_dict=True)
    on_test = model.evaluate(data.test.x, data.test.y, verbose=0, return_dict=True)
    # the last validation pass is the model's score on the held-out images, not the test's
    assert on_val["loss"] == pytest.approx(last["loss"], rel=1e-6)
    assert abs(on_val["loss"] - last["loss"]) < abs(on_test["loss"] - last["loss"]) / 10
    assert metrics["test"]["loss"] == pytest.approx(on_test["loss"], rel=1e-6)
    summary = (repo / "reports/summary.md").read_text()
    assert f"Protocol: {protocol}" in summary
    assert "60 train / 20 validation / 40 test images" in summary

