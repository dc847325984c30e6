"""DVC experiments side by side in a terminal: one row each, one column per model.

    cnnbench experiments [--metric test.accuracy]

``dvc exp show`` puts every metric of every model file in its own column, named
``<metrics file>:<metric>`` once several models share it, so five models take
hundreds of columns even with ``--only-changed``. This reads ``dvc exp show --json`` and
prints, for the workspace, each baseline commit and its experiments: the name, the params
that differ between the rows, and one metric (default: test accuracy) per model in the
order of params.yaml's ``models``, within 120 columns.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import yaml
from tabulate import tabulate

from cnnbench import runner
from cnnbench.errors import CnnbenchError
from cnnbench.models import display_name
from cnnbench.review.paths import pipeline_paths

WIDTH = 120
LABEL = 40  # longer experiment names end in an ellipsis


def dvc_experiments() -> list[dict]:
    """``dvc exp show --json`` of the current directory's project."""
    result = subprocess.run([sys.executable, "-m", "dvc", "exp", "show", "--json"],
                            capture_output=True, text=True)
    if result.returncode != 0:
        lines = (result.stderr or result.stdout).strip().splitlines()
        raise CnnbenchError(f"dvc exp show failed: {lines[-1] if lines else 'no output'}")
    return json.loads(result.stdout or "[]")


def _label(entry: dict) -> str:
    """An experiment's or branch's name, else ``workspace`` or a short commit."""
    rev = entry["rev"]
    return entry.get("name") or (rev if rev == "workspace" else rev[:7])


def rows(shown: list[dict]) -> list[tuple[str, dict]]:
    """``(label, data)`` of the workspace, each baseline and its experiments, in order."""
    found = []
    for baseline in shown:
        if baseline.get("data"):
            found.append((_label(baseline), baseline["data"]))
        for exp in baseline.get("experiments") or []:
            for rev in exp.get("revs") or []:
                if rev.get("data"):
                    found.append((f"└ {_label(rev)}", rev["data"]))
    return found


def _flat(data: dict, kind: str) -> dict:
    """One row's params or metrics as ``{file: {dotted.key: value}}``."""
    return {path: pd.json_normalize(entry.get("data") or {}, sep=".").iloc[0].to_dict()
            for path, entry in (data.get(kind) or {}).items()}


def table(shown: list[dict], models: list[str], metric: str, metrics_dir: str,
          width: int = WIDTH) -> str:
    """The experiments as a plain-text table at most ``width`` columns wide; each model's
    metrics are ``<metrics_dir>/<model>.json``."""
    found = rows(shown)
    params = [{k: v for f in _flat(d, "params").values() for k, v in f.items()}
              for _, d in found]
    keys = sorted({k for p in params for k in p})
    changed = [k for k in keys if len({json.dumps(p.get(k), default=str) for p in params}) > 1]
    body = []
    for (label, data), values in zip(found, params):
        metrics = _flat(data, "metrics")
        cells = [metrics.get(f"{metrics_dir}/{m}.json", {}).get(metric) for m in models]
        label = label if len(label) <= LABEL else label[:LABEL - 1] + "…"
        body.append([label, *[f"{c:.4f}" if isinstance(c, (int, float)) else "–"
                                   for c in cells],
                     " ".join(f"{k}={values.get(k)}" for k in changed)])
    headers = ["experiment", *[display_name(m) for m in models], "changed params"]
    fixed = (max(len(row[0]) for row in body) + 2
             + sum(max(len(h), 6) + 2 for h in headers[1:-1]))
    text = tabulate(body, headers=headers, tablefmt="simple", disable_numparse=True,
                    maxcolwidths=[None] * (len(headers) - 1) + [max(width - fixed, 20)])
    return f"{metric} per model; params that differ between the rows\n\n{text}"


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, params=True, prog="cnnbench experiments")
    parser.add_argument("--metric", default="test.accuracy",
                        help="key of the models' metrics to show (default: %(default)s)")
    args = parser.parse_args(argv)
    with open(args.params) as fh:
        models = list((yaml.safe_load(fh) or {}).get("models") or {})
    print(table(dvc_experiments(), models, args.metric, pipeline_paths()["metrics"]))

