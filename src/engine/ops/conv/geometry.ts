/**
 * Convolution geometry shared by Conv, ConvTranspose and the weight gradient, for any number of
 * spatial dims: attribute normalisation, output sizes and the (output, kernel, input) position
 * pairing every float64 kernel iterates over.
 */
import { GraphBuildError } from '../../ir/errors.js';
import type { Value } from '../../ir/graph.js';
import { formatShape, strides as rowMajor } from '../../ir/shape.js';

/** Strides, pads (ONNX layout: all begins, then all ends) and dilations; one entry per spatial dim. */
export interface ConvGeometry {
  readonly strides: readonly number[];
  readonly pads: readonly number[];
  readonly dilations: readonly number[];
}

/** Builder options: a number applies to every spatial dim (and, for pads, to both sides). */
export interface ConvOptions {
  strides?: number | readonly number[];
  pads?: number | readonly number[];
  dilations?: number | readonly number[];
}

export interface ConvTransposeOptions extends ConvOptions {
  outputPadding?: number | readonly number[];
}

/** `x[2,3,8,8]`: how error messages name a value. */
export const desc = (v: Value): string => `${v.name}${formatShape(v.shape)}`;

function perDim(op: string, what: string, v: number | readonly number[] | undefined, n: number, dflt: number, min: number): number[] {
  const arr = v === undefined ? new Array<number>(n).fill(dflt) : typeof v === 'number' ? new Array<number>(n).fill(v) : [...v];
  if (arr.length !== n) throw new GraphBuildError(`${op}: ${what} [${arr}] needs ${n} entries`);
  for (const a of arr) {
    if (!Number.isInteger(a) || a < min) throw new GraphBuildError(`${op}: ${what} [${arr}] must be integers >= ${min}`);
  }
  return arr;
}

/** Normalises builder options for `spatial` spatial dims. */
export function normGeometry(op: string, o: ConvOptions, spatial: number): ConvGeometry {
  return {
    strides: perDim(op, 'strides', o.strides, spatial, 1, 1),
    pads: perDim(op, 'pads', o.pads, 2 * spatial, 0, 0),
    dilations: perDim(op, 'dilations', o.dilations, spatial, 1, 1),
  };
}

export function normOutputPadding(op: string, o: ConvTransposeOptions, spatial: number): number[] {
  return perDim(op, 'outputPadding', o.outputPadding, spatial, 0, 0);
}

/** Spatial rank of an [N, C, ...spatial] value, checked against the 1-3 dims we support. */
export function spatialRank(op: string, x: Value, role: string): number {
  const s = x.rank - 2;
  if (s < 1 || s > 3) {
    throw new GraphBuildError(`${op}: ${role} ${desc(x)} must have rank 3, 4 or 5 ([N, C, ...1-3 spatial dims])`);
  }
  return s;
}

/** Checks that the geometry has one entry per spatial dim (attributes may come from outside the builders). */
export function checkGeometry(op: string, g: ConvGeometry, spatial: number): void {
  normGeometry(op, g, spatial);
}

/** Static spatial dims of `x` (only the batch dim may be symbolic). */
export function staticSpatial(op: string, x: Value, role: string): number[] {
  const sp = x.shape.slice(2);
  if (!sp.every((d): d is number => typeof d === 'number') || typeof x.shape[1] !== 'number') {
    throw new GraphBuildError(`${op}: ${role} ${desc(x)} must have static channel and spatial dims (only the batch dim may be symbolic)`);
  }
  return sp;
}

/** Extent of a dilated kernel: (k - 1) * d + 1. */
export const kernelExtent = (k: number, d: number): number => (k - 1) * d + 1;

/** Conv output sizes; throws when the dilated kernel does not fit the padded input. */
export function convOutputSpatial(op: string, inSp: readonly number[], kSp: readonly number[], g: ConvGeometry, what: () => string): number[] {
  const S = inSp.length;
  return inSp.map((n, d) => {
    const padded = n + g.pads[d]! + g.pads[d + S]!;
    const ext = kernelExtent(kSp[d]!, g.dilations[d]!);
    if (ext > padded) {
      throw new GraphBuildError(
        `${op}: kernel extent ${ext} (kernel ${kSp[d]}, dilation ${g.dilations[d]}) exceeds the padded input size ${padded} ` +
          `(${n} + pads ${g.pads[d]}+${g.pads[d + S]}) on spatial dim ${d} for ${what()}`,
      );
    }
    return Math.floor((padded - ext) / g.strides[d]!) + 1;
  });
}

/** ConvTranspose output sizes: s*(in-1) + outputPadding + extent - pads. */
export function convTransposeOutputSpatial(inSp: readonly number[], kSp: readonly number[], g: ConvGeometry, outputPadding: readonly number[]): number[] {
  const S = inSp.length;
  return inSp.map(
    (n, d) => g.strides[d]! * (n - 1) + outputPadding[d]! + kernelExtent(kSp[d]!, g.dilations[d]!) - g.pads[d]! - g.pads[d + S]!,
  );
}

/**
 * The output padding that makes ConvTranspose invert a Conv's shape exactly: the input rows a
 * strided Conv never reached (when the stride does not divide the padded input evenly).
 */
export function inverseOutputPadding(inSp: readonly number[], outSp: readonly number[], kSp: readonly number[], g: ConvGeometry): number[] {
  const S = inSp.length;
  return inSp.map(
    (n, d) => n + g.pads[d]! + g.pads[d + S]! - kernelExtent(kSp[d]!, g.dilations[d]!) - g.strides[d]! * (outSp[d]! - 1),
  );
}

/** Kernel equals stride, no padding, no dilation: non-overlapping patches (a ViT-style stem). */
export function isPatchify(kSp: readonly number[], g: ConvGeometry): boolean {
  return kSp.every((k, d) => k === g.strides[d] && g.dilations[d] === 1) && g.pads.every((p) => p === 0);
}

/**
 * All (output position p, kernel offset k, input position i) with i = p*s + k*d - padBegin inside
 * the unpadded input, as flat row-major indices. Every float64 kernel is a loop over these.
 */
export interface Pairs {
  readonly p: Int32Array;
  readonly k: Int32Array;
  readonly i: Int32Array;
}

export function convPairs(inSp: readonly number[], outSp: readonly number[], kSp: readonly number[], g: ConvGeometry): Pairs {
  const S = inSp.length;
  const inSt = rowMajor(inSp);
  const outSt = rowMajor(outSp);
  const kSt = rowMajor(kSp);
  const p: number[] = [];
  const k: number[] = [];
  const i: number[] = [];
  const rec = (d: number, po: number, ko: number, io: number): void => {
    if (d === S) {
      p.push(po);
      k.push(ko);
      i.push(io);
      return;
    }
    for (let o = 0; o < outSp[d]!; o++) {
      for (let kk = 0; kk < kSp[d]!; kk++) {
        const ii = o * g.strides[d]! + kk * g.dilations[d]! - g.pads[d]!;
        if (ii < 0 || ii >= inSp[d]!) continue;
        rec(d + 1, po + o * outSt[d]!, ko + kk * kSt[d]!, io + ii * inSt[d]!);
      }
    }
  };
  rec(0, 0, 0, 0);
  return { p: Int32Array.from(p), k: Int32Array.from(k), i: Int32Array.from(i) };
}
