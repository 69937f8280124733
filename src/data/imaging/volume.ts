/**
 * Volumes and their geometry. A {@link Volume} is a C-order float array `data[a][b][c]` with a
 * 4x4 `affine` mapping voxel index (a, b, c, 1) to RAS+ millimetres (x grows to the patient's
 * Right, y to Anterior, z to Superior), as nibabel does.
 *
 * Orientation is written with nibabel's axis codes: one letter per array axis naming the world
 * direction that index *increases* towards (`RAS`, `LPS`, `PIR`, ...). {@link reorient} permutes
 * and flips axes (no interpolation) so that a volume reaches a target code.
 */
import { DataError } from '../errors.js';

export type Mat4 = number[][];

export interface Volume {
  readonly shape: [number, number, number];
  readonly data: Float32Array;
  readonly affine: Mat4;
}

const POS = ['R', 'A', 'S'] as const;
const NEG = ['L', 'P', 'I'] as const;

/**
 * nibabel's `io_orientation` + `ornt2axcodes`: for each array axis the world axis it runs along
 * most closely (greedy on the largest |cosine|, so oblique scans get the nearest code).
 */
export function axisCodes(affine: Mat4): string {
  const cols = [0, 1, 2].map((j) => {
    const v = [affine[0]![j]!, affine[1]![j]!, affine[2]![j]!];
    const n = Math.hypot(...v) || 1;
    return v.map((x) => x / n);
  });
  const codes: string[] = ['', '', ''];
  const usedWorld = new Set<number>();
  const usedAxis = new Set<number>();
  for (let step = 0; step < 3; step++) {
    let best = -1;
    let bj = -1;
    let bw = -1;
    for (let j = 0; j < 3; j++) {
      if (usedAxis.has(j)) continue;
      for (let w = 0; w < 3; w++) {
        if (usedWorld.has(w)) continue;
        const a = Math.abs(cols[j]![w]!);
        if (a > best) {
          best = a;
          bj = j;
          bw = w;
        }
      }
    }
    usedAxis.add(bj);
    usedWorld.add(bw);
    codes[bj] = cols[bj]![bw]! >= 0 ? POS[bw]! : NEG[bw]!;
  }
  return codes.join('');
}

function worldAxis(code: string): { axis: number; sign: 1 | -1 } {
  const p = POS.indexOf(code as (typeof POS)[number]);
  if (p >= 0) return { axis: p, sign: 1 };
  const n = NEG.indexOf(code as (typeof NEG)[number]);
  if (n >= 0) return { axis: n, sign: -1 };
  throw new DataError(`unknown axis code '${code}' (use R/L, A/P, S/I)`);
}

export function checkAxisCodes(codes: string): void {
  const axes = [...codes].map((c) => worldAxis(c.toUpperCase()).axis);
  if (codes.length !== 3 || new Set(axes).size !== 3) throw new DataError(`axis codes '${codes}' must name each of R/L, A/P, S/I once, e.g. RAS`);
}

/** Permutes/flips `vol` so that its axis codes become `target`; the affine is updated to match. */
export function reorient(vol: Volume, target: string): Volume {
  checkAxisCodes(target);
  const from = axisCodes(vol.affine);
  if (from === target.toUpperCase()) return vol;
  const src = [...from].map(worldAxis);
  const dst = [...target.toUpperCase()].map(worldAxis);
  // for each output axis i: which input axis runs along the same world axis, and flipped?
  const perm = dst.map((d) => src.findIndex((s) => s.axis === d.axis));
  const flip = dst.map((d, i) => d.sign !== src[perm[i]!]!.sign);
  const inShape = vol.shape;
  const outShape = perm.map((p) => inShape[p]!) as [number, number, number];
  const inStr = [inShape[1] * inShape[2], inShape[2], 1];
  const out = new Float32Array(vol.data.length);
  const [n0, n1, n2] = outShape;
  const s0 = inStr[perm[0]!]!;
  const s1 = inStr[perm[1]!]!;
  const s2 = inStr[perm[2]!]!;
  let o = 0;
  for (let i = 0; i < n0; i++) {
    const a = flip[0] ? n0 - 1 - i : i;
    for (let j = 0; j < n1; j++) {
      const b = flip[1] ? n1 - 1 - j : j;
      const base = a * s0 + b * s1;
      for (let k = 0; k < n2; k++) out[o++] = vol.data[base + (flip[2] ? n2 - 1 - k : k) * s2]!;
    }
  }
  // new index e_i maps to old index: old[perm[i]] = flip ? n_i - 1 - e_i : e_i
  const T: Mat4 = [0, 1, 2, 3].map(() => [0, 0, 0, 0]);
  T[3]![3] = 1;
  for (let i = 0; i < 3; i++) {
    const p = perm[i]!;
    T[p]![i] = flip[i] ? -1 : 1;
    if (flip[i]) T[p]![3] = outShape[i]! - 1;
  }
  return { shape: outShape, data: out, affine: matmul(vol.affine, T) };
}

