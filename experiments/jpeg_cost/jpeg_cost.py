"""What one more round of JPEG compression costs in test accuracy: a measurement, not a test.

Our offline CIFAR-10 copy is the official pixels re-encoded once as JPEG (quality 75), and
the official pixels may be out of reach (no internet). This script measures the nearest
thing: it encodes the prepared images once more at the same quality (``--quality``) and
trains and evaluates each model under the params file's protocol on each version, for
several seeds, through the pipeline's own stage scripts. Versions (``--variants``):

- ``prepared``: the images as prepared (once JPEG);
- ``again``: JPEG once more on the same 8x8 block grid; JPEG at one quality is close to
  idempotent there, so this round changes little (a lower bound);
- ``shiftN``: JPEG once more with the image shifted by N pixels (then shifted back), so the
  blocks fall across the first round's: about the distortion of a first round.

It prints one JSON document: each version's distortion against the prepared images (PSNR)
and each run's test accuracy.

    .venv/bin/python experiments/jpeg_cost/jpeg_cost.py --data data/prepared/cifar10.npz \\
        --models lenet5 --seeds 0,1,2 --variants prepared,again,shift4 --out /tmp/jpeg-cost
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from PIL import Image

from cnnbench.machine import cpu_model

ROOT = Path(__file__).resolve().parents[2]


def recompress(images: np.ndarray, quality: int, shift: int = 0) -> np.ndarray:
    """Each uint8 HxWx3 image encoded as JPEG at ``quality`` (PIL's defaults) and decoded,
    rolled by ``shift`` pixels down and right before encoding and back after decoding."""
    out = np.empty_like(images)
    for i, image in enumerate(images):
        buffer = io.BytesIO()
        Image.fromarray(np.roll(image, (shift, shift), axis=(0, 1))).save(
            buffer, format="JPEG", quality=quality)
        decoded = np.asarray(Image.open(buffer).convert("RGB"))
        out[i] = np.roll(decoded, (-shift, -shift), axis=(0, 1))
    return out


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0**2 / mse))


def run_model(model: str, data: Path, params: Path, folder: Path) -> dict:
    stages = ROOT / "stages"
    folder.mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, str(stages / "train.py"), model, "--data", str(data),
                    "--model-out", str(folder / "model.keras"), "--log-dir", str(folder / "log"),
                    "--checkpoint-dir", str(folder / "ckpt"), "--params", str(params)],
                   check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, str(stages / "evaluate.py"), model,
                    "--model", str(folder / "model.keras"), "--data", str(data),
                    "--train-log", str(folder / "log" / "metrics.json"),
                    "--metrics", str(folder / "metrics.json"), "--plots-dir", str(folder / "eval"),
                    "--params", str(params)], check=True, stdout=subprocess.DEVNULL)
    test = json.loads((folder / "metrics.json").read_text())["test"]
    logged = yaml.safe_load((folder / "log" / "params.yaml").read_text()) or {}
    return {**test, "machine": logged.get("machine")}  # as the training log recorded it


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", required=True, help="prepared .npz (the prepare stage's)")
    parser.add_argument("--models", default="lenet5", help="comma-separated model names")
    parser.add_argument("--seeds", default="0,1,2", help="comma-separated train.seed values")
    parser.add_argument("--quality", type=int, default=75, help="JPEG quality of the extra round")
    parser.add_argument("--variants", default="prepared,again,shift4",
                        help="comma-separated: prepared, again, shiftN (default: %(default)s)")
    parser.add_argument("--params", default=str(ROOT / "params.yaml"),
                        help="params file whose train section is the protocol")
    parser.add_argument("--out", required=True, help="working folder (data, models, logs)")
    args = parser.parse_args(argv)

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    with np.load(args.data) as npz:
        arrays = {key: npz[key] for key in npz.files}
    report = {
        # replaced by the training log's (CPU model, accelerator, backend) after the first run
        "machine": {"cpu": cpu_model(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "data": str(args.data), "quality": args.quality, "psnr_db": {}, "runs": [],
    }
    variants = {}
    for variant in args.variants.split(","):
        if variant == "prepared":
            variants[variant] = Path(args.data)
            continue
        if variant != "again" and not variant.startswith("shift"):
            parser.error(f"unknown variant {variant!r}: prepared, again or shiftN")
        shift = int(variant[5:]) if variant.startswith("shift") else 0
        changed = dict(arrays)
        for split in ("x_train", "x_test"):
            changed[split] = recompress(arrays[split], args.quality, shift)
        variants[variant] = out / f"{variant}.npz"
        np.savez(variants[variant], **changed)
        report["psnr_db"][variant] = {
            split: round(psnr(arrays[f"x_{split}"], changed[f"x_{split}"]), 2)
            for split in ("train", "test")}
    base = yaml.safe_load(Path(args.params).read_text())
    for model in args.models.split(","):
        for seed in (int(s) for s in args.seeds.split(",")):
            params = out / f"params-seed{seed}.yaml"
            base["train"]["seed"] = seed
            params.write_text(yaml.safe_dump(base, sort_keys=False))
            for variant, data in variants.items():
                start = time.perf_counter()
                test = run_model(model, data, params, out / variant / f"{model}-seed{seed}")
                run = {"model": model, "seed": seed, "data": variant,
                       "test_accuracy": test["accuracy"], "test_loss": test["loss"],
                       "wall_s": round(time.perf_counter() - start, 1)}
                report["machine"] = test["machine"] or report["machine"]
                report["runs"].append(run)
                print(json.dumps(run), file=sys.stderr, flush=True)
    print(json.dumps(report, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
