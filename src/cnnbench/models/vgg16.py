"""VGG16 as in the seed report: 13 conv-BN-ReLU layers in five blocks, each block ending in
2x2 max pooling and dropout 0.2, then two 512-unit dense layers with dropout 0.2.

Its parameter counts are the seed report's (reference/seed_report.yaml).
"""

from __future__ import annotations

import keras
from keras import layers

from cnnbench.models.blocks import apply_conv_bn_relu, apply_dense_head, image_input

DISPLAY_NAME = "VGG16"

#: One row per block: (filters, number of 3x3 conv layers).
CONFIG = ((64, 2), (128, 2), (256, 3), (512, 3), (512, 3))
DENSE_UNITS = (512, 512)
DROPOUT = 0.2


def build(num_classes: int = 10, input_shape: tuple[int, int, int] = (32, 32, 3)) -> keras.Model:
    inputs, x = image_input(input_shape)
    for b, (filters, convs) in enumerate(CONFIG, start=1):
        for c in range(1, convs + 1):
            x = apply_conv_bn_relu(x, filters, 3, name=f"block{b}_conv{c}")
        x = layers.MaxPooling2D(2, strides=2, padding="same", name=f"block{b}_pool")(x)
        x = layers.Dropout(DROPOUT, name=f"block{b}_dropout")(x)
    outputs = apply_dense_head(x, DENSE_UNITS, DROPOUT, num_classes)
    return keras.Model(inputs, outputs, name="vgg16")
