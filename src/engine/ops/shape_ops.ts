/**
 * Data-movement ops. Shape-like ONNX inputs (target shape, axes, starts/ends, pads, split sizes)
 * are static IR attributes, emitted as int64 initializers by the lowering.
 */
import type { Node, OutputSpec, Value } from '../ir/graph.js';
import { GraphBuildError } from '../ir/errors.js';
import { type Dim, type Shape, broadcastShapes, formatShape, normAxis, numel, staticShape, strides } from '../ir/shape.js';
import { mapN } from './kernels.js';
import { defineOp, type LowerContext, type OpDef } from './op.js';
import { sumTo } from './unbroadcast.js';

/** int64 bounds as exactly representable JS numbers; the lowering of Slice needs INT64_MIN. */
const INT64_MIN = -(2 ** 63);

// ---------------------------------------------------------------------------------------------
// Reshape

export interface ReshapeAttrs {
  /** ONNX semantics: 0 copies the input dim at that position, one -1 is inferred. */
  readonly shape: readonly number[];
}

/** Multiset difference of symbolic dim names. */
function missingNames(from: readonly string[], minus: readonly string[]): string[] {
  const left = [...minus];
  return from.filter((d) => {
    const k = left.indexOf(d);
    if (k < 0) return true;
    left.splice(k, 1);
    return false;
  });
}

function inferReshape(x: Value, target: readonly number[]): Dim[] {
  const fail = (why: string) =>
    new GraphBuildError(`Reshape: cannot reshape ${x} to ${formatShape(target)}: ${why}`);
  if (target.filter((d) => d === -1).length > 1) throw fail('at most one -1 is allowed');
  const out: Dim[] = target.map((d, i) => {
    if (d === 0) {
      if (i >= x.rank) throw fail(`0 at position ${i} copies a dim the input does not have`);
      return x.shape[i]!;
    }
    if (d < -1 || !Number.isInteger(d)) throw fail(`bad dim ${d}`);
    return d;
  });
  // Symbolic input dims must be carried over (by a 0 in place) so the sizes stay comparable;
  // one symbolic dim may move to another position through the -1 when the static sizes match.
  const inSym = x.shape.filter((d): d is string => typeof d === 'string');
  const outSym = out.filter((d): d is string => typeof d === 'string');
  const missing = missingNames(inSym, outSym);
  if (missingNames(outSym, inSym).length > 0) throw fail('symbolic dims must be kept in place with 0');
  const inCount = numel(x.shape.filter((d): d is number => typeof d === 'number'));
  const known = numel(out.filter((d): d is number => typeof d === 'number' && d !== -1));
  const minus = out.indexOf(-1);
  if (missing.length > 0) {
    if (missing.length > 1 || minus < 0 || inCount !== known) {
      throw fail('symbolic dims must be kept in place with 0 (or exactly one of them moved by the -1)');
    }
    out[minus] = missing[0]!;
  } else if (minus >= 0) {
    if (known === 0 || inCount % known !== 0) throw fail(`${inCount} elements do not divide into ${known}`);
    out[minus] = inCount / known;
  } else if (known !== inCount) {
    throw fail(`element counts differ (${inCount} vs ${known})`);
  }
  return out;
}

export const ReshapeOp: OpDef<ReshapeAttrs> = defineOp<ReshapeAttrs>({
  type: 'Reshape',
  infer: ([x], { shape }) => [{ dtype: x!.dtype, shape: inferReshape(x!, shape) }],
  evaluate: ([x], { shape }) => {
    const out = shape.map((d, i) => (d === 0 ? x!.shape[i]! : d));
    const m = out.indexOf(-1);
    if (m >= 0) out[m] = x!.data.length / numel(out.filter((d) => d !== -1));
    return [{ dtype: x!.dtype, shape: out, data: x!.data }];
  },
  vjp: ({ inputs: [x], grads: [g] }) => [() => reshape(g!, staticShape(x!.shape, 'gradient of Reshape'))],
  lower: (node: Node<ReshapeAttrs>, ctx: LowerContext) =>
    ctx.node('Reshape', [ctx.inputs[0]!, ctx.int64(node.attrs.shape)], ctx.outputs),
});

