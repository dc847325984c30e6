"""Seed repeats: the main line's protocol rerun with other seeds, as DVC experiments.

A single training run is noise. Queue the same params with other ``train.seed`` values,
let DVC run them, then collect each experiment's per-model metrics into committed files
that the summarise stage turns into mean ± std:

    dvc exp run --queue -S train.seed=1 -n seed1      # every model, or name stages:
    dvc exp run --queue -S train.seed=2 -n seed2 evaluate@lenet5 evaluate@inception10
    dvc queue start
    cnnbench repeats --out metrics/repeats seed1 seed2   # or every experiment

For each experiment and model, ``collect`` reads through DVC's API (``dvc.api.read`` at
the experiment's revision) the metrics (``metrics/<model>.json``), the training log's
params (``plots/train/<model>/params.yaml``, what the model was really trained with) and
the data statistics (``reports/data.json``, or ``metrics/data.json`` in experiments run
before it moved). It keeps a model only if the experiment retrained it with a seed other
than the main run's, and its metrics come from that training (the log's last training
loss is the one in the metrics), and writes ``<out>/seed<N>/<model>.json``: the
experiment's metrics plus ``repeat`` (experiment name, seed, ``protocol``, a digest of
every training param but the seed and of the data's checksum and counts, and ``machine``,
what the training log says it ran on; the summary names the machines where a model's runs
differ). Anything else is skipped with a line saying why.

The summarise stage compares each repeat's ``protocol`` with the main run's and averages
only those that match, so a repeat of another protocol can never pass for one of this.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
from pathlib import Path

import yaml

from cnnbench.cli import run_stage
from cnnbench.errors import CnnbenchError, DataError
from cnnbench.config import TrainParams
from cnnbench.files import atomic_path

#: Training params that do not change what is trained: how many steps go to the compiled
#: function and XLA only change speed (and precision is *not* among these).
SPEED_ONLY = ("steps_per_execution", "jit_compile")
# The prepare stage's data summary in a revision: where dvc.yaml puts it, then where it was.
DATA_SUMMARY, OLD_DATA_SUMMARY = "reports/data.json", "metrics/data.json"


def protocol_digest(train_params: dict, data: dict) -> str:
    """A short digest of what a run trained: every ``TrainParams`` field except the seed
    and speed-only knobs, and the data source's checksum and split sizes.

    ``train_params`` is a training log's ``params.yaml`` (extra keys such as ``machine``
    are ignored); ``data`` is the ``data`` section of ``metrics/data.json``.
    """
    fields = [f for f in TrainParams.__dataclass_fields__ if f not in ("seed", *SPEED_ONLY)]
    key = {
        "train": {f: train_params.get(f, getattr(TrainParams, f, None)) for f in fields},
        "data": {"sha256": (data.get("source") or {}).get("sha256"),
                 "train": data.get("train", {}).get("count"),
                 "test": data.get("test", {}).get("count")},
    }
    text = json.dumps(key, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def _read(path: str, rev: str | None, repo: str | None, parse):
    import dvc.api

    try:
        return parse(dvc.api.read(path, repo=repo, rev=rev))
    except Exception as err:  # DVC raises many kinds: missing file, unknown rev, ...
        where = f"experiment {rev!r}" if rev else "the workspace"
        raise DataError(f"{path} in {where}: cannot read ({type(err).__name__}: {err})"
                        ) from None


def _read_data_summary(rev: str, repo: str | None) -> dict:
    """The prepare stage's data summary at ``rev``, where it was before the move if needed."""
    try:
        return _read(DATA_SUMMARY, rev, repo, json.loads)["data"]
    except DataError:
        return _read(OLD_DATA_SUMMARY, rev, repo, json.loads)["data"]


def experiment_names(repo: str | None = None) -> list[str]:
    """Names of the experiments derived from HEAD (``dvc exp list --name-only``)."""
    from dvc.repo import Repo

    with Repo(repo) as dvc_repo:
        listed = dvc_repo.experiments.ls()
    return [name for exps in listed.values() for name, _rev in exps]


def collect(experiments: list[str], models: list[str], out: str | os.PathLike,
            repo: str | None = None, log=print) -> list[Path]:
    """Write ``out/seed<N>/<model>.json`` for every seed repeat found; return the paths."""
    main_seeds = {}
    for model in models:
        try:
            main_log = _read(f"plots/train/{model}/params.yaml", None, repo, yaml.safe_load)
        except DataError:
            log(f"{model}: no main run in the workspace to repeat; skipped")
            continue
        main_seeds[model] = main_log.get("seed")
    models = list(main_seeds)
    written = []
    for name in experiments:
        data = _read_data_summary(name, repo)
        for model in models:
            try:
                params = _read(f"plots/train/{model}/params.yaml", name, repo, yaml.safe_load)
                metrics = _read(f"metrics/{model}.json", name, repo, json.loads)
                log_summary = _read(f"plots/train/{model}/metrics.json", name, repo, json.loads)
            except DataError as err:
                log(f"{name}: {model} skipped: {err}")
                continue
            seed = params.get("seed")
            if seed == main_seeds[model]:
                log(f"{name}: {model} skipped: trained with the main run's seed {seed} "
                    "(not retrained in this experiment?)")
                continue
            if not math.isclose(metrics["train"]["loss"], log_summary["train"]["loss"],
                                rel_tol=0, abs_tol=1e-6):
                log(f"{name}: {model} skipped: its metrics do not come from its training "
                    f"log (run evaluate@{model} in the experiment too)")
                continue
            record = {**metrics, "repeat": {"experiment": name, "seed": seed,
                                            "protocol": protocol_digest(params, data),
                                            "machine": params.get("machine")}}
            path = Path(out) / f"seed{seed}" / f"{model}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(record, indent=2) + "\n")
            log(f"{name}: {model} seed {seed}: test accuracy "
                f"{metrics['test']['accuracy']:.4f} -> {path}")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="cnnbench repeats", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("experiments", nargs="*",
                        help="experiment names or revisions (default: every experiment "
                        "of HEAD, as `dvc exp list` shows them)")
    parser.add_argument("--out", required=True,
                        help="folder to write seed<N>/<model>.json to (the pipeline reads "
                        "metrics/repeats)")
    parser.add_argument("--params", default="params.yaml",
                        help="params file; its `models` are collected (default: %(default)s)")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params

    models = list(load_params(args.params).models)
    names = args.experiments or experiment_names()
    if not names:
        raise CnnbenchError("no experiments to collect: queue some first, e.g. "
                            "`dvc exp run --queue -S train.seed=1 -n seed1 && dvc queue start`")
    written = collect(names, models, args.out)
    print(f"repeats: {len(written)} model run(s) from {len(names)} experiment(s) in {args.out}")
    if not written:
        raise CnnbenchError("no seed repeat found in " + ", ".join(names))


if __name__ == "__main__":
    raise SystemExit(run_stage(main))
