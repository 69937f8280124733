"""Writes the engine parity fixtures test/fixtures/engine_parity/{net2d,net3d}.json.

    /usr/bin/python3 scripts/torch_reference/make_engine_fixture.py [--out DIR]

Each fixture is a miniature STMedFM (the same module as stmedfm.py, sizes shrunk) computed in
float64 by PyTorch with a fixed seed:

  net2d: x [2,3,8,8] -> stem2d (c1 Conv2d 3->4 k3 p1, GELU, c2 Conv2d 4->8 k2 s2, 16 tokens, + pos
         [1,16,8], ln) -> 1 pre-norm block (2 heads, qkv 8->24, proj 8->8, fc1 8->16, GELU, fc2 16->8)
         -> norm -> mean over tokens -> heads.t Linear(8->3) -> cross-entropy (mean) with labels [0,2]
  net3d: x [2,1,4,4,4] -> stem3d (Conv3d 1->4 k3 p1, GELU, Conv3d 4->8 k2 s2, 8 tokens, pos, ln) -> same

Recorded: the input, labels, every parameter (state-dict name, shape, row-major values), the loss,
every parameter's gradient, and three AdamW steps on the same batch (lr 1e-2, betas 0.9/0.999,
eps 1e-8, weight decay 0.05): the loss seen at each step and the parameters after the last one.

Weight decay follows SPEC section 5, "weight matrices and conv kernels only": parameters with
ndim >= 2, except the positional embedding `pos` ([1,T,D], ndim 3, but an embedding, not a
weight). LayerNorm scales and all biases are not decayed. Each parameter's `decay` flag says which.
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from stmedfm import STMedFM, Config  # noqa: E402

LR, BETAS, EPS, WD, STEPS = 1e-2, (0.9, 0.999), 1e-8, 0.05, 3
LABELS = [0, 2]


def decays(name: str, p: torch.Tensor) -> bool:
    return p.dim() >= 2 and not name.endswith(".pos")


def tiny(rank: int) -> Config:
    return Config(dim=8, heads=2, depth=1, mlp_hidden=16, eps=1e-5, image_size=8 if rank == 2 else 4,
                  in_channels_2d=3, stem2d_hidden=4, stem3d_hidden=4, patch=2, stem_kernel=3,
                  stems=("2d",) if rank == 2 else ("3d",), tasks={"t": 3})


def flat(t: torch.Tensor) -> list:
    return t.detach().reshape(-1).tolist()


def make(rank: int, seed: int) -> dict:
    torch.manual_seed(seed)
    cfg = tiny(rank)
    model = STMedFM(cfg).double()
    # Default init leaves LayerNorm at (1, 0) and pos near 0, where a swapped scale/bias or a
    # dropped pos would go unnoticed; spread them out.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(".pos"):
                p.normal_(0.0, 0.5)
            elif ("ln" in name or name.startswith("norm.")) and name.endswith(".weight"):
                p.copy_(1.0 + 0.2 * torch.randn_like(p))
            elif ("ln" in name or name.startswith("norm.")) and name.endswith(".bias"):
                p.normal_(0.0, 0.2)
    shape = [2, 3, 8, 8] if rank == 2 else [2, 1, 4, 4, 4]
    x = torch.randn(*shape, dtype=torch.float64)
    y = torch.tensor(LABELS)

    named = list(model.named_parameters())
    params = [{"name": n, "shape": list(p.shape), "decay": decays(n, p), "data": flat(p)} for n, p in named]

    loss = F.cross_entropy(model(x, "t"), y)
    loss.backward()
    grads = {n: flat(p.grad) for n, p in named}

    opt = torch.optim.AdamW(
        [{"params": [p for n, p in named if decays(n, p)], "weight_decay": WD},
         {"params": [p for n, p in named if not decays(n, p)], "weight_decay": 0.0}],
        lr=LR, betas=BETAS, eps=EPS, foreach=False)
    losses = []
    for _ in range(STEPS):
        opt.zero_grad()
        l = F.cross_entropy(model(x, "t"), y)
        l.backward()
        opt.step()
        losses.append(l.item())
    with torch.no_grad():
        final_loss = F.cross_entropy(model(x, "t"), y).item()

    return {
        "generator": "scripts/torch_reference/make_engine_fixture.py",
        "torch": torch.__version__,
        "seed": seed,
        "config": {"rank": rank, "dim": cfg.dim, "heads": cfg.heads, "depth": cfg.depth, "mlp_hidden": cfg.mlp_hidden,
                   "eps": cfg.eps, "in_channels": 3 if rank == 2 else 1,
                   "stem_hidden": cfg.stem2d_hidden if rank == 2 else cfg.stem3d_hidden,
                   "stem_kernel": cfg.stem_kernel, "patch": cfg.patch, "image_size": cfg.image_size,
                   "tokens": cfg.tokens(rank), "classes": 3, "task": "t"},
        "input": {"shape": shape, "data": flat(x)},
        "labels": LABELS,
        "params": params,
        "loss": loss.item(),
        "grads": grads,
        "adamw": {
            "lr": LR, "beta1": BETAS[0], "beta2": BETAS[1], "eps": EPS, "weight_decay": WD, "steps": STEPS,
            "decay_rule": "ndim >= 2 except pos (weight matrices and conv kernels only)",
            "losses": losses,
            "final_loss": final_loss,
            "params_after": {n: flat(p) for n, p in named},
        },
    }


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(here, "..", "..", "test", "fixtures", "engine_parity"))
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    for rank, seed in ((2, 0), (3, 1)):
        fx = make(rank, seed)
        path = os.path.join(args.out, f"net{rank}d.json")
        with open(path, "w") as f:
            json.dump(fx, f, separators=(",", ":"))
            f.write("\n")
        print(f"{os.path.relpath(path)}: {len(fx['params'])} tensors, "
              f"{sum(len(p['data']) for p in fx['params'])} parameters, loss {fx['loss']:.6f}, "
              f"AdamW losses {[round(v, 6) for v in fx['adamw']['losses']]} -> {fx['adamw']['final_loss']:.6f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
