"""Resume an interrupted training run from its last finished epoch.

``EpochCheckpoint`` saves, after every epoch, the model's weights and optimizer state
(``model.save_weights``) and the epoch records into a folder outside the stage's outputs,
swapping a complete new copy in for the old one, so that a kill at any moment (SIGKILL
included) leaves the last complete checkpoint. ``restore`` loads it before ``fit`` when
its fingerprint (model, params, data) matches this run; ``remove`` deletes it once the
run's outputs are written.

Keras' ``BackupAndRestore`` writes its weights and its epoch counter as two files in
place, so a kill between the two can pair weights with the wrong epoch, and it keeps no
per-epoch log; hence this small equivalent.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import keras

STATE = "state.json"
WEIGHTS = "checkpoint.weights.h5"


def fingerprint(*parts: object, files: tuple[str | os.PathLike, ...] = ()) -> str:
    """A digest of JSON-able ``parts`` and the contents of ``files``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for path in files:
        with open(path, "rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
    return digest.hexdigest()


class EpochCheckpoint(keras.callbacks.Callback):
    def __init__(self, directory: str | os.PathLike, key: str, history) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.key = key
        self.history = history  # the EpochHistory whose records are saved with the weights

    @property
    def current(self) -> Path:
        return self.directory / "current"

    def restore(self, model: keras.Model) -> tuple[int, list[dict]]:
        """Load the checkpoint into ``model``: ``(epochs already done, their records)``."""
        for folder in (self.current, self.directory / "previous"):
            state_file = folder / STATE
            if not state_file.is_file():
                continue
            try:
                state = json.loads(state_file.read_text())
            except ValueError:
                continue
            if state.get("key") != self.key:
                print(f"checkpoint in {self.directory} is for other params or data; "
                      "starting afresh", flush=True)
                break
            if not model.optimizer.built:
                model.optimizer.build(model.trainable_variables)
            model.load_weights(folder / WEIGHTS)
            print(f"resuming from the checkpoint of epoch {state['epochs']} "
                  f"in {self.directory}", flush=True)
            return state["epochs"], state["records"]
        return 0, []

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        staging = self.directory / "staging"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        self.model.save_weights(staging / WEIGHTS)
        (staging / STATE).write_text(json.dumps(
            {"key": self.key, "epochs": epoch + 1, "records": self.history.records}))
        previous = self.directory / "previous"
        shutil.rmtree(previous, ignore_errors=True)
        if self.current.exists():
            os.replace(self.current, previous)
        os.replace(staging, self.current)
        shutil.rmtree(previous, ignore_errors=True)

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
