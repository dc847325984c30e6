"""Stage `corrupt`: CIFAR-10-C-style corrupted copies of a subset of the test split.

Takes a seeded, stratified subset of `robustness.images` test images and writes each
under every corruption (`robustness.corruptions`) at severities 1 to
`robustness.max_severity`, with CIFAR-10-C's constants, into one .npz that every
model's robustness stage scores (docs/guide/robustness.md). Example:

    python stages/corrupt.py --data data/prepared/cifar10.npz \\
        --out data/corrupted/cifar10-c.npz
"""

from cnnbench import runner


def main(argv=None):
    parser = runner.parser(__doc__)
    parser.add_argument("--data", required=True, help=".npz written by the prepare stage")
    parser.add_argument("--out", required=True, help=".npz of corrupted images to write")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params
    from cnnbench.data.corrupt import CORRUPTIONS, build_corrupted

    params = load_params(args.params).robustness
    built = build_corrupted(args.data, args.out, params.images, params.seed,
                            params.chosen or CORRUPTIONS, params.severities)
    print(f"corrupt: {built['images']} images x {built['corruptions']} corruptions x "
          f"{built['severities']} severities -> {args.out}")


if __name__ == "__main__":
    raise SystemExit(runner.run_stage(main))
