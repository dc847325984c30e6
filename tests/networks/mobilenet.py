"""keras.applications' MobileNetV2 (untrained, narrowest) nested inside one's own model."""

import keras
from keras import layers


def build(num_classes=10, input_shape=(32, 32, 3)):
    inputs = keras.Input(input_shape)
    x = layers.Rescaling(1 / 127.5, offset=-1)(inputs)
    base = keras.applications.MobileNetV2(input_shape=input_shape, include_top=False,
                                          weights=None, alpha=0.35, pooling="avg")
    outputs = layers.Dense(num_classes, activation="softmax", dtype="float32")(base(x))
    return keras.Model(inputs, outputs)
