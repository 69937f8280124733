#!/usr/bin/python3
"""Cuts the built-in demo data pack (data/demo/*.npz) from the real MedMNIST files.

`npx stmedfm reproduce` with no arguments reads data/demo, so the pack has to live in the
repository: small (15 MB for the whole folder), real pixels, and in the official MedMNIST .npz
layout so the ordinary loader reads it unchanged.

Each output split is a seeded, class-stratified subset of the SAME split of the source file
(train from train, val from val, test from test), so no image moves between splits and the
source's split hygiene (grouped-by-lesion DermaMNIST, duplicate pairs kept together in
BloodMNIST) carries over. Per class, the count is proportional to the source split's class
frequencies (largest remainder), with a floor so that every class appears in every split.

Run with Debian's python (it has numpy; the pyenv python3 on PATH does not):

    /usr/bin/python3 scripts/make_demo_pack.py            # write data/demo/*
    /usr/bin/python3 scripts/make_demo_pack.py --check    # rebuild in memory, compare, verify

Same seed, same sources -> byte-identical arrays (and, with the same numpy/zlib, byte-identical
files: np.savez_compressed stamps every member 1980-01-01).
"""
from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

SPLITS = ("train", "val", "test")
REPO = Path(__file__).resolve().parent.parent
DEFAULT_SRC = Path(os.environ.get("STMEDFM_MEDMNIST_DIR", REPO.parent / "shared" / "data" / "medmnist"))
DEFAULT_OUT = REPO / "data" / "demo"
# 15 MB for the whole folder, README and manifest included (decimal MB, so also < 15 MiB).
BUDGET_BYTES = 15_000_000


@dataclass(frozen=True)
class Cut:
    name: str  # official MedMNIST name: the output is <name>.npz
    source: str  # file in the source folder
    num_classes: int
    # images per split (train, val, test); None keeps the whole source split unchanged
    sizes: tuple[int, int, int] | None
    # at least this many images of every class in every split (bounded by what the source has)
    min_per_class: int


# Sizes, measured with np.savez_compressed: ~1.9 KB per BloodMNIST image, ~2.1 KB per
# DermaMNIST image, ~18.6 KB per OrganMNIST3D volume; PathMNIST (all 1,000) ~1.9 MB.
# The 2D tasks get 1,000 train images (15 batches of 64, so the 120 fine-tuning steps are ~8
# epochs, as for PathMNIST's 701) and 500 test images; what is left goes to OrganMNIST3D,
# whose 11 classes need every volume they can get (test 120: >= 4 of each rare class).
CUTS = (
    Cut("pathmnist", "pathmnist-subset1000.npz", 9, None, 1),
    Cut("bloodmnist", "bloodmnist-source28.npz", 8, (1000, 200, 500), 3),
    Cut("dermamnist", "dermamnist-source28.npz", 7, (1000, 200, 500), 3),
    Cut("organmnist3d", "organmnist3d.npz", 11, (170, 40, 120), 3),
)


def allocate(class_counts: np.ndarray, n: int, floor: int) -> np.ndarray:
    """Per-class counts summing to n: proportional (largest remainder), then raised to the floor."""
    total = int(class_counts.sum())
    if n > total:
        raise ValueError(f"asked for {n} images but the split has only {total}")
    quota = class_counts.astype(np.float64) * n / total
    k = np.floor(quota).astype(np.int64)
    # Largest fractional part first; ties go to the lower class id (stable sort).
    order = np.argsort(-(quota - k), kind="stable")
    for c in order[: n - int(k.sum())]:
        k[c] += 1
    want = np.minimum(floor, class_counts)
    while np.any(k < want):
        c_low = int(np.flatnonzero(k < want)[0])
        # Take from the class that has the most to spare above its own floor.
        spare = k - want
        c_high = int(np.argmax(spare))
        if spare[c_high] <= 0:
            raise ValueError(f"{n} images cannot hold {floor} of each class")
        k[c_low] += 1
        k[c_high] -= 1
    assert int(k.sum()) == n and np.all(k <= class_counts)
    return k


def split_rng(seed: int, name: str, split: str) -> np.random.Generator:
    """One generator per (dataset, split), so resizing one subset leaves the others unchanged."""
    return np.random.default_rng([seed, zlib.crc32(name.encode()), SPLITS.index(split)])


