/**
 * Small `.npz` files of tasks of one's own, in the layout `stmedfm data import` writes (MedMNIST
 * arrays plus `class_names`, `task_type`, `dim`), with a learnable signal: class c lights a
 * quadrant (2D) or octant (3D) block of its own; multi-label samples light one block per
 * positive label.
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { zipSync, type Zippable } from 'fflate';
import { writeNpy } from '../../src/data/npy.js';
import { encodeUnicodeNpy } from '../../src/data/import/npy_unicode.js';
import { writeFileAtomicSync } from '../../src/io/atomic.js';

export interface TaskFileSpec {
  /** Written as `class_names` unless `omitNames`. */
  classNames: string[];
  omitNames?: boolean;
  dim?: 2 | 3;
  channels?: 1 | 3;
  multiLabel?: boolean;
  /** Samples per split. */
  n?: { train: number; val: number; test: number };
  seed?: number;
}

function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) / 2 ** 32;
  };
}

export function writeTaskNpz(path: string, spec: TaskFileSpec): void {
  const dim = spec.dim ?? 2;
  const channels = dim === 3 ? 1 : (spec.channels ?? 1);
  const k = spec.classNames.length;
  const n = spec.n ?? { train: 48, val: 16, test: 16 };
  const per = dim === 3 ? [28, 28, 28] : channels === 3 ? [28, 28, 3] : [28, 28];
  const perN = per.reduce((a, b) => a * b, 1);
  const rand = rng(spec.seed ?? 7);
  const members: Zippable = {};
  for (const split of ['train', 'val', 'test'] as const) {
    const m = n[split];
    const images = new Uint8Array(m * perN);
    const width = spec.multiLabel ? k : 1;
    const labels = new Uint8Array(m * width);
    for (let i = 0; i < m; i++) {
      const on: number[] = [];
      if (spec.multiLabel) {
        for (let c = 0; c < k; c++) if (rand() < 0.5) on.push(c);
        for (const c of on) labels[i * k + c] = 1;
      } else {
        const c = i % k;
        labels[i] = c;
        on.push(c);
      }
      const img = images.subarray(i * perN, (i + 1) * perN);
      for (let p = 0; p < perN; p++) img[p] = Math.floor(rand() * 60);
      // Block c: a 7-px square (or cube) at position c on a 4-wide grid.
      for (const c of on) {
        const y0 = Math.floor(c / 4) * 7;
        const x0 = (c % 4) * 7;
        const zs = dim === 3 ? [0, 1, 2, 3, 4, 5, 6] : [0];
        for (const z of zs) {
          for (let y = y0; y < y0 + 7; y++) {
            for (let x = x0; x < x0 + 7; x++) {
              if (dim === 3) img[(z * 28 + y) * 28 + x] = 230;
              else for (let ch = 0; ch < channels; ch++) img[(y * 28 + x) * channels + ch] = 230;
            }
          }
        }
      }
    }
    members[`${split}_images.npy`] = writeNpy({ dtype: 'uint8', shape: [m, ...per], data: images });
    members[`${split}_labels.npy`] = writeNpy({ dtype: 'uint8', shape: [m, width], data: labels });
  }
  if (!spec.omitNames) members['class_names.npy'] = encodeUnicodeNpy(spec.classNames);
  members['task_type.npy'] = encodeUnicodeNpy([spec.multiLabel ? 'multi-label, binary-class' : k === 2 ? 'binary-class' : 'multi-class']);
  members['dim.npy'] = encodeUnicodeNpy([`${dim}D`]);
  mkdirSync(dirname(path), { recursive: true });
  writeFileAtomicSync(path, zipSync(members, { level: 6, mtime: new Date(1980, 0, 1, 0, 0, 0) }));
}
