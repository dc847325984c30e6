"""Inception10 as in the seed report: a conv-BN-ReLU stem, two blocks of two Inception
modules (the first of each with stride 2, channels doubling per block), global average
pooling and a softmax layer.

Its parameter counts are the seed report's (reference/seed_report.yaml).

Unlike the seed's code, batch norm here normalises with batch statistics while training:
the seed called its conv-BN-ReLU block with ``training=False``, so its batch norm only
ever used the initial moving statistics. That was a bug of the report, not part of the
architecture; the parameter count is the same.
"""

from __future__ import annotations

import keras
from keras import layers

from cnnbench.models.blocks import apply_classifier, apply_conv_bn_relu, image_input

DISPLAY_NAME = "Inception10"

STEM_FILTERS = 16
NUM_BLOCKS = 2
MODULES_PER_BLOCK = 2


def apply_inception_module(x: keras.KerasTensor, filters: int, strides: int, *,
                           name: str) -> keras.KerasTensor:
    """Four branches (1x1; 1x1 -> 3x3; 1x1 -> 5x5; 3x3 max pool -> 1x1) concatenated."""
    branch1 = apply_conv_bn_relu(x, filters, 1, strides=strides, name=f"{name}_b1_1x1")
    branch2 = apply_conv_bn_relu(x, filters, 1, strides=strides, name=f"{name}_b2_1x1")
    branch2 = apply_conv_bn_relu(branch2, filters, 3, name=f"{name}_b2_3x3")
    branch3 = apply_conv_bn_relu(x, filters, 1, strides=strides, name=f"{name}_b3_1x1")
    branch3 = apply_conv_bn_relu(branch3, filters, 5, name=f"{name}_b3_5x5")
    branch4 = layers.MaxPooling2D(3, strides=1, padding="same", name=f"{name}_b4_pool")(x)
    branch4 = apply_conv_bn_relu(branch4, filters, 1, strides=strides, name=f"{name}_b4_1x1")
    return layers.Concatenate(axis=-1, name=f"{name}_concat")([branch1, branch2, branch3,
                                                               branch4])


def build(num_classes: int = 10, input_shape: tuple[int, int, int] = (32, 32, 3)) -> keras.Model:
    inputs, x = image_input(input_shape)
    x = apply_conv_bn_relu(x, STEM_FILTERS, 3, name="stem_conv")
    for b in range(1, NUM_BLOCKS + 1):
        filters = STEM_FILTERS * 2 ** (b - 1)
        for m in range(1, MODULES_PER_BLOCK + 1):
            x = apply_inception_module(x, filters, strides=2 if m == 1 else 1,
                                       name=f"block{b}_inception{m}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = apply_classifier(x, num_classes)
    return keras.Model(inputs, outputs, name="inception10")
