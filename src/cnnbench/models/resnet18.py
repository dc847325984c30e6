"""ResNet18 as in the seed report: a 3x3 conv-BN-ReLU stem, four stages of two basic
residual blocks (64, 128, 256, 512 filters; stages 2-4 start with stride 2 and a 1x1
conv-BN projection shortcut), global average pooling and a softmax layer with an L2
kernel penalty (0.01, the seed's ``l2()`` default).

Its parameter counts are the seed report's (reference/seed_report.yaml).
"""

from __future__ import annotations

import keras
from keras import layers

from cnnbench.models.blocks import apply_classifier, apply_conv_bn_relu, image_input

DISPLAY_NAME = "ResNet18"

STEM_FILTERS = 64
BLOCKS_PER_STAGE = (2, 2, 2, 2)
L2_PENALTY = 0.01


def apply_basic_block(x: keras.KerasTensor, filters: int, strides: int, *,
                      name: str) -> keras.KerasTensor:
    """Two 3x3 conv-BN layers plus a shortcut (a 1x1 projection when the shape changes)."""
    shortcut = x
    if strides != 1:
        shortcut = apply_conv_bn_relu(x, filters, 1, strides=strides, use_bias=False,
                                      activation=False, name=f"{name}_shortcut")
    x = apply_conv_bn_relu(x, filters, 3, strides=strides, use_bias=False, name=f"{name}_conv1")
    x = apply_conv_bn_relu(x, filters, 3, use_bias=False, activation=False, name=f"{name}_conv2")
    x = layers.Add(name=f"{name}_add")([x, shortcut])
    return layers.ReLU(name=f"{name}_relu")(x)


def build(num_classes: int = 10, input_shape: tuple[int, int, int] = (32, 32, 3)) -> keras.Model:
    inputs, x = image_input(input_shape)
    x = apply_conv_bn_relu(x, STEM_FILTERS, 3, use_bias=False, name="stem_conv")
    for s, blocks in enumerate(BLOCKS_PER_STAGE, start=1):
        filters = STEM_FILTERS * 2 ** (s - 1)
        for b in range(1, blocks + 1):
            strides = 2 if s > 1 and b == 1 else 1
            x = apply_basic_block(x, filters, strides, name=f"stage{s}_block{b}")
    x = layers.GlobalAveragePooling2D(name="avg_pool")(x)
    outputs = apply_classifier(x, num_classes, keras.regularizers.L2(L2_PENALTY))
    return keras.Model(inputs, outputs, name="resnet18")
