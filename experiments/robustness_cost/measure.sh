#!/usr/bin/env bash
# The robustness stages' cost on this machine, at the default subset (params.yaml's
# robustness section), against training: a synthetic prepared file of 10,000 random
# 32x32 test images (the cost does not depend on the pixels), the five networks untrained
# (their weights do not change the cost), then the corrupt stage and each model's
# robustness stage timed as `dvc repro` runs them (a fresh Python each).
#   experiments/robustness_cost/measure.sh [folder]   (default: a temporary folder)
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=${1:-$(mktemp -d)}
mkdir -p "$work"
cd "$root"
python - "$work" <<'PY'
import sys
from pathlib import Path

import numpy as np

from cnnbench.models import build

work = Path(sys.argv[1])
rng = np.random.default_rng(0)
y = np.repeat(np.arange(10), 1000).astype(np.int32)
x = rng.integers(0, 256, size=(len(y), 32, 32, 3), dtype=np.uint8)
np.savez(work / "prepared.npz", x_train=x[:10], y_train=y[:10], x_test=x, y_test=y,
         class_names=np.array([f"c{i}" for i in range(10)]))
for name in ("lenet5", "alexnet8", "vgg16", "inception10", "resnet18"):
    build(name).save(work / f"{name}.keras")
PY
seconds() { local start=$SECONDS; "$@" >/dev/null; echo $((SECONDS - start)); }
echo "corrupt $(seconds python stages/corrupt.py --data "$work/prepared.npz" \
     --out "$work/corrupted.npz") s"
for name in lenet5 alexnet8 vgg16 inception10 resnet18; do
  echo "robustness@$name $(seconds python stages/robustness.py "$name" \
       --model "$work/$name.keras" --data "$work/prepared.npz" \
       --corrupted "$work/corrupted.npz" --out "$work/$name.json" \
       --reliability "$work/${name}_reliability.csv") s"
done
