/**
 * Reverse-mode differentiation over the graph IR.
 *
 * Only nodes that lie between the requested parameters and the loss are visited (forward
 * reachability from `wrt` intersected with backward reachability from the loss), so gradients
 * nobody needs are never built: pruning by construction. Fan-out is accumulated by addition.
 */
import { GraphBuildError } from './ir/errors.js';
import type { Node, Value } from './ir/graph.js';
import { formatShape, numel, sameShape, staticShape } from './ir/shape.js';
import { sum } from './ops/binary.js';
import { reshape } from './ops/shape_ops.js';

export function grad(loss: Value, wrt: readonly Value[]): Value[] {
  const g = loss.graph;
  if (loss.dtype !== 'float') throw new GraphBuildError(`grad: the loss ${loss} must be a float value`);
  const ls = staticShape(loss.shape, 'grad');
  if (numel(ls) !== 1) {
    throw new GraphBuildError(`grad: the loss must be a scalar, got ${loss} with shape ${formatShape(loss.shape)}; reduce it first (e.g. reduceMean)`);
  }
  for (const w of wrt) {
    if (w.graph !== g) throw new GraphBuildError(`grad: ${w} belongs to another graph`);
    if (w.dtype !== 'float') throw new GraphBuildError(`grad: cannot differentiate with respect to non-float ${w}`);
  }

  // Forward: values that depend on some wrt.
  const depends = new Set<Value>(wrt);
  for (const n of g.nodes) {
    if (n.inputs.some((x) => depends.has(x))) for (const o of n.outputs) depends.add(o);
  }
  // Backward: nodes that feed the loss and depend on wrt.
  const onPath = new Set<Node>();
  const wanted = new Set<Value>([loss]);
  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const n = g.nodes[i]!;
    if (!n.outputs.some((o) => wanted.has(o) && depends.has(o))) continue;
    onPath.add(n);
    for (const x of n.inputs) if (depends.has(x)) wanted.add(x);
  }

  // Contributions are collected and summed when the gradient is first read: one Sum node for a
  // wide fan-out (a weight used by many chunks of a batch) instead of a chain of Adds.
  const parts = new Map<Value, Value[]>();
  const summed = new Map<Value, Value>();
  const accumulate = (v: Value, d: Value) => {
    if (summed.has(v)) throw new GraphBuildError(`grad: a gradient contribution to ${v} arrived after its gradient was used`);
    const ps = parts.get(v);
    if (ps) ps.push(d);
    else parts.set(v, [d]);
  };
  const gradOf = (v: Value): Value | undefined => {
    let s = summed.get(v);
    if (s) return s;
    const ps = parts.get(v);
    if (!ps) return undefined;
    s = sum(ps);
    summed.set(v, s);
    return s;
  };
  parts.set(loss, [ls.length === 0 ? g.scalar(1) : reshape(g.scalar(1), ls)]);

  for (let i = g.nodes.length - 1; i >= 0; i--) {
    const node = g.nodes[i]!;
    if (!onPath.has(node)) continue;
    const outGrads = node.outputs.map(gradOf);
    if (outGrads.every((d) => d === undefined)) continue;
    const rule = node.op.vjp;
    if (!rule) throw new GraphBuildError(`grad: op ${node.op.type} (node ${node.name}) has no gradient rule`);
    // Gradient nodes are named after the forward node they differentiate (readable profiles).
    const scope = `d(${node.name})`;
    const thunks = g.scope(scope, () => rule({ graph: g, node, inputs: node.inputs, outputs: node.outputs, attrs: node.attrs, grads: outGrads }));
    node.inputs.forEach((x, k) => {
      if (!wanted.has(x) || x.dtype !== 'float') return;
      const thunk = thunks[k];
      if (!thunk) throw new GraphBuildError(`grad: op ${node.op.type} (node ${node.name}) has no gradient for input ${k} (${x})`);
      const d = g.scope(scope, thunk);
      if (!sameShape(d.shape, x.shape)) {
        throw new GraphBuildError(`grad: rule of ${node.op.type} returned shape ${formatShape(d.shape)} for input ${x}`);
      }
      accumulate(x, d);
    });
  }

  return wrt.map((w) => {
    const d = gradOf(w);
    if (d) return d;
    // The loss does not depend on w: its gradient is an explicit zero.
    return g.constant({ dtype: 'float', shape: staticShape(w.shape, 'grad'), data: new Float64Array(numel(staticShape(w.shape, 'grad'))) }, `zero_grad_${w.name}`);
  });
}
