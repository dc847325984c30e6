"""Small layer blocks shared by the architectures, keras-hub style ``apply_*`` helpers.

Every layer is named by its place (``block2_conv1``, ``block2_conv1_bn``), so
summaries, checkpoints and error messages point at the same spot in every model.
"""

from __future__ import annotations

import keras
from keras import layers


def image_input(input_shape: tuple[int, int, int]) -> tuple[keras.KerasTensor, keras.KerasTensor]:
    """The model input (raw 0-255 pixels) and the same pixels scaled to [0, 1]."""
    inputs = keras.Input(shape=input_shape, name="image")
    return inputs, layers.Rescaling(1.0 / 255, name="rescale")(inputs)


def apply_conv_bn_relu(x: keras.KerasTensor, filters: int, kernel_size: int, *, name: str,
                       strides: int = 1, padding: str = "same",
                       use_bias: bool = True, activation: bool = True) -> keras.KerasTensor:
    """Conv2D, BatchNormalization and (unless ``activation=False``) ReLU."""
    x = layers.Conv2D(filters, kernel_size, strides=strides, padding=padding,
                      use_bias=use_bias, name=name)(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    if activation:
        x = layers.ReLU(name=f"{name}_relu")(x)
    return x


def apply_dense_head(x: keras.KerasTensor, units: tuple[int, ...], dropout: float,
                     num_classes: int) -> keras.KerasTensor:
    """Flatten, then ReLU dense layers ``fc1, fc2, ...`` each followed by dropout, then softmax."""
    x = layers.Flatten(name="flatten")(x)
    for i, width in enumerate(units, start=1):
        x = layers.Dense(width, activation="relu", name=f"fc{i}")(x)
        x = layers.Dropout(dropout, name=f"fc{i}_dropout")(x)
    return apply_classifier(x, num_classes)


def apply_classifier(x: keras.KerasTensor, num_classes: int,
                     kernel_regularizer=None) -> keras.KerasTensor:
    """The softmax output layer ``predictions``, computed in float32 even under a mixed
    precision policy (as Keras advises, so the loss sees float32 probabilities)."""
    return layers.Dense(num_classes, activation="softmax", kernel_regularizer=kernel_regularizer,
                        dtype="float32", name="predictions")(x)
