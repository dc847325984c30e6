"""Stage `evaluate@<model>`: score a trained model on the test split.

Writes the model's metrics JSON (parameter counts, train and test loss and accuracy,
training time, throughput) and, through DVCLive, its confusion matrix and per-class
accuracy as DVC plots. With `evaluate.tta_flip`, the test scores are those of flip
test-time augmentation. With `--robustness`, the robustness stage's scores (robustness
and calibration) join the metrics. Example:

    python stages/evaluate.py lenet5 --model models/lenet5.keras \\
        --data data/prepared/cifar10.npz --train-log plots/train/lenet5/metrics.json \\
        --metrics metrics/lenet5.json --plots-dir plots/eval/lenet5 \\
        --robustness plots/robustness/lenet5.json
"""

from cnnbench import runner


def main(argv=None):
    parser = runner.parser(__doc__)
    runner.add_model_arguments(parser)
    parser.add_argument("--train-log", required=True,
                        help="metrics.json summary that the train stage's DVCLive wrote")
    parser.add_argument("--metrics", required=True, help="metrics JSON file to write")
    parser.add_argument("--plots-dir", required=True, help="folder of DVC plot data to write")
    parser.add_argument("--robustness", default=None,
                        help="JSON written by the robustness stage, merged into the metrics")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params

    params = load_params(args.params)
    params.train_for(args.model)  # the model must be one the params list

    from cnnbench.evaluate import evaluate, read_scores

    scores = read_scores(args.robustness) if args.robustness else None
    metrics = evaluate(args.model, args.model_file, args.data, args.train_log, args.metrics,
                       args.plots_dir, params.evaluate.batch_size, params.evaluate.tta_flip,
                       architecture=params.architectures[args.model], extra=scores)
    print(f"evaluate {args.model}: test accuracy {metrics['test']['accuracy']:.4f}, "
          f"loss {metrics['test']['loss']:.4f} -> {args.metrics}")


if __name__ == "__main__":
    raise SystemExit(runner.run_stage(main))
