#!/usr/bin/env bash
# The GPU path in one call (about 8 minutes on one H100), or its CPU dry run (CI: tiny sizes, a few steps):
#
#   HF_SHRUNK_DATA_DIR=../shared/data benchmarks/gpu_check.sh            # on a GPU machine
#   HF_SHRUNK_DATA_DIR=../shared/data benchmarks/gpu_check.sh --dry-run  # anywhere: the same steps, tiny budgets
#
# (a) pretraining throughput, stock fp32 Trainer vs hf_shrunk (bf16, torch.compile, masked-positions head,
#     dataloader workers), batch 256, the three benchmark sizes (benchmarks/pretrain_throughput.py);
# (b) `hf-shrunk pretrain --accelerate_config single_gpu` for 300 updates of the paper's smallest run
#     (magic-bee-26) and of its 11.3M reference size (roberta H=256/L=8) on the mirror corpus, then `hf-shrunk glue`
#     on SST-2 for the smallest;
# (c) aggregate tokens/s of 1, 2 and 4 tiny runs (H=32/L=1) sharing the device at once (RUNS_PER_GPU);
# (d) $OUT/gpu_check.json (benchmarks/gpu_report.py): tokens/s, peak memory, MFU against the device's bf16 peak,
#     the estimated wall time of the paper's 42-run grid, and the wall time of each step.
set -euo pipefail
cd "$(dirname "$0")/.."
DRY=0
[[ "${1:-}" == --dry-run ]] && DRY=1
OUT="${OUT:-${TMPDIR:-/tmp}/hf_shrunk_gpu_check}"
ROOT="$OUT/root"
mkdir -p "$OUT"
: "${HF_SHRUNK_DATA_DIR:?set HF_SHRUNK_DATA_DIR to the data mirror (corpus and GLUE come from it)}"
PY="${PYTHON:-python}"
HF=("$PY" -m hf_shrunk)
TIMINGS="$OUT/timings.jsonl"
: > "$TIMINGS"

timed() {  # timed NAME CMD...: run CMD, append its wall time (whole seconds) to the timings file
  local name="$1" start=$SECONDS
  shift
  "$@"
  printf '{"step": "%s", "seconds": %d}\n' "$name" "$((SECONDS - start))" >> "$TIMINGS"
}

if [[ "$DRY" == 1 ]]; then
  BENCH=(--sizes 32x1 --steps 4 --batch 8)
  CORPUS=(--max_docs 2000)
  VOCAB_SIZE=2000
  UPDATES=4
  RUNS=(magic-bee-26)
  PRETRAIN=(--accelerate_config cpu --eval_steps 2 --save_steps 2 --eval_max_sequences 64 --effective_batch_size 16)
  GLUE=(--max_train_samples 32 --max_eval_samples 32 --num_epochs 1)
  SHARED=(1 2)
  SHARED_RUN=(--steps 4 --batch 8)
else
  BENCH=(--sizes 32x1 128x4 256x8 --steps 30 --batch 256 --compile)
  CORPUS=()
  VOCAB_SIZE=19000
  UPDATES=300
  RUNS=(magic-bee-26 honest-fog-13)
  PRETRAIN=(--accelerate_config single_gpu --eval_steps 100 --save_steps 100 --dataloader_num_workers 4)
  GLUE=()
  SHARED=(1 2 4)
  SHARED_RUN=(--steps 30 --batch 256 --compile)
fi

shared_device() {  # K processes of the tiny size at once; each prints one JSON row
  local k i
  for k in "${SHARED[@]}"; do
    for ((i = 0; i < k; i++)); do
      "$PY" benchmarks/pretrain_throughput.py --_one hf_shrunk 32x1 "${SHARED_RUN[@]}" | tail -n 1 \
        > "$OUT/shared_${k}_$i.json" &
    done
    wait
  done
}

timed throughput "$PY" benchmarks/pretrain_throughput.py "${BENCH[@]}" --json "$OUT/throughput.json"
timed corpus "${HF[@]}" corpus --root "$ROOT" --name gpu --sources mirror "${CORPUS[@]}"
timed tokenizer "${HF[@]}" tokenizer --root "$ROOT" --name gpu --corpus gpu --vocab_size "$VOCAB_SIZE"
for run in "${RUNS[@]}"; do
  timed "pretrain $run" "${HF[@]}" pretrain --root "$ROOT" --grid paper --size "$run" --name "$run" --corpus gpu \
    --tokenizer gpu --max_steps "$UPDATES" --resume "${PRETRAIN[@]}"
done
timed "glue ${RUNS[0]} sst2" "${HF[@]}" glue "${RUNS[0]}" --root "$ROOT" --tasks sst2 --seeds 0 --condition both \
  "${GLUE[@]}"
timed "shared device" shared_device
"$PY" benchmarks/gpu_report.py "$OUT" --runs "${RUNS[@]}"
