/**
 * `data synth`: small synthetic datasets in the exact official MedMNIST layout (uint8 images,
 * labels (N,1) or (N,L)), with class structure a model can learn.
 *
 * Every class has a prototype drawn from a class-seeded generator: a base colour (or intensity),
 * an oriented stripe pattern (orientation, frequency, colour) and a Gaussian blob (position,
 * radius, colour). A sample is its class prototype with a random stripe phase, a jittered blob
 * position and brightness, and pixel noise, so classes overlap a little but are clearly separable.
 * In 3D, class 2j+1 is class 2j mirrored left-right (blob and stripes), so a model that flipped
 * volumes would confuse them, as it would confuse left and right organs.
 * Prototypes depend only on (seed, class), so the train, val and test splits share them.
 */
import { Rng } from '../util/rng.js';
import { mixSeed } from './batches.js';
import { DataError } from './errors.js';
import { npyArray, type NpyArray } from './npy.js';
import { NpzFile, writeNpz } from './npz.js';
import { SPLITS, fileImageShape, getDataset, isMultiLabel, type DatasetInfo, type Split, type SplitSizes } from './registry.js';

export interface SynthOptions {
  /** Samples per split; defaults 512/128/128 for 2D and 128/32/32 for 3D. */
  readonly sizes?: Partial<SplitSizes>;
  readonly seed?: number;
  /** Standard deviation of the pixel noise, in 0..255 units (default 32). */
  readonly noise?: number;
  /** Ratio of the most to the least frequent class (geometric in between); default 1 (balanced). */
  readonly imbalance?: number;
  /**
   * Side of 2D images (default 28; 64, 128, 224 for MedMNIST+-sized files). The same patterns are
   * drawn on a finer grid, so a class looks alike at every size. Volumes are always 28^3.
   */
  readonly size?: number;
}

export interface SynthResult {
  readonly info: DatasetInfo;
  readonly sizes: SplitSizes;
  /** Keys `{train,val,test}_{images,labels}`, ready for writeNpz. */
  readonly arrays: Record<string, NpyArray>;
}

const S = 28;

interface Prototype {
  base: number[]; // per channel
  stripeDir: number[]; // unit vector over the spatial axes (x, y[, z])
  stripeFreq: number; // cycles across the image
  stripeColour: number[];
  blobCentre: number[];
  blobRadius: number;
  blobColour: number[];
}

function prototype(seed: number, cls: number, channels: number, dims: number): Prototype {
  const r = new Rng(mixSeed(seed, 1000 + cls));
  const signed = (): number => r.uniform(-1, 1);
  const dir = Array.from({ length: dims }, () => r.normal());
  const len = Math.hypot(...dir) || 1;
  return {
    base: Array.from({ length: channels }, () => r.uniform(100, 160)),
    stripeDir: dir.map((d) => d / len),
    stripeFreq: r.uniform(1.5, 4.5),
    stripeColour: Array.from({ length: channels }, signed),
    // 3D blobs start in the left half so that the mirrored class is clearly different.
    blobCentre: Array.from({ length: dims }, (_, a) => (dims === 3 && a === 0 ? r.uniform(5, 10) : r.uniform(7, 21))),
    blobRadius: dims === 3 ? r.uniform(4, 7) : r.uniform(3, 6),
    // At least half strength, so that a blob (the only cue of a 3D mirror pair) always shows.
    blobColour: Array.from({ length: channels }, () => (r.next() < 0.5 ? -1 : 1) * r.uniform(0.5, 1)),
  };
}

/**
 * The 3D mirror pair: class 2j+1 is class 2j reflected along x, the file's last axis (W,
 * left-right). Vectors are in (x, y, z) order.
 */
function mirrored(p: Prototype): Prototype {
  return {
    ...p,
    stripeDir: p.stripeDir.map((d, i) => (i === 0 ? -d : d)),
    blobCentre: p.blobCentre.map((c, i) => (i === 0 ? S - 1 - c : c)),
  };
}

