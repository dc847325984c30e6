#!/usr/bin/env bash
# Interleaved comparison on this machine: for each model, cnnbench's benchmark (Keras, its
# configured backend) and then the PyTorch reference, so that both see the same machine
# state. Writes bench/results/<tag>-{keras,torch}-<model>.json. Extra arguments go to
# cnnbench's benchmark (e.g. --precision mixed_bfloat16).
#   bench/compare.sh TAG [MODELS] [-- extra cnnbench bench args]
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:?usage: bench/compare.sh TAG [MODELS] [-- args]}
models=${2:-lenet5,alexnet8,vgg16,inception10,resnet18}
shift $(( $# >= 2 ? 2 : 1 )); [ "${1:-}" = "--" ] && shift
mkdir -p bench/results
for model in ${models//,/ }; do
    .venv/bin/cnnbench bench --models "$model" "$@" \
        --json "bench/results/$tag-keras-$model.json" | tail -n 1
    .venv-torch/bin/python bench/torch_reference.py --models "$model" \
        --json "bench/results/$tag-torch-$model.json" | tail -n 2
done
