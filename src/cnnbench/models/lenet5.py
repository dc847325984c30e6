"""LeNet5 as in the seed report: two sigmoid conv + max-pool blocks, then 120-84-10 dense.

Its parameter counts are the seed report's (reference/seed_report.yaml).
"""

from __future__ import annotations

import keras
from keras import layers

from cnnbench.models.blocks import apply_classifier, image_input

DISPLAY_NAME = "LeNet5"

#: (filters, kernel size) of each conv block; each is followed by 2x2 max pooling.
CONV_BLOCKS = ((6, 5), (16, 5))
DENSE_UNITS = (120, 84)


def build(num_classes: int = 10, input_shape: tuple[int, int, int] = (32, 32, 3)) -> keras.Model:
    inputs, x = image_input(input_shape)
    for i, (filters, kernel_size) in enumerate(CONV_BLOCKS, start=1):
        x = layers.Conv2D(filters, kernel_size, activation="sigmoid", name=f"block{i}_conv")(x)
        x = layers.MaxPooling2D(2, strides=2, name=f"block{i}_pool")(x)
    x = layers.Flatten(name="flatten")(x)
    for i, units in enumerate(DENSE_UNITS, start=1):
        x = layers.Dense(units, activation="sigmoid", name=f"fc{i}")(x)
    outputs = apply_classifier(x, num_classes)
    return keras.Model(inputs, outputs, name="lenet5")