/** Exact per-class counts for n samples (largest remainder), every class present when n >= C. */
function classCountsFor(n: number, c: number, imbalance: number): number[] {
  const w = Array.from({ length: c }, (_, i) => Math.pow(imbalance, c === 1 ? 0 : -i / (c - 1)));
  const total = w.reduce((a, b) => a + b, 0);
  const floor = n >= c ? 1 : 0;
  const rest = n - floor * c;
  const exact = w.map((x) => (rest * x) / total);
  const counts = exact.map((x) => floor + Math.floor(x));
  let left = n - counts.reduce((a, b) => a + b, 0);
  const order = exact.map((x, i) => [x - Math.floor(x), i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]);
  for (let k = 0; left > 0; k = (k + 1) % c, left--) counts[order[k]![1]]!++;
  return counts;
}

/** Renders one sample (sum of prototype patterns plus noise) into `out` at `offset`, file layout. */
function render(
  out: Uint8Array,
  offset: number,
  protos: readonly Prototype[],
  r: Rng,
  channels: number,
  dims: number,
  noise: number,
  side = S,
): void {
  const voxels = dims === 3 ? S * S * S : side * side;
  // Pattern coordinates are in 28-px units whatever the side (exactly x, y at 28 px).
  const unit = S / side;
  // In a volume, full-strength stripes of random phase would swamp the small blob (the only cue
  // telling a mirror pair apart), so 3D leans on the blob.
  const stripeAmp = dims === 3 ? 15 : 35;
  const blobAmp = dims === 3 ? 90 : 70;
  const acc = new Float64Array(voxels * channels);
  const jitter = r.uniform(-15, 15);
  for (let ch = 0; ch < channels; ch++) {
    const tint = r.uniform(-8, 8);
    let base = 0;
    for (const p of protos) base += p.base[ch]!;
    base /= protos.length;
    for (let v = 0; v < voxels; v++) acc[v * channels + ch] = base + jitter + tint;
  }
  for (const p of protos) {
    const phase = r.uniform(0, 2 * Math.PI);
    const centre = p.blobCentre.map((c) => c + r.uniform(-2, 2));
    const amp = r.uniform(0.7, 1.3);
    const k = (2 * Math.PI * p.stripeFreq) / S;
    const inv2r2 = 1 / (2 * p.blobRadius * p.blobRadius);
    // Flat index order is the file's, 2D (y, x) and 3D (z, y, x); vectors are in (x, y, z) order.
    const [dx, dy, dz = 0] = p.stripeDir as [number, number, number?];
    const [cx, cy, cz = 0] = centre as [number, number, number?];
    for (let v = 0; v < voxels; v++) {
      const x = dims === 3 ? v % S : (v % side) * unit;
      const y = dims === 3 ? Math.floor(v / S) % S : Math.floor(v / side) * unit;
      const z = dims === 3 ? Math.floor(v / (S * S)) : 0;
      const d2 = (x - cx) ** 2 + (y - cy) ** 2 + (dims === 3 ? (z - cz) ** 2 : 0);
      const stripe = Math.sin(k * (dx * x + dy * y + dz * z) + phase) * stripeAmp * amp;
      const blob = Math.exp(-d2 * inv2r2) * blobAmp * amp;
      for (let ch = 0; ch < channels; ch++) {
        acc[v * channels + ch]! += stripe * p.stripeColour[ch]! + blob * p.blobColour[ch]!;
      }
    }
  }
  for (let i = 0; i < acc.length; i++) {
    const val = Math.round(acc[i]! + noise * r.normal());
    out[offset + i] = val < 0 ? 0 : val > 255 ? 255 : val;
  }
}

function defaultSizes(info: DatasetInfo): SplitSizes {
  return info.dim === 3 ? { train: 128, val: 32, test: 32 } : { train: 512, val: 128, test: 128 };
}

