"""How a model is trained, beyond its architecture: optimizer, schedule, loss, augmentation.

The knobs are ``train`` params (``config.TrainParams``); their defaults are the seed
report's protocol (constant-rate Adam, plain cross-entropy, no augmentation), and with
them every function here returns exactly what Keras would build for that protocol, so
the seed's numbers are unchanged. ``recipes.modern`` in params.yaml turns them on:

- ``make_optimizer``: SGD (``momentum``, ``nesterov``), Adam, AdamW or RMSprop, with
  decoupled ``weight_decay`` as Keras applies it, and the learning-rate schedule;
- ``learning_rate_schedule``: ``constant``, ``cosine`` (Keras' ``CosineDecay``, linear
  warm-up then cosine to 0) or ``onecycle`` (linear warm-up, then linear to 0);
- ``make_loss``: sparse cross-entropy, with ``label_smoothing`` when asked;
- ``augmented``: random crop of the zero-padded image (``crop_padding``, as random
  whole-pixel shifts with zero fill, per image), horizontal
  flip (``flip``) and random erasing (``cutout``, its probability), as Keras
  preprocessing layers in front of the model: backend-neutral, active only in training,
  and seeded (``inputs.EpochOrder`` reseeds them per epoch, so resumed runs match).

Flip test-time augmentation (``tta_flip``) happens at evaluation (``evaluate``).
"""

from __future__ import annotations

import math

import keras
from keras import layers, ops

from cnnbench.config import TrainParams


@keras.saving.register_keras_serializable(package="cnnbench")
class OneCycle(keras.optimizers.schedules.LearningRateSchedule):
    """Linear warm-up from 0 to ``peak`` over ``warmup_steps``, then linear down to 0."""

    def __init__(self, peak: float, total_steps: int, warmup_steps: int) -> None:
        self.peak, self.total_steps, self.warmup_steps = peak, total_steps, warmup_steps

    def __call__(self, step):
        step = ops.cast(step, "float32")
        up = step / max(self.warmup_steps, 1)
        down = (self.total_steps - step) / max(self.total_steps - self.warmup_steps, 1)
        fraction = ops.where(step < self.warmup_steps, up, down)
        return self.peak * ops.clip(fraction, 0.0, 1.0)

    def get_config(self) -> dict:
        return {"peak": self.peak, "total_steps": self.total_steps,
                "warmup_steps": self.warmup_steps}


def learning_rate_schedule(params: TrainParams, steps_per_epoch: int):
    """The learning rate: a number (``constant``) or a Keras schedule over all steps."""
    if params.schedule == "constant":
        return params.learning_rate
    total = params.epochs * steps_per_epoch
    warmup = round(params.warmup * total)
    if params.schedule == "onecycle":
        return OneCycle(params.learning_rate, total, warmup)
    if warmup:
        return keras.optimizers.schedules.CosineDecay(
            0.0, decay_steps=max(total - warmup, 1), warmup_target=params.learning_rate,
            warmup_steps=warmup)
    return keras.optimizers.schedules.CosineDecay(params.learning_rate, decay_steps=total)


def make_optimizer(params: TrainParams, steps_per_epoch: int) -> keras.optimizers.Optimizer:
    """The optimizer named by ``params.optimizer`` with the recipe's schedule and decay."""
    config: dict = {"learning_rate": learning_rate_schedule(params, steps_per_epoch)}
    if params.weight_decay:
        config["weight_decay"] = params.weight_decay
    if params.optimizer == "sgd":
        config.update(momentum=params.momentum, nesterov=params.nesterov)
    return keras.optimizers.get({"class_name": params.optimizer, "config": config})


@keras.saving.register_keras_serializable(package="cnnbench")
class SmoothedSparseCrossentropy(keras.losses.Loss):
    """Cross-entropy against integer labels smoothed towards the uniform distribution."""

    def __init__(self, label_smoothing: float, name: str = "smoothed_crossentropy",
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.label_smoothing = label_smoothing

    def call(self, y_true, y_pred):
        labels = ops.cast(ops.reshape(y_true, (-1,)), "int32")
        one_hot = ops.one_hot(labels, ops.shape(y_pred)[-1], dtype=y_pred.dtype)
        return keras.losses.categorical_crossentropy(one_hot, y_pred,
                                                     label_smoothing=self.label_smoothing)

    def get_config(self) -> dict:
        return {**super().get_config(), "label_smoothing": self.label_smoothing}


def make_loss(params: TrainParams):
    """Keras' sparse cross-entropy, or its label-smoothed form."""
    if params.label_smoothing:
        return SmoothedSparseCrossentropy(params.label_smoothing)
    return "sparse_categorical_crossentropy"


def augmented(model: keras.Model, params: TrainParams) -> keras.Model:
    """``model`` behind the recipe's augmentation layers (``model`` itself when there are none).

    The layers see raw 0-255 pixels, before the model's own rescaling; in inference they
    pass images through unchanged.
    """
    if not params.augments:
        return model
    height, width = model.input_shape[1:3]
    inputs = keras.Input(shape=model.input_shape[1:], name="image")
    x = inputs
    if params.crop_padding:
        # Per image, unlike keras' RandomCrop (one crop per batch): shifts of up to
        # crop_padding pixels, filled with zeros, rounded to whole pixels ("nearest").
        x = layers.RandomTranslation(
            params.crop_padding / height, params.crop_padding / width, fill_mode="constant",
            interpolation="nearest", fill_value=0.0, seed=params.seed, name="augment_crop")(x)
    if params.flip:
        x = layers.RandomFlip("horizontal", seed=params.seed + 1, name="augment_flip")(x)
    if params.cutout:
        x = layers.RandomErasing(factor=params.cutout, value_range=(0, 255),
                                 seed=params.seed + 2, name="augment_cutout")(x)
    return keras.Model(inputs, model(x), name=f"{model.name}_augmented")


def steps_per_epoch(images: int, batch_size: int) -> int:
    return math.ceil(images / batch_size)
