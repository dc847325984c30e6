"""The networks: discovery, exact parameter counts of the seed report, naming, errors,
networks outside the package and the multiply-accumulate count."""

from __future__ import annotations

import ast
import shutil
from pathlib import Path

import keras
import numpy as np
import pytest
from helpers import DEFAULT_PARAMS, NETWORKS, SEED_REFERENCE

from cnnbench import models
from cnnbench.errors import CnnbenchError
from cnnbench.models.macs import count_macs
from cnnbench.models.saving import check_network, load_model


def _count(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.mark.parametrize("name", list(SEED_REFERENCE))
def test_parameter_counts_equal_the_seed_report(name):
    model = models.build(name)
    counts = SEED_REFERENCE[name]["params"]
    assert model.count_params() == counts["total"]
    assert _count(model.trainable_weights) == counts["trainable"]
    assert _count(model.non_trainable_weights) == counts["non_trainable"]


def test_every_module_with_build_is_a_model_and_helpers_are_not():
    folder = Path(models.__file__).parent
    with_build = {p.stem for p in folder.glob("[!_]*.py")
                  if any(isinstance(n, ast.FunctionDef) and n.name == "build"
                         for n in ast.parse(p.read_text()).body)}
    assert models.available() == sorted(with_build)
    assert "blocks" not in models.available() and (folder / "blocks.py").is_file()
    assert set(SEED_REFERENCE) <= set(models.available())


def test_params_list_the_seed_models_in_the_seed_reports_order():
    assert list(DEFAULT_PARAMS["models"])[:len(SEED_REFERENCE)] == list(SEED_REFERENCE)


def test_display_names_come_from_the_module_or_the_key(tmp_path):
    assert [models.display_name(m) for m in SEED_REFERENCE] == [
        "LeNet5", "AlexNet8", "VGG16", "Inception10", "ResNet18"]
    assert models.display_name("resnet18_bf16") == "resnet18_bf16"


@pytest.mark.parametrize("name", ["lenet5", "inception10"])
def test_models_take_raw_pixels_and_output_class_probabilities(name):
    model = models.build(name, num_classes=7)
    x = np.random.default_rng(0).integers(0, 256, size=(3, 32, 32, 3)).astype("uint8")
    probs = np.asarray(model.predict(x, verbose=0))
    assert probs.shape == (3, 7)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)
    assert model.get_layer("rescale").scale == pytest.approx(1 / 255)


def test_layers_are_named_by_their_place():
    model = models.build("vgg16")
    names = [layer.name for layer in model.layers]
    assert len(names) == len(set(names))
    assert "block5_conv3" in names and "block5_conv3_bn" in names and "fc2" in names


def test_unknown_model_name_suggests_the_closest():
    with pytest.raises(CnnbenchError, match=r"unknown model 'resnet19' \(did you mean 'resnet18'"):
        models.build("resnet19")


TINY_NET = """
import keras
from keras import layers

def build(num_classes=10, input_shape=(32, 32, 3)):
    inputs = keras.Input(input_shape)
    x = layers.Conv2D(4, 3, padding="same", name="conv")(inputs)
    return keras.Model(inputs, layers.Dense(num_classes, name="out")(layers.Flatten()(x)))
"""


def test_a_project_file_is_built_and_paths_outside_or_odd_names_are_refused(tmp_path,
                                                                           monkeypatch):
    (tmp_path / "nets").mkdir()
    (tmp_path / "nets" / "tiny.py").write_text(TINY_NET)
    (tmp_path / "outside.py").write_text(TINY_NET)
    project = tmp_path / "project"
    project.mkdir()
    (project / "nets").symlink_to(tmp_path / "nets")
    monkeypatch.chdir(tmp_path)
    model = models.build("nets/tiny.py", num_classes=3, input_shape=(8, 8, 3))
    assert model.output.shape[-1] == 3 and model.get_layer("conv").filters == 4
    monkeypatch.chdir(project)
    for spec, message in (("../outside.py", "outside the project"),
                          ("nets/tiny.py", "outside the project"),  # a link out of it
                          ("os;rm", "unknown model"), ("tinypkg.net", "unknown model"),
                          ("none.py", "no such file")):
        with pytest.raises(CnnbenchError, match=message):
            models.build(spec)