export function reshape(x: Value, shape: readonly number[]): Value {
  return x.graph.apply(ReshapeOp, [x], { shape: [...shape] })[0]!;
}

/**
 * A Reshape target that keeps every input dim: 0 where the dim stays at its index, the size
 * where it is static, -1 for (at most one) symbolic dim that moves.
 */
function reshapeTarget(op: string, x: Value, out: Shape): number[] {
  let moved = 0;
  const target = out.map((d, j) => {
    if (typeof d === 'number') return d;
    if (x.shape[j] === d) return 0;
    moved++;
    return -1;
  });
  if (moved > 1) throw new GraphBuildError(`${op}: ${x} -> ${formatShape(out)} moves ${moved} symbolic dims; at most one can move`);
  return target;
}

/** Inserts size-1 axes at `axes` (positions in the output, ONNX Unsqueeze semantics). A Reshape. */
export function unsqueeze(x: Value, axes: readonly number[]): Value {
  const rank = x.rank + axes.length;
  const norm = new Set(axes.map((a) => normAxis(a, rank, 'Unsqueeze')));
  if (norm.size !== axes.length) throw new GraphBuildError(`Unsqueeze: repeated axes [${axes}] for input ${x}`);
  const out: Dim[] = [];
  let k = 0;
  for (let j = 0; j < rank; j++) out.push(norm.has(j) ? 1 : x.shape[k++]!);
  return reshape(x, reshapeTarget('Unsqueeze', x, out));
}

/** Removes size-1 axes (all of them when `axes` is omitted). A Reshape. */
export function squeeze(x: Value, axes?: readonly number[]): Value {
  const all = axes ?? x.shape.flatMap((d, i) => (d === 1 ? [i] : []));
  const norm = new Set(all.map((a) => normAxis(a, x.rank, 'Squeeze')));
  if (norm.size !== all.length) throw new GraphBuildError(`Squeeze: repeated axes [${all}] for input ${x}`);
  for (const a of norm) {
    if (x.shape[a] !== 1) throw new GraphBuildError(`Squeeze: axis ${a} of ${x} has size ${x.shape[a]}, expected 1`);
  }
  return reshape(x, reshapeTarget('Squeeze', x, x.shape.filter((_, i) => !norm.has(i))));
}

// ---------------------------------------------------------------------------------------------
// Expand

export interface ExpandAttrs {
  readonly shape: readonly number[];
}

export const ExpandOp: OpDef<ExpandAttrs> = defineOp<ExpandAttrs>({
  type: 'Expand',
  infer: ([x], { shape }) => [{ dtype: x!.dtype, shape: broadcastShapes('Expand', [x!.shape, shape]) }],
  evaluate: ([x], { shape }) => [mapN([x!, { dtype: x!.dtype, shape, data: new Float64Array(numel(shape)) }], (v) => v, x!.dtype)],
  vjp: ({ inputs: [x], grads: [g] }) => [() => sumTo(g!, x!.shape)],
  lower: (node: Node<ExpandAttrs>, ctx: LowerContext) =>
    ctx.node('Expand', [ctx.inputs[0]!, ctx.int64(node.attrs.shape)], ctx.outputs),
});

export function expand(x: Value, shape: Shape): Value {
  const s = staticShape(shape, 'Expand target');
  return x.graph.apply(ExpandOp, [x], { shape: s })[0]!;
}

// ---------------------------------------------------------------------------------------------
// Identity

type NoAttrs = Record<string, never>;

export const IdentityOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Identity',
  infer: ([x]) => [{ dtype: x!.dtype, shape: x!.shape }],
  evaluate: ([x]) => [{ dtype: x!.dtype, shape: [...x!.shape], data: x!.data }],
  vjp: ({ grads: [g] }) => [() => g!],
});

