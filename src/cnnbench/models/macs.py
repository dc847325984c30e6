"""Forward multiply-accumulates (MACs) per image, counted from a Keras model's layers.

``count_macs(model)`` sums, over the layers with weights that multiply activations:

- ``Conv1D/2D/3D``: output positions × filters × kernel size × input channels / groups;
- ``DepthwiseConv1D/2D``: output positions × input channels × depth multiplier × kernel size;
- ``SeparableConv1D/2D``: its depthwise part, then a 1×1 convolution to ``filters``;
- ``Conv1D/2D/3DTranspose``: input positions × input channels × filters × kernel size;
- ``Dense``: input units × units, at every position of an input with more than 2 axes.

Nested models are counted layer by layer. Not counted: biases, batch normalisation,
activations, pooling, additions, concatenation, rescaling and dropout (a few operations per
activation, not per weight), as model-zoo tables leave them out too. One MAC is one
multiplication and one addition: FLOPs are about twice the MACs.
"""

from __future__ import annotations

import math

import keras
from keras import layers


def _positions(shape) -> int:
    """Spatial positions of a channels-last activation shape (batch axis first)."""
    return math.prod(int(d) for d in shape[1:-1])


def layer_macs(layer: keras.layers.Layer) -> int:
    """MACs per image of one called layer (0 for the layers not counted)."""
    if isinstance(layer, keras.Model):
        return count_macs(layer)
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"{layer.name}: only channels_last layers are counted")
    kernel = math.prod(getattr(layer, "kernel_size", ()) or (1,))
    if isinstance(layer, layers.Dense):
        return _positions(layer.input.shape) * int(layer.input.shape[-1]) * layer.units
    if isinstance(layer, (layers.DepthwiseConv1D, layers.DepthwiseConv2D)):
        return _positions(layer.output.shape) * int(layer.output.shape[-1]) * kernel
    if isinstance(layer, (layers.SeparableConv1D, layers.SeparableConv2D)):
        depthwise = int(layer.input.shape[-1]) * layer.depth_multiplier
        return _positions(layer.output.shape) * depthwise * (kernel + layer.filters)
    if isinstance(layer, (layers.Conv1DTranspose, layers.Conv2DTranspose,
                          layers.Conv3DTranspose)):
        return (_positions(layer.input.shape) * int(layer.input.shape[-1]) * layer.filters
                * kernel)
    if isinstance(layer, (layers.Conv1D, layers.Conv2D, layers.Conv3D)):
        per_filter = kernel * int(layer.input.shape[-1]) // layer.groups
        return _positions(layer.output.shape) * layer.filters * per_filter
    return 0


def count_macs(model: keras.Model) -> int:
    """Forward multiply-accumulates per image of ``model`` (see the module docstring)."""
    return sum(layer_macs(layer) for layer in model.layers)
