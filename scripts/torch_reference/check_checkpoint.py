"""Loads an STMedFM `.safetensors` checkpoint into the PyTorch reference and prints probabilities.

    /usr/bin/python3 scripts/torch_reference/check_checkpoint.py CKPT --task T --input X.npy
        [--modality 2d|3d] [--merge-lora]

The module is built from the config in the file's `__metadata__` (JSON under 'stmedfm_config',
as the TypeScript side writes it, or 'config'), the state dict is loaded with strict=True (so
every name and shape must match the spec), the input is preprocessed as SPEC section 4 says, and
the softmax probabilities are printed as JSON ({"task", "modality", "shape", "probs"}). `--merge-lora` folds LoRA into the base weights first
and also prints the largest difference to the unmerged output.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stmedfm import LoraLinear, load_checkpoint, preprocess  # noqa: E402

# MedMNIST v2 3D datasets; other task names are 2D unless the model only has a 3D stem.
KNOWN_3D = {"organmnist3d", "nodulemnist3d", "adrenalmnist3d", "fracturemnist3d", "vesselmnist3d", "synapsemnist3d"}


def is_3d(task: str, stems, modality: str | None, recorded: dict) -> bool:
    if modality:
        return modality == "3d"
    if task in recorded:
        return recorded[task] == "3d"
    if stems == ("3d",):
        return True
    if stems == ("2d",):
        return False
    return task.lower() in KNOWN_3D or task.lower().endswith("3d")


def merge_lora(model: torch.nn.Module) -> None:
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, LoraLinear):
                m.weight.copy_(m.merged_weight())
                m.lora_B.weight.zero_()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("checkpoint")
    ap.add_argument("--task", required=True)
    ap.add_argument("--input", required=True, help=".npy image(s) or volume(s), raw 0..255 values")
    ap.add_argument("--modality", choices=["2d", "3d"])
    ap.add_argument("--merge-lora", action="store_true")
    args = ap.parse_args()

    model, cfg, recorded = load_checkpoint(args.checkpoint)
    if args.task not in cfg.tasks:
        print(f"task {args.task!r} has no head in {args.checkpoint}; heads: {sorted(cfg.tasks)}", file=sys.stderr)
        return 2
    three = is_3d(args.task, cfg.stems, args.modality, recorded)
    x = preprocess(np.load(args.input), three, cfg.in_channels_2d)
    with torch.no_grad():
        probs = torch.softmax(model(x, args.task), dim=-1)
        out = {"task": args.task, "modality": "3d" if three else "2d", "shape": list(probs.shape), "probs": probs.tolist()}
        if args.merge_lora:
            merge_lora(model)
            merged = torch.softmax(model(x, args.task), dim=-1)
            out["merged_max_abs_diff"] = float((merged - probs).abs().max())
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
