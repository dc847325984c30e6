"""DVC experiments side by side in a terminal: one row each, one column per model.

    cnnbench experiments [--metric test.accuracy]

For the workspace, each baseline and its experiments (``dvc exp show``): one metric per
model (the first row's, then each row's change, marked against the first row's run-to-run
noise) and the params that differ, within 120 columns (docs/guide/review.md).
"""

from __future__ import annotations

import json
import textwrap

import pandas as pd
from tabulate import tabulate

from cnnbench import runner
from cnnbench.models import display_name
from cnnbench.report.noise import compare_runs, format_change
from cnnbench.report.provenance import left_out
from cnnbench.review.project import dvc, model_names, pipeline_paths
from cnnbench.review.runs import TIMINGS, ModelRuns, side_runs

WIDTH = 120
LABEL = 40  # longer experiment names end in an ellipsis


def _label(entry: dict) -> str:
    """An experiment's or branch's name, else ``workspace`` or a short commit."""
    rev = entry["rev"]
    return entry.get("name") or (rev if rev == "workspace" else rev[:7])


def rows(shown: list[dict]) -> list[tuple[str, str, dict]]:
    """``(label, rev, data)`` of the workspace, each baseline and its experiments, in order."""
    found = []
    for baseline in shown:
        if baseline.get("data"):
            found.append((_label(baseline), baseline["rev"], baseline["data"]))
        for exp in baseline.get("experiments") or []:
            found += [(f"└ {_label(rev)}", rev["rev"], rev["data"])
                      for rev in exp.get("revs") or [] if rev.get("data")]
    return found


def first_revision(shown: list[dict]) -> str | None:
    """The first row's revision: ``workspace`` or a commit; None if no row."""
    found = rows(shown)
    return found[0][1] if found else None


def _flat(data: dict, kind: str) -> dict:
    """One row's params or metrics as ``{file: {dotted.key: value}}``."""
    return {path: pd.json_normalize(entry.get("data") or {}, sep=".").iloc[0].to_dict()
            for path, entry in (data.get(kind) or {}).items()}


def _noise(metric: str, runs: ModelRuns | None) -> dict | None:
    """The first row's runs of ``metric`` per seed when at least two (timings never: a row
    does not say which machine it ran on)."""
    if runs is None or metric in TIMINGS:
        return None
    values = runs.values(metric)
    return values if len(values) >= 2 else None


def _change(value, first, noise: dict | None) -> tuple[str, float | None]:
    """A row's cell against the first row's value, and the noise band when judged."""
    if not isinstance(value, (int, float)) or not isinstance(first, (int, float)):
        return (f"{value:.4f}" if isinstance(value, (int, float)) else "–"), None
    judged = compare_runs(noise if noise else first, value, base_value=first,
                          new_value=value)
    if judged.beyond is None:
        return format_change(value - first, judged), None
    if judged.beyond:  # its band is listed once under the table
        return f"{round(value - first, 4) or 0.0:+.4f}", judged.band
    return format_change(value - first, judged), judged.band


def table(shown: list[dict], models: list[str], metric: str, metrics_dir: str,
          width: int = WIDTH, noise: dict[str, ModelRuns] | None = None) -> str:
    """The experiments as a plain-text table at most ``width`` columns wide; ``noise``: the
    first row's ``ModelRuns`` per model, whose repeats judge the other rows' changes."""
    found = rows(shown)
    params = [{k: v for f in _flat(d, "params").values() for k, v in f.items()}
              for _, _, d in found]
    keys = sorted({k for p in params for k in p})
    changed = [k for k in keys if len({json.dumps(p.get(k), default=str) for p in params}) > 1]
    models_noise = {m: _noise(metric, (noise or {}).get(m)) for m in models}
    body, first, bands = [], None, {}
    for (label, _, data), values in zip(found, params):
        metrics = _flat(data, "metrics")
        cells = [metrics.get(f"{metrics_dir}/{m}.json", {}).get(metric) for m in models]
        olds, first = first or [None] * len(models), first or cells  # the first row: values
        judged = [_change(v, old, models_noise[m]) for m, v, old in zip(models, cells, olds)]
        bands.update({m: band for m, (_, band) in zip(models, judged) if band is not None})
        label = label if len(label) <= LABEL else label[:LABEL - 1] + "…"
        body.append([label, *[cell for cell, _ in judged],
                     " ".join(f"{k}={values.get(k)}" for k in changed)])
    headers = ["experiment", *[display_name(m) for m in models], "changed params"]
    fixed = (max(len(row[0]) for row in body) + 2
             + sum(max(len(h), 6) + 2 for h in headers[1:-1]))
    text = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True,
                    maxcolwidths=[None] * (len(headers) - 1) + [max(width - fixed, 20)])
    lines = [f"{metric} per model: the first row's, then each row's change against it; "
             "params that differ between the rows", "", text]
    if len(body) > 1:
        apart = {m: runs.left_out for m, runs in (noise or {}).items()}
        lines += ["", *_notes(found[0][0], models, models_noise, bands, width, apart)]
    return "\n".join(lines)


def _notes(first: str, models: list[str], noise: dict[str, dict | None],
           bands: dict[str, float], width: int, apart: dict[str, list]) -> list[str]:
    """Under the table: what ``~`` means, the noise bands, and the repeats not counted."""
    known = [m for m in models if noise[m]]
    unknown = [m for m in models if not noise[m]]
    notes = []
    if known:
        ranges = ", ".join(f"{display_name(m)} ±{bands[m]:.4f} ({len(noise[m])} runs)"
                           if m in bands else f"{display_name(m)} ({len(noise[m])} runs)"
                           for m in known)
        notes.append(f"~: within run-to-run noise, the 95 % range of one more run of {first}'s "
                     f"protocol from its seed repeats: {ranges}; a change outside it is beyond "
                     "noise.")
    if unknown:
        notes.append(f"noise unknown: {', '.join(display_name(m) for m in unknown)} (no seed "
                     f"repeats of {first}'s protocol; `cnnbench repeats` adds them).")
    notes += [f"not counted: {line}." for m in models for line in left_out(m, apart.get(m) or [])]
    return [line for note in notes for line in textwrap.wrap(note, width)]


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, params=True, prog="cnnbench experiments")
    parser.add_argument("--metric", default="test.accuracy",
                        help="key of the models' metrics to show (default: %(default)s)")
    args = parser.parse_args(argv)
    models = model_names(None, args.params)
    with dvc("exp show") as repo:  # as `dvc exp show --json`
        shown = json.loads(json.dumps([e.dumpd() for e in repo.experiments.show()], default=str))
    paths = pipeline_paths()
    rev = first_revision(shown)
    noise = side_runs(None if rev == "workspace" else rev, models, paths) if rev else None
    print(table(shown, models, args.metric, paths["metrics"], noise=noise))

