/** Reductions. ONNX takes axes as an input since opset 13/18; the IR keeps them as a static attribute. */
import type { Node, Value } from '../ir/graph.js';
import { GraphBuildError } from '../ir/errors.js';
import { normAxis, staticShape } from '../ir/shape.js';
import { cast, div, equal, mul } from './binary.js';
import { reduce } from './kernels.js';
import { defineOp, type LowerContext, onThreadPool, type OpDef } from './op.js';
import { expand, reshape } from './shape_ops.js';

export interface ReduceAttrs {
  /** Normalised, sorted, unique axes. */
  readonly axes: readonly number[];
  readonly keepdims: boolean;
}

function normAxes(op: string, x: Value, axes: readonly number[] | undefined): number[] {
  const all = axes ?? x.shape.map((_, i) => i);
  const norm = [...new Set(all.map((a) => normAxis(a, x.rank, op)))].sort((p, q) => p - q);
  if (norm.length !== all.length) throw new GraphBuildError(`${op}: repeated axes [${all}] for input ${x}`);
  return norm;
}

function inferReduce(x: Value, { axes, keepdims }: ReduceAttrs) {
  const set = new Set(axes);
  const shape = keepdims ? x.shape.map((d, i) => (set.has(i) ? 1 : d)) : x.shape.filter((_, i) => !set.has(i));
  return [{ dtype: x.dtype, shape }];
}

/**
 * Lowering switches (benchmarks and tests flip them; models need not). 'auto': the MatMul form
 * when the model runs on more than one intra-op thread (LowerContext.intraOpThreads).
 */
export const reduceLowering: { leadingSumAsMatMul: boolean | 'auto' } = { leadingSumAsMatMul: 'auto' };

/**
 * A float ReduceSum over leading axes (bias and LayerNorm-parameter gradients: [batch, tokens, C]
 * -> [C]) as ones[L] . x[L, R]: the same sum, but MLAS runs such a small product on the calling
 * thread, whereas ONNX Runtime's ReduceSum hands even a [784, 64] reduction to its thread pool.
 * Measured per 2-D training step (ORT profiler, sum of node medians, 2 threads): 88 ReduceSums
 * 5.9 ms -> 3.1 ms for the MatMuls and Reshapes; at 1 thread the ReduceSums are faster
 * (1.5 ms against 2.3 ms), hence 'auto'.
 */
function lowerLeadingSum(node: Node<ReduceAttrs>, ctx: LowerContext): boolean {
  const x = node.inputs[0]!;
  const { axes, keepdims } = node.attrs;
  const on = reduceLowering.leadingSumAsMatMul;
  if (!(on === true || (on === 'auto' && onThreadPool(ctx))) || x.dtype !== 'float' || axes.length >= x.rank || axes.some((a, i) => a !== i)) return false;
  const shape = x.shape;
  if (!shape.every((d): d is number => typeof d === 'number')) return false;
  const lead = shape.slice(0, axes.length).reduce((a, b) => a * b, 1);
  const rest = shape.slice(axes.length);
  // Every node costs a few microseconds of dispatch, so Reshapes are emitted only where needed:
  // a 1-D ones vector makes MatMul drop the summed axis itself ([L] . [L, R] -> [R]).
  const flat = x.rank === 2 ? ctx.inputs[0]! : ctx.temp('sum_rows');
  if (x.rank !== 2) ctx.node('Reshape', [ctx.inputs[0]!, ctx.int64([lead, -1])], [flat]);
  const ones = ctx.float(new Array<number>(lead).fill(1), [lead]);
  if (!keepdims && rest.length === 1) {
    ctx.node('MatMul', [ones, flat], ctx.outputs);
    return true;
  }
  const summed = ctx.temp('sum_matmul');
  ctx.node('MatMul', [ones, flat], [summed]);
  const out = keepdims ? [...new Array<number>(axes.length).fill(1), ...rest] : rest;
  ctx.node('Reshape', [summed, ctx.int64(out)], ctx.outputs);
  return true;
}

