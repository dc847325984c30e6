"""Stage `prepare`: decode the fetched source into one compact .npz and a data summary.

Writes uint8 NHWC images, int32 labels and class names for train and test, taking a
seeded, stratified subset when `data.train_limit` / `data.test_limit` are set and holding
`data.validation` training images out for per-epoch validation when it is above 0, and a
JSON of counts per split and class and per-channel mean and std (an output, not a
DVC metric, so `dvc metrics diff` lists only the models' metrics). Example:

    python stages/prepare.py --raw data/raw --out data/prepared/cifar10.npz \\
        --summary reports/data.json
"""

from cnnbench import runner


def main(argv=None):
    parser = runner.parser(__doc__)
    parser.add_argument("--raw", required=True, help="folder written by the fetch stage")
    parser.add_argument("--out", required=True, help=".npz file to write")
    parser.add_argument("--summary", required=True,
                        help="JSON file of data statistics to write")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params
    from cnnbench.data.prepare import prepare

    data = load_params(args.params).data
    dataset = prepare(args.raw, args.out, args.summary, train_limit=data.train_limit,
                      test_limit=data.test_limit, seed=data.seed, resize=data.resize,
                      validation=data.validation)
    held = "" if dataset.validation is None else f", {len(dataset.validation.y)} validation"
    print(f"prepare: {len(dataset.train.y)} train{held} and {len(dataset.test.y)} test "
          f"images, {len(dataset.class_names)} classes -> {args.out}")


if __name__ == "__main__":
    raise SystemExit(runner.run_stage(main))
