"""The training recipe: schedules, loss, optimizer, augmentation and flip TTA.

- The seed recipe builds exactly what Keras builds for the seed's protocol (same model
  object, plain loss, constant rate), so the seed's numbers cannot move.
- The modern recipe's pieces do what params.yaml says: schedule values step by step,
  the smoothed loss against its formula, the optimizer's settings, per-image augmentation
  that is off in inference and leaves the architectures' parameter counts alone.
- A modern-recipe run interrupted after its first epoch resumes to exactly the metrics
  of an uninterrupted run (augmentation is seeded per epoch); a machine of another numerics
  class or other code starts afresh instead. Flip TTA scores the mean of each image's and
  its mirror's predictions.
"""

from __future__ import annotations

import json
import math
from dataclasses import replace

import keras
import numpy as np
import pytest

from archives import make_image_folder
from helpers import SEED_REFERENCE
from cnnbench.training import checkpoint as checkpoint_module
from cnnbench import models
from cnnbench.config import TrainParams
from cnnbench.data.prepare import prepare
from cnnbench.evaluate import evaluate
from cnnbench.training.recipe import (SmoothedSparseCrossentropy, learning_rate_schedule, make_loss,
                             make_optimizer)
from cnnbench.training import train as train_module
from cnnbench.training.train import compile_model, seed_everything, train

MODERN = TrainParams(recipe="modern", optimizer="sgd", learning_rate=0.2, nesterov=True,
                     weight_decay=0.005, batch_size=8, epochs=3, schedule="onecycle",
                     warmup=0.2, label_smoothing=0.1, crop_padding=4, flip=True, cutout=0.5)



def test_the_seed_recipe_compiles_the_plain_model():
    seed_everything(0)
    trainee, model = compile_model("lenet5", 10, TrainParams(), steps_per_epoch=10)
    assert trainee is model
    assert trainee.loss == "sparse_categorical_crossentropy"
    assert isinstance(trainee.optimizer, keras.optimizers.Adam)
    assert trainee.optimizer.weight_decay is None
    assert float(trainee.optimizer.learning_rate) == pytest.approx(0.001)


@pytest.mark.parametrize("name", models.available())
def test_augmentation_leaves_the_architecture_alone(name):
    trainee, model = compile_model(name, 10, MODERN, steps_per_epoch=10)
    assert trainee is not model
    assert model.count_params() == trainee.count_params() == models.build(name).count_params()
    assert [layer.name for layer in trainee.layers[1:4]] == [
        "augment_crop", "augment_flip", "augment_cutout"]


def test_augmentation_is_per_image_in_training_and_off_in_inference():
    trainee, model = compile_model("lenet5", 10, replace(MODERN, flip=False, cutout=0.0), 1)
    crop = keras.Model(trainee.input, trainee.get_layer("augment_crop").output)
    x = np.full((64, 32, 32, 3), 200, dtype="uint8")
    shifted = keras.ops.convert_to_numpy(crop(x, training=True))
    assert set(np.unique(shifted)) <= {0.0, 200.0}  # whole-pixel shifts, zero fill
    zero_rows = [(image[:, :, 0] == 0).all(axis=1).sum() for image in shifted]
    zero_cols = [(image[:, :, 0] == 0).all(axis=0).sum() for image in shifted]
    assert max(zero_rows) <= 4 and max(zero_cols) <= 4
    assert len(set(zip(zero_rows, zero_cols))) > 5  # images of one batch differ
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(crop(x, training=False)), x)
    images = np.random.default_rng(0).integers(0, 256, (8, 32, 32, 3), dtype=np.uint8)
    np.testing.assert_array_equal(trainee.predict(images, verbose=0),
                                  model.predict(images, verbose=0))


def test_onecycle_warms_up_then_falls_linearly_to_zero():
    schedule = learning_rate_schedule(replace(MODERN, epochs=5), steps_per_epoch=10)
    rates = [float(schedule(step)) for step in (0, 5, 10, 30, 50)]
    assert rates == pytest.approx([0.0, 0.1, 0.2, 0.1, 0.0], abs=1e-6)


def test_cosine_warms_up_then_follows_a_cosine_to_zero():
    params = TrainParams(schedule="cosine", warmup=0.25, epochs=4, learning_rate=0.1)
    schedule = learning_rate_schedule(params, steps_per_epoch=10)
    assert float(schedule(5)) == pytest.approx(0.05, abs=1e-6)
    assert float(schedule(10)) == pytest.approx(0.1, abs=1e-6)
    halfway = 10 + 15
    assert float(schedule(halfway)) == pytest.approx(0.05, abs=1e-6)
    assert float(schedule(40)) == pytest.approx(0.0, abs=1e-6)
    assert learning_rate_schedule(TrainParams(), 10) == 0.001  # constant: a plain number


def test_sgd_gets_nesterov_momentum_and_decoupled_weight_decay():
    optimizer = make_optimizer(MODERN, steps_per_epoch=10)
    assert isinstance(optimizer, keras.optimizers.SGD)
    assert (optimizer.momentum, optimizer.nesterov, optimizer.weight_decay) == (0.9, True, 0.005)
    adamw = make_optimizer(TrainParams(optimizer="adamw", weight_decay=0.05), 10)
    assert isinstance(adamw, keras.optimizers.AdamW) and adamw.weight_decay == 0.05


