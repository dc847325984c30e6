"""Load a pipeline run's results as pandas tables, for the plot and summarise stages.

- ``split_by_results``: which models have metrics yet (a summary of some models is
  allowed, the others are named as not run yet).
- ``load_metrics``: one row per model from its metrics JSON (flattened keys such
  as ``test.accuracy``), in the order given.
- ``load_history``: one row per model and epoch from the DVCLive logs of the train
  stages (``train.loss``, ``val.accuracy``, ``time.epoch_s``, ...).
- ``load_reference``: the seed report's published numbers (reference/seed_report.yaml).
- ``load_repeats``: the seed repeats collected by ``cnnbench.review.repeats`` (their statistics:
  ``cnnbench.report.statistics``); ``main_runs``: what produced each main run
  (``cnnbench.report.provenance``).
- ``read_reliability``: one model's reliability diagram bins (the robustness stage's CSV).
- ``describe_run``: one line saying what a run used (images, epochs, recipe, machines).
- ``run_protocols``: which split the models validated on every epoch (``data.validation``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pandas as pd
import yaml

from cnnbench.data.dataset import SEED_PROTOCOL
from cnnbench.errors import DataError
from cnnbench.models import display_name
from cnnbench.report.provenance import machine_label, run_record

#: DVCLive's per-metric TSV files inside a training log folder.
HISTORY_METRICS = ("train/loss", "train/accuracy", "val/loss", "val/accuracy", "time/epoch_s")


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
    held = (f"{data['validation']['count']:,} validation / " if "validation" in data else "")
    return (f"{data['train']['count']:,} train / {held}{data['test']['count']:,} test images "
            f"({data.get('source', {}).get('name', 'unknown source')}), "
            f"{epoch_text} epoch{'' if epoch_text == '1' else 's'}, "
            f"{'/'.join(sorted(recipes))} recipe; {where}")


def run_protocols(models: list[str], logs_dir: str | os.PathLike) -> list[str]:
    """The protocols the models' training logs name (``protocol``, the seed's when absent),
    each once, in model order."""
    found = [str(load_train_params(logs_dir, m).get("protocol", SEED_PROTOCOL))
             for m in models]
    return list(dict.fromkeys(found))


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
    model, seed, experiment, protocol, its ``repeat`` record (``provenance``) and the
    flattened metrics. Empty if there are none."""
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
                         "protocol": repeat["protocol"], "provenance": repeat,
                         "file": str(path),
                         "machine": machine_label(repeat["machine"])
                         if repeat.get("machine") else None})
    return pd.DataFrame(rows, columns=None if rows else ["model", "seed", "protocol"])


def main_runs(models: list[str], logs_dir: str | os.PathLike,
              data_metrics: str | os.PathLike) -> dict[str, tuple[int, dict]]:
    """Each model's (seed, ``provenance.run_record``) of the main run, from its training log."""
    data = _read_json(Path(data_metrics))["data"]
    result = {}
    for model in models:
        params = load_train_params(logs_dir, model)
        result[model] = (params.get("seed"), run_record(params, data))
    return result