function lowerReduce(node: Node<ReduceAttrs>, ctx: LowerContext): void {
  if (node.op.type === 'ReduceSum' && lowerLeadingSum(node, ctx)) return;
  ctx.node(node.op.type, [ctx.inputs[0]!, ctx.int64(node.attrs.axes)], ctx.outputs, [
    { name: 'keepdims', type: 'int', value: node.attrs.keepdims ? 1 : 0 },
  ]);
}

/** Broadcasts a reduced gradient back over the reduced axes of `x`. */
function expandBack(g: Value, x: Value, { axes, keepdims }: ReduceAttrs): Value {
  const xs = staticShape(x.shape, 'gradient of a reduction');
  const kept = xs.map((d, i) => (axes.includes(i) ? 1 : d));
  return expand(keepdims ? g : reshape(g, kept), xs);
}

export const ReduceSumOp: OpDef<ReduceAttrs> = defineOp<ReduceAttrs>({
  type: 'ReduceSum',
  minOpset: 13,
  infer: ([x], a) => inferReduce(x!, a),
  evaluate: ([x], a) => [reduce(x!, a.axes, a.keepdims, 0, (s, v) => s + v)],
  vjp: ({ inputs: [x], attrs, grads: [g] }) => [() => expandBack(g!, x!, attrs)],
  lower: lowerReduce,
});

export const ReduceMeanOp: OpDef<ReduceAttrs> = defineOp<ReduceAttrs>({
  type: 'ReduceMean',
  minOpset: 18,
  infer: ([x], a) => inferReduce(x!, a),
  evaluate: ([x], a) => [reduce(x!, a.axes, a.keepdims, 0, (s, v) => s + v, (s, n) => s / n)],
  vjp: ({ inputs: [x], attrs, grads: [g] }) => [
    () => {
      const xs = staticShape(x!.shape, 'gradient of ReduceMean');
      const count = attrs.axes.reduce((c, a) => c * xs[a]!, 1);
      return expandBack(mul(g!, 1 / count), x!, attrs);
    },
  ],
  lower: lowerReduce,
});


// An empty axes list means "reduce nothing" here but "reduce everything" to ONNX, so it never reaches the graph.
export function reduceSum(x: Value, axes?: readonly number[], keepdims = false): Value {
  const a = normAxes('ReduceSum', x, axes);
  return a.length ? x.graph.apply(ReduceSumOp, [x], { axes: a, keepdims })[0]! : x;
}

export function reduceMean(x: Value, axes?: readonly number[], keepdims = false): Value {
  const a = normAxes('ReduceMean', x, axes);
  return a.length ? x.graph.apply(ReduceMeanOp, [x], { axes: a, keepdims })[0]! : x;
}

export const ReduceMaxOp: OpDef<ReduceAttrs> = defineOp<ReduceAttrs>({
  type: 'ReduceMax',
  minOpset: 18,
  infer: ([x], a) => inferReduce(x!, a),
  evaluate: ([x], a) => [reduce(x!, a.axes, a.keepdims, -Infinity, (m, v) => (v > m || Number.isNaN(v) ? v : m))],
  // The gradient goes to the positions that attain the max; tied positions share it evenly.
  vjp: ({ inputs: [x], outputs: [y], attrs, grads: [g] }) => [
    () => {
      const xs = staticShape(x!.shape, 'gradient of ReduceMax');
      const kept = xs.map((d, i) => (attrs.axes.includes(i) ? 1 : d));
      const keep = (v: Value) => (attrs.keepdims ? v : reshape(v, kept));
      const hit = cast(equal(x!, keep(y!)), 'float');
      const count = reduceSum(hit, attrs.axes, true);
      return mul(div(hit, count), keep(g!));
    },
  ],
  lower: lowerReduce,
});

/** Max over `axes` (all axes if omitted). */
export function reduceMax(x: Value, axes?: readonly number[], keepdims = false): Value {
  // ONNX reads an empty axes input as "all axes", the IR as "none": refuse the ambiguity.
  if (axes && axes.length === 0) throw new GraphBuildError(`ReduceMax: empty axes for input ${x}; omit axes to reduce over all of them`);
  return x.graph.apply(ReduceMaxOp, [x], { axes: normAxes('ReduceMax', x, axes), keepdims })[0]!;
}
