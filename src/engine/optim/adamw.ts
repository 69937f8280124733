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
import type { Graph, Value } from '../ir/graph.js';
import { add, div, mul, sub } from '../ops/binary.js';
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
  const { beta1, beta2, eps, weightDecay } = { ...ADAMW_DEFAULTS, ...hp };
  checkEntries('adamw', graph, entries, { lr, step });
  for (const [k, v] of Object.entries({ beta1, beta2 })) {
    if (!(v >= 0 && v < 1)) throw new Error(`adamw: ${k} must be in [0, 1), got ${v}`);
  }
  if (!(eps >= 0) || !(weightDecay >= 0)) throw new Error(`adamw: eps and weightDecay must be >= 0, got ${eps}, ${weightDecay}`);

  return graph.scope('adamw', () => {
    // Step scalars, shared by every parameter.
    const stepSize = div(lr, oneMinusPow(graph, beta1, step));
    const bc2Sqrt = sqrt(oneMinusPow(graph, beta2, step));
    const decayFactor = weightDecay > 0 && entries.some((e) => e.decay) ? sub(1, mul(lr, weightDecay)) : undefined;

    return entries.map(({ param, grad, decay }) =>
      graph.scope(param.name, () => {
        const m = stateInput(graph, param, 'exp_avg');
        const v = stateInput(graph, param, 'exp_avg_sq');
        const m1 = add(mul(m, beta1), mul(grad, 1 - beta1));
        const v1 = add(mul(v, beta2), mul(mul(grad, grad), 1 - beta2));
        const denom = add(div(sqrt(v1), bc2Sqrt), eps);
        const p0 = decay && decayFactor ? mul(param, decayFactor) : param;
        const next = sub(p0, div(mul(m1, stepSize), denom));
        return { param, next, state: [{ input: m, next: m1 }, { input: v, next: v1 }] };
      }),
    );
  });
}
