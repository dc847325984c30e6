"""A network that scales its input with a Lambda layer: safe mode cannot load it."""

import keras
from keras import layers


def build(num_classes=10, input_shape=(32, 32, 3)):
    inputs = keras.Input(input_shape)
    x = layers.Lambda(lambda t: t / 255.0)(inputs)
    x = layers.GlobalAveragePooling2D()(layers.Conv2D(8, 3, activation="relu")(x))
    return keras.Model(inputs, layers.Dense(num_classes, activation="softmax")(x))
