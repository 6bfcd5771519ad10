#!/usr/bin/env bash
# Reproduce "Honey, I Shrunk the Language" (Deshpande et al., 2023) end to end with hf_shrunk, on GPUs.
#
#   scripts/reproduce_paper.sh                    # one machine: every stage, all 42 grid runs in a loop
#   ORG=my-org PUSH=1 scripts/reproduce_paper.sh  # ... and publish the suite to the Hub under your namespace
#   sbatch scripts/reproduce_paper.slurm          # a cluster: one array task per grid run, then fit + publish
#
# Environment: ORG (your Hub user or organisation; required with PUSH=1, no default), ACCELERATE (accelerate
# config), SEEDS, COMPILE=1 (torch.compile), LAUNCH_ARGS (extra `accelerate launch` options for pretraining, e.g.
# "--num_machines 2 --machine_rank 1 --main_process_ip HOST"), STAGE_ONLY=pretrain|glue (with SIZE_INDEX: one step of
# one grid run, as the SLURM script uses it), RUNS_PER_GPU=N (grid runs sharing one device at a time).
#
# Stages: corpus (the paper's filtered corpus text-machine-lab/constrained_language, verified and passed through;
# RAW=1 rebuilds it from raw Hub sources with the datatrove executor) -> 19,000-token tokenizer -> the 42 runs of
# the paper's grid, one epoch each -> GLUE, 9 tasks x {filtered, full} x seeds 0,1,2 plus random-init baselines ->
# scaling fits -> publish. Every stage is resumable: run the script again after an interruption.
#
# Time. Not yet measured on a GPU by this project (no GPU was available when this script was written); estimates:
#   pretraining, one epoch = 35.5K updates x 256 x 128 = 1.16e9 token positions per run. On one H200 the stock fp32
#   Trainer runs H=256/L=8 at ~0.42M tokens/s and H=32/L=1 at ~2.1M; bf16 + torch.compile + a masked-positions-only
#   head at ~1.48M and ~5.0M (docs/design.md#performance). hf_shrunk's Trainer path uses the same levers, so per
#   run: ~13 min for the largest sizes, ~4 min for the smallest; ~5 GPU-hours for the 42 runs (~15 h with the stock
#   fp32 path).
#   GLUE: 42 sizes x 2 variants x 9 tasks x 2 conditions x 3 seeds = 4,536 fine-tunes, dominated by MNLI and QQP
#   (~390K and ~360K examples x 5 epochs); estimate ~10 GPU-hours. Corpus pass-through and tokenizer: minutes.
#   On CPU (2 cores, measured): H=128/L=4 pretrains at ~12K tokens/s (3.1x the stock Trainer), i.e. ~27 h per run.
# Replace these estimates with measured numbers from `benchmarks/pretrain_throughput.py` on your GPUs.
set -euo pipefail

ROOT="${HF_SHRUNK_HOME:-$HOME/.cache/hf_shrunk}/paper"
ORG="${ORG:-}"
if [[ "${PUSH:-0}" == 1 && -z "$ORG" ]]; then
  echo "PUSH=1 needs ORG=<your Hub user or organisation>" >&2
  exit 2
fi
ACCELERATE="${ACCELERATE:-auto}"          # cpu | single_gpu | multi_gpu | fsdp | path to an accelerate config
SEEDS="${SEEDS:-0 1 2}"
HF=(hf-shrunk)

setup() {  # corpus + tokenizer; array tasks (SIZE_INDEX set) find them done by the setup job
  echo "== corpus"
  if [[ "${RAW:-0}" == 1 ]]; then
    "${HF[@]}" corpus --root "$ROOT" --name paper --executor datatrove --num_proc "$(nproc)" \
      --sources hub:allenai/c4:en hub:wikimedia/wikipedia:20231101.en hub:rahular/simple-wikipedia hub:cam-cst/cbt:raw \
      --max_docs "${MAX_DOCS:-2000000}" --validation_size 100000 --test_size 100000
  else
    "${HF[@]}" corpus --root "$ROOT" --name paper --sources text-machine-lab/constrained_language
  fi

  echo "== tokenizer"
  "${HF[@]}" tokenizer --root "$ROOT" --name paper --corpus paper --vocab_size 19000
}
[[ -z "${SIZE_INDEX:-}" ]] && setup
[[ "${SETUP_ONLY:-0}" == 1 ]] && exit 0

# One grid run: pretrain (paper recipe, resumable) then GLUE with the random-init baseline.
pretrain_size() {
  # shellcheck disable=SC2086 # LAUNCH_ARGS is a list of options
  "${HF[@]}" pretrain --root "$ROOT" --grid paper --size "$1" --corpus paper --tokenizer paper \
    --accelerate_config "$ACCELERATE" --resume ${COMPILE:+--torch_compile true} ${LAUNCH_ARGS:-}
}
glue_size() {
  # shellcheck disable=SC2086 # SEEDS is a list
  "${HF[@]}" glue "$1" --root "$ROOT" --seeds $SEEDS --condition both --baseline random-init
}
run_size() {
  [[ "${STAGE_ONLY:-pretrain}" == pretrain ]] && pretrain_size "$1"
  [[ "${STAGE_ONLY:-glue}" == glue ]] && glue_size "$1"
  return 0
}

if [[ -n "${SIZE_INDEX:-}" ]]; then       # set by the SLURM array: one run per task
  run_size "$("${HF[@]}" sizes --grid paper --json | python3 -c "import json,sys; print(json.load(sys.stdin)[$SIZE_INDEX]['slug'])")"
  exit 0
fi

echo "== pretrain + GLUE, 42 runs (${RUNS_PER_GPU:-1} at a time)"
# RUNS_PER_GPU=N runs N grid runs at once on the same device: a 1-3M-parameter model cannot fill a modern GPU.
# Each run is its own process with its own run folder and checkpoints, so each stays resumable on its own.
running=0
failed=0
mkdir -p "$ROOT/logs"
for slug in $("${HF[@]}" sizes --grid paper --json | python3 -c "import json,sys; print(' '.join(r['slug'] for r in json.load(sys.stdin)))"); do
  if [[ "${RUNS_PER_GPU:-1}" -le 1 ]]; then
    run_size "$slug"
    continue
  fi
  run_size "$slug" > "$ROOT/logs/$slug.log" 2>&1 &
  running=$((running + 1))
  if [[ "$running" -ge "$RUNS_PER_GPU" ]]; then
    wait -n || failed=$((failed + 1))
    running=$((running - 1))
  fi
done
while [[ "$running" -gt 0 ]]; do
  wait -n || failed=$((failed + 1))
  running=$((running - 1))
done
if [[ "$failed" -gt 0 ]]; then
  echo "$failed grid run(s) failed: see $ROOT/logs/<slug>.log; run the script again to resume" >&2
  exit 1
fi

echo "== scaling fits"
# The paper's Figure 1 splits the frontier at 2.2e15 FLOPs; the second fit finds the break from the data.
"${HF[@]}" fit --root "$ROOT" --name paper --break_at 2.2e15
"${HF[@]}" fit --root "$ROOT" --name paper-break-from-data --break_at auto

echo "== cards and publish"
"${HF[@]}" publish --root "$ROOT" --org "${ORG:-your-org}" --dataset --corpus paper --tokenizer paper --fit paper \
  --dry_run --to_dir model_cards
if [[ "${PUSH:-0}" == 1 ]]; then
  "${HF[@]}" publish --root "$ROOT" --org "$ORG" --dataset --corpus paper --tokenizer paper --fit paper
  "${HF[@]}" publish verify --org "$ORG" --dataset
fi
