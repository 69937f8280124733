/**
 * The float64 reference interpreter: evaluates the IR with each op's `evaluate`. It is the
 * oracle for gradient checks (ONNX Runtime's CPU provider lacks float64 Conv and Erf), and the
 * yardstick ONNX Runtime's float32 execution is compared against.
 */
import type { Graph, Value } from './ir/graph.js';
import { formatShape } from './ir/shape.js';
import type { HostTensor } from './ir/tensor.js';

export type Feeds = ReadonlyMap<Value, HostTensor> | Readonly<Record<string, HostTensor>>;

export function interpret(graph: Graph, feeds: Feeds, outputs: readonly Value[]): HostTensor[] {
  const env = new Map<Value, HostTensor>();
  for (const [v, t] of graph.constants) env.set(v, t);
  for (const v of graph.inputs) {
    const t = feeds instanceof Map ? feeds.get(v) : (feeds as Record<string, HostTensor>)[v.name];
    if (!t) continue;
    if (t.shape.length !== v.rank || v.shape.some((d, i) => typeof d === 'number' && d !== t.shape[i])) {
      throw new Error(`interpret: input ${v.name} expects ${formatShape(v.shape)}, fed [${t.shape.join(',')}]`);
    }
    env.set(v, t);
  }
  // Only nodes that the requested outputs depend on.
  const need = new Set<Value>(outputs);
  const run: typeof graph.nodes = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((o) => need.has(o))) continue;
    run.push(n);
    for (const x of n.inputs) need.add(x);
  }
  run.reverse();
  for (const v of graph.inputs) if (need.has(v) && !env.has(v)) throw new Error(`interpret: input ${v.name} was not fed`);
  for (const n of run) {
    const res = n.op.evaluate(n.inputs.map((x) => env.get(x)!), n.attrs);
    n.outputs.forEach((o, k) => env.set(o, res[k]!));
  }
  return outputs.map((o) => env.get(o)!);
}
