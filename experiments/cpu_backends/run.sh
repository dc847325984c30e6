#!/usr/bin/env bash
# Keras on TensorFlow, Keras on PyTorch and the PyTorch eager reference, interleaved model
# by model on one machine, natively and with oneDNN and ATen held to AVX2.
#   experiments/cpu_backends/run.sh TAG [MODELS]
# Needs .venv (make setup), .venv-torch (make torch-reference) and KTORCH, an environment
# holding cnnbench and torch==2.13.0 without TensorFlow (default /tmp/ktorch):
#   python3 -m venv /tmp/ktorch && /tmp/ktorch/bin/pip install torch==2.13.0 -e .
# Writes experiments/cpu_backends/results/TAG-{native,avx2cap}-{tf,ktorch,torch}-MODEL.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:?usage: run.sh TAG [MODELS]}
models=${2:-lenet5,alexnet8,vgg16,inception10,resnet18}
ktorch=${KTORCH:-/tmp/ktorch}
out=experiments/cpu_backends/results
mkdir -p "$out"
for isa in native avx2cap; do
    if [ "$isa" = avx2cap ]; then cap=(ONEDNN_MAX_CPU_ISA=AVX2 ATEN_CPU_CAPABILITY=avx2)
    else cap=(); fi
    for model in ${models//,/ }; do
        env "${cap[@]}" KERAS_BACKEND=tensorflow .venv/bin/cnnbench bench --models "$model" \
            --json "$out/$tag-$isa-tf-$model.json" | tail -n 1
        env "${cap[@]}" KERAS_BACKEND=torch "$ktorch/bin/cnnbench" bench --models "$model" \
            --steps-per-execution 1 --json "$out/$tag-$isa-ktorch-$model.json" | tail -n 1
        env "${cap[@]}" .venv-torch/bin/python bench/torch_reference.py --models "$model" \
            --precisions float32 --json "$out/$tag-$isa-torch-$model.json" | tail -n 1
    done
done