export function matmul(a: Mat4, b: Mat4): Mat4 {
  return a.map((row) => [0, 1, 2, 3].map((j) => row.reduce((s, v, k) => s + v * b[k]![j]!, 0)));
}

/** Voxel sizes (mm) along the three array axes. */
export function voxelSizes(affine: Mat4): number[] {
  return [0, 1, 2].map((j) => Math.hypot(affine[0]![j]!, affine[1]![j]!, affine[2]![j]!));
}

/** Bounding box [lo, hi) per axis of voxels where `mask == value`; undefined when there are none. */
export function maskBoundingBox(mask: Volume, value: number): { lo: number[]; hi: number[] } | undefined {
  const [n0, n1, n2] = mask.shape;
  const lo = [n0, n1, n2];
  const hi = [0, 0, 0];
  let o = 0;
  for (let i = 0; i < n0; i++)
    for (let j = 0; j < n1; j++)
      for (let k = 0; k < n2; k++) {
        if (Math.round(mask.data[o++]!) !== value) continue;
        if (i < lo[0]!) lo[0] = i;
        if (j < lo[1]!) lo[1] = j;
        if (k < lo[2]!) lo[2] = k;
        if (i >= hi[0]!) hi[0] = i + 1;
        if (j >= hi[1]!) hi[1] = j + 1;
        if (k >= hi[2]!) hi[2] = k + 1;
      }
  return hi[0]! > 0 ? { lo, hi } : undefined;
}

/** The sub-volume [lo, hi) (affine shifted accordingly). */
export function cropVolume(vol: Volume, lo: readonly number[], hi: readonly number[]): Volume {
  const shape = [0, 1, 2].map((i) => hi[i]! - lo[i]!) as [number, number, number];
  const out = new Float32Array(shape[0] * shape[1] * shape[2]);
  const [, m1, m2] = vol.shape;
  let o = 0;
  for (let i = 0; i < shape[0]; i++)
    for (let j = 0; j < shape[1]; j++) {
      const s = ((lo[0]! + i) * m1 + lo[1]! + j) * m2 + lo[2]!;
      out.set(vol.data.subarray(s, s + shape[2]), o);
      o += shape[2];
    }
  const affine = vol.affine.map((r) => r.slice());
  for (let r = 0; r < 3; r++) affine[r]![3] = vol.affine[r]![3]! + vol.affine[r]![0]! * lo[0]! + vol.affine[r]![1]! * lo[1]! + vol.affine[r]![2]! * lo[2]!;
  return { shape, data: out, affine };
}

/** Do two volumes share one voxel grid (shape and affine within 1e-3 mm)? */
export function sameGrid(a: Volume, b: Volume): boolean {
  if (a.shape.some((d, i) => d !== b.shape[i])) return false;
  for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) if (Math.abs(a.affine[r]![c]! - b.affine[r]![c]!) > 1e-3) return false;
  return true;
}

/** Intensity window: lo -> 0, hi -> 1, clipped (CT in Hounsfield units). */
export function windowIntensity(data: Float32Array, lo: number, hi: number): Float32Array {
  const out = new Float32Array(data.length);
  const s = 1 / (hi - lo);
  for (let i = 0; i < data.length; i++) out[i] = Math.min(1, Math.max(0, (data[i]! - lo) * s));
  return out;
}

/** Min-max scaling to 0..1 (for MR and other modalities without a physical unit). */
export function minMaxIntensity(data: Float32Array): Float32Array {
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of data) {
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return hi > lo ? windowIntensity(data, lo, hi) : new Float32Array(data.length);
}

/** 0..1 floats to uint8 (round half up, clipped): what is stored in the .npz. */
export function toUint8(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = Math.min(255, Math.max(0, Math.floor(data[i]! * 255 + 0.5)));
  return out;
}
