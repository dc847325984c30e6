"""Forward multiply-accumulates (MACs) per image, counted from a Keras model's layers.

``count_macs(model)`` sums, over the layers with weights that multiply activations:

- ``Conv1D/2D/3D``: output positions × filters × kernel size × input channels / groups;
- ``DepthwiseConv1D/2D``: output positions × input channels × depth multiplier × kernel size;
- ``SeparableConv1D/2D``: its depthwise part, then a 1×1 convolution to ``filters``;
- ``Conv1D/2D/3DTranspose``: input positions × input channels × filters × kernel size;
- ``Dense``: input units × units, at every position of an input with more than 2 axes.

Nested models (a ``keras.applications`` network inside one's own) are counted layer by
layer, and so are subclassed ones: each layer's input shape is the one it was built with
(``get_build_config``), its output shape what it computes from that. Not counted: biases, batch normalisation,
activations, pooling, additions, concatenation, rescaling and dropout (a few operations per
activation, not per weight), as model-zoo tables leave them out too. One MAC is one
multiplication and one addition: FLOPs are about twice the MACs.
"""

from __future__ import annotations

import math

import keras
from keras import layers

_DEPTHWISE = (layers.DepthwiseConv1D, layers.DepthwiseConv2D)
_SEPARABLE = (layers.SeparableConv1D, layers.SeparableConv2D)
_TRANSPOSED = (layers.Conv1DTranspose, layers.Conv2DTranspose, layers.Conv3DTranspose)
_CONV = (layers.Conv1D, layers.Conv2D, layers.Conv3D)
#: The layers that multiply activations by weights (none of these is a subclass of another)
_COUNTED = (layers.Dense, *_DEPTHWISE, *_SEPARABLE, *_TRANSPOSED, *_CONV)


def _positions(shape) -> int:
    """Spatial positions of a channels-last activation shape (batch axis first)."""
    return math.prod(int(d) for d in shape[1:-1])


def layer_macs(layer: keras.layers.Layer) -> int:
    """MACs per image of one built layer (0 for the layers not counted and unbuilt ones,
    which never ran)."""
    if isinstance(layer, keras.Model):
        return count_macs(layer)
    if not layer.built or not isinstance(layer, _COUNTED):
        return 0
    if getattr(layer, "data_format", "channels_last") != "channels_last":
        raise ValueError(f"{layer.name}: only channels_last layers are counted")
    shape_in = layer.get_build_config()["input_shape"]
    shape_out = layer.compute_output_shape(shape_in)
    channels_in = int(shape_in[-1])
    kernel = math.prod(getattr(layer, "kernel_size", ()) or (1,))
    if isinstance(layer, layers.Dense):
        return _positions(shape_in) * channels_in * layer.units
    if isinstance(layer, _DEPTHWISE):
        return _positions(shape_out) * int(shape_out[-1]) * kernel
    if isinstance(layer, _SEPARABLE):
        depthwise = channels_in * layer.depth_multiplier
        return _positions(shape_out) * depthwise * (kernel + layer.filters)
    if isinstance(layer, _TRANSPOSED):
        return _positions(shape_in) * channels_in * layer.filters * kernel
    per_filter = kernel * channels_in // layer.groups  # Conv1D/2D/3D
    return _positions(shape_out) * layer.filters * per_filter


def count_macs(model: keras.Model) -> int:
    """Forward multiply-accumulates per image of ``model`` (see the module docstring)."""
    return sum(layer_macs(layer) for layer in model.layers)
