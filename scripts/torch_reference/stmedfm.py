"""Independent PyTorch reference of STMedFM-Tiny (SPEC section 3).

Written from the spec, not from the TypeScript code, so it can check the engine: parameter names
are the state-dict names a `.safetensors` checkpoint uses, and LoRA / Houlsby adapters are wrappers
whose parameter names match the peft-style names of the spec. Only used to generate fixtures, to
check checkpoints and as the PyTorch eager baseline; the project never needs Python.

    /usr/bin/python3 scripts/torch_reference/stmedfm.py      # prints and checks parameter counts
"""
from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field, asdict
from typing import Dict, Optional, Sequence, Tuple

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F


@dataclass
class LoraConfig:
    r: int = 4
    alpha: float = 8.0
    targets: Tuple[str, ...] = ("qkv", "proj")
    rslora: bool = False

    @property
    def scale(self) -> float:
        return self.alpha / math.sqrt(self.r) if self.rslora else self.alpha / self.r


@dataclass
class AdapterConfig:
    bottleneck: int = 8
    placement: str = "houlsby"  # 'houlsby': after attention proj and after MLP; 'pfeiffer': after MLP only


@dataclass
class Config:
    dim: int = 64
    heads: int = 4
    depth: int = 2
    mlp_hidden: int = 256
    eps: float = 1e-5
    image_size: int = 28
    in_channels_2d: int = 3
    stem2d_hidden: int = 32
    stem3d_hidden: int = 16
    patch: int = 4
    volume_size: Optional[int] = None  # 3D side; None: image_size
    patch3d: Optional[int] = None  # 3D patch; None: patch
    stem_kernel: int = 3
    stems: Tuple[str, ...] = ("2d", "3d")
    tasks: Dict[str, int] = field(default_factory=dict)
    lora: Optional[LoraConfig] = None
    adapter: Optional[AdapterConfig] = None

    def geometry(self, rank: int) -> Tuple[int, int]:
        """(input side, patch) of the 2D or 3D stem."""
        if rank == 2:
            return self.image_size, self.patch
        return self.volume_size or self.image_size, self.patch3d or self.patch

    def tokens(self, rank: int) -> int:
        side, patch = self.geometry(rank)
        return (side // patch) ** rank


TINY = Config()

# Class counts of the default tasks (MedMNIST v2).
DEFAULT_TASKS = {"pathmnist": 9, "bloodmnist": 8, "dermamnist": 7, "organmnist3d": 11}


class Stem(nn.Module):
    """Conv(k, pad k//2) -> GELU -> patchify Conv(k=s=patch) -> row-major tokens -> + pos -> LayerNorm.

    One class for 2D and 3D: only the spatial rank differs.
    """

    def __init__(self, rank: int, in_ch: int, hidden: int, cfg: Config):
        super().__init__()
        conv = nn.Conv2d if rank == 2 else nn.Conv3d
        self.c1 = conv(in_ch, hidden, cfg.stem_kernel, stride=1, padding=cfg.stem_kernel // 2)
        side, patch = cfg.geometry(rank)
        if side % patch:
            raise ValueError(f"{rank}D input side {side} is not a multiple of patch {patch}")
        self.c2 = conv(hidden, cfg.dim, patch, stride=patch)
        self.pos = nn.Parameter(torch.zeros(1, cfg.tokens(rank), cfg.dim))
        nn.init.trunc_normal_(self.pos, std=0.02)
        self.ln = nn.LayerNorm(cfg.dim, eps=cfg.eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.c2(F.gelu(self.c1(x)))
        x = x.flatten(2).transpose(1, 2)
        return self.ln(x + self.pos)


class LoraLinear(nn.Linear):
    """`W x + b + scale * B(A x)`; the base weight keeps its plain name (`qkv.weight`), as in the spec."""

    def __init__(self, in_f: int, out_f: int, lora: LoraConfig):
        super().__init__(in_f, out_f)
        self.lora_A = nn.Linear(in_f, lora.r, bias=False)
        self.lora_B = nn.Linear(lora.r, out_f, bias=False)
        nn.init.kaiming_uniform_(self.lora_A.weight, a=math.sqrt(5))
        nn.init.zeros_(self.lora_B.weight)
        self.scale = lora.scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x) + self.scale * self.lora_B(self.lora_A(x))

    def merged_weight(self) -> torch.Tensor:
        return self.weight + self.scale * self.lora_B.weight @ self.lora_A.weight


class Adapter(nn.Module):
    """Bottleneck adapter `x + up(GELU(down(x)))`, up zero-initialised so it starts as the identity."""

    def __init__(self, dim: int, bottleneck: int):
        super().__init__()
        self.down = nn.Linear(dim, bottleneck)
        self.up = nn.Linear(bottleneck, dim)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.up(F.gelu(self.down(x)))


def linear(cfg: Config, name: str, in_f: int, out_f: int) -> nn.Linear:
    if cfg.lora is not None and name in cfg.lora.targets:
        return LoraLinear(in_f, out_f, cfg.lora)
    return nn.Linear(in_f, out_f)


class Block(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        d = cfg.dim
        if d % cfg.heads:
            raise ValueError(f"dim {d} is not divisible by heads {cfg.heads}")
        self.heads = cfg.heads
        self.ln1 = nn.LayerNorm(d, eps=cfg.eps)
        self.qkv = linear(cfg, "qkv", d, 3 * d)
        self.proj = linear(cfg, "proj", d, d)
        self.ln2 = nn.LayerNorm(d, eps=cfg.eps)
        self.fc1 = linear(cfg, "fc1", d, cfg.mlp_hidden)
        self.fc2 = linear(cfg, "fc2", cfg.mlp_hidden, d)
        ad = cfg.adapter
        if ad is not None:
            if ad.placement not in ("houlsby", "pfeiffer"):
                raise ValueError(f"unknown adapter placement {ad.placement!r}")
            if ad.placement == "houlsby":
                self.ad1 = Adapter(d, ad.bottleneck)
            self.ad2 = Adapter(d, ad.bottleneck)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        b, t, d = x.shape
        h = self.heads
        qkv = self.qkv(x).reshape(b, t, 3, h, d // h).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(d // h), dim=-1)
        return (att @ v).transpose(1, 2).reshape(b, t, d)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a = self.proj(self.attention(self.ln1(x)))
        if hasattr(self, "ad1"):
            a = self.ad1(a)
        x = x + a
        m = self.fc2(F.gelu(self.fc1(self.ln2(x))))
        if hasattr(self, "ad2"):
            m = self.ad2(m)
        return x + m


class STMedFM(nn.Module):
    def __init__(self, cfg: Config):
        super().__init__()
        self.cfg = cfg
        if "2d" in cfg.stems:
            self.stem2d = Stem(2, cfg.in_channels_2d, cfg.stem2d_hidden, cfg)
        if "3d" in cfg.stems:
            self.stem3d = Stem(3, 1, cfg.stem3d_hidden, cfg)
        self.blocks = nn.ModuleList(Block(cfg) for _ in range(cfg.depth))
        self.norm = nn.LayerNorm(cfg.dim, eps=cfg.eps)
        self.heads = nn.ModuleDict({t: nn.Linear(cfg.dim, c) for t, c in cfg.tasks.items()})

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """[N,C,H,W] or [N,1,D,H,W] -> pooled features [N,dim]."""
        stem = self.stem2d if x.dim() == 4 else self.stem3d
        x = stem(x)
        for blk in self.blocks:
            x = blk(x)
        return self.norm(x).mean(dim=1)

    def forward(self, x: torch.Tensor, task: str) -> torch.Tensor:
        return self.heads[task](self.encode(x))


def count(module: nn.Module, prefix: str = "") -> int:
    return sum(p.numel() for n, p in module.named_parameters() if n.startswith(prefix))


def parameter_counts(cfg: Config = TINY) -> Dict[str, int]:
    """The counts SPEC section 3 pins, computed from modules built here."""
    base = STMedFM(Config(**{**asdict(cfg), "lora": None, "adapter": None, "tasks": dict(DEFAULT_TASKS)}))
    enc = sum(p.numel() for n, p in base.named_parameters() if n.startswith(("blocks.", "norm.")))
    head = lambda t: count(base.heads[t])
    out = {
        "stem2d": count(base.stem2d),
        "stem3d": count(base.stem3d),
        "encoder": enc,
        "full_pathmnist": count(base.stem2d) + enc + head("pathmnist"),
        "full_organmnist3d": count(base.stem3d) + enc + head("organmnist3d"),
    }
    lora = STMedFM(Config(**{**asdict(cfg), "adapter": None, "tasks": {"pathmnist": 9}, "lora": LoraConfig()}))
    out["lora_pathmnist"] = sum(p.numel() for n, p in lora.named_parameters() if ".lora_" in n) + head("pathmnist")
    ad = STMedFM(Config(**{**asdict(cfg), "lora": None, "tasks": {"pathmnist": 9}, "adapter": AdapterConfig()}))
    out["adapter_pathmnist"] = sum(p.numel() for n, p in ad.named_parameters() if ".ad1." in n or ".ad2." in n) + head("pathmnist")
    return out


SPEC_COUNTS = {
    "stem2d": 36_992,
    "stem3d": 88_128,
    "encoder": 100_096,
    "full_pathmnist": 137_673,
    "full_organmnist3d": 188_939,
    "lora_pathmnist": 3_657,
    "adapter_pathmnist": 4_969,
}


# ---------------------------------------------------------------------------------------------
# Checkpoints


_ST_DTYPES = {
    "F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64, "I32": np.int32,
    "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_, "BF16": np.uint16,
}


def load_safetensors(path: str) -> Tuple[Dict[str, np.ndarray], Dict[str, str]]:
    """Reads a .safetensors file with numpy only: u64 LE header length, JSON header, raw LE data.

    Returns (tensors, metadata). BF16 is widened to float32.
    """
    with open(path, "rb") as f:
        buf = f.read()
    if len(buf) < 8:
        raise ValueError(f"{path}: too short for a safetensors file")
    n = int.from_bytes(buf[:8], "little")
    if 8 + n > len(buf):
        raise ValueError(f"{path}: header length {n} exceeds the file size {len(buf)}")
    header = json.loads(buf[8:8 + n].decode("utf-8"))
    meta = header.pop("__metadata__", None) or {}
    data = memoryview(buf)[8 + n:]
    out: Dict[str, np.ndarray] = {}
    for name, info in header.items():
        dt = info["dtype"]
        if dt not in _ST_DTYPES:
            raise ValueError(f"{path}: tensor {name} has unsupported dtype {dt}")
        lo, hi = info["data_offsets"]
        arr = np.frombuffer(data[lo:hi], dtype=np.dtype(_ST_DTYPES[dt]).newbyteorder("<"))
        if dt == "BF16":
            arr = (arr.astype(np.uint32) << 16).view(np.float32)
        shape = tuple(info["shape"])
        if arr.size != int(np.prod(shape, dtype=np.int64)):
            raise ValueError(f"{path}: tensor {name} has {arr.size} elements for shape {list(shape)}")
        out[name] = arr.reshape(shape).copy()
    return out, meta


def save_safetensors(path: str, tensors: Dict[str, np.ndarray], metadata: Optional[Dict[str, str]] = None) -> None:
    """Writes float32/float64/int64 arrays as .safetensors (for self-tests of the loader and the CLI)."""
    names = {np.dtype(v): k for k, v in _ST_DTYPES.items() if k != "BF16"}
    header: Dict[str, object] = {"__metadata__": metadata} if metadata else {}
    blobs, off = [], 0
    for name, arr in tensors.items():
        a = np.ascontiguousarray(arr)
        raw = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": names[a.dtype], "shape": list(a.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    h = json.dumps(header).encode("utf-8")
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little") + h + b"".join(blobs))


def _get(d: dict, *keys, default=None):
    for k in keys:
        if k in d:
            return d[k]
    return default


def config_from_checkpoint(tensors: Dict[str, np.ndarray], meta: Dict[str, str]) -> Tuple[Config, Dict[str, str]]:
    """Builds a Config from the checkpoint's `__metadata__` and returns it with each task's modality.

    The config JSON is read from the key 'stmedfm_config' (what the TypeScript side writes:
    {"model": {dim, heads, depth, mlpHidden, lnEps, stem2d: {inChannels, hidden, imageSize, patch},
    stem3d: {inChannels, hidden, volumeSize, patch}}, "heads": [{name, numClasses, modality}],
    "peft": {kind: 'lora'|'adapter', ...}}) or 'config'; snake_case and flat layouts are accepted
    too. Tasks, stems, LoRA rank and adapter width are read from the tensors, so a terse config still
    loads strictly; the number of attention heads cannot be, and defaults to the spec's 4.
    """
    raw = meta.get("stmedfm_config", meta.get("config"))
    c = json.loads(raw) if isinstance(raw, str) else (raw or {})
    m = c["model"] if isinstance(c.get("model"), dict) else c
    cfg = Config()
    cfg.dim = int(_get(m, "dim", "d", "embedDim", "embed_dim", default=cfg.dim))
    heads = _get(m, "numHeads", "num_heads", "heads", default=cfg.heads)
    cfg.heads = int(heads) if not isinstance(heads, list) else cfg.heads
    cfg.depth = int(_get(m, "depth", default=cfg.depth))
    cfg.mlp_hidden = int(_get(m, "mlpHidden", "mlp_hidden", default=cfg.mlp_hidden))
    cfg.eps = float(_get(m, "lnEps", "eps", "ln_eps", default=cfg.eps))
    s2 = m.get("stem2d") if isinstance(m.get("stem2d"), dict) else {}
    s3 = m.get("stem3d") if isinstance(m.get("stem3d"), dict) else {}
    cfg.image_size = int(_get(s2, "imageSize", "image_size", default=_get(m, "imageSize", "image_size", default=cfg.image_size)))
    cfg.patch = int(_get(s2, "patch", default=_get(m, "patch", default=cfg.patch)))
    cfg.volume_size = int(_get(s3, "volumeSize", "volume_size", default=cfg.image_size))
    cfg.patch3d = int(_get(s3, "patch", default=cfg.patch))

    if "stem2d.c1.weight" in tensors:
        w = tensors["stem2d.c1.weight"]
        cfg.stem2d_hidden, cfg.in_channels_2d, cfg.stem_kernel = w.shape[0], w.shape[1], w.shape[2]
    if "stem3d.c1.weight" in tensors:
        w = tensors["stem3d.c1.weight"]
        cfg.stem3d_hidden, cfg.stem_kernel = w.shape[0], w.shape[2]
    cfg.stems = tuple(s for s in ("2d", "3d") if f"stem{s}.c1.weight" in tensors)
    depth_in_file = 1 + max((int(k.split(".")[1]) for k in tensors if k.startswith("blocks.")), default=-1)
    if depth_in_file and depth_in_file != cfg.depth:
        raise ValueError(f"config says depth {cfg.depth} but the file holds {depth_in_file} blocks")
    cfg.tasks = {k[len("heads."):-len(".weight")]: int(v.shape[0]) for k, v in tensors.items()
                 if k.startswith("heads.") and k.endswith(".weight")}
    head_list = c.get("heads") if isinstance(c.get("heads"), list) else []  # (a flat config's 'heads' is the head count)
    modality = {h["name"]: h["modality"] for h in head_list if isinstance(h, dict) and "name" in h and "modality" in h}

    peft = c.get("peft") if isinstance(c.get("peft"), dict) else {}
    lc = c.get("lora") if isinstance(c.get("lora"), dict) else (peft if peft.get("kind") == "lora" else None)
    ac = c.get("adapter") if isinstance(c.get("adapter"), dict) else (peft if peft.get("kind") == "adapter" else None)
    lora_keys = [k for k in tensors if ".lora_A." in k]
    if lora_keys or lc is not None:
        lc = lc or {}
        r = int(tensors[lora_keys[0]].shape[0]) if lora_keys else int(_get(lc, "r", "rank", default=4))
        targets = sorted({k.split(".")[2] for k in lora_keys}) or list(_get(lc, "targets", "target_modules", default=["qkv", "proj"]))
        cfg.lora = LoraConfig(r=r, alpha=float(_get(lc, "alpha", "lora_alpha", default=8.0)), targets=tuple(targets),
                              rslora=bool(_get(lc, "rslora", "use_rslora", default=False)))
    ad_keys = [k for k in tensors if ".ad1.down.weight" in k or ".ad2.down.weight" in k]
    if ad_keys or ac is not None:
        ac = ac or {}
        width = int(tensors[ad_keys[0]].shape[0]) if ad_keys else int(_get(ac, "bottleneck", default=8))
        placement = ("houlsby" if any(".ad1." in k for k in ad_keys) else "pfeiffer") if ad_keys else str(_get(ac, "placement", default="houlsby"))
        cfg.adapter = AdapterConfig(bottleneck=width, placement=placement)
    return cfg, modality


def load_checkpoint(path: str) -> Tuple[STMedFM, Config, Dict[str, str]]:
    """(model in float64, config, task -> '2d'/'3d' where the metadata says)."""
    tensors, meta = load_safetensors(path)
    cfg, modality = config_from_checkpoint(tensors, meta)
    model = STMedFM(cfg).double()
    state = {k: torch.from_numpy(v.astype(np.float64)) for k, v in tensors.items()}
    model.load_state_dict(state, strict=True)
    return model.eval(), cfg, modality


def preprocess(x: np.ndarray, is3d: bool, in_channels: int = 3) -> torch.Tensor:
    """SPEC section 4: x/255, (x-0.5)/0.5; gray 2D repeated to 3 channels; 3D -> [N,1,D,H,W].

    Accepts one example or a batch: 2D [H,W], [H,W,C], [N,H,W], [N,H,W,C]; 3D [D,H,W], [N,D,H,W].
    """
    x = (np.asarray(x, dtype=np.float64) / 255.0 - 0.5) / 0.5
    t = torch.from_numpy(x)
    if is3d:
        if t.dim() == 3:
            t = t[None]
        if t.dim() != 4:
            raise ValueError(f"a 3D input must be [D,H,W] or [N,D,H,W], got {list(t.shape)}")
        return t[:, None]
    if t.dim() == 2 or (t.dim() == 3 and t.shape[-1] in (1, 3)):  # one image, [H,W] or [H,W,C]
        t = t[None]
    if t.dim() == 3:
        t = t[..., None]
    if t.dim() != 4:
        raise ValueError(f"a 2D input must be [H,W], [H,W,C], [N,H,W] or [N,H,W,C], got {list(t.shape)}")
    t = t.permute(0, 3, 1, 2)
    if t.shape[1] == 1 and in_channels == 3:
        t = t.repeat(1, 3, 1, 1)
    return t.contiguous()


def main(argv: Sequence[str]) -> int:
    counts = parameter_counts()
    ok = True
    for k, want in SPEC_COUNTS.items():
        got = counts[k]
        flag = "ok" if got == want else f"MISMATCH (spec {want:,}, diff {got - want:+,})"
        ok &= got == want
        print(f"{k:20s} {got:>9,}  {flag}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
