"""Stage `summarise`: the seed report's three tables, regenerated, beside the seed's numbers.

Writes a Markdown summary (Tables 1-3, sizes and throughput, the ranking line), a
per-model CSV and a per-epoch CSV. Example:

    python stages/summarise.py --metrics-dir metrics --logs-dir plots/train \\
        --data-metrics reports/data.json --reference reference/seed_report.yaml \\
        --out-md reports/summary.md --out-csv reports/summary.csv \\
        --out-epochs reports/epoch_times.csv --repeats-dir metrics/repeats
"""

from cnnbench import runner


def main(argv=None):
    parser = runner.parser(__doc__)
    runner.add_run_arguments(parser)
    parser.add_argument("--repeats-dir", help="folder of seed<N>/<model>.json seed repeats "
                        "(cnnbench repeats); may be missing or empty")
    parser.add_argument("--out-md", required=True, help="Markdown summary to write")
    parser.add_argument("--out-csv", required=True, help="per-model CSV table to write")
    parser.add_argument("--out-epochs", required=True, help="per-epoch times CSV to write")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params
    from cnnbench.report.summary import ranking, summarise

    models = list(load_params(args.params).models)
    table = summarise(models, args.metrics_dir, args.logs_dir, args.data_metrics,
                      args.reference, args.out_md, args.out_csv, args.out_epochs,
                      args.repeats_dir)
    print(f"summarise: {ranking(table['test.accuracy'])} -> {args.out_md}")


if __name__ == "__main__":
    raise SystemExit(runner.run_stage(main))
