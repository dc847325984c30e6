"""DVC experiments side by side in a terminal: one row each, one column per model.

    cnnbench experiments [--metric test.accuracy]

For the workspace, each baseline and its experiments (``dvc exp show``): one metric per
model (the first row's, then each row's change, marked against the first row's run-to-run
noise) and the params that differ, within 120 columns (docs/guide/review.md).
"""

from __future__ import annotations

import json
import textwrap
from dataclasses import replace

import pandas as pd
from tabulate import tabulate

from cnnbench import runner
from cnnbench.models import display_name
from cnnbench.report.noise import compare_runs, format_change
from cnnbench.report.provenance import left_out
from cnnbench.review.project import dvc, model_names, pipeline_paths
from cnnbench.review.runs import TIMINGS, ModelRuns, get, side_runs

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


def _params(data: dict) -> dict:
    """One row's params as ``{dotted.key: value}``, every params file together."""
    flat = [pd.json_normalize(entry.get("data") or {}, sep=".").iloc[0].to_dict()
            for entry in (data.get("params") or {}).values()]
    return {key: value for params in flat for key, value in params.items()}


def _cell(value, first, seeds: dict) -> tuple[str, float | None]:
    """A row's cell: its change against the first row's value, judged by the first row's
    ``seeds`` (at least two: else noise unknown), and the noise band; else its value."""
    if not isinstance(value, (int, float)) or not isinstance(first, (int, float)):
        return (f"{value:.4f}" if isinstance(value, (int, float)) else "–"), None
    judged = compare_runs(seeds if len(seeds) >= 2 else first, value, base_value=first,
                          new_value=value)
    # beyond noise: the plain change, its band listed once under the table
    shown = replace(judged, beyond=None) if judged.beyond else judged
    return format_change(value - first, shown), judged.band


def table(shown: list[dict], models: list[str], metric: str, metrics_dir: str,
          width: int = WIDTH, noise: dict[str, ModelRuns] | None = None) -> str:
    """The experiments as a plain-text table at most ``width`` columns wide; ``noise``: the
    first row's ``ModelRuns`` per model, whose repeats judge the other rows' changes
    (timings never: a row does not say which machine it ran on)."""
    found = rows(shown)
    params = [_params(data) for _, _, data in found]
    changed = [k for k in sorted({k for p in params for k in p})
               if len({json.dumps(p.get(k), default=str) for p in params}) > 1]
    runs = {m: (noise or {}).get(m) or ModelRuns(None) for m in models}
    seeds = {m: {} if metric in TIMINGS else runs[m].values(metric) for m in models}
    values = [[get((data.get("metrics") or {}).get(f"{metrics_dir}/{m}.json"), f"data.{metric}")
               for m in models] for _, _, data in found]
    body, bands = [], {}
    for i, ((label, _, _), values_of, changes) in enumerate(zip(found, values, params)):
        cells = [_cell(v, values[0][j] if i else None, seeds[m])
                 for j, (m, v) in enumerate(zip(models, values_of))]
        bands.update({m: band for m, (_, band) in zip(models, cells) if band is not None})
        label = label if len(label) <= LABEL else label[:LABEL - 1] + "…"
        body.append([label, *[cell for cell, _ in cells],
                     " ".join(f"{k}={changes.get(k)}" for k in changed)])
    headers = ["experiment", *[display_name(m) for m in models], "changed params"]
    fixed = (max(len(row[0]) for row in body) + 2
             + sum(max(len(h), 6) + 2 for h in headers[1:-1]))
    text = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True,
                    maxcolwidths=[None] * (len(headers) - 1) + [max(width - fixed, 20)])
    lines = [f"{metric} per model: the first row's, then each row's change against it; "
             "params that differ between the rows", "", text]
    if len(body) > 1:
        lines += ["", *_notes(found[0][0], models, seeds, bands, width, runs)]
    return "\n".join(lines)


def _notes(first: str, models: list[str], seeds: dict[str, dict], bands: dict[str, float],
           width: int, runs: dict[str, ModelRuns]) -> list[str]:
    """Under the table: what ``~`` means, the noise bands, and the repeats not counted."""
    known = [m for m in models if len(seeds[m]) >= 2]
    unknown = [m for m in models if m not in known]
    notes = []
    if known:
        ranges = ", ".join(display_name(m) + (f" ±{bands[m]:.4f}" if m in bands else "")
                           + f" ({len(seeds[m])} runs)" for m in known)
        notes.append(f"~: within run-to-run noise, the 95 % range of one more run of {first}'s "
                     f"protocol from its seed repeats: {ranges}; a change outside it is beyond "
                     "noise.")
    if unknown:
        notes.append(f"noise unknown: {', '.join(display_name(m) for m in unknown)} (no seed "
                     f"repeats of {first}'s protocol; `cnnbench repeats` adds them).")
    notes += [f"not counted: {line}." for m in models for line in left_out(m, runs[m].left_out)]
    return [line for note in notes for line in textwrap.wrap(note, width)]


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, params=True, prog="cnnbench experiments")
    parser.add_argument("--metric", default="test.accuracy",
                        help="key of the models' metrics to show (default: %(default)s)")
    args = parser.parse_args(argv)
    models = model_names(None, args.params)
    with dvc("exp show") as repo:  # as `dvc exp show --json`
        shown = json.loads(json.dumps([e.dumpd() for e in repo.experiments.show()], default=str))
    paths, first = pipeline_paths(), rows(shown)[:1]  # the first row: workspace or a commit
    rev = first[0][1] if first else None
    noise = side_runs(None if rev == "workspace" else rev, models, paths) if rev else None
    print(table(shown, models, args.metric, paths["metrics"], noise=noise))

