#!/usr/bin/env bash
# Transfer of each pretrained candidate (pretrain_candidates.sh) to BloodMNIST and DermaMNIST:
# LoRA and full fine-tuning with the protocol's budget (finetune defaults), test accuracy and
# macro AUROC per seed, one TSV row per run on stdout:
#   steps  task  method  seed  test_acc  test_auroc
# Usage: scripts/pretrained/transfer_table.sh PRE_DIR "200 600 1000" "0 1 2" [task=file ...]
# STEPS "none" trains from scratch instead (the `scratch` method, no backbone) for comparison.
set -euo pipefail
PRE=${1:?usage: transfer_table.sh PRE_DIR STEPS SEEDS [task=file ...]}
STEPS=${2:-200 600 1000}
SEEDS=${3:-0 1 2}
shift 3 || true
S=${MEDMNIST_DIR:-/work/shared/data/medmnist}
TASKS=("$@")
[ ${#TASKS[@]} -eq 0 ] && TASKS=(bloodmnist=$S/bloodmnist-source28.npz dermamnist=$S/dermamnist-source28.npz)
WORK=$PRE/ft
mkdir -p "$WORK"
for n in $STEPS; do
  for tf in "${TASKS[@]}"; do
    task=${tf%%=*}
    methods="lora full"; [ "$n" = none ] && methods=scratch
    for method in $methods; do
      for seed in $SEEDS; do
        data=$(basename "${tf#*=}" .npz)
        out=$WORK/$data-$method-pre$n-s$seed.safetensors
        from=(--from "$PRE/pre-$n.safetensors"); [ "$n" = none ] && from=()
        [ -f "$out" ] || npx tsx src/cli/main.ts finetune --task "$task" --data "$tf" --method $method \
          "${from[@]}" --seed "$seed" --quiet --out "$out" >/dev/null
        npx tsx src/cli/main.ts evaluate --checkpoint "$out" --task "$task" --data "$tf" --split test --no-temperature --json 2>/dev/null |
          node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{const j=JSON.parse(s);const m=j.metrics??j;process.stdout.write(`${m.acc}\t${m.auroc}\n`)})' |
          sed "s/^/$n\t$task\t$method\t$seed\t/"
      done
    done
  done
done
