"""How far apart honest runs of one model's protocol land: a measurement, not a test.

The seed report's Table 2 is one run per model. This script pools every recorded
full-data run of a model under the seed protocol on the same prepared data, whatever
produced it (the pipeline's main run and seed repeats, ``experiments/keras2_reference``,
the ``prepared`` runs of ``experiments/jpeg_cost``), and prints one JSON document: each
run, the mean and sample std, the 95 % range where one more run would land (the summary's
``one_run_range``: Student's t prediction interval), and where the seed's number falls.

    .venv/bin/python experiments/run_spread/run_spread.py alexnet8 metrics/alexnet8.json \\
        metrics/repeats/seed*/alexnet8.json \\
        experiments/keras2_reference/results/keras2-alexnet8-seed*.json \\
        experiments/jpeg_cost/results/jpeg-cost-alexnet8-h200-partial.json

Each file is one of: a pipeline metrics file (``test.accuracy``), a Keras 2 reference
result (``test_accuracy``), or a JPEG-cost report (its ``runs`` of this model on the
``prepared`` data; other variants are other data and are left out). A file without a run
of the model is a one-line error. A run found twice (same seed, accuracy and loss: the
same run reproduced, as the JPEG-cost script's ``prepared`` run reproduces a pipeline
run) counts once and is listed under ``counted_once``.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from cnnbench.report.results import load_reference, load_train_params, machine_label
from cnnbench.report.statistics import one_run_range

ROOT = Path(__file__).resolve().parents[2]


def runs_in(path: Path, model: str, logs_dir: Path) -> list[dict]:
    """The runs of ``model`` on the prepared data that the file records."""
    record = json.loads(path.read_text())
    if "runs" in record:  # experiments/jpeg_cost/jpeg_cost.py
        machine = record.get("machine", {})
        return [{"file": str(path), "seed": r["seed"], "test_accuracy": r["test_accuracy"],
                 "test_loss": r["test_loss"],
                 "how": "experiments/jpeg_cost/jpeg_cost.py, "
                        f"{machine.get('accelerator') or machine.get('cpu')}"}
                for r in record["runs"] if r["model"] == model and r["data"] == "prepared"]
    if record.get("model") != model:
        return []
    if "test_accuracy" in record:  # experiments/keras2_reference/keras2_reference.py
        return [{"file": str(path), "seed": record["seed"],
                 "test_accuracy": record["test_accuracy"], "test_loss": record["test_loss"],
                 "how": f"{record.get('framework', 'Keras 2')}, {record['machine']['cpu']}"}]
    repeat = record.get("repeat")
    if repeat:  # a seed repeat (cnnbench repeats)
        seed, machine = repeat["seed"], repeat.get("machine") or {}
    else:  # the main run: its training log says the seed and the machine
        params = load_train_params(logs_dir, model)
        seed, machine = params.get("seed"), params.get("machine") or {}
    return [{"file": str(path), "seed": seed, "test_accuracy": record["test"]["accuracy"],
             "test_loss": record["test"]["loss"],
             "how": "pipeline, " + machine_label(machine)}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", help="model name, as in params.yaml (alexnet8)")
    parser.add_argument("files", nargs="+", type=Path, help="result files (see above)")
    parser.add_argument("--logs-dir", type=Path, default=ROOT / "plots/train",
                        help="training logs, for the main run's seed and machine "
                             "(default: %(default)s)")
    parser.add_argument("--reference", type=Path, default=ROOT / "reference/seed_report.yaml",
                        help="the seed report's numbers (default: %(default)s)")
    args = parser.parse_args(argv)
    runs, repeated = [], []
    for path in args.files:
        try:
            found = runs_in(path, args.model, args.logs_dir)
        except (OSError, ValueError, KeyError) as err:
            parser.exit(2, f"error: {path}: not a result file this script reads ({err})\n")
        if not found:
            parser.exit(2, f"error: {path}: no run of {args.model} on the prepared data\n")
        for run in found:
            # The same seed on the same stack reproduces a run to the last digit: count once.
            same = next((r for r in runs if (r["seed"], r["test_accuracy"], r["test_loss"])
                         == (run["seed"], run["test_accuracy"], run["test_loss"])), None)
            if same:
                repeated.append({**run, "same_as": same["file"]})
            else:
                runs.append(run)
    values = [r["test_accuracy"] for r in runs]
    seed = load_reference(args.reference)["models"][args.model]["test"]["accuracy"]
    low, high = one_run_range(values)
    print(json.dumps({
        "model": args.model, "runs": runs, "n": len(values),
        "counted_once": repeated,
        "mean": round(statistics.mean(values), 4),
        "std": round(statistics.stdev(values), 4) if len(values) > 1 else None,
        "one_more_run_95": [round(low, 4), round(high, 4)],
        "seed_report": seed,
        "seed_report_in_range": bool(low <= seed <= high),
        "runs_at_or_above_seed_report": sum(v >= seed for v in values),
    }, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
