"""What produced a run, and whether one run may count as run-to-run noise of another.

A run (a main run's training log, or a seed repeat's ``repeat`` record) is known by

- ``protocol``: ``protocol_digest`` of its training params (all but the seed and
  speed-only knobs) and of the data (checksum and split sizes);
- ``code``: per-file digests of the code it trained with, comments, docstrings and
  formatting set aside (``cnnbench.training.code``, recorded in the training log); a
  package file is one file whether the run imported it from the project's ``src/`` or
  from an install, which names it by package (``cnnbench/...``);
- its numerics class (``numerics_class``): the machine's numerics fingerprint
  (``cnnbench.machine.numerics``), or for runs recorded before it, the backend, the device
  and the CPU's vector extensions.

``apart`` says why a repeat is no noise of a main run (None when it is): a repeat counts
only when protocol, code and numerics class are the main run's. ``left_out`` words the
reasons of a model's left-out repeats, one line each, with the command that fixes them.
Every place that pools runs (the summary, ``cnnbench compare``, the pull-request comment,
``cnnbench experiments``, ``cnnbench gate``) asks here; docs/guide/review.md says why.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from cnnbench.config import TrainParams
from cnnbench.machine import label
from cnnbench.models import display_name

#: Training params that do not change what is trained: how many steps go to the compiled
#: function and XLA only change speed (and precision is *not* among these).
SPEED_ONLY = ("steps_per_execution", "jit_compile")
#: The widest vector extension a CPU run recorded, as tables name it (first match wins).
ISA_NAMES = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512, AVX512-BF16"),
             ("avx512f", "AVX-512"), ("avx2", "AVX2"))
#: What each reason of ``apart`` asks the user to do.
FIX = {"main": "retrain it (`dvc repro`), then run `cnnbench repeats`",
       "code": "run `cnnbench repeats` with experiments of the current code",
       "protocol": "run `cnnbench repeats` with experiments of the current params and data",
       "numerics": "run `cnnbench repeats` with experiments on the main run's machine"}


def protocol_digest(train_params: dict, data: dict) -> str:
    """A short digest of what a run trained: every ``TrainParams`` field except the seed
    and speed-only knobs, and the data source's checksum and split sizes.

    ``train_params`` is a training log's ``params.yaml`` (extra keys such as ``machine``
    are ignored); ``data`` is the ``data`` section of the prepare stage's data summary.
    """
    fields = [f for f in TrainParams.__dataclass_fields__ if f not in ("seed", *SPEED_ONLY)]
    key = {
        "train": {f: train_params.get(f, getattr(TrainParams, f, None)) for f in fields},
        "data": {"sha256": (data.get("source") or {}).get("sha256"),
                 "train": data.get("train", {}).get("count"),
                 "test": data.get("test", {}).get("count")},
    }
    if "validation" in data:  # held-out validation; the seed protocol's digests stay
        key["data"]["validation"] = data["validation"].get("count")
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def machine_label(machine: dict) -> str:
    """``machine.label`` with a CPU run's vector extensions, which set its speed and its
    kernels (two CPUs of one name can differ: ``2-core AMD EPYC (AVX2), Keras 3.15.1 on
    tensorflow``). Logs that predate the recorded features get the plain label."""
    text = label(machine)
    features = machine.get("cpu_features") or []
    if machine.get("accelerator", "cpu") != "cpu" or not features:
        return text
    isa = next((name for flag, name in ISA_NAMES if flag in features), "no AVX2")
    device, _, rest = text.partition(", Keras")
    return f"{device} ({isa}), Keras{rest}"


def numerics_class(machine: dict | None) -> str:
    """The machine's numerics fingerprint; for a run recorded before it, the backend and
    the device (a GPU's name, or the CPU's widest vector extension)."""
    machine = machine or {}
    if machine.get("numerics"):
        return f"numerics {machine['numerics']}"
    device = machine.get("accelerator", "cpu")
    if device == "cpu":
        features = machine.get("cpu_features") or []
        device = "CPU " + next((name for flag, name in ISA_NAMES if flag in features),
                               "(vector extensions not recorded)")
    return f"{device} on {machine.get('backend', '?')}"


def project_paths(code: dict[str, str]) -> dict[str, str]:
    """A code fingerprint with each package file named as in the project
    (``src/cnnbench/...``): a run that imported the package from an install names it
    ``cnnbench/...``."""
    return {f"src/{path}" if path.startswith("cnnbench/") else path: digest
            for path, digest in code.items()}


def run_record(log: dict, data: dict) -> dict:
    """A main run's provenance from its training log and the data summary's ``data``: the
    fields a repeat's ``repeat`` record carries."""
    return {"protocol": protocol_digest(log, data), "code": log.get("code"),
            "machine": log.get("machine")}


def apart(main: dict, repeat: dict) -> tuple[str, str] | None:
    """``(kind, reason)`` when ``repeat`` (a ``repeat`` record) is no noise of ``main``
    (``run_record``); kind is a key of ``FIX``. None when it is. A run recorded before the
    code was (no ``code``) matches nothing: its protocol digest, too, is of an older rule."""
    if not main.get("code"):  # logs written before the code was recorded
        return "main", "cannot be matched: its main run's log records no code"
    if not repeat.get("code"):
        return "code", "predate recorded code fingerprints"
    if repeat.get("protocol") != main.get("protocol"):
        return "protocol", "ran other params or data"
    ours, theirs = project_paths(main["code"]), project_paths(repeat["code"])
    changed = sorted(path for path in {*ours, *theirs} if ours.get(path) != theirs.get(path))
    if changed:
        return "code", "predate " + ", ".join(f"`{path}`" for path in changed[:3]) + (
            f" and {len(changed) - 3} more files" if len(changed) > 3 else "")
    if numerics_class(repeat.get("machine")) != numerics_class(main.get("machine")):
        return "numerics", (f"ran with other numerics ({numerics_class(repeat.get('machine'))}"
                            f", not {numerics_class(main.get('machine'))})")
    return None


def left_out(model: str, reasons: list[tuple[str, str]]) -> list[str]:
    """One line per reason: ``2 repeats of VGG16 predate `...vgg16.py`; run ...``."""
    return [f"{count} repeat{'s' * (count > 1)} of {display_name(model)} "
            f"{reason if count > 1 else reason.replace('predate ', 'predates ', 1)}; "
            f"{FIX[kind]}" for (kind, reason), count in Counter(reasons).items()]
