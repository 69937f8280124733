/**
 * Scaled dot-product attention as one IR op: Y = softmax(scale * Q K^T) V over the last two
 * axes, with the attention weights P as a second output. Lowered to the plain ONNX ops
 * (Transpose, MatMul, Mul, Softmax, MatMul), so the forward pass is exactly the unfused one; the
 * op exists for its gradient rule, which sees the whole attention at once:
 *
 *   dP = dY V^T (+ the gradient of P itself, if P is used),
 *   dS = P * (dP - D) with D = rowsum(dY * Y) (= rowsum(dP * P), computed on the small
 *        [.., Tq, dv] tensors instead of the [.., Tq, Tk] ones: two passes over the big
 *        tensor instead of four),
 *   dQ = scale * dS K,   dK = scale * (Q^T dS)^T,   dV = (dY^T P)^T.
 *
 * dK and dV are written so that the [Tq, Tk] operand is never the transposed left factor of a
 * MatMul: ONNX Runtime's CPU MatMul with a transposed large left operand was measured ~1.4x
 * slower than the same product with the small operand transposed instead.
 */
import type { Node, Value } from '../ir/graph.js';
import { GraphBuildError } from '../ir/errors.js';
import { type Dim, formatShape, numel, staticShape } from '../ir/shape.js';
import type { HostTensor } from '../ir/tensor.js';
import { add, mul, sub } from './binary.js';
import { matmul, transposeLast2 } from './matmul.js';
import { defineOp, type LowerContext, type OpDef } from './op.js';
import { reduceSum } from './reduce.js';

export interface AttentionAttrs {
  /** Multiplies Q K^T before the softmax (1 / sqrt(head dim) in a transformer). */
  readonly scale: number;
}

const OP = 'ScaledDotProductAttention';

function inferAttention([q, k, v]: readonly Value[], { scale }: AttentionAttrs) {
  const shapes = () => `q${formatShape(q!.shape)}, k${formatShape(k!.shape)}, v${formatShape(v!.shape)}`;
  for (const x of [q!, k!, v!]) {
    if (x.dtype !== 'float') throw new GraphBuildError(`${OP}: inputs must be float, got ${x}`);
    if (x.rank < 2 || x.rank !== q!.rank) throw new GraphBuildError(`${OP}: q, k and v need the same rank >= 2, got ${shapes()}`);
  }
  if (!Number.isFinite(scale)) throw new GraphBuildError(`${OP}: scale must be finite, got ${scale}`);
  const r = q!.rank;
  const batch = q!.shape.slice(0, -2);
  if (![k!, v!].every((x) => x.shape.slice(0, -2).every((d, i) => d === batch[i]))) {
    throw new GraphBuildError(`${OP}: q, k and v must have the same leading (batch, head) dims, got ${shapes()}`);
  }
  if (q!.shape[r - 1] !== k!.shape[r - 1]) throw new GraphBuildError(`${OP}: q and k must have the same last dim (head size), got ${shapes()}`);
  if (k!.shape[r - 2] !== v!.shape[r - 2]) throw new GraphBuildError(`${OP}: k and v must have the same number of keys (dim -2), got ${shapes()}`);
  const tq: Dim = q!.shape[r - 2]!;
  return [
    { dtype: 'float' as const, shape: [...batch, tq, v!.shape[r - 1]!] },
    { dtype: 'float' as const, shape: [...batch, tq, k!.shape[r - 2]!] },
  ];
}

