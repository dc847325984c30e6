"""How long `dvc repro` will take on this machine, per model and in total.

    cnnbench estimate                     # every model in params.yaml, a table
    cnnbench estimate --json estimate.json

For each model in params.yaml, with that model's own params (recipe, batch size, precision,
optimizer, augmentation), ``bench.measure`` times a few training steps after the warm-up
(tracing, compilation), a prediction pass at the training batch size and one checkpoint
save; a fresh Python importing the training code gives a stage's start-up time. From these:

- train stage: start-up + build and warm-up + the validation pass's tracing
  + epochs x (steps per epoch x step time + test images / prediction rate)
  + (epochs + 2) x one checkpoint's save (one per epoch, the model, DVC's copy of it),
- evaluate stage: start-up + loading the model (taken as long as one checkpoint's save)
  + two passes' tracing + (2, or 3 with ``tta_flip``) passes over the test images
  (evaluate, predict, mirror),

at the data size the params select (``data.train_limit`` / ``data.test_limit``, or all
50,000 / 10,000). Not included: fetch and prepare (download and decoding; run once),
plot and summarise (seconds), and DVC's own bookkeeping. Timings on a machine that is busy
with other work are slower and vary; the estimate holds for the load it ran under.
"""

from __future__ import annotations

import math
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from cnnbench.config import Params, TrainParams, load_params
from cnnbench import runner
from cnnbench.errors import CnnbenchError
from cnnbench.files import write_json

#: CIFAR-10's split sizes, used when the params set no limit.
CIFAR10_IMAGES = {"train": 50_000, "test": 10_000}


@dataclass(frozen=True)
class Timing:
    """What was measured for one model on this machine."""

    step_s: float          # one training step at the model's batch size, steady state
    setup_s: float         # build, compile, trace and the warm-up steps
    predict_img_s: float   # forward pass images/s at the model's batch size
    predict_setup_s: float  # a prediction pass's tracing and first batch
    save_s: float          # one checkpoint (weights and optimizer state) written to disk


@dataclass(frozen=True)
class ModelEstimate:
    """The expected wall time of one model's train and evaluate stages."""

    model: str
    batch_size: int
    epochs: int
    precision: str
    recipe: str
    train_images: int
    test_images: int
    steps_per_epoch: int
    epoch_s: float
    timing: Timing
    train_stage_s: float
    evaluate_stage_s: float

    @property
    def total_s(self) -> float:
        return self.train_stage_s + self.evaluate_stage_s


def split_sizes(params: Params) -> tuple[int, int]:
    """Train and test images the prepare stage keeps with these params."""
    limits = (params.data.train_limit, params.data.test_limit)
    return tuple(min(limit or full, full)
                 for limit, full in zip(limits, CIFAR10_IMAGES.values()))


def estimate_model(name: str, train: TrainParams, timing: Timing, startup_s: float,
                   train_images: int, test_images: int, tta_flip: bool = False
                   ) -> ModelEstimate:
    """The wall time of ``name``'s train and evaluate stages from its measured ``timing``."""
    steps = math.ceil(train_images / train.batch_size)
    validation_s = test_images / timing.predict_img_s
    epoch_s = steps * timing.step_s + validation_s
    saves_s = (train.epochs + 2) * timing.save_s
    train_s = (startup_s + timing.setup_s + timing.predict_setup_s + train.epochs * epoch_s
               + saves_s)
    passes = 3 if tta_flip else 2
    evaluate_s = startup_s + timing.save_s + 2 * timing.predict_setup_s + passes * validation_s
    return ModelEstimate(name, train.batch_size, train.epochs, train.precision, train.recipe,
                         train_images, test_images, steps, round(epoch_s, 2), timing,
                         round(train_s, 1), round(evaluate_s, 1))