def test_label_smoothing_matches_its_formula():
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]], dtype="float32")
    labels = np.array([0, 1])
    loss = float(make_loss(replace(MODERN, label_smoothing=0.3))(labels, probs))
    targets = np.full((2, 3), 0.1)
    targets[[0, 1], labels] += 0.7
    expected = float(np.mean(-(targets * np.log(probs)).sum(axis=1)))
    assert loss == pytest.approx(expected, rel=1e-5)
    assert isinstance(make_loss(MODERN), SmoothedSparseCrossentropy)
    assert make_loss(TrainParams()) == "sparse_categorical_crossentropy"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    folder = tmp_path_factory.mktemp("recipe")
    source = make_image_folder(folder / "src", train_per_class=16, test_per_class=4,
                               fmt="dir")
    prepare(source, folder / "data.npz", folder / "data.json")
    return folder


def without_times(records: list[dict]) -> list[dict]:
    return [{k: v for k, v in r.items() if not k.startswith("time/")} for r in records]


@pytest.mark.slow
def test_a_modern_run_resumed_after_a_crash_matches_an_uninterrupted_one(prepared, monkeypatch,
                                                                        capsys):
    data = prepared / "data.npz"
    straight = train("lenet5", data, prepared / "a" / "model.keras", prepared / "a" / "log",
                     prepared / "a" / "ckpt", MODERN)

    original = checkpoint_module.EpochCheckpoint.on_epoch_end

    def crash_after_first_epoch(self, epoch, logs=None):
        original(self, epoch, logs)
        raise KeyboardInterrupt  # as a kill right after the checkpoint was written

    monkeypatch.setattr(checkpoint_module.EpochCheckpoint, "on_epoch_end",
                        crash_after_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        train("lenet5", data, prepared / "b" / "model.keras", prepared / "b" / "log",
              prepared / "b" / "ckpt", MODERN)
    assert not (prepared / "b" / "model.keras").exists()

    # neither another numerics class nor other code goes on from this checkpoint
    def crash_before_saving(self, epoch, logs=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(checkpoint_module.EpochCheckpoint, "on_epoch_end", crash_before_saving)
    capsys.readouterr()
    for patch, other in (("numerics", lambda: "another class"),
                         ("code_digests", lambda *entries: {"lenet5.py": "other"})):
        with monkeypatch.context() as context, pytest.raises(KeyboardInterrupt):
            context.setattr(train_module, patch, other)
            train("lenet5", data, prepared / "b" / "model.keras", prepared / "b" / "log",
                  prepared / "b" / "ckpt", MODERN)
        name = "code" if patch == "code_digests" else patch
        assert f"made with other {name}; starting afresh" in capsys.readouterr().out
    monkeypatch.setattr(checkpoint_module.EpochCheckpoint, "on_epoch_end", original)
    resumed = train("lenet5", data, prepared / "b" / "model.keras", prepared / "b" / "log",
                    prepared / "b" / "ckpt", MODERN)
    assert "resuming from the checkpoint of epoch 1" in capsys.readouterr().out
    assert len(resumed) == MODERN.epochs
    assert without_times(resumed) == without_times(straight)
    assert all(math.isfinite(r["train/loss"]) for r in straight)
    # the saved model is the architecture alone, without the augmentation layers
    saved = keras.models.load_model(prepared / "a" / "model.keras", compile=False)
    assert saved.name == "lenet5"
    assert saved.count_params() == SEED_REFERENCE["lenet5"]["params"]["total"]


@pytest.mark.slow
def test_flip_tta_scores_the_mean_of_each_image_and_its_mirror(prepared):
    run = prepared / "a"  # trained by the test above, or train it here
    if not (run / "model.keras").exists():
        train("lenet5", prepared / "data.npz", run / "model.keras", run / "log",
              run / "ckpt", MODERN)
    args = ("lenet5", run / "model.keras", prepared / "data.npz", run / "log" / "metrics.json")
    plain = evaluate(*args, prepared / "plain.json", prepared / "plain", batch_size=16)
    tta = evaluate(*args, prepared / "tta.json", prepared / "tta", batch_size=16,
                   tta_flip=True)
    assert "tta" not in plain["test"]
    assert tta["test"]["tta"] == "flip"
    assert tta["test"]["accuracy_without_tta"] == plain["test"]["accuracy"]
    assert tta["test"]["loss_without_tta"] == plain["test"]["loss"]

    model = keras.models.load_model(run / "model.keras", compile=False)
    x = np.load(prepared / "data.npz")["x_test"]
    y = np.load(prepared / "data.npz")["y_test"]
    probs = (model.predict(x, verbose=0) + model.predict(x[:, :, ::-1], verbose=0)) / 2
    assert tta["test"]["accuracy"] == pytest.approx(float(np.mean(probs.argmax(1) == y)),
                                                    abs=1e-6)
    assert tta["test"]["loss"] == pytest.approx(
        float(-np.mean(np.log(probs[np.arange(len(y)), y]))), rel=1e-4)
    assert json.loads((prepared / "tta.json").read_text())["test"] == tta["test"]