export function identity(x: Value): Value {
  return x.graph.apply(IdentityOp, [x], {})[0]!;
}

// ---------------------------------------------------------------------------------------------
// Strided copies: the one kernel behind Transpose, Slice, Concat, Split and Pad.

/**
 * Copies a box of `shape` elements: element idx is read from src at srcOff + sum(idx*srcSt) and
 * written to dst at dstOff + sum(idx*dstSt). Strides may be negative (reversed slices).
 */
function copyBox(
  shape: readonly number[],
  src: Float64Array, srcOff: number, srcSt: readonly number[],
  dst: Float64Array, dstOff: number, dstSt: readonly number[],
): void {
  const rank = shape.length;
  if (numel(shape) === 0) return;
  if (rank === 0) {
    dst[dstOff] = src[srcOff]!;
    return;
  }
  const idx = new Array<number>(rank).fill(0);
  const last = rank - 1;
  const n = shape[last]!;
  const ss = srcSt[last]!;
  const ds = dstSt[last]!;
  for (;;) {
    let s = srcOff;
    let d = dstOff;
    for (let i = 0; i < last; i++) {
      s += idx[i]! * srcSt[i]!;
      d += idx[i]! * dstSt[i]!;
    }
    for (let j = 0; j < n; j++) dst[d + j * ds] = src[s + j * ss]!;
    let i = last - 1;
    while (i >= 0 && ++idx[i]! === shape[i]!) idx[i--] = 0;
    if (i < 0) return;
  }
}

// ---------------------------------------------------------------------------------------------
// Transpose

export interface TransposeAttrs {
  readonly perm: readonly number[];
}

function checkPerm(x: Value, perm: readonly number[]): void {
  const ok = perm.length === x.rank && perm.every((p, i) => Number.isInteger(p) && p >= 0 && p < x.rank && perm.indexOf(p) === i);
  if (!ok) throw new GraphBuildError(`Transpose: perm [${perm}] is not a permutation of 0..${x.rank - 1} for input ${x}`);
}

export const inversePerm = (perm: readonly number[]): number[] => {
  const inv = new Array<number>(perm.length);
  perm.forEach((p, i) => (inv[p] = i));
  return inv;
};

export const TransposeOp: OpDef<TransposeAttrs> = defineOp<TransposeAttrs>({
  type: 'Transpose',
  infer: ([x], { perm }) => {
    checkPerm(x!, perm);
    return [{ dtype: x!.dtype, shape: perm.map((p) => x!.shape[p]!) }];
  },
  evaluate: ([x], { perm }) => {
    const shape = perm.map((p) => x!.shape[p]!);
    const xs = strides(x!.shape);
    const data = new Float64Array(x!.data.length);
    copyBox(shape, x!.data, 0, perm.map((p) => xs[p]!), data, 0, strides(shape));
    return [{ dtype: x!.dtype, shape, data }];
  },
  vjp: ({ attrs, grads: [g] }) => [() => transpose(g!, inversePerm(attrs.perm))],
  onnxAttrs: ({ perm }) => [{ name: 'perm', type: 'ints', value: perm }],
});

/** Permutes axes; output axis i is input axis perm[i]. Default: reverse all axes (numpy). */
export function transpose(x: Value, perm?: readonly number[]): Value {
  const p = perm ? perm.map((a) => (a < 0 && a >= -x.rank ? a + x.rank : a)) : x.shape.map((_, i) => x.rank - 1 - i);
  return x.graph.apply(TransposeOp, [x], { perm: p })[0]!;
}

// ---------------------------------------------------------------------------------------------
// Concat

export interface ConcatAttrs {
  /** Normalised (non-negative) axis. */
  readonly axis: number;
}

