/**
 * LayerNormalization (ONNX opset 17): normalises over the trailing dims from `axis` on, then
 * scales and shifts. Like ONNX Runtime's CPU kernel it has three outputs, Y, Mean and InvStdDev;
 * the gradient rule reuses Mean and InvStdDev instead of recomputing them.
 */
import type { Node, Value } from '../ir/graph.js';
import { GraphBuildError } from '../ir/errors.js';
import { formatShape, normAxis, numel, sameShape, staticShape } from '../ir/shape.js';
import { add, mul, sub } from './binary.js';
import { defineOp, type LowerContext, type OpDef } from './op.js';
import { reduceMean, reduceSum } from './reduce.js';
import { expand } from './shape_ops.js';

export interface LayerNormAttrs {
  /** Normalised (non-negative) first normalised axis. */
  readonly axis: number;
  readonly epsilon: number;
}

export interface LayerNormOptions {
  axis?: number;
  epsilon?: number;
}

/** ONNX TensorProto FLOAT. */
const FLOAT = 1;

const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, i) => from + i);

export const LayerNormOp: OpDef<LayerNormAttrs> = defineOp<LayerNormAttrs>({
  type: 'LayerNormalization',
  minOpset: 17,
  infer: ([x, scale, bias], { axis, epsilon }) => {
    const op = 'LayerNormalization';
    if (x!.dtype !== 'float') throw new GraphBuildError(`${op}: expects a float input, got ${x}`);
    if (axis < 0 || axis >= x!.rank) throw new GraphBuildError(`${op}: axis ${axis} is out of range for ${x}`);
    if (!(epsilon > 0)) throw new GraphBuildError(`${op}: epsilon must be positive, got ${epsilon}`);
    const normShape = x!.shape.slice(axis);
    for (const [what, v] of [['scale', scale!], ['bias', bias!]] as const) {
      if (v.dtype !== 'float' || !sameShape(v.shape, normShape)) {
        throw new GraphBuildError(
          `${op}: ${what} must be float with the normalised shape ${formatShape(normShape)} of ${x} (axis ${axis}), got ${v}`,
        );
      }
    }
    const statShape = x!.shape.map((d, i) => (i < axis ? d : 1));
    return [
      { dtype: 'float', shape: x!.shape },
      { dtype: 'float', shape: statShape },
      { dtype: 'float', shape: statShape },
    ];
  },
  evaluate: ([x, scale, bias], { axis, epsilon }) => {
    const n = numel(x!.shape.slice(axis));
    const outer = numel(x!.shape.slice(0, axis));
    const y = new Float64Array(x!.data.length);
    const means = new Float64Array(outer);
    const invs = new Float64Array(outer);
    for (let o = 0; o < outer; o++) {
      const base = o * n;
      let s = 0;
      for (let k = 0; k < n; k++) s += x!.data[base + k]!;
      const mean = s / n;
      let ss = 0;
      for (let k = 0; k < n; k++) ss += (x!.data[base + k]! - mean) ** 2;
      const inv = 1 / Math.sqrt(ss / n + epsilon);
      for (let k = 0; k < n; k++) y[base + k] = (x!.data[base + k]! - mean) * inv * scale!.data[k]! + bias!.data[k]!;
      means[o] = mean;
      invs[o] = inv;
    }
    const statShape = x!.shape.map((d, i) => (i < axis ? d : 1));
    return [
      { dtype: 'float', shape: [...x!.shape], data: y },
      { dtype: 'float', shape: statShape, data: means },
      { dtype: 'float', shape: statShape, data: invs },
    ];
  },
  vjp: ({ graph, inputs: [x, scale, bias], outputs: [, mean, inv], attrs: { axis }, grads: [gy, gMean, gInv] }) => {
    const xs = staticShape(x!.shape, 'gradient of LayerNormalization');
    const normAxes = range(axis, xs.length);
    const leadAxes = range(0, axis);
    const n = numel(xs.slice(axis));
    let xhatMemo: Value | undefined;
    const xhat = () => (xhatMemo ??= mul(sub(x!, mean!), inv!));
    const sumLead = (v: Value) => (leadAxes.length ? reduceSum(v, leadAxes) : v);
    const zerosOf = (v: Value) => {
      const s = staticShape(v.shape, 'gradient of LayerNormalization');
      return graph.constant({ dtype: 'float', shape: s, data: new Float64Array(numel(s)) }, 'zeros');
    };
    return [
      () => {
        const parts: Value[] = [];
        if (gy) {
          // dx = inv * (gh - mean(gh) - xhat * mean(gh * xhat)), gh = gy * scale
          const gh = mul(gy, scale!);
          const centred = sub(gh, reduceMean(gh, normAxes, true));
          parts.push(mul(inv!, sub(centred, mul(xhat(), reduceMean(mul(gh, xhat()), normAxes, true)))));
        }
        // d mean / dx = 1/n; d inv / dx = -inv^3 (x - mean) / n = -inv^2 xhat / n
        if (gMean) parts.push(mul(gMean, 1 / n));
        if (gInv) parts.push(mul(mul(gInv, mul(inv!, inv!)), mul(xhat(), -1 / n)));
        const dx = parts.reduce((a, b) => add(a, b));
        return sameShape(dx.shape, xs) ? dx : expand(dx, xs);
      },
      () => (gy ? sumLead(mul(gy, xhat())) : zerosOf(scale!)),
      () => (gy ? sumLead(gy) : zerosOf(bias!)),
    ];
  },
  lower: (node: Node<LayerNormAttrs>, ctx: LowerContext) => {
    const attrs = [
      { name: 'axis', type: 'int' as const, value: node.attrs.axis },
      { name: 'epsilon', type: 'float' as const, value: node.attrs.epsilon },
    ];
    const floatType = ctx.floatElemType ?? FLOAT;
    if (floatType === FLOAT) {
      ctx.node('LayerNormalization', ctx.inputs, ctx.outputs, attrs);
      return;
    }
    // ONNX Runtime's CPU kernel only registers float32 Mean/InvStdDev (type U, stash_type 1), also
    // for double X: cast them to the graph's float type so they match the IR.
    const [y, mean, inv] = ctx.outputs as [string, string, string];
    const mean32 = ctx.temp('ln_mean_f32');
    const inv32 = ctx.temp('ln_invstd_f32');
    ctx.node('LayerNormalization', ctx.inputs, [y, mean32, inv32], attrs);
    ctx.node('Cast', [mean32], [mean], [{ name: 'to', type: 'int', value: floatType }]);
    ctx.node('Cast', [inv32], [inv], [{ name: 'to', type: 'int', value: floatType }]);
  },
});

/** All three outputs [Y, Mean, InvStdDev]; Mean and InvStdDev have X's shape with the normalised dims set to 1. */
export function layerNormalization(x: Value, scale: Value, bias: Value, opts: LayerNormOptions = {}): [Value, Value, Value] {
  const axis = normAxis(opts.axis ?? -1, x.rank, 'LayerNormalization');
  const [y, mean, inv] = x.graph.apply(LayerNormOp, [x, scale, bias], { axis, epsilon: opts.epsilon ?? 1e-5 });
  return [y!, mean!, inv!];
}

/** PyTorch's LayerNorm over the dims from `axis` on: (x - mean) / sqrt(var + eps) * scale + bias, biased variance. */
export function layerNorm(x: Value, scale: Value, bias: Value, opts: LayerNormOptions = {}): Value {
  return layerNormalization(x, scale, bias, opts)[0];
}
