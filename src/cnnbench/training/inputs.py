"""Training batches in a seeded order that depends only on (seed, epoch).

An uninterrupted run and a run resumed at epoch ``e`` see exactly the same batches, since
epoch ``e``'s order is drawn from ``(seed, e)`` alone, never from how many epochs this
process has run. ``EpochOrder`` is the Keras callback that tells the batches which epoch
starts; it also reseeds the model's dropout and other random layers the same way.

On TensorFlow the batches come from ``tf.data`` (a permutation per epoch, ``tf.gather`` on
the uint8 images, prefetch): no per-step Python and no float copy of the data. On other
backends (JAX, torch) they come from a ``keras.utils.PyDataset`` that slices NumPy arrays;
in data-parallel training (``distribute``) each worker serves its slice of every global
batch.
Images stay uint8 until the model's own rescaling layer.
"""

from __future__ import annotations


import keras
import numpy as np


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The NumPy order of epoch ``epoch`` (used by the PyDataset path)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def worker_slice(batch: np.ndarray, rank: int, world: int) -> np.ndarray | None:
    """Worker ``rank``'s equal part of global ``batch`` (None if it does not split evenly)."""
    if len(batch) % world:
        return None
    size = len(batch) // world
    return batch[rank * size:(rank + 1) * size]


class _ArrayBatches(keras.utils.PyDataset):
    """Batches of (uint8 images, labels) in ``epoch_order`` of the current epoch.

    With ``world`` > 1 workers (``distribute``), ``batch_size`` is the global batch and
    this worker serves only its slice of each one; ``seen`` lists the indices served
    since the epoch began.
    """

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                 rank: int = 0, world: int = 1, shuffle: bool = True) -> None:
        super().__init__()
        self.x, self.y, self.batch_size, self.seed = x, y, batch_size, seed
        self.rank, self.world, self.shuffle = rank, world, shuffle
        self.set_epoch(0)

    def set_epoch(self, epoch: int) -> None:
        n = len(self.y)
        order = epoch_order(n, self.seed, epoch) if self.shuffle else np.arange(n)
        batches = (worker_slice(order[i:i + self.batch_size], self.rank, self.world)
                   for i in range(0, n, self.batch_size))
        self.batches = [b for b in batches if b is not None]
        self.seen: list[int] = []

    def __len__(self) -> int:
        return len(self.batches)

    def __getitem__(self, index: int):
        idx = self.batches[index]
        self.seen.extend(idx.tolist())
        return self.x[idx], self.y[idx]


class _TFBatches:
    """A one-epoch ``tf.data`` pipeline whose permutation is read from an epoch variable."""

    def __init__(self, x: np.ndarray, y: np.ndarray, batch_size: int, seed: int) -> None:
        import tensorflow as tf

        self._epoch = tf.Variable(0, dtype=tf.int64, trainable=False)
        images, labels = tf.constant(x), tf.constant(y)
        n = len(y)

        def order(_):
            return tf.random.experimental.stateless_shuffle(
                tf.range(n, dtype=tf.int32), seed=tf.stack([tf.constant(seed, tf.int64),
                                                            self._epoch]))

        self.dataset = (
            tf.data.Dataset.from_tensors(0).map(order)
            .unbatch().batch(batch_size)
            # A plain map: op determinism (train.seed_everything) turns a parallel one into
            # this anyway, and logs an error line per pipeline when it does so
            .map(lambda idx: (tf.gather(images, idx), tf.gather(labels, idx)))
            .prefetch(tf.data.AUTOTUNE)
        )

    def set_epoch(self, epoch: int) -> None:
        self._epoch.assign(epoch)

    @staticmethod
    def in_order(x: np.ndarray, y: np.ndarray, batch_size: int):
        """The batches of ``(x, y)`` in order, as a plain ``tf.data`` pipeline."""
        import tensorflow as tf

        return tf.data.Dataset.from_tensor_slices((x, y)).batch(batch_size).prefetch(1)


class EpochOrder(keras.callbacks.Callback):
    """At each epoch's start: point the batches at that epoch and reseed random layers.

    Dropout and other random layers draw from ``keras.random.SeedGenerator`` states; these
    are reset from ``(seed, epoch)``, so their masks do not depend on earlier epochs either.
    """

    def __init__(self, batches, seed: int) -> None:
        super().__init__()
        self.batches, self.seed = batches, seed

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        self.batches.set_epoch(epoch)
        states = [v for v in self.model.variables if "seed_generator_state" in v.path]
        values = np.random.default_rng([self.seed, epoch, 1]).integers(
            0, 2**31 - 1, size=(len(states), 2))
        for state, value in zip(states, values, strict=True):
            state.assign(np.asarray(value, dtype=state.dtype))


def train_batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int,
                  rank: int = 0, world: int = 1):
    """``(data, callback)``: pass ``data`` to ``model.fit`` and ``callback`` in its callbacks.

    With ``world`` > 1, this worker's slices of the global batches (PyDataset path).
    """
    if keras.backend.backend() == "tensorflow" and world == 1:
        batches = _TFBatches(x, y, batch_size, seed)
        return batches.dataset, EpochOrder(batches, seed)
    batches = _ArrayBatches(x, y, batch_size, seed, rank, world)
    return batches, EpochOrder(batches, seed)


def eval_batches(x: np.ndarray, y: np.ndarray, batch_size: int, rank: int = 0, world: int = 1):
    """Validation data for ``fit``: the batches in order, or this worker's slice of each one.

    On TensorFlow a plain ``tf.data`` pipeline: Keras' own one for arrays has a parallel
    map, which op determinism rewrites with an error line in the log.
    """
    if world == 1 and keras.backend.backend() == "tensorflow":
        return _TFBatches.in_order(x, y, batch_size)
    if world == 1:
        return x, y
    return _ArrayBatches(x, y, batch_size, seed=0, rank=rank, world=world, shuffle=False)
