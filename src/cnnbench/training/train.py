"""Train one registered model on the prepared data, logging every epoch through DVCLive.

As in the seed report, the test split doubles as validation data: every epoch ends
with a pass over it; with ``data.validation`` above 0 the pass is over the training images
that prepare held out, and the test split is scored once, by evaluate (the protocol is
printed, and logged as ``protocol`` when held out). Per epoch, DVCLive records
``train/loss``, ``train/accuracy``, ``val/loss``, ``val/accuracy``, ``time/epoch_s`` (the
whole epoch, validation included, as Keras reports it) and ``time/train_s`` (the training
part alone); its ``metrics.json`` summary also gets the run's totals under ``time``.
Batches come in a seeded per-epoch order (``inputs``), and a checkpoint after every epoch
(``checkpoint``) lets a killed run resume with identical results.

Run through the pipeline (``dvc repro train@resnet18``) or ``stages/train.py --help``.
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import asdict, replace
from pathlib import Path

import keras
import numpy as np

from cnnbench import models
from cnnbench.models.saving import check_network
from cnnbench.training import distribute
from cnnbench.training.checkpoint import EpochCheckpoint, fingerprint
from cnnbench.training.code import code_digests
from cnnbench.stop import raise_if_stopped
from cnnbench.config import TrainParams
from cnnbench.data.dataset import load_prepared
from cnnbench.files import atomic_path
from cnnbench.training.inputs import eval_batches, train_batches
from cnnbench.training.logs import EpochHistory, write_training_log
from cnnbench.machine import describe, label, numerics, trains_on_gpu
from cnnbench.training.recipe import augmented, make_loss, make_optimizer, steps_per_epoch


#: XLA's switch to deterministic GPU kernels (JAX, and TensorFlow's XLA-compiled steps).
XLA_DETERMINISTIC = "--xla_gpu_deterministic_ops=true"


def deterministic_ops() -> None:
    """Make the backend's ops deterministic on a GPU as on the CPU: XLA's deterministic
    ops (read once, when JAX or XLA starts: call this before either runs anything) and
    TensorFlow's op determinism. The price is some GPU speed (docs/guide/gpu.md)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if "xla_gpu_deterministic_ops" not in flags:  # a user's own setting stays
        os.environ["XLA_FLAGS"] = f"{flags} {XLA_DETERMINISTIC}".strip()
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def seed_everything(seed: int) -> None:
    """Deterministic ops (``deterministic_ops``); seed Python, NumPy and the backend: what
    ``train`` does, for the tools that train outside a stage (``cnnbench bench``)."""
    deterministic_ops()
    keras.utils.set_random_seed(seed)


#: ``train.steps_per_execution: null`` on a GPU: Keras runs this many steps per call
#: into the compiled function, so the per-step dispatch does not bound the step time
#: (docs/results/performance-steps.md). The numbers are those of 1 step per call.
GPU_STEPS_PER_EXECUTION = 32
#: The same on a CPU: 8 steps per call make LeNet5's step 1.5-1.6x faster and change
#: nothing measurable for the large networks, while a Ctrl-C still stops within 8 steps.
CPU_STEPS_PER_EXECUTION = 8


def steps_per_execution(params: TrainParams) -> int:
    """``train.steps_per_execution``, or when null ``CPU_STEPS_PER_EXECUTION`` on a CPU
    and ``GPU_STEPS_PER_EXECUTION`` on a GPU."""
    if params.steps_per_execution is not None:
        return params.steps_per_execution
    return GPU_STEPS_PER_EXECUTION if trains_on_gpu() else CPU_STEPS_PER_EXECUTION


def compile_model(name: str, num_classes: int, params: TrainParams,
                  steps_per_epoch: int = 1) -> tuple[keras.Model, keras.Model]:
    """Build network ``name`` (a model key or a project .py file) under the global dtype
    policy (``params.precision``, which the caller sets) and compile it for training.

    Returns ``(trainee, model)``: ``model`` is the architecture alone, the one to save;
    ``trainee`` is what ``fit`` trains, ``model`` behind the recipe's augmentation layers,
    or ``model`` itself when the recipe has none (the seed's). Optimizer, schedule and loss
    come from ``recipe``; ``steps_per_epoch`` spans the learning-rate schedule.
    ``mixed_bfloat16`` computes in bfloat16 with float32 weights; the softmax output stays
    float32 (``models.blocks.apply_classifier``). ``jit_compile`` None leaves Keras' own
    choice ("auto"); ``steps_per_execution`` None the device's (``steps_per_execution``).
    """
    model = models.build(name, num_classes=num_classes)
    trainee = augmented(model, params)
    trainee.compile(optimizer=make_optimizer(params, steps_per_epoch), loss=make_loss(params),
                    metrics=["accuracy"], steps_per_execution=steps_per_execution(params),
                    jit_compile="auto" if params.jit_compile is None else params.jit_compile)
    return trainee, model


