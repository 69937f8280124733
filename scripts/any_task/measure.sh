#!/usr/bin/env bash
# The whole path on data nobody here prepared (issue 9, docs/any-task.md): import PBC and HAM10000
# subsets, fine-tune LoRA, adapter and full from the packaged backbone and from random weights,
# evaluate on test, predict a folder, export, run the ONNX with plain onnxruntime-node.
# Usage: [SEED=0] [ONLY_TRAIN=1] scripts/any_task/measure.sh OUTDIR [STEPS]   (from the repository root)
set -euo pipefail
OUT=${1:?usage: measure.sh OUTDIR [STEPS]}
STEPS=${2:-120}
SEED=${SEED:-0}
RAW=${RAW:-../shared/data/raw}
S="node --import tsx src/cli/main.ts"
mkdir -p "$OUT"
run() { echo "+ $*" >&2; "$@"; }
[ -f "$OUT/pbc.npz" ] || run $S data import --images "$RAW/pbc-subset" --center-crop 200 --out "$OUT/pbc.npz"
[ -f "$OUT/ham.npz" ] || run $S data import --manifest "$RAW/ham10000-subset/HAM10000_metadata.csv" --root "$RAW/ham10000-subset" \
  --path-template 'images/{image_id}.jpg' --label-col dx --group-col lesion_id --out "$OUT/ham.npz"
for T in pbc ham; do
  for M in lora adapter full none; do
    if [ "$M" = none ]; then ARGS=(--method full --from none); else ARGS=(--method "$M"); fi
    run $S finetune --task $T --data $T="$OUT/$T.npz" "${ARGS[@]}" --steps "$STEPS" --seed "$SEED" --quiet --json --out "$OUT/$T-$M.safetensors" > "$OUT/$T-$M.train.json"
    run $S evaluate --checkpoint "$OUT/$T-$M.safetensors" --task $T --data $T="$OUT/$T.npz" --split test --json > "$OUT/$T-$M.eval.json"
  done
done
[ -n "${ONLY_TRAIN:-}" ] && { echo "done (training and evaluation only): $OUT" >&2; exit 0; }
# predict a folder of raw images (the preprocessing recorded at import is replayed)
run $S predict --checkpoint "$OUT/pbc-lora.safetensors" --task pbc --input "$RAW/pbc-subset/platelet" --preprocessing "$OUT/pbc.npz" > "$OUT/pbc-predict-platelet.csv"
run $S predict --checkpoint "$OUT/ham-lora.safetensors" --task ham --input "$RAW/ham10000-subset/images" --preprocessing "$OUT/ham.npz" > "$OUT/ham-predict-images.csv"
for T in pbc ham; do
  run $S export --checkpoint "$OUT/$T-lora.safetensors" --task $T --out "$OUT/$T-lora.onnx"
  run npx tsx scripts/any_task/onnx_accuracy.ts "$OUT/$T-lora.onnx" "$OUT/$T.npz" test > "$OUT/$T-lora.onnx.json"
done
echo "done: $OUT" >&2
