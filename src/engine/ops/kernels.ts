/** Float64 helpers for the reference interpreter's op semantics. */
import type { DType } from '../ir/dtype.js';
import { numel, strides } from '../ir/shape.js';
import type { HostTensor } from '../ir/tensor.js';

export function broadcastStatic(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[i - (rank - a.length)] ?? 1;
    const db = b[i - (rank - b.length)] ?? 1;
    if (da !== db && da !== 1 && db !== 1) throw new Error(`cannot broadcast [${a}] with [${b}]`);
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** For an output index, the flat offsets into each broadcast input. */
function broadcastIndexer(inShape: readonly number[], outShape: readonly number[]): (outFlat: number) => number {
  const rank = outShape.length;
  const inSt = strides(inShape);
  const outSt = strides(outShape);
  const pad = rank - inShape.length;
  const eff = outShape.map((_, i) => (i < pad || inShape[i - pad] === 1 ? 0 : inSt[i - pad]!));
  return (o: number) => {
    let off = 0;
    for (let i = 0; i < rank; i++) {
      const idx = Math.floor(o / outSt[i]!) % outShape[i]!;
      off += idx * eff[i]!;
    }
    return off;
  };
}

export function mapN(inputs: readonly HostTensor[], f: (...xs: number[]) => number, dtype: DType = 'float'): HostTensor {
  let shape: number[] = [];
  for (const t of inputs) shape = broadcastStatic(shape, t.shape);
  const n = numel(shape);
  const data = new Float64Array(n);
  const idx = inputs.map((t) => broadcastIndexer(t.shape, shape));
  const args = new Array<number>(inputs.length);
  for (let o = 0; o < n; o++) {
    for (let k = 0; k < inputs.length; k++) args[k] = inputs[k]!.data[idx[k]!(o)]!;
    data[o] = f(...args);
  }
  return { dtype, shape, data };
}

export function map1(x: HostTensor, f: (v: number) => number, dtype: DType = x.dtype): HostTensor {
  const data = new Float64Array(x.data.length);
  for (let i = 0; i < data.length; i++) data[i] = f(x.data[i]!);
  return { dtype, shape: [...x.shape], data };
}

/** Reduces `x` over `axes` (normalised, sorted) with an accumulator; keepdims controls the shape. */
export function reduce(
  x: HostTensor,
  axes: readonly number[],
  keepdims: boolean,
  init: number,
  acc: (a: number, v: number) => number,
  finish: (a: number, count: number) => number = (a) => a,
): HostTensor {
  const rank = x.shape.length;
  const set = new Set(axes);
  const keptShape = x.shape.map((d, i) => (set.has(i) ? 1 : d));
  const outShape = keepdims ? keptShape : x.shape.filter((_, i) => !set.has(i));
  const count = axes.reduce((c, a) => c * x.shape[a]!, 1);
  const out = new Float64Array(numel(keptShape)).fill(init);
  const xs = strides(x.shape);
  const ks = strides(keptShape);
  for (let f = 0; f < x.data.length; f++) {
    let o = 0;
    for (let i = 0; i < rank; i++) {
      if (set.has(i)) continue;
      o += (Math.floor(f / xs[i]!) % x.shape[i]!) * ks[i]!;
    }
    out[o] = acc(out[o]!, x.data[f]!);
  }
  for (let i = 0; i < out.length; i++) out[i] = finish(out[i]!, count);
  return { dtype: x.dtype, shape: outShape, data: out };
}
