"""AlexNet8 as in the seed report: five 3x3 conv layers (batch norm in place of LRN on the
first two), three 3x3/2 max pools, two 2048-unit dense layers with dropout 0.5.

Its parameter counts are the seed report's (reference/seed_report.yaml).
"""

from __future__ import annotations

import keras
from keras import layers

from cnnbench.models.blocks import apply_conv_bn_relu, apply_dense_head, image_input

DISPLAY_NAME = "AlexNet8"

#: One row per conv layer: (filters, padding, batch norm, max pool after it).
CONV_LAYERS = (
    (96, "valid", True, True),
    (256, "valid", True, True),
    (384, "same", False, False),
    (384, "same", False, False),
    (256, "same", False, True),
)
DENSE_UNITS = (2048, 2048)
DROPOUT = 0.5


def build(num_classes: int = 10, input_shape: tuple[int, int, int] = (32, 32, 3)) -> keras.Model:
    inputs, x = image_input(input_shape)
    for i, (filters, padding, batch_norm, pool) in enumerate(CONV_LAYERS, start=1):
        if batch_norm:
            x = apply_conv_bn_relu(x, filters, 3, padding=padding, name=f"block{i}_conv")
        else:
            x = layers.Conv2D(filters, 3, padding=padding, activation="relu",
                              name=f"block{i}_conv")(x)
        if pool:
            x = layers.MaxPooling2D(3, strides=2, name=f"block{i}_pool")(x)
    outputs = apply_dense_head(x, DENSE_UNITS, DROPOUT, num_classes)
    return keras.Model(inputs, outputs, name="alexnet8")
