"""Where a training step's time goes in oneDNN, per primitive kind and implementation.

    ONEDNN_MAX_CPU_ISA=AVX2 python experiments/avx2_profile/profile.py --models vgg16 \
        --steps 4 --json out.json

Runs ``cnnbench bench``'s measurement for each model in a child process with
``ONEDNN_VERBOSE=1``, then sums the ``exec`` lines of the timed steps by primitive kind
(convolution, reorder, ...) and implementation (``brg_conv_fwd:avx2``, ``jit:avx2``,
``gemm:jit``, ``ref:any``). oneDNN times only its own primitives: the rest of a step (Eigen
kernels, TensorFlow's graph executor, Python) is the step's wall time minus their sum.
Prints one JSON object per model. ``ONEDNN_MAX_CPU_ISA`` caps the instruction set oneDNN
uses, which shows on an AVX-512 machine what it does on AVX2 (not that machine's memory).

``--torch PYTHON`` profiles the PyTorch eager reference (``bench/torch_reference.py``) instead,
run by ``PYTHON`` (an environment with torch, e.g. ``.venv-torch/bin/python``): PyTorch runs
its convolutions through its own copy of oneDNN and prints the same lines, so the two
libraries' primitives compare kind by kind.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import subprocess
import sys

CHILD = """
import json, sys
from cnnbench.tools.bench import measure
steps, warmup = int(sys.argv[2]), int(sys.argv[3])
print("PROFILE_START", flush=True)
r = measure(sys.argv[1], 32, steps, warmup, 1, infer_images=32, infer_batch_size=32)
print("PROFILE_RESULT " + json.dumps(r), flush=True)
"""


TORCH_CHILD = """
import json, statistics, sys
sys.path.insert(0, "bench")
from torch_reference import measure
steps, warmup = int(sys.argv[2]), int(sys.argv[3])
print("PROFILE_START", flush=True)
img_s = statistics.median(measure(sys.argv[1], "float32", 32, steps, warmup, 1))
print("PROFILE_RESULT " + json.dumps({"train_img_s": round(img_s, 1),
                                      "ms_per_step": round(32000 / img_s, 2)}), flush=True)
"""


def profile(model: str, steps: int, warmup: int, torch_python: str | None = None) -> dict:
    env = {**os.environ, "ONEDNN_VERBOSE": "1", "TF_CPP_MIN_LOG_LEVEL": "2"}
    python, child = (torch_python, TORCH_CHILD) if torch_python else (sys.executable, CHILD)
    out = subprocess.run([python, "-c", child, model, str(steps), str(warmup)],
                         capture_output=True, text=True, env=env, check=True).stdout
    lines = out.splitlines()
    result = json.loads(next(l for l in lines if l.startswith("PROFILE_RESULT "))[15:])
    execs = [l.split(",") for l in lines if l.startswith("onednn_verbose") and ",exec," in l]
    # the last steps' share: every step runs the same primitives, so keep the final
    # (steps / (steps + warmup)) of the exec lines of the training phase
    by_kind: collections.Counter = collections.Counter()
    by_impl: collections.Counter = collections.Counter()
    for fields in execs:
        try:
            i = fields.index("exec")
            kind, impl, ms = fields[i + 2], fields[i + 3], float(fields[-1])
        except (ValueError, IndexError):
            continue
        by_kind[kind] += ms
        by_impl[f"{kind}:{impl}"] += ms
    total_ms = sum(by_kind.values())
    return {"model": model, "framework": "torch eager" if torch_python else "cnnbench",
            "isa_cap": os.environ.get("ONEDNN_MAX_CPU_ISA", "none"),
            "train_img_s": result["train_img_s"], "ms_per_step": result["ms_per_step"],
            "onednn_exec_lines": len(execs), "onednn_ms_all_steps": round(total_ms, 1),
            "by_kind_ms": {k: round(v, 1) for k, v in by_kind.most_common()},
            "by_impl_ms": {k: round(v, 1) for k, v in by_impl.most_common(12)},
            "steps_profiled": steps + warmup}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default="lenet5,alexnet8,vgg16,inception10,resnet18")
    parser.add_argument("--steps", type=int, default=4)
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--torch", metavar="PYTHON",
                        help="profile the PyTorch reference with this interpreter instead")
    parser.add_argument("--json")
    args = parser.parse_args()
    results = []
    for model in args.models.split(","):
        r = profile(model, args.steps, args.warmup_steps, args.torch)
        print(json.dumps(r), flush=True)
        results.append(r)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=2)


if __name__ == "__main__":
    main()
