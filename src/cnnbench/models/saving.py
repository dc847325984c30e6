"""A network's saved file: loading it as evaluate does, and checking before training that
a new network can be.

``load_model`` imports the network's own module first (its ``architecture``), so that the
classes it registers with ``keras.saving.register_keras_serializable`` (a subclassed
``keras.Model``, a custom layer) are known, then loads the file in Keras' safe mode: a file
cannot make Keras run code it carries (a ``Lambda`` layer's Python function).

``check_network`` runs, when training starts, what the evaluate stage will need of the
trained network, on the untrained one: a few images through it, a save and a safe-mode
load, the loaded copy's output a probability distribution (one non-negative row per image
that sums to 1), its multiply-accumulates countable. A network that fails is refused in
seconds with one line naming the fix, not after hours of training.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import keras
import numpy as np

from cnnbench.errors import CnnbenchError, DataError
from cnnbench.models import build, load_module
from cnnbench.models.macs import count_macs

#: Images passed through an untrained network by ``check_network``
CHECK_IMAGES = 4
#: How far a row of class probabilities may sum from 1 (bfloat16 outputs included)
SUM_TOLERANCE = 1e-2


def _reason(err: Exception) -> str:
    """The first sentence of a Keras error, on one line."""
    return " ".join(str(err).split()).split(". ")[0] or type(err).__name__


def load_model(model_file: str | os.PathLike, architecture: str) -> keras.Model:
    """Load ``model_file``, a trained ``architecture``, in Keras' safe mode."""
    load_module(architecture)
    try:
        return keras.saving.load_model(model_file, compile=False, safe_mode=True)
    except Exception as err:  # noqa: BLE001 - any loading failure is a bad model file
        raise DataError(f"{model_file}: cannot load the model ({_reason(err)})") from None


def check_network(architecture: str, num_classes: int,
                  input_shape: tuple[int, int, int] = (32, 32, 3)) -> None:
    """Refuse ``architecture`` unless its untrained network saves, loads in safe mode and
    outputs class probabilities (see the module docstring)."""
    model = build(architecture, num_classes=num_classes, input_shape=input_shape)
    x = np.random.default_rng(0).integers(0, 256, (CHECK_IMAGES, *input_shape), np.uint8)
    model(x, training=False)  # builds a subclassed network's layers, as training would
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "untrained.keras"
        model.save(path)
        try:
            loaded = keras.saving.load_model(path, compile=False, safe_mode=True)
        except Exception as err:  # noqa: BLE001 - evaluate would fail the same way
            raise CnnbenchError(f"{architecture}: the saved network would not load in "
                                f"Keras' safe mode ({_reason(err)}); {_load_fix(err)}") from None
    probs = keras.ops.convert_to_numpy(loaded(x, training=False)).astype(np.float64)
    if probs.shape != (len(x), num_classes):
        raise CnnbenchError(f"{architecture}: outputs shape {probs.shape[1:]} for each image, "
                            f"not one probability per class ({num_classes},); end with "
                            f"Dense(num_classes, activation=\"softmax\")")
    sums = probs.sum(axis=1)
    if not (np.isfinite(probs).all() and probs.min() >= 0
            and np.allclose(sums, 1, atol=SUM_TOLERANCE)):
        raise CnnbenchError(f"{architecture}: the output is not a probability distribution "
                            f"(values from {probs.min():.3g} to {probs.max():.3g}, rows "
                            f"summing to {sums.min():.3g}-{sums.max():.3g}); end with a "
                            "softmax: Dense(num_classes, activation=\"softmax\", "
                            "dtype=\"float32\")")
    try:
        count_macs(loaded)
    except ValueError as err:
        raise CnnbenchError(f"{architecture}: cannot count its multiply-accumulates ({err})"
                            ) from None


def _load_fix(err: Exception) -> str:
    """What to change in a network whose saved file does not load."""
    if "Lambda" in str(err):
        return ("use a Rescaling layer or a registered layer instead of a Lambda "
                "(docs/guide/your-own-network.md)")
    return ("register each class of your own with "
            "@keras.saving.register_keras_serializable() (docs/guide/your-own-network.md)")