function evaluateAttention(q: HostTensor, k: HostTensor, v: HostTensor, scale: number): HostTensor[] {
  const r = q.shape.length;
  const [tq, d] = [q.shape[r - 2]!, q.shape[r - 1]!];
  const [tk, dv] = [k.shape[r - 2]!, v.shape[r - 1]!];
  const batch = q.shape.slice(0, -2);
  const nb = numel(batch);
  const y = new Float64Array(nb * tq * dv);
  const p = new Float64Array(nb * tq * tk);
  const row = new Float64Array(tk);
  for (let b = 0; b < nb; b++) {
    for (let i = 0; i < tq; i++) {
      let max = -Infinity;
      for (let j = 0; j < tk; j++) {
        let s = 0;
        for (let c = 0; c < d; c++) s += q.data[(b * tq + i) * d + c]! * k.data[(b * tk + j) * d + c]!;
        row[j] = s * scale;
        if (row[j]! > max) max = row[j]!;
      }
      let z = 0;
      for (let j = 0; j < tk; j++) z += (row[j] = Math.exp(row[j]! - max));
      for (let j = 0; j < tk; j++) {
        const pij = row[j]! / z;
        p[(b * tq + i) * tk + j] = pij;
        for (let c = 0; c < dv; c++) y[(b * tq + i) * dv + c]! += pij * v.data[(b * tk + j) * dv + c]!;
      }
    }
  }
  return [
    { dtype: 'float', shape: [...batch, tq, dv], data: y },
    { dtype: 'float', shape: [...batch, tq, tk], data: p },
  ];
}

export const AttentionOp: OpDef<AttentionAttrs> = defineOp<AttentionAttrs>({
  type: OP,
  minOpset: 13,
  infer: inferAttention,
  evaluate: ([q, k, v], { scale }) => evaluateAttention(q!, k!, v!, scale),
  vjp: ({ inputs: [q, k, v], outputs: [y, p], attrs: { scale }, grads: [gy, gp] }) => {
    let dsMemo: Value | undefined;
    const dS = () => {
      if (dsMemo) return dsMemo;
      let dP: Value | undefined;
      let D: Value | undefined;
      if (gy) {
        dP = matmul(gy, transposeLast2(v!));
        D = reduceSum(mul(gy, y!), [-1], true);
      }
      if (gp) {
        dP = dP ? add(dP, gp) : gp;
        const dp = reduceSum(mul(gp, p!), [-1], true);
        D = D ? add(D, dp) : dp;
      }
      return (dsMemo = mul(p!, sub(dP!, D!)));
    };
    return [
      () => mul(matmul(dS(), k!), scale),
      () => mul(transposeLast2(matmul(transposeLast2(q!), dS())), scale),
      () => (gy ? transposeLast2(matmul(transposeLast2(gy), p!)) : zerosLike(v!)),
    ];
  },
  lower: (node: Node<AttentionAttrs>, ctx: LowerContext) => {
    const r = node.inputs[0]!.rank;
    const perm = Array.from({ length: r }, (_, i) => (i < r - 2 ? i : 2 * r - 3 - i));
    const [q, k, v] = ctx.inputs as [string, string, string];
    const [y, p] = ctx.outputs as [string, string];
    const kt = ctx.temp('k_t');
    const s = ctx.temp('qk');
    const scaled = ctx.temp('scores');
    ctx.node('Transpose', [k], [kt], [{ name: 'perm', type: 'ints', value: perm }]);
    ctx.node('MatMul', [q, kt], [s]);
    ctx.node('Mul', [s, ctx.float([node.attrs.scale], [])], [scaled]);
    ctx.node('Softmax', [scaled], [p], [{ name: 'axis', type: 'int', value: -1 }]);
    ctx.node('MatMul', [p, v], [y]);
  },
});

function zerosLike(x: Value): Value {
  const s = staticShape(x.shape, `gradient of ${OP}`);
  return x.graph.constant({ dtype: 'float', shape: s, data: new Float64Array(numel(s)) }, 'zeros');
}

/** Both outputs: Y = softmax(scale * q k^T) v [.., Tq, dv] and the attention weights P [.., Tq, Tk]. */
export function attentionWithWeights(q: Value, k: Value, v: Value, scale: number): [Value, Value] {
  const [y, p] = q.graph.apply(AttentionOp, [q, k, v], { scale });
  return [y!, p!];
}

/** softmax(scale * q k^T) v over the last two axes; q [.., Tq, d], k [.., Tk, d], v [.., Tk, dv], same leading dims. */
export function attention(q: Value, k: Value, v: Value, scale: number): Value {
  return attentionWithWeights(q, k, v, scale)[0];
}