export const ConcatOp: OpDef<ConcatAttrs> = defineOp<ConcatAttrs>({
  type: 'Concat',
  infer: (xs, { axis }) => {
    const all = xs.map(String).join(', ');
    if (xs.length === 0) throw new GraphBuildError('Concat: needs at least one input');
    const first = xs[0]!;
    if (axis < 0 || axis >= first.rank) throw new GraphBuildError(`Concat: axis ${axis} is out of range for inputs ${all}`);
    let total = 0;
    for (const x of xs) {
      if (x.dtype !== first.dtype) throw new GraphBuildError(`Concat: dtypes differ among inputs ${all}`);
      if (x.rank !== first.rank) throw new GraphBuildError(`Concat: ranks differ among inputs ${all}; all inputs need rank ${first.rank}`);
      x.shape.forEach((d, i) => {
        if (i !== axis && d !== first.shape[i]) {
          throw new GraphBuildError(`Concat: inputs ${all} differ in dim ${i} (${first.shape[i]} vs ${d}); only axis ${axis} may differ`);
        }
      });
      const d = x.shape[axis]!;
      if (typeof d !== 'number') throw new GraphBuildError(`Concat: axis ${axis} must be static in every input, got ${all}`);
      total += d;
    }
    return [{ dtype: first.dtype, shape: first.shape.map((d, i) => (i === axis ? total : d)) }];
  },
  evaluate: (xs, { axis }) => {
    const first = xs[0]!;
    const shape = [...first.shape];
    shape[axis] = xs.reduce((s, x) => s + x.shape[axis]!, 0);
    const data = new Float64Array(numel(shape));
    const os = strides(shape);
    let offset = 0;
    for (const x of xs) {
      copyBox(x.shape, x.data, 0, strides(x.shape), data, offset * os[axis]!, os);
      offset += x.shape[axis]!;
    }
    return [{ dtype: first.dtype, shape, data }];
  },
  vjp: ({ inputs, attrs: { axis }, grads: [g] }) => {
    let offset = 0;
    return inputs.map((x) => {
      const start = offset;
      const end = (offset += x.shape[axis] as number);
      return () => slice(g!, { starts: [start], ends: [end], axes: [axis] });
    });
  },
  onnxAttrs: ({ axis }) => [{ name: 'axis', type: 'int', value: axis }],
});

export function concat(xs: readonly Value[], axis: number): Value {
  if (xs.length === 0) throw new GraphBuildError('Concat: needs at least one input');
  const first = xs[0]!;
  for (const x of xs) {
    if (x.rank !== first.rank) {
      throw new GraphBuildError(`Concat: ranks differ among inputs ${xs.map(String).join(', ')}; all inputs need rank ${first.rank}`);
    }
  }
  return first.graph.apply(ConcatOp, xs, { axis: normAxis(axis, first.rank, 'Concat') })[0]!;
}

// ---------------------------------------------------------------------------------------------
// Slice

export interface SliceSpec {
  readonly starts: readonly number[];
  /** May exceed the dim (clamped); use -Infinity with a negative step to run to the start. */
  readonly ends: readonly number[];
  readonly axes?: readonly number[];
  readonly steps?: readonly number[];
}

export interface SliceAttrs {
  readonly starts: readonly number[];
  readonly ends: readonly number[];
  /** Normalised (non-negative), unique. */
  readonly axes: readonly number[];
  readonly steps: readonly number[];
}

/** One sliced axis after ONNX/numpy clamping: elements start, start+step, ... (len of them). */
interface ResolvedAxis {
  readonly axis: number;
  readonly dim: number;
  readonly start: number;
  readonly step: number;
  readonly len: number;
}

/** ONNX Slice clamping (same as numpy): negative indices count from the end, then clamp. */
export function resolveSliceAxis(dim: number, start: number, end: number, step: number): { start: number; len: number } {
  const clamp = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);
  let s = start < 0 ? start + dim : start;
  let e = end < 0 ? end + dim : end;
  if (step > 0) {
    s = clamp(s, 0, dim);
    e = clamp(e, 0, dim);
  } else {
    s = clamp(s, 0, dim - 1);
    e = clamp(e, -1, dim - 1);
  }
  const len = Math.max(0, Math.ceil((e - s) / step));
  return { start: len > 0 ? s : 0, len };
}