/** Builds a synthetic dataset for a registry task (deterministic in the seed). */
export function synthesize(task: string, opts: SynthOptions = {}): SynthResult {
  const info = getDataset(task);
  const sizes = { ...defaultSizes(info), ...opts.sizes };
  for (const s of SPLITS) {
    if (!Number.isInteger(sizes[s]) || sizes[s] < 0) throw new DataError(`data synth: ${s} size must be a non-negative integer, got ${sizes[s]}`);
  }
  const seed = opts.seed ?? 0;
  const noise = opts.noise ?? 32;
  const imbalance = opts.imbalance ?? 1;
  if (!(imbalance >= 1)) throw new DataError(`data synth: imbalance must be >= 1, got ${imbalance}`);
  const dims = info.dim;
  const channels = info.channels;
  const c = info.labels.length;
  const protos = Array.from({ length: c }, (_, k) =>
    dims === 3 && k % 2 === 1 ? mirrored(prototype(seed, k - 1, channels, dims)) : prototype(seed, k, channels, dims),
  );
  const multi = isMultiLabel(info);
  const side = opts.size ?? S;
  if (![28, 64, 128, 224].includes(side)) throw new DataError(`data synth: --size ${side}: use 28 (MedMNIST) or 64, 128, 224 (MedMNIST+)`);
  if (dims === 3 && side !== S) throw new DataError(`data synth: ${info.name} is a 3D task; volumes are 28^3 only, drop --size`);
  const per = fileImageShape(info, side);
  const sample = per.reduce((a, b) => a * b, 1);

  const images: Record<string, NpyArray> = {};
  const labels: Record<string, NpyArray> = {};
  SPLITS.forEach((split: Split, si) => {
    const n = sizes[split];
    const r = new Rng(mixSeed(seed, si));
    const img = new Uint8Array(n * sample);
    if (multi) {
      // Independent labels with per-label prevalence 0.15..0.4; an image sums its labels' patterns.
      const prev = Array.from({ length: c }, (_, j) => new Rng(mixSeed(seed, 2000 + j)).uniform(0.15, 0.4));
      const lab = new Uint8Array(n * c);
      for (let i = 0; i < n; i++) {
        const active: Prototype[] = [];
        for (let j = 0; j < c; j++) {
          if (r.next() < prev[j]!) {
            lab[i * c + j] = 1;
            active.push(protos[j]!);
          }
        }
        render(img, i * sample, active.length ? active : [neutral(channels, dims)], r, channels, dims, noise, side);
      }
      labels[split] = npyArray('uint8', [n, c], lab);
    } else {
      const counts = classCountsFor(n, c, imbalance);
      const ys: number[] = [];
      counts.forEach((m, k) => ys.push(...new Array<number>(m).fill(k)));
      r.shuffle(ys);
      for (let i = 0; i < n; i++) render(img, i * sample, [protos[ys[i]!]!], r, channels, dims, noise, side);
      labels[split] = npyArray('uint8', [n, 1], Uint8Array.from(ys));
    }
    images[split] = npyArray('uint8', [n, ...per], img);
  });
  const arrays: Record<string, NpyArray> = {};
  for (const s of SPLITS) arrays[`${s}_images`] = images[s]!;
  for (const s of SPLITS) arrays[`${s}_labels`] = labels[s]!;
  return { info, sizes, arrays };
}

/** A pattern-free grey prototype, for multi-label samples with no positive label. */
function neutral(channels: number, dims: number): Prototype {
  return {
    base: new Array<number>(channels).fill(128),
    stripeDir: new Array<number>(dims).fill(0),
    stripeFreq: 0,
    stripeColour: new Array<number>(channels).fill(0),
    blobCentre: new Array<number>(dims).fill(14),
    blobRadius: 1,
    blobColour: new Array<number>(channels).fill(0),
  };
}

/**
 * Key of the marker array `data synth` adds to its files (JSON bytes: generator and options), so a
 * report never mistakes synthetic data for real data. Loaders of the official layout ignore it.
 */
export const SYNTH_MARKER_KEY = 'stmedfm_synthetic';

/** Synthesises a dataset and writes it as an `.npz` (atomically); returns what was written. */
export function writeSynth(file: string, task: string, opts: SynthOptions & { compress?: boolean } = {}): SynthResult {
  const res = synthesize(task, opts);
  const marker = new TextEncoder().encode(JSON.stringify({ generator: 'stmedfm data synth', task: res.info.name, sizes: res.sizes, seed: opts.seed ?? 0, ...(opts.size !== undefined && opts.size !== S ? { size: opts.size } : {}) }));
  writeNpz(file, { ...res.arrays, [SYNTH_MARKER_KEY]: npyArray('uint8', [marker.length], marker) }, { compress: opts.compress ?? true });
  return res;
}

/** True for files written by `data synth`. */
export function isSynthetic(file: string): boolean {
  return NpzFile.open(file).has(SYNTH_MARKER_KEY);
}
