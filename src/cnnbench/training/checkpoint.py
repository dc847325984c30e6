"""Resume an interrupted training run from its last finished epoch.

``EpochCheckpoint`` saves, after every epoch, the model's weights and optimizer state
(``model.save_weights``) and the epoch records into a folder outside the stage's outputs,
swapping a complete new copy in for the old one as every output is (``files.atomic_path``),
so that a kill at any moment (SIGKILL included) leaves the last complete checkpoint; after
Ctrl-C or SIGTERM, the one before. ``restore`` loads it before ``fit`` only when what made
it (model, params, data and backend; code; numerics fingerprint) is what makes this run, so
a run is never the work of two code versions or two numerics classes; ``remove`` deletes
it once the run's outputs are written.

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

from cnnbench.files import atomic_path, digest_file

STATE = "state.json"
WEIGHTS = "checkpoint.weights.h5"


def fingerprint(*parts: object, files: tuple[str | os.PathLike, ...] = ()) -> str:
    """A digest of JSON-able ``parts`` and the contents of ``files``."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode())
    for path in files:
        digest_file(path, digest)
    return digest.hexdigest()


class EpochCheckpoint(keras.callbacks.Callback):
    def __init__(self, directory: str | os.PathLike, made_by: dict[str, str], history) -> None:
        super().__init__()
        self.directory = Path(directory)
        self.made_by = made_by  # {what: its fingerprint}, e.g. {"code": ..., "numerics": ...}
        self.history = history  # the EpochHistory whose records are saved with the weights

    @property
    def current(self) -> Path:
        return self.directory / "current"

    def restore(self, model: keras.Model) -> tuple[int, list[dict]]:
        """Load the checkpoint into ``model``: ``(epochs already done, their records)``."""
        try:
            state = json.loads((self.current / STATE).read_text())
        except (OSError, ValueError):
            return 0, []
        made_by = state.get("made_by")
        other = [what for what, value in self.made_by.items()
                 if not isinstance(made_by, dict) or made_by.get(what) != value]
        if other:
            print(f"checkpoint in {self.directory} was made with other {' and '.join(other)}; "
                  "starting afresh", flush=True)
            return 0, []
        if not model.optimizer.built:
            model.optimizer.build(model.trainable_variables)
        model.load_weights(self.current / WEIGHTS)
        print(f"resuming from the checkpoint of epoch {state['epochs']} "
              f"in {self.directory}", flush=True)
        return state["epochs"], state["records"]

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        with atomic_path(self.current) as staging:
            staging.mkdir()
            self.model.save_weights(staging / WEIGHTS)
            (staging / STATE).write_text(json.dumps(
                {"made_by": self.made_by, "epochs": epoch + 1, "records": self.history.records}))

    def remove(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