function resolveSlice(op: string, x: { shape: Shape; toString(): string }, a: SliceAttrs): ResolvedAxis[] {
  return a.axes.map((axis, k) => {
    const dim = x.shape[axis];
    if (typeof dim !== 'number') {
      throw new GraphBuildError(`${op}: sliced axis ${axis} of ${String(x)} must be static (got '${dim}')`);
    }
    const step = a.steps[k]!;
    return { axis, dim, step, ...resolveSliceAxis(dim, a.starts[k]!, a.ends[k]!, step) };
  });
}

function checkSliceAttrs(x: Value, a: SliceAttrs): void {
  const what = `starts [${a.starts}], ends [${a.ends}], axes [${a.axes}], steps [${a.steps}] for input ${x}`;
  const n = a.axes.length;
  if (a.starts.length !== n || a.ends.length !== n || a.steps.length !== n) {
    throw new GraphBuildError(`Slice: starts, ends, axes and steps must have equal lengths, got ${what}`);
  }
  if (new Set(a.axes).size !== n || a.axes.some((ax) => !Number.isInteger(ax) || ax < 0 || ax >= x.rank)) {
    throw new GraphBuildError(`Slice: axes must be unique and in range for rank ${x.rank}, got ${what}`);
  }
  if (a.steps.some((s) => s === 0 || !Number.isInteger(s))) throw new GraphBuildError(`Slice: steps must be non-zero integers, got ${what}`);
  const okIndex = (v: number) => Number.isInteger(v) || v === Infinity || v === -Infinity;
  if (![...a.starts, ...a.ends].every(okIndex)) throw new GraphBuildError(`Slice: starts and ends must be integers (or +-Infinity), got ${what}`);
}

export const SliceOp: OpDef<SliceAttrs> = defineOp<SliceAttrs>({
  type: 'Slice',
  minOpset: 10,
  infer: ([x], attrs) => {
    checkSliceAttrs(x!, attrs);
    const shape = [...x!.shape];
    for (const r of resolveSlice('Slice', x!, attrs)) shape[r.axis] = r.len;
    return [{ dtype: x!.dtype, shape }];
  },
  evaluate: ([x], attrs) => {
    const xs = strides(x!.shape);
    const shape = [...x!.shape];
    const srcSt = [...xs];
    let off = 0;
    for (const r of resolveSlice('Slice', x!, attrs)) {
      shape[r.axis] = r.len;
      srcSt[r.axis] = xs[r.axis]! * r.step;
      off += r.start * xs[r.axis]!;
    }
    const data = new Float64Array(numel(shape));
    copyBox(shape, x!.data, off, srcSt, data, 0, strides(shape));
    return [{ dtype: x!.dtype, shape, data }];
  },
  vjp: ({ inputs: [x], attrs, grads: [g] }) => [() => sliceGrad(g!, x!, attrs)],
  // Emit canonical (already clamped) bounds: the exact end of every slice, with INT64_MIN for a
  // reversed slice that runs through index 0 (ONNX Runtime misreads INT64_MAX with step -1).
  lower: (node: Node<SliceAttrs>, ctx: LowerContext) => {
    const rs = resolveSlice('Slice', node.inputs[0]!, node.attrs);
    const starts = rs.map((r) => r.start);
    const steps = rs.map((r) => (r.len > 0 ? r.step : 1));
    const ends = rs.map((r) => {
      if (r.len === 0) return 0;
      const last = r.start + (r.len - 1) * r.step;
      return r.step > 0 ? last + 1 : last === 0 ? INT64_MIN : last - 1;
    });
    ctx.node('Slice', [ctx.inputs[0]!, ctx.int64(starts), ctx.int64(ends), ctx.int64(rs.map((r) => r.axis)), ctx.int64(steps)], ctx.outputs);
  },
});

/**
 * Adjoint of Slice without a scatter: per sliced axis, reverse a negative-step gradient, spread
 * a step-k gradient by interleaving k-1 zeros (unsqueeze, pad, reshape), then pad to the input.
 */
