"""Stage `train@<model>`: train one model with its params and log every epoch.

The params are `train` in params.yaml, then the recipe `train.recipe` names (an entry of
`recipes`), then the model's overrides under `models.<model>`, whose `architecture`
names the network's file.
Keras shows progress; DVCLive writes per-epoch loss, accuracy and wall time. After every
epoch a checkpoint is saved; if the run is killed, running it again resumes from the last
finished epoch. Example:

    python stages/train.py lenet5 --data data/prepared/cifar10.npz \\
        --model-out models/lenet5.keras --log-dir plots/train/lenet5 \\
        --checkpoint-dir checkpoints/lenet5
"""

from cnnbench import runner


def main(argv=None):
    parser = runner.parser(__doc__)
    parser.add_argument("model", help="entry of models in the params, e.g. resnet18")
    parser.add_argument("--data", required=True, help=".npz written by the prepare stage")
    parser.add_argument("--model-out", required=True, help=".keras file to write")
    parser.add_argument("--log-dir", required=True, help="DVCLive folder to write")
    parser.add_argument("--checkpoint-dir", required=True,
                        help="folder for per-epoch checkpoints, outside the stage's outputs; "
                        "a killed run resumes from it, and it is removed on success")
    args = parser.parse_args(argv)

    from cnnbench.config import load_params

    all_params = load_params(args.params)
    params = all_params.train_for(args.model)  # fail fast, before importing Keras

    from cnnbench.training.train import train

    train(args.model, args.data, args.model_out, args.log_dir, args.checkpoint_dir, params,
          architecture=all_params.architectures[args.model])
    print(f"train {args.model}: saved {args.model_out}")


if __name__ == "__main__":
    raise SystemExit(runner.run_stage(main))
