#!/usr/bin/env bash
# The GPU benchmark set, within about 5 minutes on one GPU: benchmarks/finetune.py and
# benchmarks/pretrain.py on a BERT-base-sized model (12 layers x 768, ~86M parameters
# outside the embeddings) at up to 1k tokens, bf16, one repeat per side; prints their
# JSON lines (tokens/s, padding, peak GPU memory, MFU against the GPU's bf16 peak).
#
#   benchmarks/gpu.sh            # on a machine with a CUDA GPU
#   benchmarks/gpu.sh --dry-run  # the same commands at smoke sizes on the CPU, variable
#                                # inputs only (tests/test_benchmarks.py runs it)
#
# With the flash-attn package installed, pre-training packs Llama and BERT batches
# (pretrain.packing auto); without it every side pads per batch.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
python=${PYTHON:-python3}

if [[ "${1:-}" == "--dry-run" ]]; then
    export CUDA_VISIBLE_DEVICES=""
    model=(--layers 1 --hidden 32 --heads 2 --intermediate 64 --max-tokens 256
           --max-bases 250 --repeats 1 --threads 1 --inputs variable)
    finetune=(--n-train 32 --n-eval 16 --epochs 1)
    pretrain=(--n-train 32 --n-val 16 --max-steps 2 --architectures llama)
elif [[ $# -gt 0 ]]; then
    echo "usage: $0 [--dry-run]" >&2
    exit 2
else
    "$python" -c 'import torch, sys; sys.exit(0 if torch.cuda.is_available() else
        "no CUDA GPU visible to torch; run with --dry-run to check the commands on a CPU")'
    model=(--layers 12 --hidden 768 --heads 12 --intermediate 3072 --max-tokens 1024
           --max-bases 1000 --repeats 1 --precision auto)
    finetune=(--n-train 2048 --n-eval 256 --epochs 1 --batch-size 32 --lr 5e-5)
    pretrain=(--n-train 4096 --n-val 128 --max-steps 60 --batch-size 32 --lr 1e-4)
fi
"$python" "$here/finetune.py" "${model[@]}" "${finetune[@]}"
"$python" "$here/pretrain.py" "${model[@]}" "${pretrain[@]}"