function sliceGrad(g: Value, x: Value, attrs: SliceAttrs): Value {
  const pads = new Array<number>(2 * x.rank).fill(0);
  let d = g;
  for (const r of resolveSlice('gradient of Slice', x, attrs)) {
    let lo = r.start;
    const k = Math.abs(r.step);
    if (r.len > 0 && r.step < 0) {
      lo = r.start + (r.len - 1) * r.step;
      if (r.len > 1) d = slice(d, { starts: [-1], ends: [-Infinity], axes: [r.axis], steps: [-1] });
    }
    if (r.len > 1 && k > 1) d = spreadAxis(d, r.axis, k);
    const covered = r.len > 0 ? (r.len - 1) * k + 1 : 0;
    pads[r.axis] = r.len > 0 ? lo : r.dim;
    pads[x.rank + r.axis] = r.dim - pads[r.axis]! - covered;
  }
  return pads.some((p) => p !== 0) ? pad(d, pads) : d;
}

/** [.., n, ..] -> [.., (n-1)*k+1, ..] with the n values at stride k and zeros between. */
function spreadAxis(x: Value, axis: number, k: number): Value {
  const s = staticShape(x.shape, 'gradient of a strided Slice');
  const n = s[axis]!;
  const withK = [...s.slice(0, axis), n, 1, ...s.slice(axis + 1)];
  const pads = new Array<number>(2 * withK.length).fill(0);
  pads[withK.length + axis + 1] = k - 1;
  const spread = pad(reshape(x, withK), pads);
  const flat = reshape(spread, [...s.slice(0, axis), n * k, ...s.slice(axis + 1)]);
  return slice(flat, { starts: [0], ends: [(n - 1) * k + 1], axes: [axis] });
}

/** ONNX/numpy slicing: x[starts:ends:steps] along `axes` (default 0..n-1); bounds are clamped. */
export function slice(x: Value, spec: SliceSpec): Value {
  const n = spec.starts.length;
  const axes = (spec.axes ?? spec.starts.map((_, i) => i)).map((a) => normAxis(a, x.rank, 'Slice'));
  const attrs: SliceAttrs = { starts: [...spec.starts], ends: [...spec.ends], axes, steps: [...(spec.steps ?? new Array<number>(n).fill(1))] };
  return x.graph.apply(SliceOp, [x], attrs)[0]!;
}

// ---------------------------------------------------------------------------------------------
// Split

export interface SplitAttrs {
  readonly sizes: readonly number[];
  /** Normalised (non-negative) axis. */
  readonly axis: number;
}

export const SplitOp: OpDef<SplitAttrs> = defineOp<SplitAttrs>({
  type: 'Split',
  minOpset: 13,
  infer: ([x], { sizes, axis }) => {
    if (axis < 0 || axis >= x!.rank) throw new GraphBuildError(`Split: axis ${axis} is out of range for input ${x}`);
    const dim = x!.shape[axis]!;
    const total = sizes.reduce((s, v) => s + v, 0);
    if (sizes.length === 0 || sizes.some((v) => !Number.isInteger(v) || v < 0) || total !== dim) {
      throw new GraphBuildError(`Split: sizes [${sizes}] (sum ${total}) must be non-negative integers summing to dim ${axis} of ${x} (${dim})`);
    }
    return sizes.map((v): OutputSpec => ({ dtype: x!.dtype, shape: x!.shape.map((d, i) => (i === axis ? v : d)) }));
  },
  evaluate: ([x], { sizes, axis }) => {
    const xs = strides(x!.shape);
    let offset = 0;
    return sizes.map((v) => {
      const shape = x!.shape.map((d, i) => (i === axis ? v : d));
      const data = new Float64Array(numel(shape));
      copyBox(shape, x!.data, offset * xs[axis]!, xs, data, 0, strides(shape));
      offset += v;
      return { dtype: x!.dtype, shape, data };
    });
  },
  // Outputs that do not reach the loss contribute zeros (an expanded scalar, not a full initializer).
  vjp: ({ graph, outputs, attrs: { axis }, grads }) => [
    () => concat(outputs.map((o, i) => grads[i] ?? expand(graph.scalar(0), staticShape(o.shape, 'gradient of Split'))), axis),
  ],
  lower: (node: Node<SplitAttrs>, ctx: LowerContext) =>
    ctx.node('Split', [ctx.inputs[0]!, ctx.int64(node.attrs.sizes)], ctx.outputs, [{ name: 'axis', type: 'int', value: node.attrs.axis }]),
});

