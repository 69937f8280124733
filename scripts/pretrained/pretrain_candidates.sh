#!/usr/bin/env bash
# Pretrains STMedFM-Tiny on the four real MedMNIST files for each candidate step count
# (the protocol's 200 and longer), so that transfer_table.sh can compare their transfer.
# Usage: scripts/pretrained/pretrain_candidates.sh OUT_DIR [STEPS...]   (default steps: 200 600 1000)
set -euo pipefail
OUT=${1:?usage: pretrain_candidates.sh OUT_DIR [STEPS...]}; shift || true
STEPS=${*:-200 600 1000}
S=${MEDMNIST_DIR:-/work/shared/data/medmnist}
mkdir -p "$OUT"
for n in $STEPS; do
  [ -f "$OUT/pre-$n.safetensors" ] && continue
  /usr/bin/time -f "pretrain $n steps: %e s wall" npx tsx src/cli/main.ts pretrain \
    --data pathmnist=$S/pathmnist-subset1000.npz --data bloodmnist=$S/bloodmnist-source28.npz \
    --data dermamnist=$S/dermamnist-source28.npz --data organmnist3d=$S/organmnist3d.npz \
    --steps "$n" --seed 0 --quiet --json --out "$OUT/pre-$n.safetensors" > "$OUT/pre-$n.json"
done