def measure_startup() -> float:
    """Seconds a fresh Python takes to import the training code (each stage pays it)."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import cnnbench.training.train"], check=True,
                   capture_output=True)
    return time.perf_counter() - start


def measure_model(name: str, train: TrainParams, steps: int, repeats: int,
                  warmup_steps: int) -> Timing:
    """Time ``name`` under its own ``train`` params (``bench.measure``)."""
    import keras

    from cnnbench.tools.bench import measure
    from cnnbench.training.train import steps_per_execution

    train = replace(train, steps_per_execution=steps_per_execution(train))  # null: the device's
    spe = train.steps_per_execution
    steps, warmup_steps = (spe * math.ceil(n / spe) for n in (steps, warmup_steps))
    keras.backend.clear_session()
    result = measure(name, train.batch_size, steps, warmup_steps, repeats,
                     infer_images=max(256, 4 * train.batch_size),
                     infer_batch_size=train.batch_size, params=train)
    # the mean step over all windows, not the median window: on a machine shared with
    # other work the median picks the quiet moments that a long run does not get
    windows = result["train_img_s_windows"]
    step_s = train.batch_size * sum(1 / rate for rate in windows) / len(windows)
    return Timing(step_s=step_s, setup_s=result["setup_s"],
                  predict_img_s=result["infer_img_s"],
                  predict_setup_s=result["infer_setup_s"], save_s=result["save_s"])


def duration(seconds: float) -> str:
    """``3 h 05 min``, ``12 min 30 s`` or ``45 s``."""
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
    if seconds >= 60:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds} s"


def report(estimates: list[ModelEstimate], startup_s: float) -> str:
    """The table that ``cnnbench estimate`` prints."""
    lines = [f"{'model':<12} {'recipe':<8} {'batch':>5} {'epochs':>6} {'epoch':>12} "
             f"{'train':>12} {'evaluate':>10} {'total':>12}"]
    for e in estimates:
        lines.append(f"{e.model:<12} {e.recipe:<8} {e.batch_size:>5} {e.epochs:>6} "
                     f"{duration(e.epoch_s):>12} {duration(e.train_stage_s):>12} "
                     f"{duration(e.evaluate_stage_s):>10} {duration(e.total_s):>12}")
    total = sum(e.total_s for e in estimates)
    lines.append(f"dvc repro, train and evaluate of {len(estimates)} model(s): about "
                 f"{duration(total)} on this machine (each stage starts in "
                 f"{startup_s:.1f} s; fetch, prepare, plot and summarise not included)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, params=True, prog="cnnbench estimate")
    parser.add_argument("--models", help="comma-separated subset of the params' models")
    parser.add_argument("--steps", type=int, default=4,
                        help="training steps per timed window (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed windows; their mean step time counts (default: %(default)s)")
    parser.add_argument("--warmup-steps", type=int, default=2,
                        help="untimed training steps first (default: %(default)s)")
    parser.add_argument("--json", help="file to write the estimate to, as JSON")
    args = parser.parse_args(argv)
    for option in ("steps", "repeats", "warmup_steps"):
        if getattr(args, option) <= 0:
            raise CnnbenchError(f"--{option.replace('_', '-')} must be a positive integer, "
                                f"got {getattr(args, option)}")
    params = load_params(args.params)
    names = [m.strip() for m in args.models.split(",")] if args.models else list(params.models)
    for name in names:
        params.train_for(name)  # a model missing from params: one line naming it
    train_images, test_images = split_sizes(params)

    from cnnbench.machine import describe

    startup_s = measure_startup()
    estimates = []
    for name in names:
        train = params.train_for(name)
        timing = measure_model(params.architectures[name], train, args.steps, args.repeats,
                               args.warmup_steps)
        estimates.append(estimate_model(name, train, timing, startup_s, train_images,
                                        test_images, params.evaluate.tta_flip))
        print(f"estimate {name}: {train.batch_size / timing.step_s:.1f} train img/s, "
              f"{timing.predict_img_s:.1f} predict img/s", flush=True)
    print(report(estimates, startup_s))
    if args.json:
        write_json(Path(args.json), {
            "machine": describe(), "params": str(args.params), "startup_s":
            round(startup_s, 2), "models": [{**asdict(e), "total_s": e.total_s}
                                            for e in estimates],
            "total_s": round(sum(e.total_s for e in estimates), 1),
            "not_included": ["fetch", "prepare", "plot", "summarise"]})
