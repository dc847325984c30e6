"""Stage `robustness@<model>`: a trained model's accuracy on the corrupted test images and
its calibration on the clean test split.

Writes a JSON of `robustness.*` and `calibration.*` numbers, which the evaluate stage
merges into the model's metrics, and the reliability diagram's data (a CSV per confidence
bin) for `dvc plots` and the plot stage (docs/guide/robustness.md). Example:

    python stages/robustness.py lenet5 --model models/lenet5.keras \\
        --data data/prepared/cifar10.npz --corrupted data/corrupted/cifar10-c.npz \\
        --out plots/robustness/lenet5.json \\
        --reliability plots/robustness/lenet5_reliability.csv
"""

from cnnbench import runner


def main(argv=None):
    parser = runner.parser(__doc__)
    runner.add_model_arguments(parser)
    parser.add_argument("--corrupted", required=True,
                        help=".npz written by the corrupt stage")
    parser.add_argument("--out", required=True, help="JSON of the scores to write")
    parser.add_argument("--reliability", required=True,
                        help="CSV of the reliability diagram to write")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params

    params = load_params(args.params)
    params.train_for(args.model)  # the model must be one the params list

    from cnnbench.robustness import score

    result = score(args.model, args.model_file, args.data, args.corrupted, args.out,
                   args.reliability, params.evaluate.batch_size,
                   architecture=params.architectures[args.model])
    print(f"robustness {args.model}: mean corruption accuracy "
          f"{result['robustness']['mean_corruption_accuracy']:.4f}, ECE "
          f"{result['calibration']['ece']:.4f} -> {args.out}")


if __name__ == "__main__":
    raise SystemExit(runner.run_stage(main))
