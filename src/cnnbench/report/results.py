"""Load a pipeline run's results as pandas tables, for the plot and summarise stages.

- ``split_by_results``: which models have metrics yet (a summary of some models is
  allowed, the others are named as not run yet).
- ``load_metrics``: one row per model from its metrics JSON (flattened keys such
  as ``test.accuracy``), in the order given.
- ``load_history``: one row per model and epoch from the DVCLive logs of the train
  stages (``train.loss``, ``val.accuracy``, ``time.epoch_s``, ...).
- ``load_reference``: the seed report's published numbers (reference/seed_report.yaml).
- ``load_repeats``: the seed repeats collected by ``cnnbench.review.repeats`` (their statistics:
  ``cnnbench.report.statistics``).
- ``read_reliability``: one model's reliability diagram bins (the robustness stage's CSV).
- ``describe_run``: one line saying what a run used (images, epochs, recipe, machines).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import pandas as pd
import yaml

from cnnbench.config import TrainParams
from cnnbench.errors import DataError
from cnnbench.machine import label
from cnnbench.models import display_name

#: DVCLive's per-metric TSV files inside a training log folder.
HISTORY_METRICS = ("train/loss", "train/accuracy", "val/loss", "val/accuracy", "time/epoch_s")


#: Training params that do not change what is trained: how many steps go to the compiled
#: function and XLA only change speed (and precision is *not* among these).
SPEED_ONLY = ("steps_per_execution", "jit_compile")
#: Keys of the protocol that training logs written before they left ``train`` carry, with
#: the value that newer logs imply, so that a repeat and its main run digest alike.
FORMER = {"tta_flip": False}


def protocol_digest(train_params: dict, data: dict) -> str:
    """A short digest of what a run trained: every ``TrainParams`` field except the seed
    and speed-only knobs, and the data source's checksum and split sizes.

    ``train_params`` is a training log's ``params.yaml`` (extra keys such as ``machine``
    are ignored); ``data`` is the ``data`` section of the prepare stage's data summary.
    """
    fields = [f for f in TrainParams.__dataclass_fields__ if f not in ("seed", *SPEED_ONLY)]
    train = {f: train_params.get(f, getattr(TrainParams, f, None)) for f in fields}
    train.update({key: train_params.get(key, value) for key, value in FORMER.items()})
    key = {
        "train": train,
        "data": {"sha256": (data.get("source") or {}).get("sha256"),
                 "train": data.get("train", {}).get("count"),
                 "test": data.get("test", {}).get("count")},
    }
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _read_json(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise DataError(f"{path}: cannot read ({err}); run `dvc repro` first") from None


def split_by_results(models: list[str], metrics_dir: str | os.PathLike
                     ) -> tuple[list[str], list[str]]:
    """``(evaluated, not_yet)``: the models that have ``<metrics_dir>/<model>.json`` and
    those that do not (not trained or evaluated yet); at least one must have it."""
    evaluated = [m for m in models if (Path(metrics_dir) / f"{m}.json").is_file()]
    if not evaluated:
        raise DataError(f"{metrics_dir}: no metrics of any model ({', '.join(models)}); "
                        "run `dvc repro` first")
    return evaluated, [m for m in models if m not in evaluated]


def load_metrics(models: list[str], metrics_dir: str | os.PathLike) -> pd.DataFrame:
    """One row per model, indexed by model name, columns the flattened metric keys."""
    rows = [pd.json_normalize(_read_json(Path(metrics_dir) / f"{m}.json"), sep=".")
            for m in models]
    table = pd.concat(rows, ignore_index=True).set_index("model")
    table.insert(0, "name", [display_name(m) for m in table.index])
    return table


def load_history(models: list[str], logs_dir: str | os.PathLike) -> pd.DataFrame:
    """Per-epoch history (epoch counted from 1) of every model's training log."""
    frames = []
    for model in models:
        columns = []
        for metric in HISTORY_METRICS:
            path = Path(logs_dir) / model / "plots" / "metrics" / f"{metric}.tsv"
            try:
                tsv = pd.read_csv(path, sep="\t")
            except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
                raise DataError(f"{path}: cannot read the training log ({err})") from None
            columns.append(tsv.set_index("step")[metric.rsplit("/", 1)[1]]
                           .rename(metric.replace("/", ".")))
        frame = pd.concat(columns, axis=1).reset_index(names="step")
        frame.insert(0, "model", model)
        frame.insert(1, "epoch", frame.pop("step") + 1)
        frames.append(frame)
    return pd.concat(frames, ignore_index=True)