def cut_split(cut: Cut, split: str, labels: np.ndarray, n: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Returns (source indices in output order, per-class counts)."""
    y = labels[:, 0].astype(np.int64)
    counts = np.bincount(y, minlength=cut.num_classes)
    if n is None:
        return np.arange(len(y)), counts
    k = allocate(counts, n, cut.min_per_class)
    rng = split_rng(seed, cut.name, split)
    picked = [rng.permutation(np.flatnonzero(y == c))[: k[c]] for c in range(cut.num_classes)]
    # Shuffle so the file is not sorted by class (organmnist3d.npz, the source, is).
    return rng.permutation(np.concatenate(picked)), k


def build(cut: Cut, src_dir: Path, seed: int) -> tuple[dict[str, np.ndarray], dict]:
    src_path = src_dir / cut.source
    out: dict[str, np.ndarray] = {}
    info: dict = {"source": cut.source, "source_sha256": sha256_file(src_path), "splits": {}}
    with np.load(src_path) as z:
        for i, split in enumerate(SPLITS):
            images, labels = z[f"{split}_images"], z[f"{split}_labels"]
            n = None if cut.sizes is None else cut.sizes[i]
            idx, k = cut_split(cut, split, labels, n, seed)
            # Same dtypes and layout as the source (uint8 images, uint8 labels of shape [N, 1]).
            out[f"{split}_images"] = np.ascontiguousarray(images[idx])
            out[f"{split}_labels"] = np.ascontiguousarray(labels[idx])
            info["splits"][split] = {
                "n": int(len(idx)),
                "source_n": int(len(labels)),
                "class_counts": [int(v) for v in k],
                "source_class_counts": [int(v) for v in np.bincount(labels[:, 0], minlength=cut.num_classes)],
                "source_indices": "all, in source order" if n is None else [int(v) for v in idx],
            }
    return out, info


def npz_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)  # key order = insertion order = official order
    return buf.getvalue()


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def verify(path: Path, cut: Cut, info: dict, src_dir: Path) -> list[str]:
    """Re-reads a written file and checks it against the MedMNIST layout and its source."""
    problems: list[str] = []
    with np.load(path) as z, np.load(src_dir / cut.source) as s:
        keys = list(z.keys())
        expected = [f"{sp}_{kind}" for sp in SPLITS for kind in ("images", "labels")]
        if keys != expected:
            problems.append(f"{path.name}: keys {keys}, expected {expected}")
        seen: dict[bytes, str] = {}
        for split in SPLITS:
            x, y = z[f"{split}_images"], z[f"{split}_labels"]
            sx, sy = s[f"{split}_images"], s[f"{split}_labels"]
            where = f"{path.name} {split}"
            if x.dtype != sx.dtype or y.dtype != sy.dtype:
                problems.append(f"{where}: dtypes {x.dtype}/{y.dtype}, source {sx.dtype}/{sy.dtype}")
            if x.shape[1:] != sx.shape[1:] or y.ndim != 2 or y.shape[1] != 1 or len(x) != len(y):
                problems.append(f"{where}: shapes {x.shape} {y.shape}")
            if y.min() < 0 or y.max() >= cut.num_classes:
                problems.append(f"{where}: labels {y.min()}..{y.max()} outside 0..{cut.num_classes - 1}")
            counts = np.bincount(y[:, 0], minlength=cut.num_classes)
            if np.any(counts == 0):
                problems.append(f"{where}: classes {np.flatnonzero(counts == 0).tolist()} missing")
            if counts.tolist() != info["splits"][split]["class_counts"]:
                problems.append(f"{where}: class counts {counts.tolist()} differ from the manifest")
            idx = info["splits"][split]["source_indices"]
            idx = np.arange(len(sy)) if isinstance(idx, str) else np.asarray(idx)
            if not (np.array_equal(x, sx[idx]) and np.array_equal(y, sy[idx])):
                problems.append(f"{where}: images/labels are not source[{split}][indices]")
            for i in range(len(x)):
                key = x[i].tobytes()
                if seen.get(key, split) != split:
                    problems.append(f"{where}[{i}]: the same image is also in {seen[key]}")
                seen[key] = split
    return problems


def fmt_counts(k: list[int]) -> str:
    return " ".join(str(v) for v in k)


LICENCE = {
    "pathmnist": (
        "CC BY 4.0",
        "MedMNIST v2 PathMNIST, from NCT-CRC-HE-100K (Kather et al., PLOS Medicine 2019; "
        "Zenodo, CC BY 4.0)",
    ),
    "bloodmnist": (
        "CC BY 4.0",
        "the PBC dataset of normal peripheral blood cells (Acevedo et al., Data in Brief 2020; "
        "Mendeley Data, CC BY 4.0), the source of MedMNIST v2 BloodMNIST",
    ),
    "dermamnist": (
        "CC BY-NC 4.0 (NON-COMMERCIAL)",
        "HAM10000 (Tschandl, Rosendahl and Kittler, Scientific Data 2018; CC BY-NC 4.0), the "
        "source of MedMNIST v2 DermaMNIST",
    ),
    "organmnist3d": (
        "CC BY 4.0",
        "MedMNIST v2 OrganMNIST3D, built from the LiTS CT scans (Bilic et al., Medical Image "
        "Analysis 2023) with the organ boxes of Xu et al. (IEEE TMI 2019)",
    ),
}

WHAT = {
    "pathmnist": (
        "**Official MedMNIST pixels and labels, small subset.** All 1,000 images of "
        "`pathmnist-subset1000.npz`, unchanged: the first 1,000 images of the official PathMNIST "
        "TRAIN split, which we split 70/10/20 (stratified, seed 0). So val and test here are NOT "
        "the official val/test (the official test set, CRC-VAL-HE-7K, comes from another centre)."
    ),
    "bloodmnist": (
        "**Re-created, not the official file.** A subset of `bloodmnist-source28.npz`, which was "
        "re-created from the PBC source images with MedMNIST's recipe (200x200 centre crop, "
        "bicubic resize to 28x28) and split by us (stratified, seed 0, official ratios). Pixels are "
        "close to, not equal to, the official BloodMNIST; the split is not the official one."
    ),
    "dermamnist": (
        "**Re-created, not the official file.** A subset of `dermamnist-source28.npz`, which was "
        "re-created from the HAM10000 images with MedMNIST's recipe (whole frame, bicubic resize "
        "to 28x28) and split by us, grouped by lesion (no lesion in two splits; the official "
        "split is per image). Pixels are close to, not equal to, the official DermaMNIST."
    ),
    "organmnist3d": (
        "**Official MedMNIST data and splits, subset.** A subset of `organmnist3d.npz`, the "
        "official OrganMNIST3D volumes and splits (put back together from a `medmnist` export; "
        "the order within each split differs from the official file)."
    ),
}


def readme(seed: int, infos: dict[str, dict], sizes: dict[str, int], hashes: dict[str, str], total: int) -> str:
    lines = [
        "# Demo data pack",
        "",
        "Small subsets of real MedMNIST data, shipped so that `npx stmedfm reproduce` runs with no",
        "arguments and no network. They are in the official MedMNIST `.npz` layout and named like the",
        "official files, so `data/demo` is an ordinary data folder. For real results use the full",
        "official files (`--data-dir D` or `stmedfm data fetch`). Numbers from this pack are a demo:",
        "small test sets, two re-created datasets, and PathMNIST's val/test are train images.",
        "",
        "Written by `scripts/make_demo_pack.py` (this file too; do not edit by hand). Rebuild with",
        f"`/usr/bin/python3 scripts/make_demo_pack.py` (seed {seed}); `--check` rebuilds in memory and",
        "compares. `manifest.json` lists, for every output image, its index in the source split.",
        "",
        "| file | task | train / val / test | what it is | licence | bytes |",
        "|---|---|---|---|---|---|",
    ]
    kind = {
        "pathmnist": "official images (1,000 of the train split), our split",
        "bloodmnist": "re-created from PBC, our split",
        "dermamnist": "re-created from HAM10000, our split",
        "organmnist3d": "official images and splits",
    }
    for cut in CUTS:
        sp = infos[cut.name]["splits"]
        n = " / ".join(f"{sp[s]['n']:,}" for s in SPLITS)
        lines.append(
            f"| `{cut.name}.npz` | {TASK[cut.name]} | {n} | {kind[cut.name]} | "
            f"{LICENCE[cut.name][0]} | {sizes[cut.name]:,} |"
        )
    lines += [
        "",
        f"Total size of the folder: {total:,} bytes (budget {BUDGET_BYTES:,}).",
        "",
        "## How the subsets were cut",
        "",
        "- Each split comes only from the same split of the source file (train from train, val from",
        "  val, test from test), so no image moves between splits.",
        "- Per class, the count is proportional to the source split's class frequencies (largest",
        f"  remainder), raised to at least {CUTS[1].min_per_class} per class so that every class is in every split.",
        "  Within a class, the images are the first k of a seeded permutation; then the split is",
        "  shuffled (the OrganMNIST3D source is sorted by class). The generator is numpy's",
        f"  `default_rng([seed, crc32(name), split index])`, seed {seed}.",
        "- Arrays keep the source dtypes: uint8 images, uint8 labels of shape (N, 1). Files are",
        "  written with `np.savez_compressed`, keys in the official order",
        "  `train_images, train_labels, val_images, val_labels, test_images, test_labels`.",
        "",
    ]
    for cut in CUTS:
        info = infos[cut.name]
        lines += [
            f"## {cut.name}.npz",
            "",
            f"- Source: `{info['source']}` from the project's MedMNIST folder (provenance in its",
            f"  SOURCES.md), sha256 `{info['source_sha256']}`.",
            f"- What it is: {WHAT[cut.name]}",
            f"- Shape of one sample: {SHAPE[cut.name]}, uint8; labels 0..{cut.num_classes - 1}: "
            f"{LABELS[cut.name]}.",
            f"- Class counts (labels 0..{cut.num_classes - 1}), kept / in the source split:",
        ]
        for s in SPLITS:
            sp = info["splits"][s]
            lines.append(
                f"  - {s} ({sp['n']:,} of {sp['source_n']:,}): {fmt_counts(sp['class_counts'])}"
                f"  /  {fmt_counts(sp['source_class_counts'])}"
            )
        lines += [
            f"- Size {sizes[cut.name]:,} bytes, sha256 `{hashes[cut.name]}`.",
            f"- Licence: {LICENCE[cut.name][0]}. Upstream: {LICENCE[cut.name][1]}.",
            "",
        ]
    lines += [
        "## Licences and citation",
        "",
        "The code of this repository is MIT; these data files are NOT. They keep the licences of the",
        "datasets they come from (see `LICENSE-NOTICE.md`):",
        "",
        "- MedMNIST v2 is distributed under CC BY 4.0, except DermaMNIST, which is CC BY-NC 4.0",
        "  (HAM10000's licence): `dermamnist.npz` may NOT be used for commercial purposes. Leave it",
        "  out (`--tasks`) in any commercial setting.",
        "- Attribution: cite MedMNIST v2 and the source dataset of each task you use.",
        "",
        "MedMNIST v2: Jiancheng Yang, Rui Shi, Donglai Wei, Zequan Liu, Lin Zhao, Bilian Ke,",
        "Hanspeter Pfister, Bingbing Ni. *MedMNIST v2 - A large-scale lightweight benchmark for 2D and",
        "3D biomedical image classification.* Scientific Data 10, 41 (2023).",
        "https://doi.org/10.1038/s41597-022-01721-8",
        "",
        "Source datasets:",
        "",
        "- PathMNIST: J. N. Kather, J. Krisam, P. Charoentong et al. *Predicting survival from",
        "  colorectal cancer histology slides using deep learning: a retrospective multicenter study.*",
        "  PLOS Medicine 16(1), e1002730 (2019). NCT-CRC-HE-100K, Zenodo 10.5281/zenodo.1214456.",
        "- BloodMNIST: A. Acevedo, A. Merino, S. Alferez, A. Molina, L. Boldu, J. Rodellar. *A dataset",
        "  of microscopic peripheral blood cell images for development of automatic recognition",
        "  systems.* Data in Brief 30, 105474 (2020).",
        "- DermaMNIST: P. Tschandl, C. Rosendahl, H. Kittler. *The HAM10000 dataset, a large collection",
        "  of multi-source dermatoscopic images of common pigmented skin lesions.* Scientific Data 5,",
        "  180161 (2018).",
        "- OrganMNIST3D: P. Bilic et al. *The Liver Tumor Segmentation Benchmark (LiTS).* Medical Image",
        "  Analysis 84, 102680 (2023); X. Xu, F. Zhou, B. Liu, D. Fu, X. Bai. *Efficient multiple organ",
        "  localization in CT image using 3D region proposal network.* IEEE TMI 38(8), 1885-1898 (2019).",
        "",
    ]
    return "\n".join(lines)


TASK = {
    "pathmnist": "PathMNIST, 9 classes, RGB",
    "bloodmnist": "BloodMNIST, 8 classes, RGB",
    "dermamnist": "DermaMNIST, 7 classes, RGB",
    "organmnist3d": "OrganMNIST3D, 11 classes, 28^3 CT",
}
SHAPE = {
    "pathmnist": "28x28x3",
    "bloodmnist": "28x28x3",
    "dermamnist": "28x28x3",
    "organmnist3d": "28x28x28",
}
LABELS = {
    "pathmnist": "adipose, background, debris, lymphocytes, mucus, smooth muscle, normal colon "
    "mucosa, cancer-associated stroma, colorectal adenocarcinoma epithelium",
    "bloodmnist": "basophil, eosinophil, erythroblast, immature granulocytes, lymphocyte, "
    "monocyte, neutrophil, platelet",
    "dermamnist": "actinic keratoses and intraepithelial carcinoma, basal cell carcinoma, benign "
    "keratosis-like lesions, dermatofibroma, melanoma, melanocytic nevi, vascular lesions",
    "organmnist3d": "liver, kidney-right, kidney-left, femur-right, femur-left, bladder, "
    "heart, lung-right, lung-left, spleen, pancreas",
}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, default=DEFAULT_SRC, help="folder with the source .npz files")
    ap.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default data/demo)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--check", action="store_true", help="rebuild in memory and compare with --out; write nothing")
    args = ap.parse_args()

    infos: dict[str, dict] = {}
    sizes: dict[str, int] = {}
    hashes: dict[str, str] = {}
    blobs: dict[str, bytes] = {}
    for cut in CUTS:
        arrays, info = build(cut, args.src, args.seed)
        blob = npz_bytes(arrays)
        infos[cut.name], blobs[cut.name] = info, blob
        sizes[cut.name], hashes[cut.name] = len(blob), hashlib.sha256(blob).hexdigest()

    manifest = {
        "generator": "scripts/make_demo_pack.py",
        "seed": args.seed,
        "numpy": np.__version__,
        "files": {c.name: {**infos[c.name], "bytes": sizes[c.name], "sha256": hashes[c.name]} for c in CUTS},
    }
    # Indices on one line per split: the manifest stays small and diffs stay readable.
    manifest_text = json.dumps(manifest, indent=1, separators=(",", ": "))
    manifest_bytes = compact_lists(manifest_text).encode() + b"\n"
    notice_path = args.out / "LICENSE-NOTICE.md"
    notice_size = notice_path.stat().st_size if notice_path.exists() else 0
    # The README states the folder's total, which includes the README itself: iterate to a fixed point.
    total = sum(sizes.values()) + len(manifest_bytes) + notice_size
    for _ in range(5):
        text = readme(args.seed, infos, sizes, hashes, total).encode()
        new_total = sum(sizes.values()) + len(manifest_bytes) + notice_size + len(text)
        if new_total == total:
            break
        total = new_total
    outputs = {f"{c.name}.npz": blobs[c.name] for c in CUTS}
    outputs["manifest.json"] = manifest_bytes
    outputs["README.md"] = text

    if args.check:
        bad = [name for name, data in outputs.items() if not (args.out / name).exists() or (args.out / name).read_bytes() != data]
        for name in bad:
            print(f"DIFFERS: {args.out / name}", file=sys.stderr)
    else:
        args.out.mkdir(parents=True, exist_ok=True)
        for name, data in outputs.items():
            tmp = args.out / f".{name}.tmp"
            tmp.write_bytes(data)
            tmp.replace(args.out / name)
        bad = []

    problems = [p for c in CUTS for p in verify(args.out / f"{c.name}.npz", c, infos[c.name], args.src)]
    folder = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    if folder > BUDGET_BYTES:
        problems.append(f"{args.out}: {folder:,} bytes, over the {BUDGET_BYTES:,}-byte budget")
    print(f"{'file':<18} {'train':>6} {'val':>5} {'test':>5} {'bytes':>11}  sha256")
    for c in CUTS:
        sp = infos[c.name]["splits"]
        print(f"{c.name + '.npz':<18} {sp['train']['n']:>6} {sp['val']['n']:>5} {sp['test']['n']:>5} {sizes[c.name]:>11,}  {hashes[c.name][:16]}")
    print(f"folder {args.out}: {folder:,} bytes (budget {BUDGET_BYTES:,})")
    for p in problems:
        print(f"PROBLEM: {p}", file=sys.stderr)
    return 1 if problems or bad else 0


def compact_lists(text: str) -> str:
    """Puts JSON arrays of numbers on one line (json.dumps with indent puts one number per line)."""
    import re

    return re.sub(r"\[\s*(-?\d+(?:,\s*-?\d+)*)\s*\]", lambda m: "[" + ",".join(re.split(r",\s*", m.group(1))) + "]", text)


if __name__ == "__main__":
    sys.exit(main())
