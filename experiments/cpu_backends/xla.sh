#!/usr/bin/env bash
# XLA on a CPU: Keras on TensorFlow without XLA (the default), on TensorFlow with XLA
# (train.jit_compile: true) and on JAX, interleaved round by round, natively and with
# oneDNN and XLA held to AVX2.
#   experiments/cpu_backends/xla.sh TAG [MODELS] [ROUNDS]
# Needs .venv with the JAX extra (make check installs it). Writes
# experiments/cpu_backends/results/TAG-{native,avx2cap}-{tf,tf-xla,jax}-rROUND.json.
set -euo pipefail
cd "$(dirname "$0")/../.."
tag=${1:?usage: xla.sh TAG [MODELS] [ROUNDS]}
models=${2:-inception10}
rounds=${3:-2}
out=experiments/cpu_backends/results
mkdir -p "$out"
for isa in native avx2cap; do
    if [ "$isa" = avx2cap ]; then
        cap=(ONEDNN_MAX_CPU_ISA=AVX2 XLA_FLAGS=--xla_cpu_max_isa=AVX2)
    else cap=(); fi
    for round in $(seq "$rounds"); do
        for variant in tf tf-xla jax; do
            case $variant in
                tf) args=(KERAS_BACKEND=tensorflow); jit=auto;;
                tf-xla) args=(KERAS_BACKEND=tensorflow); jit=true;;
                jax) args=(KERAS_BACKEND=jax JAX_PLATFORMS=cpu); jit=auto;;
            esac
            echo -n "$isa $variant r$round: "
            env "${cap[@]}" "${args[@]}" .venv/bin/cnnbench bench --models "$models" \
                --jit-compile "$jit" --json "$out/$tag-$isa-$variant-r$round.json" | tail -n 1
        done
    done
done
