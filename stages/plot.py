"""Stage `plot`: SciencePlots figures of the run, per model and across models.

Reads every model's metrics and DVCLive training log, and the seed report's numbers, and
writes PNG (and SVG) figures into a fresh folder. Example:

    python stages/plot.py --metrics-dir metrics --logs-dir plots/train \\
        --data-metrics reports/data.json --reference reference/seed_report.yaml \\
        --out plots/figures
"""

import argparse

from cnnbench.cli import add_run_arguments, run_stage


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_run_arguments(parser)
    parser.add_argument("--out", required=True, help="folder of figures to write")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params
    from cnnbench.figures import plot_all

    models = list(load_params(args.params).models)
    written = plot_all(models, args.metrics_dir, args.logs_dir, args.data_metrics,
                       args.reference, args.out)
    print(f"plot: {len(written)} files -> {args.out}")


if __name__ == "__main__":
    raise SystemExit(run_stage(main))