def test_an_installed_network_is_named_through_a_one_line_file(tmp_path, monkeypatch):
    (tmp_path / "tinypkg").mkdir()
    (tmp_path / "tinypkg" / "__init__.py").write_text("")
    (tmp_path / "tinypkg" / "net.py").write_text(TINY_NET)
    (tmp_path / "theirnet.py").write_text("from tinypkg.net import build\n")
    (tmp_path / "nonet.py").write_text("from tinypkg.none import build\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.chdir(tmp_path)
    assert models.build("theirnet.py", num_classes=5).output.shape[-1] == 5
    with pytest.raises(CnnbenchError, match="nonet.py: No module named 'tinypkg.none'"):
        models.build("nonet.py")


def test_macs_of_lenet5_equal_a_hand_count():
    # conv 5x5x3->6 on 28x28, conv 5x5x6->16 on 10x10, dense 400->120->84->10
    hand = 28 * 28 * 6 * 5 * 5 * 3 + 10 * 10 * 16 * 5 * 5 * 6 + 400 * 120 + 120 * 84 + 84 * 10
    assert count_macs(models.build("lenet5")) == hand == 651_720


def test_macs_of_grouped_depthwise_separable_transposed_and_dense_layers():
    layers = keras.layers
    inputs = keras.Input((8, 8, 4))
    x = layers.Conv2D(8, 3, groups=2, name="grouped")(inputs)                 # 6x6 out
    x = layers.DepthwiseConv2D(3, depth_multiplier=2, padding="same")(x)     # 6x6x16
    x = layers.SeparableConv2D(4, 3)(x)                                      # 4x4x4
    x = layers.Conv2DTranspose(2, 2, strides=2)(x)                           # 8x8x2
    x = layers.BatchNormalization()(layers.MaxPooling2D()(x))                # 4x4x2
    x = layers.Dense(3)(x)                                                   # per position
    model = keras.Model(inputs, layers.Dense(5)(layers.Flatten()(x)))
    hand = (6 * 6 * 8 * 3 * 3 * 4 // 2          # grouped conv: half the input channels
            + 6 * 6 * 16 * 3 * 3               # depthwise
            + 4 * 4 * 16 * 3 * 3 + 4 * 4 * 16 * 4  # separable: depthwise, then pointwise
            + 4 * 4 * 4 * 2 * 2 * 2            # transposed: each input position scatters
            + 4 * 4 * 2 * 3 + 48 * 5)          # dense at 16 positions, then 48 -> 5
    assert count_macs(model) == hand


@pytest.mark.parametrize("name", ["subnet", "mobilenet"])
def test_a_subclassed_or_nested_network_passes_the_check_and_its_macs_are_counted(
        name, monkeypatch, tmp_path):
    monkeypatch.chdir(NETWORKS.parent)  # architectures are paths from the project root
    check_network(f"networks/{name}.py", num_classes=10)
    model = models.build(f"networks/{name}.py")
    model(np.zeros((1, 32, 32, 3)), training=False)  # a subclassed model builds when called
    model.save(tmp_path / "model.keras")
    loaded = load_model(tmp_path / "model.keras", f"networks/{name}.py")
    assert count_macs(loaded) == count_macs(model) > 0  # as evaluate counts them
    if name == "subnet":  # a 3x3x3->8 convolution at 32x32, then 8->10 dense
        assert count_macs(model) == 32 * 32 * 8 * 27 + 8 * 10
    else:  # the applications network is counted through, then the 1280->10 classifier
        inner = next(layer for layer in model.layers if isinstance(layer, keras.Model))
        assert count_macs(model) == count_macs(inner) + 1280 * 10 > 10**6


@pytest.mark.parametrize("name, error", [
    ("lambdanet", r"networks/lambdanet\.py: the saved network would not load in Keras' safe "
                  r"mode \(Requested the deserialization of a `Lambda` layer .*\); use a "
                  r"Rescaling layer or a registered layer instead of a Lambda"),
    ("logitnet", r"networks/logitnet\.py: the output is not a probability distribution "
                 r"\(values from -?[\d.]+ to [\d.]+, rows summing to .*\); end with a softmax"),
    ("unregistered", r"networks/unregistered\.py: the saved network would not load in Keras' "
                     r"safe mode \(Could not locate class 'SubNet'.*\); register each class of "
                     r"your own with @keras\.saving\.register_keras_serializable\(\)"),
    ("tenclasses", r"networks/tenclasses\.py: outputs shape \(10,\) for each image, not one "
                   r"probability per class \(3,\)"),
])
def test_a_network_evaluate_could_not_use_is_refused_with_its_fix(name, error, monkeypatch,
                                                                  tmp_path):
    (tmp_path / "networks").mkdir()
    for source in NETWORKS.glob("*.py"):
        shutil.copy(source, tmp_path / "networks")
    subnet = (NETWORKS / "subnet.py").read_text()
    (tmp_path / "networks" / "unregistered.py").write_text(
        subnet.replace('@keras.saving.register_keras_serializable(package="subnet")\n', ""))
    (tmp_path / "networks" / "tenclasses.py").write_text(
        TINY_NET.replace("Dense(num_classes", "Dense(10").replace('name="out")', 'name="out", '
                                                                   'activation="softmax")'))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(CnnbenchError, match=f"^{error}"):
        check_network(f"networks/{name}.py", num_classes=3 if name == "tenclasses" else 10)


def test_model_modules_are_backend_neutral():
    """Model code imports keras only, never a backend, so it also runs on JAX or torch."""
    folder = Path(models.__file__).parent
    for path in folder.glob("*.py"):  # every network and helper of the package
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                for mod in mods:
                    assert mod and mod.split(".")[0] not in {"tensorflow", "jax", "torch"}, path


def test_data_path_imports_tensorflow_only_on_the_tensorflow_branch():
    """The data wing never imports TensorFlow; inputs.py only inside its tf.data class, which
    ``train_batches`` builds only when the Keras backend is TensorFlow."""
    src = Path(models.__file__).parents[1]

    def tf_import_lines(tree: ast.AST) -> list[int]:
        return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Import)
                and any(a.name.split(".")[0] == "tensorflow" for a in node.names)]

    for module in ("fetch", "readers", "prepare", "dataset"):
        assert tf_import_lines(ast.parse((src / "data" / f"{module}.py").read_text())) == []
    tree = ast.parse((src / "training" / "inputs.py").read_text())
    tf_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "_TFBatches")
    lines = tf_import_lines(tree)
    assert lines and all(tf_class.lineno <= line <= tf_class.end_lineno for line in lines)
