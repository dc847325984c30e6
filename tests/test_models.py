"""The five networks: exact parameter counts of the seed report, naming, registry errors."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from cnnbench import models
from cnnbench.errors import CnnbenchError

# Total, trainable, non-trainable, from the seed report's model summaries.
SEED_PARAMS = {
    "lenet5": (62_006, 62_006, 0),
    "alexnet8": (9_639_178, 9_638_474, 704),
    "vgg16": (15_262_026, 15_253_578, 8_448),
    "inception10": (121_418, 120_234, 1_184),
    "resnet18": (11_183_562, 11_173_962, 9_600),
}


def _count(weights) -> int:
    return sum(int(np.prod(w.shape)) for w in weights)


@pytest.mark.parametrize("name", list(SEED_PARAMS))
def test_parameter_counts_equal_the_seed_report(name):
    model = models.build(name)
    total, trainable, non_trainable = SEED_PARAMS[name]
    assert model.count_params() == total
    assert _count(model.trainable_weights) == trainable
    assert _count(model.non_trainable_weights) == non_trainable


def test_registry_lists_the_five_seed_models_in_report_order():
    assert list(models.MODELS) == list(SEED_PARAMS)


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


def test_model_modules_are_backend_neutral():
    """Model code imports keras only, never a backend, so it also runs on JAX or torch."""
    folder = Path(models.__file__).parent
    for path in folder.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import | ast.ImportFrom):
                mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
                for mod in mods:
                    assert mod and mod.split(".")[0] not in {"tensorflow", "jax", "torch"}, path


def test_data_path_imports_tensorflow_only_on_the_tensorflow_branch():
    """data.py never imports TensorFlow; inputs.py only inside its tf.data class, which
    ``train_batches`` builds only when the Keras backend is TensorFlow."""
    src = Path(models.__file__).parents[1]

    def tf_import_lines(tree: ast.AST) -> list[int]:
        return [node.lineno for node in ast.walk(tree) if isinstance(node, ast.Import)
                and any(a.name.split(".")[0] == "tensorflow" for a in node.names)]

    assert tf_import_lines(ast.parse((src / "data.py").read_text())) == []
    tree = ast.parse((src / "inputs.py").read_text())
    tf_class = next(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == "_TFBatches")
    lines = tf_import_lines(tree)
    assert lines and all(tf_class.lineno <= line <= tf_class.end_lineno for line in lines)