class StopOnSignal(keras.callbacks.Callback):
    """Stop at the next batch once Ctrl-C or SIGTERM arrived, even if its
    KeyboardInterrupt was swallowed (see ``cli.raise_if_stopped``).

    It hooks the start of a batch, not the end, so that Keras keeps dispatching
    batch-end callbacks asynchronously where the backend allows it.
    """

    def on_train_batch_begin(self, batch, logs=None):
        raise_if_stopped()


class ShardRecord(keras.callbacks.Callback):
    """What this worker fed in its first epoch: how many images and a digest of their ids."""

    def __init__(self, batches) -> None:
        super().__init__()
        self.batches, self.first_epoch = batches, {}

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        if not self.first_epoch:
            seen = np.asarray(self.batches.seen, dtype=np.int64)
            self.first_epoch = {"epoch": epoch + 1, "images": int(len(seen)),
                                "ids_sha256": hashlib.sha256(seen.tobytes()).hexdigest()}


def train(name: str, data_file: str | os.PathLike, model_out: str | os.PathLike,
          log_dir: str | os.PathLike, checkpoint_dir: str | os.PathLike,
          params: TrainParams, architecture: str | None = None) -> list[dict]:
    """Train ``name`` with ``params``; save the model to ``model_out`` and logs to ``log_dir``.

    ``architecture`` is the network to build (``cnnbench.models.build``), ``name`` itself
    by default; a variant trains another entry's network under its own name.

    After every epoch a checkpoint goes to ``checkpoint_dir``; a run killed at any point
    resumes there from its last finished epoch and ends with the same metrics as a run
    that was never interrupted. The checkpoint is removed once the outputs are written.
    Returns the per-epoch records.
    """
    dataset = load_prepared(data_file)
    deterministic_ops()  # before distribute starts JAX
    worker = distribute.start(params.distribution, params.batch_size)
    architecture = architecture or name
    keras.mixed_precision.set_global_policy(params.precision)
    # What evaluate needs of the trained network, checked now on an untrained one; before
    # the seed is set, so training draws the same random numbers as without the check.
    check_network(architecture, len(dataset.class_names))
    # the machine's numerics fingerprint builds a network too: before the seed as well;
    # not under a multi-process distribution
    machine = {**describe(), "numerics": numerics() if worker.world == 1 else ""}
    keras.utils.set_random_seed(params.seed)
    trainee, model = compile_model(architecture, len(dataset.class_names), params,
                                   steps_per_epoch(len(dataset.train.y), params.batch_size))
    params = replace(params, steps_per_execution=trainee.steps_per_execution)  # as logged
    history = EpochHistory(name)
    source = (architecture,) if architecture.endswith(".py") else ()
    script = sys.argv[0] if sys.argv[0].endswith(".py") else ""
    here = [script] if script and not os.path.relpath(script).startswith("..") else []
    code = code_digests(*here, architecture)
    checkpoint = EpochCheckpoint(checkpoint_dir, {
        "params or data": fingerprint(
            name, {**asdict(params), "architecture": architecture}, keras.backend.backend(),
            files=(data_file, *source)),
        "code": fingerprint(code),
        "numerics": machine["numerics"]}, history)
    initial_epoch, history.records = checkpoint.restore(trainee)
    batches, order = train_batches(dataset.train.x, dataset.train.y, params.batch_size,
                                   params.seed, worker.rank, worker.world)
    shard = ShardRecord(batches) if worker.world > 1 else None
    print(f"train {name}: {len(dataset.train.y)} images, {params.epochs} epochs, "
          f"batch {params.batch_size}, {params.optimizer} lr={params.learning_rate} "
          f"({params.schedule}), recipe {params.recipe}, "
          f"on {label(machine)}; protocol: {dataset.protocol}", flush=True)
    validation = dataset.validation_split
    if initial_epoch < params.epochs:
        trainee.fit(batches, epochs=params.epochs, initial_epoch=initial_epoch,
                    validation_data=eval_batches(validation.x, validation.y,
                                                 params.batch_size, worker.rank, worker.world),
                    validation_batch_size=params.batch_size if worker.world == 1 else None,
                    callbacks=[c for c in (StopOnSignal(), order, shard, history, checkpoint)
                               if c is not None],
                    shuffle=False, verbose=1 if sys.stdout.isatty() else 2)
    raise_if_stopped()
    logged = {"model": name, "architecture": architecture, **asdict(params),
              "code": code, "machine": machine}
    if dataset.validation is not None:  # the seed protocol's logs stay as they were
        logged["protocol"] = dataset.protocol
    if worker.world > 1:
        logged["worker"] = {"rank": worker.rank, "workers": worker.world,
                            **(shard.first_epoch if shard else {})}
    write_training_log(log_dir, history.records, logged)
    with atomic_path(Path(model_out), suffix=".keras") as tmp_model:
        model.save(tmp_model)
    checkpoint.remove()
    return history.records
