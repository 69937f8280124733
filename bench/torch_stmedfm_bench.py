"""PyTorch eager CPU baseline of STMedFM-Tiny (SPEC section 8), for `stmedfm bench` ratios.

    /usr/bin/python3 bench/torch_stmedfm_bench.py --threads 1 [--warmup 3] [--repeats 10]

Measures, in float32:
  - a full training step (forward, cross-entropy, backward, AdamW step with the spec's decay
    groups): 2D batch 64 with the PathMNIST head (9 classes), 3D batch 16 with OrganMNIST3D (11);
  - inference throughput under torch.no_grad() + softmax: 2D batch 256, 3D batch 32.
Warmup runs are discarded; the median of the repeats is reported. Prints ONE JSON line:
  {"threads":n,"train_step_ms":{"2d":x,"3d":y},"infer_per_s":{"2d":a,"3d":b}}
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "scripts", "torch_reference"))
from stmedfm import STMedFM, Config  # noqa: E402


def median_seconds(fn, warmup: int, repeats: int) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def bench_modality(rank: int, task: str, classes: int, train_batch: int, infer_batch: int, warmup: int, repeats: int):
    torch.manual_seed(0)
    model = STMedFM(Config(stems=("2d",) if rank == 2 else ("3d",), tasks={task: classes}))
    named = list(model.named_parameters())
    decay = [p for n, p in named if p.dim() >= 2 and not n.endswith(".pos")]
    no_decay = [p for n, p in named if not (p.dim() >= 2 and not n.endswith(".pos"))]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=1e-3, betas=(0.9, 0.999), eps=1e-8)
    shape = (3, 28, 28) if rank == 2 else (1, 28, 28, 28)
    x = torch.randn(train_batch, *shape)
    y = torch.randint(0, classes, (train_batch,))

    def train_step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x, task), y)
        loss.backward()
        opt.step()

    model.train()
    step_s = median_seconds(train_step, warmup, repeats)

    xi = torch.randn(infer_batch, *shape)
    model.eval()

    def infer():
        with torch.no_grad():
            torch.softmax(model(xi, task), dim=-1)

    infer_s = median_seconds(infer, warmup, repeats)
    return step_s * 1e3, infer_batch / infer_s


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--repeats", type=int, default=10)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    ms2, ips2 = bench_modality(2, "pathmnist", 9, 64, 256, args.warmup, args.repeats)
    ms3, ips3 = bench_modality(3, "organmnist3d", 11, 16, 32, args.warmup, args.repeats)
    print(json.dumps({"threads": args.threads,
                      "train_step_ms": {"2d": round(ms2, 2), "3d": round(ms3, 2)},
                      "infer_per_s": {"2d": round(ips2, 1), "3d": round(ips3, 1)}}, separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