/** Splits `x` along `axis` into pieces of the given sizes. */
export function split(x: Value, sizes: readonly number[], axis: number): Value[] {
  return x.graph.apply(SplitOp, [x], { sizes: [...sizes], axis: normAxis(axis, x.rank, 'Split') });
}

// ---------------------------------------------------------------------------------------------
// Pad

export interface PadAttrs {
  /** ONNX layout: the begin pads of every axis, then the end pads. Non-negative. */
  readonly pads: readonly number[];
  readonly value: number;
}

export const PadOp: OpDef<PadAttrs> = defineOp<PadAttrs>({
  type: 'Pad',
  minOpset: 11,
  infer: ([x], { pads, value }) => {
    const r = x!.rank;
    if (pads.length !== 2 * r) throw new GraphBuildError(`Pad: pads [${pads}] must have 2*rank = ${2 * r} entries for input ${x}`);
    if (pads.some((p) => !Number.isInteger(p) || p < 0)) {
      throw new GraphBuildError(`Pad: pads [${pads}] must be non-negative integers for input ${x} (use slice to crop)`);
    }
    if (x!.dtype === 'bool') throw new GraphBuildError(`Pad: bool input ${x} is not supported`);
    if (x!.dtype === 'int64' && !Number.isInteger(value)) throw new GraphBuildError(`Pad: value ${value} is not an integer for int64 input ${x}`);
    const shape = x!.shape.map((d, i) => {
      const extra = pads[i]! + pads[r + i]!;
      if (extra === 0) return d;
      if (typeof d !== 'number') throw new GraphBuildError(`Pad: padded axis ${i} of ${x} must be static (pads [${pads}])`);
      return d + extra;
    });
    return [{ dtype: x!.dtype, shape }];
  },
  evaluate: ([x], { pads, value }) => {
    const r = x!.shape.length;
    const shape = x!.shape.map((d, i) => d + pads[i]! + pads[r + i]!);
    const data = new Float64Array(numel(shape)).fill(value);
    const os = strides(shape);
    const off = os.reduce((s, st, i) => s + st * pads[i]!, 0);
    copyBox(x!.shape, x!.data, 0, strides(x!.shape), data, off, os);
    return [{ dtype: x!.dtype, shape, data }];
  },
  vjp: ({ inputs: [x], attrs: { pads }, grads: [g] }) => [
    () => {
      const r = x!.rank;
      const axes = x!.shape.flatMap((_, i) => (pads[i]! + pads[r + i]! > 0 ? [i] : []));
      if (axes.length === 0) return g!;
      const starts = axes.map((i) => pads[i]!);
      return slice(g!, { starts, ends: axes.map((i, k) => starts[k]! + (x!.shape[i] as number)), axes });
    },
  ],
  lower: (node: Node<PadAttrs>, ctx: LowerContext) => {
    const { pads, value } = node.attrs;
    const cv = node.inputs[0]!.dtype === 'int64' ? ctx.int64([value], []) : ctx.float([value], []);
    ctx.node('Pad', [ctx.inputs[0]!, ctx.int64(pads), cv], ctx.outputs, [{ name: 'mode', type: 'string', value: 'constant' }]);
  },
});

/** Constant padding; `pads` in ONNX layout (all begins, then all ends), non-negative. */
export function pad(x: Value, pads: readonly number[], value = 0): Value {
  return x.graph.apply(PadOp, [x], { pads: [...pads], value })[0]!;
}