def load_reference(path: str | os.PathLike) -> dict:
    """The seed report's numbers: ``models.<model>.{train,test}.{loss,accuracy}``, ``epoch_s``."""
    try:
        return yaml.safe_load(Path(path).read_text())
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read the reference results ({err})") from None


#: The widest vector extension a CPU run recorded, as tables name it (first match wins).
ISA_NAMES = (("amx_bf16", "AMX"), ("avx512_bf16", "AVX-512, AVX512-BF16"),
             ("avx512f", "AVX-512"), ("avx2", "AVX2"))


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


def describe_run(models: list[str], logs_dir: str | os.PathLike,
                 data_metrics: str | os.PathLike) -> str:
    """One line saying what a run used: images, source, epochs, recipe, machine, backend
    (each machine with its models, when the models were trained on more than one)."""
    data = _read_json(Path(data_metrics))["data"]
    epochs, recipes, machines = set(), set(), {}
    for model in models:
        params = load_train_params(logs_dir, model)
        epochs.add(params.get("epochs"))
        recipes.add(str(params.get("recipe", "seed")))  # logs before recipes: the seed's
        machines.setdefault(machine_label(params.get("machine") or {}), []).append(model)
    epoch_text = "/".join(str(e) for e in sorted(e for e in epochs if e is not None))
    where = (next(iter(machines)) if len(machines) == 1 else
             "; ".join(f"{m} ({', '.join(display_name(x) for x in ms)})"
                       for m, ms in machines.items()))
    return (f"{data['train']['count']:,} train / {data['test']['count']:,} test images "
            f"({data.get('source', {}).get('name', 'unknown source')}), "
            f"{epoch_text} epoch{'' if epoch_text == '1' else 's'}, "
            f"{'/'.join(sorted(recipes))} recipe; {where}")


def read_reliability(path: str | os.PathLike) -> pd.DataFrame:
    """A robustness stage's reliability diagram data: one row per confidence bin."""
    try:
        bins = pd.read_csv(path)
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        raise DataError(f"{path}: cannot read the reliability diagram ({err}); run "
                        "`dvc repro` first") from None
    if not {"low", "high", "confidence", "accuracy", "count"} <= set(bins.columns):
        raise DataError(f"{path}: not reliability diagram data (low, high, confidence, "
                        "accuracy, count)")
    return bins


def load_train_params(logs_dir: str | os.PathLike, model: str) -> dict:
    """The params a model was trained with, as its training log recorded them."""
    path = Path(logs_dir) / model / "params.yaml"
    try:
        return yaml.safe_load(path.read_text()) or {}
    except (OSError, yaml.YAMLError) as err:
        raise DataError(f"{path}: cannot read the training params ({err})") from None


def load_repeats(models: list[str], repeats_dir: str | os.PathLike | None) -> pd.DataFrame:
    """One row per collected repeat (``<repeats_dir>/seed<N>/<model>.json``) of ``models``:
    model, seed, experiment, protocol and the flattened metrics. Empty if there are none."""
    rows = []
    for model in models:
        paths = sorted(Path(repeats_dir).glob(f"seed*/{model}.json")) if repeats_dir else []
        for path in paths:
            record = _read_json(path)
            repeat = record.get("repeat") or {}
            if not {"seed", "protocol"} <= set(repeat) or "test" not in record:
                raise DataError(f"{path}: not a seed repeat (no repeat.seed, repeat.protocol "
                                "or test metrics); write it with cnnbench repeats")
            row = pd.json_normalize(record, sep=".").iloc[0].to_dict()
            rows.append({**row, "model": model, "seed": repeat["seed"],
                         "experiment": repeat.get("experiment"),
                         "protocol": repeat["protocol"], "file": str(path),
                         "machine": machine_label(repeat["machine"])
                         if repeat.get("machine") else None})
    return pd.DataFrame(rows, columns=None if rows else ["model", "seed", "protocol"])


def main_protocols(models: list[str], logs_dir: str | os.PathLike,
                   data_metrics: str | os.PathLike) -> dict[str, tuple[int, str]]:
    """Each model's (seed, protocol digest) in the main run, from its training log."""
    data = _read_json(Path(data_metrics))["data"]
    result = {}
    for model in models:
        params = load_train_params(logs_dir, model)
        result[model] = (params.get("seed"), protocol_digest(params, data))
    return result
