/**
 * SGD as a graph section, PyTorch's `torch.optim.SGD`:
 *
 *   d = g + wd * p                                  (only for entries with decay, wd > 0)
 *   b <- d                      on the first step,
 *   b <- momentum * b + (1 - dampening) * d         afterwards   (momentum > 0)
 *   d <- nesterov ? d + momentum * b : b
 *   p <- p - lr * d
 *
 * With dampening 0 the first-step rule equals the general one for a zero-initialised buffer, so
 * the `step` input is only needed when dampening is non-zero.
 */
import { GraphBuildError } from '../ir/errors.js';
import type { Graph, Value } from '../ir/graph.js';
import { add, less, mul, sub, where } from '../ops/binary.js';
import { checkEntries, stateInput } from './common.js';
import type { OptimEntry, ParamUpdate } from './types.js';

export interface SgdHyper {
  momentum?: number;
  dampening?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export const SGD_DEFAULTS: Required<SgdHyper> = { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false };

export function sgd(graph: Graph, entries: readonly OptimEntry[], hp: SgdHyper, lr: Value, step?: Value): ParamUpdate[] {
  const { momentum, dampening, weightDecay, nesterov } = { ...SGD_DEFAULTS, ...hp };
  checkEntries('sgd', graph, entries, { lr, step });
  if (!(momentum >= 0) || !(weightDecay >= 0)) throw new Error(`sgd: momentum and weightDecay must be >= 0, got ${momentum}, ${weightDecay}`);
  if (nesterov && (momentum <= 0 || dampening !== 0)) throw new Error('sgd: Nesterov momentum requires a momentum and zero dampening');
  if (dampening !== 0 && momentum > 0 && !step) {
    throw new GraphBuildError('sgd: dampening needs the step input (the first step copies the gradient into the buffer)');
  }

  return graph.scope('sgd', () => {
    const first = dampening !== 0 && momentum > 0 ? less(step!, 1.5) : undefined;
    return entries.map(({ param, grad, decay }) =>
      graph.scope(param.name, () => {
        let d = decay && weightDecay > 0 ? add(grad, mul(param, weightDecay)) : grad;
        const state = [];
        if (momentum > 0) {
          const b = stateInput(graph, param, 'momentum_buffer');
          let b1 = add(mul(b, momentum), dampening !== 0 ? mul(d, 1 - dampening) : d);
          if (first) b1 = where(first, d, b1);
          state.push({ input: b, next: b1 });
          d = nesterov ? add(d, mul(b1, momentum)) : b1;
        }
        return { param, next: sub(param, mul(d, lr)), state };
      }),
    );
  });
}
