"""Stage `plot`: SciencePlots figures of the run, per model and across models.

Reads every model's metrics and DVCLive training log, and the seed report's numbers, and
writes PNG figures into a fresh folder, and the training curves of every model, one CSV
per curve, and the accuracy per corruption and model into another, for the charts of
`dvc plots`; with `--robustness-dir`, a reliability diagram per model. Example:

    python stages/plot.py --metrics-dir metrics --logs-dir plots/train \\
        --data-metrics reports/data.json --reference reference/seed_report.yaml \\
        --out plots/figures --curves-out plots/curves --robustness-dir plots/robustness
"""

from cnnbench import runner


def main(argv=None):
    parser = runner.parser(__doc__)
    runner.add_run_arguments(parser)
    parser.add_argument("--out", required=True, help="folder of figures to write")
    parser.add_argument("--curves-out", required=True,
                        help="folder of the training curves' data (CSV) for `dvc plots`")
    parser.add_argument("--robustness-dir", default=None,
                        help="folder of the robustness stages' <model>_reliability.csv")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params
    from cnnbench.report.figures import plot_all

    models = list(load_params(args.params).models)
    written = plot_all(models, args.metrics_dir, args.logs_dir, args.data_metrics,
                       args.reference, args.out, args.curves_out, args.robustness_dir)
    print(f"plot: {len(written)} files -> {args.out}")


if __name__ == "__main__":
    raise SystemExit(runner.run_stage(main))
