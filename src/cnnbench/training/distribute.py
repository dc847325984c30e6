"""Data-parallel training across processes and hosts with Keras' own engine (JAX backend).

``train.distribution: data_parallel`` runs one copy of the train stage per worker; Keras'
``keras.distribution.DataParallel`` over ``jax.distributed`` (Gloo collectives on CPUs,
NCCL on GPUs) replicates the weights and averages the gradients of every step. Workers
find each other the way Keras documents it, through environment variables:

    KERAS_DISTRIBUTION_JOB_ADDRESSES=10.0.0.1:1234   # the coordinator, process 0
    KERAS_DISTRIBUTION_NUM_PROCESSES=2
    KERAS_DISTRIBUTION_PROCESS_ID=0                   # 1 on the second worker, ...
    KERAS_BACKEND=jax

``train.batch_size`` stays the global batch: each of N workers feeds its own 1/N slice of
every global batch (``inputs``), so the steps, the learning-rate schedule and the metrics
are those of a single-worker run with the same params; only the order of floating-point
sums differs. A last global batch that does not split evenly is dropped. Why JAX: Keras
3's ``fit`` does not run under TensorFlow's ``MultiWorkerMirroredStrategy``
(keras-team/keras#20585), and on the torch backend Keras has no DDP path for ``fit``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from cnnbench.errors import ParamsError

ENV_VARS = ("KERAS_DISTRIBUTION_JOB_ADDRESSES", "KERAS_DISTRIBUTION_NUM_PROCESSES",
            "KERAS_DISTRIBUTION_PROCESS_ID")


@dataclass(frozen=True)
class Worker:
    """This process's place among the workers (0 of 1 when training alone)."""

    rank: int = 0
    world: int = 1

    @property
    def chief(self) -> bool:
        return self.rank == 0


def start(distribution: str, batch_size: int) -> Worker:
    """Join the workers for ``distribution`` (``none``: train alone) before any model is built."""
    if distribution == "none":
        return Worker()
    import keras

    if keras.backend.backend() != "jax":
        raise ParamsError(f"train.distribution=data_parallel runs on Keras' JAX backend; "
                          f"set KERAS_BACKEND=jax (got backend {keras.backend.backend()!r})")
    missing = [name for name in ENV_VARS if not os.environ.get(name)]
    if missing:
        raise ParamsError(f"train.distribution=data_parallel needs {', '.join(missing)} in "
                          "the environment (coordinator address, number of workers, this "
                          "worker's id)")
    world = int(os.environ["KERAS_DISTRIBUTION_NUM_PROCESSES"])
    rank = int(os.environ["KERAS_DISTRIBUTION_PROCESS_ID"])
    if not 0 <= rank < world:
        raise ParamsError(f"KERAS_DISTRIBUTION_PROCESS_ID must be in [0, {world}), got {rank}")
    if batch_size % world:
        raise ParamsError(f"train.batch_size ({batch_size}) must be a multiple of the number "
                          f"of workers ({world}): each feeds an equal slice of every batch")
    import jax

    keras.distribution.initialize()
    distribution_ = keras.distribution.DataParallel(devices=jax.devices())
    distribution_.auto_shard_dataset = False  # each worker already feeds its own slice
    keras.distribution.set_distribution(distribution_)
    return Worker(rank=jax.process_index(), world=jax.process_count())
