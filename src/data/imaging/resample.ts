/**
 * Antialiased separable resampling, written to give exactly PIL's `Image.resize(size, BICUBIC)`
 * (Pillow `libImaging/Resample.c`) on uint8 images, and the same filter math in floating point
 * for volumes.
 *
 * PIL computes, per output pixel, a window of input pixels whose support is the filter's support
 * (2 for bicubic, a = -0.5) times the downscale factor (so shrinking averages, i.e. antialiases),
 * normalises the weights, converts them to 22-bit fixed point, and runs a horizontal pass then a
 * vertical pass, each rounding and clipping to uint8. Every detail (the `+ 0.5` rounding of the
 * window bounds, the fixed-point rounding of negative weights, the intermediate uint8 image) is
 * reproduced so that our output equals PIL's byte for byte.
 *
 * Dimension-generic: one axis pass over an N-d C-order array, applied axis by axis.
 */

export type FilterName = 'bicubic' | 'bilinear';

interface Filter {
  readonly support: number;
  readonly fn: (x: number) => number;
}

const FILTERS: Readonly<Record<FilterName, Filter>> = {
  bicubic: {
    support: 2,
    fn: (x) => {
      const a = -0.5;
      if (x < 0) x = -x;
      if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
      if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
      return 0;
    },
  },
  bilinear: {
    support: 1,
    fn: (x) => {
      if (x < 0) x = -x;
      return x < 1 ? 1 - x : 0;
    },
  },
};

/** Per output index: first input index, number of taps, and the normalised weights. */
export interface AxisCoefficients {
  readonly outSize: number;
  readonly ksize: number;
  readonly bounds: Int32Array; // [xmin, count] per output index
  readonly weights: Float64Array; // outSize * ksize
}

/** PIL's `precompute_coeffs` for resizing `inSize` samples (the box [0, inSize)) to `outSize`. */
export function axisCoefficients(inSize: number, outSize: number, filter: FilterName = 'bicubic'): AxisCoefficients {
  const f = FILTERS[filter];
  const scale = inSize / outSize;
  const filterscale = Math.max(1, scale);
  const support = f.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const bounds = new Int32Array(outSize * 2);
  const weights = new Float64Array(outSize * ksize);
  const ss = 1 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; both values are > -1 here only after clamping
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let ww = 0;
    for (let x = 0; x < xmax; x++) {
      const w = f.fn((x + xmin - center + 0.5) * ss);
      weights[xx * ksize + x] = w;
      ww += w;
    }
    if (ww !== 0) for (let x = 0; x < xmax; x++) weights[xx * ksize + x]! /= ww;
    bounds[xx * 2] = xmin;
    bounds[xx * 2 + 1] = xmax;
  }
  return { outSize, ksize, bounds, weights };
}

const PRECISION_BITS = 32 - 8 - 2;

/** PIL's `normalize_coeffs_8bpc`: weights as 22-bit fixed point, rounded away from zero. */
function fixedPoint(weights: Float64Array): Int32Array {
  const out = new Int32Array(weights.length);
  const one = 1 << PRECISION_BITS;
  for (let i = 0; i < weights.length; i++) {
    const w = weights[i]!;
    out[i] = w < 0 ? Math.trunc(-0.5 + w * one) : Math.trunc(0.5 + w * one);
  }
  return out;
}

function clip8(v: number): number {
  if (v >= 1 << PRECISION_BITS << 8) return 255;
  if (v <= 0) return 0;
  return v >> PRECISION_BITS;
}

/** Strides of a C-order shape. */
function strides(shape: readonly number[]): number[] {
  const s = new Array<number>(shape.length).fill(1);
  for (let i = shape.length - 2; i >= 0; i--) s[i] = s[i + 1]! * shape[i + 1]!;
  return s;
}

/**
 * Resamples one axis of a C-order array. `u8` mode is PIL's integer path (fixed-point weights,
 * round-half-up via the 1 << 21 offset, clip to 0..255); `float` mode uses the same weights in
 * double precision with no rounding.
 */
export function resampleAxis<T extends Uint8Array | Float32Array>(
  src: T,
  shape: readonly number[],
  axis: number,
  outSize: number,
  filter: FilterName = 'bicubic',
): { data: T; shape: number[] } {
  const inSize = shape[axis]!;
  const outShape = shape.slice();
  outShape[axis] = outSize;
  if (inSize === outSize) return { data: src, shape: outShape };
  const c = axisCoefficients(inSize, outSize, filter);
  const st = strides(shape);
  const stride = st[axis]!; // distance between neighbours along the axis (= inner block size)
  const outer = shape.slice(0, axis).reduce((a, b) => a * b, 1);
  const isU8 = src instanceof Uint8Array;
  const n = outer * outSize * stride;
  const out = (isU8 ? new Uint8Array(n) : new Float32Array(n)) as T;
  const kInt = isU8 ? fixedPoint(c.weights) : undefined;
  for (let o = 0; o < outer; o++) {
    const inBase = o * inSize * stride;
    const outBase = o * outSize * stride;
    for (let xx = 0; xx < outSize; xx++) {
      const xmin = c.bounds[xx * 2]!;
      const cnt = c.bounds[xx * 2 + 1]!;
      const k = xx * c.ksize;
      for (let r = 0; r < stride; r++) {
        if (kInt) {
          let ss = 1 << (PRECISION_BITS - 1);
          for (let x = 0; x < cnt; x++) ss += src[inBase + (xmin + x) * stride + r]! * kInt[k + x]!;
          out[outBase + xx * stride + r] = clip8(ss);
        } else {
          let ss = 0;
          for (let x = 0; x < cnt; x++) ss += src[inBase + (xmin + x) * stride + r]! * c.weights[k + x]!;
          out[outBase + xx * stride + r] = ss;
        }
      }
    }
  }
  return { data: out, shape: outShape };
}

/**
 * PIL-exact `Image.resize((width, height), BICUBIC)` of an interleaved uint8 image
 * [height, width, channels]: horizontal pass first, then vertical, as PIL does.
 */
export function resizeImageU8(data: Uint8Array, height: number, width: number, channels: number, outHeight: number, outWidth: number): Uint8Array {
  const h = resampleAxis(data, [height, width, channels], 1, outWidth);
  return resampleAxis(h.data, h.shape, 0, outHeight).data;
}

/** Antialiased resize of a C-order float volume to `outShape`, axis by axis (last axis first, like PIL's order). */
export function resizeVolume(data: Float32Array, shape: readonly number[], outShape: readonly number[], filter: FilterName = 'bilinear'): Float32Array {
  let cur = { data, shape: shape.slice() };
  for (let ax = shape.length - 1; ax >= 0; ax--) cur = resampleAxis(cur.data, cur.shape, ax, outShape[ax]!, filter);
  return cur.data;
}
