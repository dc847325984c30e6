"""The runs behind one side of a comparison: each model's main run and its seed repeats.

A side is the working tree (``rev`` None) or a commit, read from git without checkout.
A model's repeats count as its noise when ``provenance.apart`` finds them like its main run.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import PurePosixPath

import yaml

from cnnbench.report.noise import Verdict, compare_runs
from cnnbench.report.provenance import apart, run_record
from cnnbench.review.project import files, read

#: Metrics measured in time: compared only between runs of one machine (``verdict``).
TIMINGS = ("time.epoch_mean_s", "throughput.infer_img_s", "throughput.train_img_s",
           "time.train_s")


def _parse(data: bytes | None, parse):
    """``data`` parsed; None when absent or unusable."""
    if data is None:
        return None
    try:
        return parse(data)
    except (ValueError, yaml.YAMLError):
        return None


def get(record, dotted: str):
    """``record["a"]["b"]`` for ``"a.b"``; None when any part is missing."""
    for key in dotted.split("."):
        if not isinstance(record, dict):
            return None
        record = record.get(key)
    return record


@dataclass
class ModelRuns:
    """One model's main run (metrics, seed, machine, ``provenance.run_record``) on one side,
    its repeats that are noise, and ``provenance.apart`` of those that are not."""

    metrics: dict | None
    seed: object = None
    machine: dict | None = None
    run: dict | None = None
    repeats: list[dict] = field(default_factory=list)
    left_out: list[tuple[str, str]] = field(default_factory=list)

    def values(self, key: str, same_machine: bool = False) -> dict:
        """seed -> value of ``key``, the main run's first; with ``same_machine``, only
        repeats trained on the main run's machine. Empty when the main run lacks it."""
        main = get(self.metrics, key)
        if not isinstance(main, (int, float)):
            return {}
        values = {self.seed: float(main)}
        for record in self.repeats:
            value = get(record, key)
            if same_machine and (record.get("repeat") or {}).get("machine") != self.machine:
                continue
            if isinstance(value, (int, float)):
                values[record["repeat"]["seed"]] = float(value)
        return values


def side_runs(rev: str | None, models: list[str], paths: dict[str, str]
              ) -> dict[str, ModelRuns]:
    """Each model's ``ModelRuns`` at commit ``rev`` (None: the working tree)."""
    summary = _parse(read(rev, paths["data_summary"]), json.loads)
    data = summary.get("data") if isinstance(summary, dict) else None
    listed = files(rev, paths["repeats"])
    result = {}
    for model in models:
        runs = ModelRuns(_parse(read(rev, f"{paths['metrics']}/{model}.json"), json.loads))
        log = _parse(read(rev, f"{paths['logs']}/{model}/params.yaml"), yaml.safe_load)
        if isinstance(log, dict):
            runs.seed, runs.machine = log.get("seed"), log.get("machine")
            if isinstance(data, dict):
                runs.run = run_record(log, data)
        seeds = {runs.seed}
        for path in listed:
            parts = PurePosixPath(path).parts
            if parts[-1] != f"{model}.json" or not parts[-2].startswith("seed"):
                continue
            record = _parse(read(rev, path), json.loads)
            repeat = record.get("repeat") if isinstance(record, dict) else None
            if not isinstance(repeat, dict) or "seed" not in repeat or runs.run is None:
                continue
            if why := apart(runs.run, repeat):
                runs.left_out.append(why)
            elif repeat["seed"] not in seeds:
                seeds.add(repeat["seed"])
                runs.repeats.append(record)
        result[model] = runs
    return result


def verdict(base: ModelRuns, new: ModelRuns, key: str) -> Verdict | None:
    """Whether ``key`` moved beyond run-to-run noise from ``base`` to ``new``; None when
    either main run lacks it. Timings judge only runs of one machine with repeats there."""
    old_value, new_value = get(base.metrics, key), get(new.metrics, key)
    if not all(isinstance(v, (int, float)) for v in (old_value, new_value)):
        return None
    timed = key in TIMINGS
    old_runs = base.values(key, same_machine=timed)
    new_runs = new.values(key, same_machine=timed)
    if timed and (base.machine != new.machine or len(old_runs) < 2 or len(new_runs) < 2):
        old_runs, new_runs = old_value, new_value
    return compare_runs(old_runs, new_runs, base_value=old_value, new_value=new_value)
