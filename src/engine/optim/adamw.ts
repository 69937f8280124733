/**
 * AdamW as a graph section, exactly PyTorch's `torch.optim.AdamW` (amsgrad off, maximize off):
 *
 *   t = step (1-based; PyTorch increments state['step'] before the update)
 *   p <- p * (1 - lr * wd)                      (only for entries with decay)
 *   m <- beta1 * m + (1 - beta1) * g
 *   v <- beta2 * v + (1 - beta2) * g^2
 *   p <- p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 *
 * The bias corrections are computed in the graph from the `step` input, so one graph serves
 * every step; `lr` is an input too (the schedule runs on the host).
 */
import { GraphBuildError } from '../ir/errors.js';
import type { Graph, Value } from '../ir/graph.js';
import { numel, staticShape } from '../ir/shape.js';
import { add, div, mul, sub } from '../ops/binary.js';
import { concat, reshape, split } from '../ops/shape_ops.js';
import { sqrt, tanh } from '../ops/unary.js';
import { checkEntries, stateInput } from './common.js';
import type { OptimEntry, ParamUpdate } from './types.js';

export interface AdamWHyper {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export const ADAMW_DEFAULTS: Required<AdamWHyper> = { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 };

/**
 * The bias correction 1 - beta^t, accurate in float32 too. Written naively, float32 rounds beta2
 * = 0.999 to 0.99900001 and 1 - beta2^1 comes out 1.3e-5 too small (PyTorch evaluates it in
 * float64 on the host). Instead: 1 - beta^t = -expm1(t ln beta) with ln beta taken in float64,
 * and expm1(x) = 2 tanh(x/2) / (1 - tanh(x/2)), which keeps full relative precision for small x.
 */
function oneMinusPow(graph: Graph, beta: number, step: Value): Value {
  if (beta === 0) return graph.scalar(1);
  const th = tanh(mul(step, Math.log(beta) / 2));
  return div(mul(th, -2), sub(1, th));
}

export function adamw(graph: Graph, entries: readonly OptimEntry[], hp: AdamWHyper, lr: Value, step: Value): ParamUpdate[] {
  checkEntries('adamw', graph, entries, { lr, step });
  return adamwFlat(graph, entries, () => flatten(entries.map((e) => e.grad)), hp, lr, step);
}

/** Tensors flattened and concatenated into one vector (one tensor: just flattened). */
export function flatten(vs: readonly Value[]): Value {
  const flats = vs.map((v) => (v.rank === 1 ? v : reshape(v, [-1])));
  return flats.length === 1 ? flats[0]! : concat(flats, 0);
}

/**
 * AdamW with the gradients given as one vector `g`, the parameters' gradients flattened and
 * concatenated in entry order (`flatten`; a data-parallel update sums its replicas' vectors).
 * `g` is called where the update needs it, so `adamw`'s graph is node for node what it was.
 */
export function adamwFlat(
  graph: Graph,
  params: readonly Pick<OptimEntry, 'param' | 'decay'>[],
  gradient: () => Value,
  hp: AdamWHyper,
  lr: Value,
  step: Value,
): ParamUpdate[] {
  const { beta1, beta2, eps, weightDecay } = { ...ADAMW_DEFAULTS, ...hp };
  for (const [k, v] of Object.entries({ beta1, beta2 })) {
    if (!(v >= 0 && v < 1)) throw new Error(`adamw: ${k} must be in [0, 1), got ${v}`);
  }
  if (!(eps >= 0) || !(weightDecay >= 0)) throw new Error(`adamw: eps and weightDecay must be >= 0, got ${eps}, ${weightDecay}`);

  if (params.length === 0) return [];
  const sizes = params.map(({ param }) => numel(staticShape(param.shape, 'adamw parameter')));
  const total = sizes.reduce((a, b) => a + b, 0);

  return graph.scope('adamw', () => {
    // Step scalars, shared by every parameter.
    const stepSize = div(lr, oneMinusPow(graph, beta1, step));
    const bc2Sqrt = sqrt(oneMinusPow(graph, beta2, step));
    const states = params.map(({ param }) => ({ m: stateInput(graph, param, 'exp_avg'), v: stateInput(graph, param, 'exp_avg_sq') }));

    // One update over all parameters concatenated: a dozen nodes instead of a dozen per
    // parameter (ONNX Runtime's per-node cost dominates these small tensors). Elementwise, so
    // every value is exactly what a per-parameter update computes.
    const g = gradient();
    if (g.rank !== 1 || g.shape[0] !== total) throw new GraphBuildError(`adamw: the flat gradient must be float [${total}], got ${g}`);
    const m = flatten(states.map((s) => s.m));
    const v = flatten(states.map((s) => s.v));
    const p = flatten(params.map((e) => e.param));
    const m1 = add(mul(m, beta1), mul(g, 1 - beta1));
    const v1 = add(mul(v, beta2), mul(mul(g, g), 1 - beta2));
    const denom = add(div(sqrt(v1), bc2Sqrt), eps);
    const p0 = decayed(graph, p, params, sizes, lr, weightDecay);
    const next = sub(p0, div(mul(m1, stepSize), denom));

    const unflat = (x: Value): Value[] => {
      const parts = params.length === 1 ? [x] : split(x, sizes, 0);
      return parts.map((part, i) => {
        const shape = params[i]!.param.shape;
        return shape.length === 1 ? part : reshape(part, staticShape(shape, 'adamw parameter'));
      });
    };
    const [nexts, m1s, v1s] = [unflat(next), unflat(m1), unflat(v1)];
    return params.map(({ param }, i) => ({
      param,
      next: nexts[i]!,
      state: [
        { input: states[i]!.m, next: m1s[i]! },
        { input: states[i]!.v, next: v1s[i]! },
      ],
    }));
  });
}

/**
 * Decoupled weight decay p * (1 - lr * wd) on the entries that decay. With a mix, the factor is
 * 1 - (lr * wd) * mask: exactly 1 - lr * wd where the mask is 1 and exactly 1 where it is 0.
 */
function decayed(graph: Graph, p: Value, entries: readonly Pick<OptimEntry, 'decay'>[], sizes: readonly number[], lr: Value, weightDecay: number): Value {
  const n = entries.filter((e) => e.decay).length;
  if (weightDecay === 0 || n === 0) return p;
  const lrWd = mul(lr, weightDecay);
  if (n === entries.length) return mul(p, sub(1, lrWd));
  const mask = new Float64Array(sizes.reduce((a, b) => a + b, 0));
  let off = 0;
  entries.forEach((e, i) => {
    if (e.decay) mask.fill(1, off, off + sizes[i]!);
    off += sizes[i]!;
  });
  const maskV = graph.constant({ dtype: 'float', shape: [mask.length], data: mask }, 'adamw.decay_mask');
  return mul(p, sub(1, mul(lrWd, maskV)));
}
