/** Autodiff's contract: scalar losses only, pruning by construction, fan-out accumulation, clear errors. */
import { describe, expect, it } from 'vitest';
import { grad } from '../../src/engine/autodiff.js';
import { interpret } from '../../src/engine/interp.js';
import { Graph } from '../../src/engine/ir/graph.js';
import * as op from '../../src/engine/ops/index.js';
import { defineOp } from '../../src/engine/ops/op.js';

describe('grad', () => {
  it('refuses a non-scalar loss with a message that says how to fix it', () => {
    const g = new Graph('t');
    const x = g.input('x', 'float', [2, 3]);
    expect(() => grad(op.mul(x, x), [x])).toThrow(/loss must be a scalar.*\[2,3\].*reduce/);
  });

  it('refuses to differentiate with respect to an integer input', () => {
    const g = new Graph('t');
    const x = g.input('x', 'float', [3]);
    const y = g.input('y', 'int64', [3]);
    expect(() => grad(op.reduceSum(x), [y])).toThrow(/non-float/);
  });

  it('builds nothing for branches that do not lead to the requested parameters', () => {
    const g = new Graph('t');
    const a = g.input('a', 'float', [4]);
    const b = g.input('b', 'float', [4]);
    const loss = op.reduceSum(op.add(op.mul(a, a), op.exp(b)));
    const before = g.nodes.length;
    grad(loss, [a]);
    const added = g.nodes.slice(before).map((n) => n.op.type);
    expect(added).not.toContain('Exp'); // d/db is never built
    expect(added.length).toBeLessThan(8);
  });

  it('accumulates fan-out and gives an explicit zero for unconnected parameters', () => {
    const g = new Graph('t');
    const a = g.input('a', 'float', [3]);
    const c = g.input('c', 'float', [3]);
    const loss = op.reduceSum(op.add(op.mul(a, 3), op.mul(a, a)));
    const [da, dc] = grad(loss, [a, c]);
    const feeds = { a: { dtype: 'float' as const, shape: [3], data: Float64Array.of(1, 2, -1) }, c: { dtype: 'float' as const, shape: [3], data: Float64Array.of(0, 0, 0) } };
    const [ga, gc] = interpret(g, feeds, [da!, dc!]);
    expect(Array.from(ga!.data)).toEqual([5, 7, 1]); // 3 + 2a
    expect(Array.from(gc!.data)).toEqual([0, 0, 0]);
  });

  it('names the op when a gradient rule is missing', () => {
    const NoGrad = defineOp<Record<string, never>>({
      type: 'TestOpWithoutGradient',
      infer: ([x]) => [{ dtype: x!.dtype, shape: x!.shape }],
      evaluate: ([x]) => [x!],
    });
    const g = new Graph('t');
    const a = g.input('a', 'float', [3]);
    const loss = op.reduceSum(g.apply(NoGrad, [a], {})[0]!);
    expect(() => grad(loss, [a])).toThrow(/TestOpWithoutGradient.*has no gradient rule/);
  });
});
