/** Softmax and LogSoftmax over one axis (ONNX opset 13 semantics: a single axis, not "flatten from axis"). */
import type { Value } from '../ir/graph.js';
import { GraphBuildError } from '../ir/errors.js';
import { normAxis } from '../ir/shape.js';
import type { HostTensor } from '../ir/tensor.js';
import { mul, sub } from './binary.js';
import { defineOp, type OpDef } from './op.js';
import { reduceSum } from './reduce.js';
import { exp } from './unary.js';

export interface SoftmaxAttrs {
  /** Normalised (non-negative) axis. */
  readonly axis: number;
}

/**
 * Applies `f` to every 1-D fibre of `x` along `axis`: `f` reads `src` and writes `dst`, both of
 * length shape[axis], at the given stride.
 */
function alongAxis(x: HostTensor, axis: number, f: (src: Float64Array, dst: Float64Array) => void): HostTensor {
  const n = x.shape[axis]!;
  const inner = x.shape.slice(axis + 1).reduce((a, d) => a * d, 1);
  const outer = x.shape.slice(0, axis).reduce((a, d) => a * d, 1);
  const out = new Float64Array(x.data.length);
  const src = new Float64Array(n);
  const dst = new Float64Array(n);
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      const base = o * n * inner + i;
      for (let k = 0; k < n; k++) src[k] = x.data[base + k * inner]!;
      f(src, dst);
      for (let k = 0; k < n; k++) out[base + k * inner] = dst[k]!;
    }
  }
  return { dtype: x.dtype, shape: [...x.shape], data: out };
}

/** Writes x - max(x) into dst and returns log(sum(exp(x - max))). */
function shiftedLogSumExp(src: Float64Array, dst: Float64Array): number {
  let m = -Infinity;
  for (const v of src) if (v > m) m = v;
  let s = 0;
  for (let k = 0; k < src.length; k++) {
    dst[k] = src[k]! - m;
    s += Math.exp(dst[k]!);
  }
  return Math.log(s);
}

function inferSoftmax(op: string) {
  return ([x]: readonly Value[], { axis }: SoftmaxAttrs) => {
    if (x!.dtype !== 'float') throw new GraphBuildError(`${op}: expects a float input, got ${x}`);
    if (axis < 0 || axis >= x!.rank) throw new GraphBuildError(`${op}: axis ${axis} is out of range for ${x}`);
    return [{ dtype: x!.dtype, shape: x!.shape }];
  };
}

const axisAttr = ({ axis }: SoftmaxAttrs) => [{ name: 'axis', type: 'int' as const, value: axis }];

export const SoftmaxOp: OpDef<SoftmaxAttrs> = defineOp<SoftmaxAttrs>({
  type: 'Softmax',
  minOpset: 13,
  infer: inferSoftmax('Softmax'),
  evaluate: ([x], { axis }) => [
    alongAxis(x!, axis, (src, dst) => {
      const lse = shiftedLogSumExp(src, dst);
      for (let k = 0; k < dst.length; k++) dst[k] = Math.exp(dst[k]! - lse);
    }),
  ],
  // dx = y * (g - sum(g * y, axis))
  vjp: ({ outputs: [y], attrs: { axis }, grads: [g] }) => [() => mul(y!, sub(g!, reduceSum(mul(g!, y!), [axis], true)))],
  onnxAttrs: axisAttr,
});

export const LogSoftmaxOp: OpDef<SoftmaxAttrs> = defineOp<SoftmaxAttrs>({
  type: 'LogSoftmax',
  minOpset: 13,
  infer: inferSoftmax('LogSoftmax'),
  evaluate: ([x], { axis }) => [
    alongAxis(x!, axis, (src, dst) => {
      const lse = shiftedLogSumExp(src, dst);
      for (let k = 0; k < dst.length; k++) dst[k] = dst[k]! - lse;
    }),
  ],
  // dx = g - softmax(x) * sum(g, axis), with softmax(x) = exp(y)
  vjp: ({ outputs: [y], attrs: { axis }, grads: [g] }) => [() => sub(g!, mul(exp(y!), reduceSum(g!, [axis], true)))],
  onnxAttrs: axisAttr,
});

export function softmax(x: Value, axis = -1): Value {
  return x.graph.apply(SoftmaxOp, [x], { axis: normAxis(axis, x.rank, 'Softmax') })[0]!;
}

export function logSoftmax(x: Value, axis = -1): Value {
  return x.graph.apply(LogSoftmaxOp, [x], { axis: normAxis(axis, x.rank, 'LogSoftmax') })[0]!;
}
