"""Benchmark training and inference throughput of the models, apart from the tests.

    cnnbench bench --models resnet18,vgg16 --batch-size 32 --json out.json

``--models`` takes model keys of ``cnnbench.models`` (default: all of them) or ``.py``
files in the current folder's project, each defining ``build``.

For each model, through the pipeline's own training path (``train.compile_model`` and
``inputs.train_batches``, i.e. the same Keras ``fit`` and input pipeline as ``dvc repro``),
one ``fit`` runs ``--warmup-steps`` untimed steps (tracing, compilation), then
``--repeats`` windows of ``--steps`` steps, each timed at the step boundaries; the median
window gives ``train_img_s``. An untimed ``predict`` over ``--infer-images`` images (it
traces what the pass needs), then a timed one over the same images gives ``infer_img_s``.
Images come from the prepared data file (``--data``) or are random uint8 images of the
same shape.

It prints a table and, with ``--json``, writes
``{"machine": {...}, "results": [{"model", "batch_size", "precision", "train_img_s",
"infer_img_s", ...}]}``, the machine naming CPU, cores, accelerator, backend, precision,
library versions and ``kernel_caps``, the variables that held the kernels to a smaller
instruction set (``ONEDNN_MAX_CPU_ISA=AVX2``). Speed is measured here, never asserted by the
tests.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from cnnbench import runner
from cnnbench.errors import CnnbenchError
from cnnbench.config import PRECISIONS, TrainParams
from cnnbench.models import available, locate


def _images(data: str | None, count: int, seed: int):
    import numpy as np

    if data:
        from cnnbench.data.dataset import load_prepared

        train = load_prepared(data).train
        reps = -(-count // len(train.y))
        return np.tile(train.x, (reps, 1, 1, 1))[:count], np.tile(train.y, reps)[:count]
    rng = np.random.default_rng(seed)
    return (rng.integers(0, 256, size=(count, 32, 32, 3), dtype=np.uint8),
            rng.integers(0, 10, size=count).astype(np.int32))


def measure(name: str, batch_size: int, steps: int, warmup_steps: int, repeats: int,
            infer_images: int, infer_batch_size: int, data: str | None = None,
            seed: int = 0, precision: str = "float32", jit_compile: bool | None = None,
            steps_per_execution: int = 1, params=None) -> dict:
    """Steady-state training and inference images/s of one model.

    One ``fit`` of ``warmup_steps + repeats * steps`` steps; each window of ``steps`` steps
    after the warm-up is timed on its own, and the median window is reported (the others
    are kept in ``train_img_s_windows``), since timings on shared machines vary.
    ``params`` (``config.TrainParams``), when given, is the whole training recipe (optimizer,
    augmentation; ``batch_size``, ``seed``, ``precision``... are then its own).
    ``setup_s`` is the time from building the model to the end of the warm-up steps
    (``warmup_s`` from the start of ``fit``), and
    ``infer_setup_s`` the prediction pass's beyond its steady rate (tracing, first batch);
    ``save_s`` is one save of the weights and optimizer state (a training checkpoint).
    """
    import statistics

    import keras

    from cnnbench.config import TrainParams
    from cnnbench.evaluate import timed_predict
    from cnnbench.training.inputs import train_batches
    from cnnbench.training.train import compile_model, seed_everything
    from cnnbench.training.train import steps_per_execution as per_call

    if params is None:
        params = TrainParams(batch_size=batch_size, seed=seed, precision=precision,
                             jit_compile=jit_compile, steps_per_execution=steps_per_execution)
    params = replace(params, steps_per_execution=per_call(params))  # null: the device's
    batch_size, seed, steps_per_execution = (params.batch_size, params.seed,
                                             params.steps_per_execution)
    seed_everything(seed)
    keras.mixed_precision.set_global_policy(params.precision)
    total = warmup_steps + repeats * steps
    x, y = _images(data, total * batch_size, seed)
    build_start = time.perf_counter()
    model, _ = compile_model(name, 10, params)
    batches, order = train_batches(x, y, batch_size, seed)
    times: list[float] = []

    class Clock(keras.callbacks.Callback):  # wall time after every call of the train step
        def on_train_batch_end(self, batch, logs=None):  # (steps_per_execution steps)
            times.append(time.perf_counter())

    start = time.perf_counter()
    model.fit(batches, epochs=1, callbacks=[order, Clock()], verbose=0, shuffle=False)
    per_call = steps_per_execution
    marks = times[warmup_steps // per_call - 1::steps // per_call]
    windows = [steps * batch_size / (b - a) for a, b in zip(marks, marks[1:])]
    with tempfile.TemporaryDirectory() as folder:  # as the train stage's checkpoints
        save_start = time.perf_counter()
        model.save_weights(Path(folder) / "checkpoint.weights.h5")
        save_s = time.perf_counter() - save_start
    x_infer, _ = _images(data, infer_images, seed + 1)
    # An untimed pass of the same images first: it traces every function the pass uses
    # (with several steps per call, a short warm-up batch traces another one than a full
    # pass), which would otherwise count as the steady rate; its excess is infer_setup_s.
    predict_start = time.perf_counter()
    model.predict(x_infer, batch_size=infer_batch_size, verbose=0)
    first_pass_s = time.perf_counter() - predict_start
    _, infer_img_s = timed_predict(model, x_infer, infer_batch_size)
    infer_setup_s = first_pass_s - infer_images / infer_img_s
    return {
        "model": name,
        "batch_size": batch_size,
        "precision": keras.mixed_precision.global_policy().name,
        "jit_compile": bool(model.jit_compile),
        "steps_per_execution": steps_per_execution,
        "train_img_s": round(statistics.median(windows), 1),
        "ms_per_step": round(1000 * batch_size / statistics.median(windows), 2),
        "train_img_s_windows": [round(w, 1) for w in windows],
        "infer_img_s": round(infer_img_s, 1),
        "infer_batch_size": infer_batch_size,
        "steps": steps,
        "warmup_steps": warmup_steps,
        "warmup_s": round(marks[0] - start, 2),
        "setup_s": round(marks[0] - build_start, 2),
        "infer_setup_s": round(max(infer_setup_s, 0.0), 3),
        "save_s": round(save_s, 3),
        "data": "prepared" if data else "random",
    }


#: Variables that hold the kernels below what the CPU has (oneDNN's, PyTorch's own): a
#: result measured under one stands for a smaller CPU, so it is recorded with the machine.
KERNEL_CAPS = ("ONEDNN_MAX_CPU_ISA", "ATEN_CPU_CAPABILITY")


def kernel_caps() -> dict[str, str]:
    """The ``KERNEL_CAPS`` variables set in the environment, by name."""
    return {k: os.environ[k] for k in KERNEL_CAPS if os.environ.get(k)}


def _positive_ints(option: str, text: str, null: int | None = None) -> list[int]:
    """``"1,8"`` as ``[1, 8]``, ``null`` as ``null``'s value when given; a one-line error
    naming ``option`` otherwise."""
    try:
        values = [null if v.strip() == "null" and null is not None else int(v)
                  for v in text.split(",") if v.strip()]
    except ValueError:
        values = []
    if not values or min(values) <= 0:
        raise CnnbenchError(f"{option} must be positive integers{' or null' if null else ''}, "
                            f"comma-separated, got {text!r}")
    return values


def main(argv: list[str] | None = None) -> None:
    parser = runner.parser(__doc__, params=False, prog="cnnbench bench")
    parser.add_argument("--models", default=",".join(available()),
                        help="comma-separated model keys, project .py files or module names "
                        "(default: every model of cnnbench.models)")
    parser.add_argument("--batch-size", type=int, default=32, help="training batch size "
                        "(default: %(default)s, the seed's)")
    parser.add_argument("--steps", type=int, default=32,
                        help="training steps per timed window (default: %(default)s)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed windows; the median is reported (default: %(default)s)")
    parser.add_argument("--warmup-steps", type=int, default=8,
                        help="untimed training steps first (default: %(default)s)")
    parser.add_argument("--infer-images", type=int, default=2048,
                        help="images in the timed prediction pass (default: %(default)s)")
    parser.add_argument("--infer-batch-size", type=int, default=256,
                        help="prediction batch size (default: %(default)s)")
    parser.add_argument("--precision", choices=PRECISIONS, default="float32",
                        help="train.precision: Keras dtype policy (default: %(default)s)")
    parser.add_argument("--jit-compile", choices=("auto", "true", "false"), default="auto",
                        help="train.jit_compile: XLA (default: %(default)s, Keras' choice)")
    parser.add_argument("--steps-per-execution", default="null",
                        help="train.steps_per_execution, or several, comma-separated, to "
                        "compare; null is the pipeline's default on this machine "
                        "(default: %(default)s)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure every model and variant this many times, interleaved "
                        "(A B A B), so that a busy machine slows them alike (default: "
                        "%(default)s)")
    parser.add_argument("--data", help="prepared .npz to take images from "
                        "(default: random images of the same shape)")
    parser.add_argument("--json", help="file to write the results to, as JSON")
    args = parser.parse_args(argv)
    from cnnbench.training.train import steps_per_execution

    variants = _positive_ints("--steps-per-execution", args.steps_per_execution,
                              null=steps_per_execution(TrainParams(steps_per_execution=None)))
    names = [m.strip() for m in args.models.split(",") if m.strip()]
    if not names:
        raise CnnbenchError("--models: no model given")
    for name in names:
        try:
            locate(name)
        except CnnbenchError as err:
            raise CnnbenchError(f"--models: {err}") from None
    for option in ("batch_size", "steps", "repeats", "warmup_steps", "infer_images",
                   "infer_batch_size", "rounds"):
        if getattr(args, option) <= 0:
            raise CnnbenchError(f"--{option.replace('_', '-')} must be a positive integer, "
                                f"got {getattr(args, option)}")
    for option, spe in ((o, v) for o in ("steps", "warmup_steps") for v in variants):
        if getattr(args, option) % spe:
            raise CnnbenchError(f"--{option.replace('_', '-')} must be a multiple of "
                                f"--steps-per-execution ({spe}), got {getattr(args, option)}")

    from cnnbench.machine import describe, label

    machine = {**describe(), "precision": args.precision,
               "threads": os.environ.get("OMP_NUM_THREADS", "default"),
               "onednn": os.environ.get("TF_ENABLE_ONEDNN_OPTS", "default"),
               "kernel_caps": kernel_caps()}
    held = "".join(f", {k}={v}" for k, v in machine["kernel_caps"].items())
    print(f"{label(machine)} {machine['backend_version']} "
          f"({' '.join(machine['cpu_features']) or 'no listed CPU features'}{held}), "
          f"{args.precision}", flush=True)
    print(f"{'model':<12} {'batch':>5} {'spe':>4} {'precision':<15} {'train img/s':>12} "
          f"{'ms/step':>8} {'infer img/s':>12}", flush=True)
    jit = {"auto": None, "true": True, "false": False}[args.jit_compile]
    results = []
    for round_, name, spe in ((r, n, v) for r in range(args.rounds) for n in names
                              for v in variants):
        result = {"round": round_, **measure(
            name, args.batch_size, args.steps, args.warmup_steps, args.repeats,
            args.infer_images, args.infer_batch_size, args.data, precision=args.precision,
            jit_compile=jit, steps_per_execution=spe)}
        results.append(result)
        print(f"{name:<12} {result['batch_size']:>5} {spe:>4} {result['precision']:<15} "
              f"{result['train_img_s']:>12.1f} {result['ms_per_step']:>8.2f} "
              f"{result['infer_img_s']:>12.1f}", flush=True)
    if args.json:
        Path(args.json).write_text(json.dumps({"machine": machine, "results": results},
                                              indent=2) + "\n")

