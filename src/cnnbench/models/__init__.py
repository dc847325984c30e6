"""The five networks of the seed report, registered by name.

Each architecture lives in its own module with a ``build(num_classes, input_shape)``
function returning a functional ``keras.Model`` whose input is raw pixels
(0-255) and whose first layer scales them to [0, 1], as the seed did (x / 255).

Modules are imported only when a model is built, so reading this registry does
not import Keras, and each pipeline stage imports only its own model's module.
"""

from __future__ import annotations

import difflib
import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import keras

#: Registered model names, in the seed report's order, mapped to their modules.
MODELS: dict[str, str] = {
    "lenet5": "cnnbench.models.lenet5",
    "alexnet8": "cnnbench.models.alexnet8",
    "vgg16": "cnnbench.models.vgg16",
    "inception10": "cnnbench.models.inception10",
    "resnet18": "cnnbench.models.resnet18",
}

#: Display names used in tables and figures.
DISPLAY_NAMES: dict[str, str] = {
    "lenet5": "LeNet5",
    "alexnet8": "AlexNet8",
    "vgg16": "VGG16",
    "inception10": "Inception10",
    "resnet18": "ResNet18",
}


def build(name: str, num_classes: int = 10,
          input_shape: tuple[int, int, int] = (32, 32, 3)) -> keras.Model:
    """Build the model registered as ``name``."""
    if name not in MODELS:
        from cnnbench.errors import CnnbenchError

        close = difflib.get_close_matches(name, list(MODELS), n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise CnnbenchError(f"unknown model {name!r}{hint}; known models: {', '.join(MODELS)}")
    module = importlib.import_module(MODELS[name])
    return module.build(num_classes=num_classes, input_shape=input_shape)
