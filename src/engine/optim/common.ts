import { GraphBuildError } from '../ir/errors.js';
import type { Graph, Value } from '../ir/graph.js';
import { formatShape, sameShape, staticShape } from '../ir/shape.js';
import type { OptimEntry } from './types.js';

/** Checks the entries of an optimizer section and that the step scalars are float scalars of `graph`. */
export function checkEntries(opt: string, graph: Graph, entries: readonly OptimEntry[], scalars: Record<string, Value | undefined>): void {
  const seen = new Set<Value>();
  for (const { param, grad } of entries) {
    if (param.graph !== graph || grad.graph !== graph) throw new GraphBuildError(`${opt}: ${param} or its gradient belongs to another graph`);
    if (param.kind !== 'input') throw new GraphBuildError(`${opt}: parameter ${param} must be a graph input (it is a ${param.kind})`);
    if (param.dtype !== 'float' || grad.dtype !== 'float') throw new GraphBuildError(`${opt}: parameter ${param} and gradient ${grad} must be float`);
    staticShape(param.shape, `${opt} parameter ${param.name}`);
    if (!sameShape(param.shape, grad.shape)) {
      throw new GraphBuildError(`${opt}: gradient of ${param.name} has shape ${formatShape(grad.shape)}, expected ${formatShape(param.shape)}`);
    }
    if (seen.has(param)) throw new GraphBuildError(`${opt}: parameter ${param.name} is listed twice`);
    seen.add(param);
  }
  for (const [what, v] of Object.entries(scalars)) {
    if (!v) continue;
    if (v.graph !== graph) throw new GraphBuildError(`${opt}: ${what} ${v} belongs to another graph`);
    if (v.dtype !== 'float' || v.shape.length !== 0) throw new GraphBuildError(`${opt}: ${what} must be a float scalar, got ${v}`);
  }
}

/** A state input shaped like its parameter, named `<param>.<suffix>` as in PyTorch's optimizer state_dict. */
export function stateInput(graph: Graph, param: Value, suffix: string): Value {
  return graph.input(`${param.name}.${suffix}`, 'float', param.shape);
}
