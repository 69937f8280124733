/** Data-movement ops. Shape-like ONNX inputs (target shape, axes, starts/ends) are static IR attributes. */
import type { Node, Value } from '../ir/graph.js';
import { GraphBuildError } from '../ir/errors.js';
import { type Dim, type Shape, broadcastShapes, formatShape, numel, staticShape } from '../ir/shape.js';
import { mapN } from './kernels.js';
import { defineOp, type LowerContext, type OpDef } from './op.js';
import { sumTo } from './unbroadcast.js';

export interface ReshapeAttrs {
  /** ONNX semantics: 0 copies the input dim at that position, one -1 is inferred. */
  readonly shape: readonly number[];
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
  // Symbolic input dims must be carried over unchanged (by a 0 or the same name) so the sizes stay comparable.
  const inSym = x.shape.filter((d): d is string => typeof d === 'string');
  const outSym = out.filter((d): d is string => typeof d === 'string');
  if ([...inSym].sort().join() !== [...outSym].sort().join()) {
    throw fail('symbolic dims must be kept in place with 0');
  }
  const inCount = numel(x.shape.filter((d): d is number => typeof d === 'number'));
  const known = numel(out.filter((d): d is number => typeof d === 'number' && d !== -1));
  const minus = out.indexOf(-1);
  if (minus >= 0) {
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
