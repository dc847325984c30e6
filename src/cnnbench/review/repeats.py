"""Seed repeats: the main line's protocol rerun with other seeds, as DVC experiments.

    dvc exp run --queue -S train.seed=1 -n seed1      # every model, or name stages:
    dvc exp run --queue -S train.seed=2 -n seed2 evaluate@lenet5 evaluate@inception10
    dvc queue start
    cnnbench repeats seed1 seed2   # or every experiment

For each model an experiment retrained with another seed than the main run's (and
evaluated), writes ``<out>/seed<N>/<model>.json``: its metrics plus ``repeat``, the
experiment, the seed and what produced the run (``provenance.run_record``). Anything else
is skipped with a line saying why. docs/guide/review.md says which repeats count as noise.
"""

from __future__ import annotations

import json
import math
import os
from pathlib import Path

import yaml

from cnnbench import runner
from cnnbench.errors import CnnbenchError, DataError
from cnnbench.files import atomic_path
from cnnbench.report.provenance import run_record
from cnnbench.review.project import experiment_revs, pipeline_paths, read, resolve


def _read(path: str, rev: str | None, name: str | None, parse):
    """``path`` at commit ``rev`` of experiment ``name`` (None: the workspace), parsed."""
    where = f"experiment {name!r}" if name else "the workspace"
    data = read(rev, path)
    if data is None:
        raise DataError(f"{path} in {where}: not there")
    try:
        return parse(data)
    except (ValueError, yaml.YAMLError) as err:
        raise DataError(f"{path} in {where}: cannot read ({err})") from None


def collect(experiments: list[str], models: list[str], out: str | os.PathLike,
            paths: dict[str, str], log=print) -> list[Path]:
    """Write ``out/seed<N>/<model>.json`` for every seed repeat found; return the paths."""
    logs, metrics_dir = paths["logs"], paths["metrics"]
    main_logs = {}
    for model in models:
        try:
            main_logs[model] = _read(f"{logs}/{model}/params.yaml", None, None, yaml.safe_load)
        except DataError:
            log(f"{model}: no main run in the workspace to repeat; skipped")
    models = list(main_logs)
    written = []
    for name in experiments:
        rev = resolve(name, "experiment")
        data = _read(paths["data_summary"], rev, name, json.loads)["data"]
        for model in models:
            try:
                params = _read(f"{logs}/{model}/params.yaml", rev, name, yaml.safe_load)
                metrics = _read(f"{metrics_dir}/{model}.json", rev, name, json.loads)
                log_summary = _read(f"{logs}/{model}/metrics.json", rev, name, json.loads)
            except DataError as err:
                log(f"{name}: {model} skipped: {err}")
                continue
            seed, main_seed = params.get("seed"), main_logs[model].get("seed")
            if params == main_logs[model]:
                # the workspace holds this very run (`dvc exp run` without --queue, or
                # `dvc exp apply`): the main run is the last commit's
                committed = read("HEAD", f"{logs}/{model}/params.yaml")
                main_seed = (yaml.safe_load(committed) or {}).get("seed") if committed else None
            if seed == main_seed:
                log(f"{name}: {model} skipped: trained with the main run's seed {seed} "
                    "(not retrained in this experiment?)")
                continue
            if not math.isclose(metrics["train"]["loss"], log_summary["train"]["loss"],
                                rel_tol=0, abs_tol=1e-6):
                log(f"{name}: {model} skipped: its metrics do not come from its training "
                    f"log (run evaluate@{model} in the experiment too)")
                continue
            record = {**metrics, "repeat": {"experiment": name, "seed": seed,
                                            **run_record(params, data)}}
            path = Path(out) / f"seed{seed}" / f"{model}.json"
            path.parent.mkdir(parents=True, exist_ok=True)
            with atomic_path(path) as tmp:
                tmp.write_text(json.dumps(record, indent=2) + "\n")
            log(f"{name}: {model} seed {seed}: test accuracy "
                f"{metrics['test']['accuracy']:.4f} -> {path}")
            written.append(path)
    return written


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, params=True, prog="cnnbench repeats")
    parser.add_argument("experiments", nargs="*",
                        help="experiment names or revisions (default: every experiment "
                        "of HEAD, as `dvc exp list` shows them)")
    parser.add_argument("--out", default=None,
                        help="folder to write seed<N>/<model>.json to (default: the one "
                        "dvc.yaml's summarise stage reads, its var `repeats`)")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params

    models = list(load_params(args.params).models)
    names = args.experiments or list(experiment_revs())
    if not names:
        raise CnnbenchError("no experiments to collect: queue some first, e.g. "
                            "`dvc exp run --queue -S train.seed=1 -n seed1 && dvc queue start`")
    paths = pipeline_paths()
    out = args.out or paths["repeats"]
    written = collect(names, models, out, paths)
    print(f"repeats: {len(written)} model run(s) from {len(names)} experiment(s) in {out}")
    if not written:
        raise CnnbenchError("no seed repeat found in " + ", ".join(names))

