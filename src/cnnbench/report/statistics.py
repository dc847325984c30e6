"""Statistics over runs: a model's test accuracy over seeds, and where one more run would land.

- ``one_more_run``: the prediction interval for one more run from n runs, and the p of a
  single run against it (also the noise verdict of a single run, ``cnnbench.report.noise``).
- ``one_run_range``: that interval as (low, high).
- ``over_seeds``: the main run plus the seed repeats of its protocol (``cnnbench.review.repeats``),
  as mean, sample std, one-more-run range and the machines each seed ran on.
"""

from __future__ import annotations

import math

import pandas as pd
from scipy import stats

from cnnbench.report.provenance import apart
from cnnbench.report.provenance import left_out as provenance_left_out


def _machines_text(machines: dict) -> str:
    """``seed 0 on A; seeds 1, 2 on B`` when the runs span more than one machine, else ''."""
    groups: dict[str, list] = {}
    for seed in sorted(machines):
        groups.setdefault(machines[seed] or "a machine not recorded", []).append(seed)
    if len(groups) < 2:
        return ""
    return "; ".join(f"seed{'s' if len(seeds) > 1 else ''} {', '.join(map(str, seeds))} on {m}"
                     for m, seeds in groups.items())


def half_width(result, level: float) -> float:
    """Half the width of a scipy t test ``result``'s ``level`` confidence interval."""
    low, high = result.confidence_interval(level)
    return float(high - low) / 2


def one_more_run(values, single: float, level: float = 0.95) -> tuple[float, float]:
    """Where one more run would land, from the n >= 2 runs in ``values`` (with nonzero
    spread), and whether ``single`` lands there: (half-width, p). The ``level`` prediction
    interval of Student's t, mean ± t(n − 1) · s · √(1 + 1/n), assuming a normal spread, is
    the interval of Student's two-sample t test with ``single`` as a sample of one; p is
    that test's two-sided p.
    """
    result = stats.ttest_ind([single], values)
    return half_width(result, level), float(result.pvalue)


def one_run_range(values, level: float = 0.95) -> tuple[float, float]:
    """``one_more_run``'s interval as (low, high); (mean, mean) for identical runs, (NaN, NaN)
    for fewer than two. It answers whether a single published run (the seed report's) is
    within our run-to-run noise; it is much wider than the spread of the mean for few runs.
    """
    values = pd.Series(values, dtype="float64").dropna()
    if len(values) < 2:
        return math.nan, math.nan
    mean = float(values.mean())
    half = one_more_run(values, mean, level)[0] if values.nunique() > 1 else 0.0
    return mean - half, mean + half


def over_seeds(metrics: pd.DataFrame, repeats: pd.DataFrame,
               protocols: dict[str, tuple[int, dict]],
               main_machines: dict[str, str] | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Test accuracy over seeds: the main run plus the repeats that are its noise
    (``protocols``: each model's seed and ``provenance.run_record``; ``provenance.apart``).

    Returns a table indexed by model (``seeds``, ``n``, ``test.accuracy.mean``,
    ``test.accuracy.std`` (sample std, NaN for one run), ``test.accuracy.one_run_low`` and
    ``..._high`` (``one_run_range``: where one more run would land, 95 %),
    ``test.loss.mean``, ``test.accuracy.runs``: seed -> test accuracy of every run counted,
    and ``machines``: which seeds ran where, when a model's runs span more than one machine
    (``main_machines`` labels the main runs), else '') and one line per repeat left out,
    saying why (``provenance.left_out``).
    """
    rows, left_out = {}, []
    for model in metrics.index:
        seed, protocol = protocols[model]
        accuracy = {seed: metrics.loc[model, "test.accuracy"]}
        loss = {seed: metrics.loc[model, "test.loss"]}
        machines = {seed: (main_machines or {}).get(model)}
        mine = repeats[repeats["model"] == model] if len(repeats) else repeats
        reasons = []
        for _, repeat in mine.iterrows():
            if why := apart(protocol, repeat["provenance"]):
                reasons.append(why)
            elif repeat["seed"] in accuracy:
                left_out.append(f"{repeat['file']}: seed {repeat['seed']} is already counted")
            else:
                accuracy[repeat["seed"]] = repeat["test.accuracy"]
                loss[repeat["seed"]] = repeat["test.loss"]
                machine = repeat.get("machine")
                machines[repeat["seed"]] = machine if isinstance(machine, str) else None
        left_out += provenance_left_out(model, reasons)
        values = pd.Series(accuracy, dtype="float64")
        low, high = one_run_range(values)
        rows[model] = {"seeds": " ".join(str(s) for s in sorted(accuracy)), "n": len(values),
                       "test.accuracy.mean": values.mean(),
                       "test.accuracy.std": values.std(ddof=1) if len(values) > 1 else math.nan,
                       "test.accuracy.one_run_low": low, "test.accuracy.one_run_high": high,
                       "test.loss.mean": pd.Series(loss, dtype="float64").mean(),
                       "test.accuracy.runs": dict(sorted(accuracy.items())),
                       "machines": _machines_text(machines)}
    return pd.DataFrame.from_dict(rows, orient="index"), left_out
