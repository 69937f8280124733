import { describe, expect, it } from 'vitest';
import { Graph, type Value } from '../../src/engine/ir/graph.js';
import { GraphBuildError } from '../../src/engine/ir/errors.js';
import type { HostTensor } from '../../src/engine/ir/tensor.js';
import { tensor } from '../../src/engine/ir/tensor.js';
import { interpret } from '../../src/engine/interp.js';
import type { LowerContext, OnnxAttr } from '../../src/engine/ops/op.js';
import * as op from '../../src/engine/ops/index.js';

const arange = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Builds `f` over one fed input and evaluates it with the float64 interpreter. */
function run(shape: number[], data: number[], f: (x: Value) => Value | Value[]): HostTensor[] {
  const g = new Graph('t');
  const x = g.input('x', 'float', shape);
  const out = f(x);
  return interpret(g, { x: tensor(shape, data) }, Array.isArray(out) ? out : [out]);
}
const run1 = (shape: number[], data: number[], f: (x: Value) => Value) => run(shape, data, f)[0]!;
const list = (t: HostTensor) => Array.from(t.data);

/** Records what an op's lowering emits. */
function lowerOf(v: Value) {
  const node = v.producer!;
  const nodes: { op: string; inputs: readonly string[]; attrs: readonly OnnxAttr[] }[] = [];
  const inits = new Map<string, { kind: string; values: number[]; dims: readonly number[] | undefined }>();
  const ctx: LowerContext = {
    inputs: node.inputs.map((x) => x.name),
    outputs: node.outputs.map((o) => o.name),
    node: (opType, inputs, _outputs, attrs = []) => void nodes.push({ op: opType, inputs, attrs }),
    int64: (values, dims) => {
      const name = `i${inits.size}`;
      inits.set(name, { kind: 'int64', values: [...values], dims });
      return name;
    },
    float: (values, dims) => {
      const name = `f${inits.size}`;
      inits.set(name, { kind: 'float', values: [...values], dims });
      return name;
    },
    temp: (hint) => hint,
  };
  node.op.lower!(node, ctx);
  return { nodes, inits };
}

describe('Slice forward semantics', () => {
  const v = arange(6);
  it('reverses with step -1 and end -Infinity', () => {
    const t = run1([6], v, (x) => op.slice(x, { starts: [-1], ends: [-Infinity], steps: [-1] }));
    expect(list(t)).toEqual([5, 4, 3, 2, 1, 0]);
  });
  it('clamps out-of-range starts and ends (numpy/ONNX)', () => {
    expect(list(run1([6], v, (x) => op.slice(x, { starts: [2], ends: [100] })))).toEqual([2, 3, 4, 5]);
    expect(list(run1([6], v, (x) => op.slice(x, { starts: [-100], ends: [2] })))).toEqual([0, 1]);
    expect(list(run1([6], v, (x) => op.slice(x, { starts: [100], ends: [-100], steps: [-1] })))).toEqual([5, 4, 3, 2, 1, 0]);
    expect(list(run1([6], v, (x) => op.slice(x, { starts: [4], ends: [1], steps: [-2] })))).toEqual([4, 2]);
    expect(list(run1([6], v, (x) => op.slice(x, { starts: [-5], ends: [6], steps: [3] })))).toEqual([1, 4]);
  });
  it('yields an empty axis when the range is empty', () => {
    const t = run1([6], v, (x) => op.slice(x, { starts: [4], ends: [2] }));
    expect(t.shape).toEqual([0]);
  });
  it('slices a middle axis with negative indices', () => {
    // [[0,1,2,3],[4,5,6,7],[8,9,10,11]][:, -3:-1]
    const t = run1([3, 4], arange(12), (x) => op.slice(x, { starts: [-3], ends: [-1], axes: [-1] }));
    expect(t.shape).toEqual([3, 2]);
    expect(list(t)).toEqual([1, 2, 5, 6, 9, 10]);
  });
  it('lowers reversed slices through index 0 with end = INT64_MIN, others with their exact end', () => {
    const g = new Graph('t');
    const x = g.input('x', 'float', [6, 5]);
    const full = lowerOf(op.slice(x, { starts: [-1, 1], ends: [-Infinity, 99], axes: [0, 1], steps: [-1, 2] }));
    expect(full.nodes.map((n) => n.op)).toEqual(['Slice']);
    const [starts, ends, axes, steps] = full.nodes[0]!.inputs.slice(1).map((name) => full.inits.get(name)!);
    expect(starts!.values).toEqual([5, 1]);
    expect(ends!.values).toEqual([-(2 ** 63), 4]);
    expect(ends!.kind).toBe('int64');
    expect(axes!.values).toEqual([0, 1]);
    expect(steps!.values).toEqual([-1, 2]);
    const part = lowerOf(op.slice(x, { starts: [4], ends: [0], steps: [-2] }));
    expect(part.inits.get(part.nodes[0]!.inputs[2]!)!.values).toEqual([1]);
  });
});

describe('Split, Pad, Concat, Transpose forward semantics', () => {
  it('splits unevenly along an axis', () => {
    const [a, b] = run([2, 5], arange(10), (x) => op.split(x, [2, 3], 1));
    expect(a!.shape).toEqual([2, 2]);
    expect(list(a!)).toEqual([0, 1, 5, 6]);
    expect(b!.shape).toEqual([2, 3]);
    expect(list(b!)).toEqual([2, 3, 4, 7, 8, 9]);
  });
  it('pads with a constant (ONNX layout: begins then ends)', () => {
    const t = run1([2, 2], [1, 2, 3, 4], (x) => op.pad(x, [1, 0, 0, 1], 9));
    expect(t.shape).toEqual([3, 3]);
    expect(list(t)).toEqual([9, 9, 9, 1, 2, 9, 3, 4, 9]);
  });
  it('lowers Pad with int64 pads and a scalar constant_value', () => {
    const g = new Graph('t');
    const x = g.input('x', 'float', [2, 2]);
    const { nodes, inits } = lowerOf(op.pad(x, [1, 0, 0, 1], 9));
    expect(nodes[0]!.op).toBe('Pad');
    expect(inits.get(nodes[0]!.inputs[1]!)).toEqual({ kind: 'int64', values: [1, 0, 0, 1], dims: undefined });
    expect(inits.get(nodes[0]!.inputs[2]!)).toEqual({ kind: 'float', values: [9], dims: [] });
  });
  it('concatenates along a middle axis', () => {
    const g = new Graph('t');
    const a = g.input('a', 'float', [2, 1]);
    const b = g.input('b', 'float', [2, 2]);
    const c = op.concat([a, b, a], 1);
    const [t] = interpret(g, { a: tensor([2, 1], [1, 2]), b: tensor([2, 2], [3, 4, 5, 6]) }, [c]);
    expect(t!.shape).toEqual([2, 4]);
    expect(list(t!)).toEqual([1, 3, 4, 1, 2, 5, 6, 2]);
  });
  it('transposes with a permutation', () => {
    const t = run1([2, 3], arange(6), (x) => op.transpose(x, [1, 0]));
    expect(t.shape).toEqual([3, 2]);
    expect(list(t)).toEqual([0, 3, 1, 4, 2, 5]);
    const u = run1([2, 3, 2], arange(12), (x) => op.transpose(x, [2, 0, 1]));
    expect(u.shape).toEqual([2, 2, 3]);
    // u[k,i,j] = x[i,j,k] = 6i + 2j + k
    expect(list(u)).toEqual([0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11]);
  });
  it('unsqueezes and squeezes by reshaping', () => {
    const t = run1([2, 3], arange(6), (x) => op.unsqueeze(x, [0, 2]));
    expect(t.shape).toEqual([1, 2, 1, 3]);
    expect(run1([1, 2, 1, 3], arange(6), (x) => op.squeeze(x)).shape).toEqual([2, 3]);
    expect(run1([1, 2, 1, 3], arange(6), (x) => op.squeeze(x, [-2])).shape).toEqual([1, 2, 3]);
  });
});

describe('MatMul forward semantics', () => {
  it('multiplies 2-D matrices', () => {
    const g = new Graph('t');
    const a = g.input('a', 'float', [2, 2]);
    const b = g.input('b', 'float', [2, 2]);
    const [t] = interpret(g, { a: tensor([2, 2], [1, 2, 3, 4]), b: tensor([2, 2], [5, 6, 7, 8]) }, [op.matmul(a, b)]);
    expect(list(t!)).toEqual([19, 22, 43, 50]);
  });
  it('broadcasts batch dims both ways like numpy', () => {
    const g = new Graph('t');
    const a = g.input('a', 'float', [2, 1, 2, 3]);
    const b = g.input('b', 'float', [3, 3, 2]);
    const av = arange(12).map((v) => v - 5);
    const bv = arange(18).map((v) => (v * 7) % 5);
    const [t] = interpret(g, { a: tensor([2, 1, 2, 3], av), b: tensor([3, 3, 2], bv) }, [op.matmul(a, b)]);
    expect(t!.shape).toEqual([2, 3, 2, 2]);
    const want: number[] = [];
    for (let p = 0; p < 2; p++)
      for (let q = 0; q < 3; q++)
        for (let i = 0; i < 2; i++)
          for (let j = 0; j < 2; j++) {
            let s = 0;
            for (let k = 0; k < 3; k++) s += av[p * 6 + i * 3 + k]! * bv[q * 6 + k * 2 + j]!;
            want.push(s);
          }
    expect(list(t!)).toEqual(want);
  });
});

describe('symbolic batch dims', () => {
  const g = new Graph('sym');
  const x = g.input('x', 'float', ['batch', 49, 64]);
  const w = g.input('w', 'float', [64, 192]);

  it('flow through MatMul, Split, Transpose, Concat, Slice, Pad', () => {
    const qkv = op.matmul(x, w);
    expect(qkv.shape).toEqual(['batch', 49, 192]);
    const [q, k, v] = op.split(qkv, [64, 64, 64], -1);
    expect(v!.shape).toEqual(['batch', 49, 64]);
    const kt = op.transpose(k!, [0, 2, 1]);
    expect(kt.shape).toEqual(['batch', 64, 49]);
    expect(op.matmul(q!, kt).shape).toEqual(['batch', 49, 49]);
    expect(op.concat([q!, v!], 2).shape).toEqual(['batch', 49, 128]);
    expect(op.slice(q!, { starts: [1], ends: [-1], axes: [1] }).shape).toEqual(['batch', 47, 64]);
    expect(op.pad(q!, [0, 1, 0, 0, 2, 0]).shape).toEqual(['batch', 52, 64]);
    expect(op.identity(q!).shape).toEqual(['batch', 49, 64]);
  });

  it('flow through unsqueeze/squeeze, also when the symbolic dim moves', () => {
    const m = op.reduceMean(x, [1]);
    expect(m.shape).toEqual(['batch', 64]);
    expect(op.unsqueeze(m, [1]).shape).toEqual(['batch', 1, 64]);
    const front = op.unsqueeze(m, [0]);
    expect(front.shape).toEqual([1, 'batch', 64]);
    expect(op.squeeze(front, [0]).shape).toEqual(['batch', 64]);
    // The moved symbolic dim evaluates with the fed batch size.
    const h = new Graph('h');
    const y = h.input('y', 'float', ['batch', 2]);
    const [t] = interpret(h, { y: tensor([3, 2], arange(6)) }, [op.unsqueeze(y, [0])]);
    expect(t!.shape).toEqual([1, 3, 2]);
  });

  it('matmul batch dims broadcast against a symbolic batch', () => {
    const h = new Graph('h');
    const a = h.input('a', 'float', ['batch', 4, 3, 5]);
    const b = h.input('b', 'float', [1, 5, 2]);
    expect(op.matmul(a, b).shape).toEqual(['batch', 4, 3, 2]);
  });
});

describe('build-time errors name the op and the shapes', () => {
  const g = new Graph('err');
  const a = g.input('a', 'float', [2, 3, 4]);
  const b = g.input('b', 'float', [5, 6]);

  it('MatMul: mismatched inner dims', () => {
    expect(() => op.matmul(a, b)).toThrow(GraphBuildError);
    expect(() => op.matmul(a, b)).toThrow('MatMul: inner dimensions differ: a[2,3,4] has 4 columns but b[5,6] has 5 rows');
  });
  it('MatMul: 1-D operands and unbroadcastable batch dims', () => {
    const v = g.input('v', 'float', [4]);
    expect(() => op.matmul(a, v)).toThrow(/MatMul: both operands need rank >= 2, got a\[2,3,4\] and b\[4\]/);
    const c = g.input('c', 'float', [3, 4, 2]);
    expect(() => op.matmul(a, c)).toThrow(/MatMul: batch dimensions of a\[2,3,4\] and b\[3,4,2\] cannot be broadcast/);
    const s = g.input('s', 'float', ['batch', 7]);
    expect(() => op.matmul(s, b)).toThrow(/inner dimensions differ: a\[batch,7\] has 7 columns but b\[5,6\] has 5 rows/);
  });
  it('Transpose: bad perm', () => {
    expect(() => op.transpose(a, [0, 0, 1])).toThrow(/Transpose: perm \[0,0,1\] is not a permutation of 0\.\.2 for input a:float\[2,3,4\]/);
    expect(() => op.transpose(a, [1, 0])).toThrow(/Transpose: perm \[1,0\] is not a permutation/);
  });
  it('Concat: rank and dim mismatches', () => {
    expect(() => op.concat([a, b], 0)).toThrow(/Concat: ranks differ among inputs a:float\[2,3,4\], b:float\[5,6\]/);
    const c = g.input('c2', 'float', [2, 5, 4]);
    expect(() => op.concat([a, c], 2)).toThrow(/Concat: inputs .* differ in dim 1 \(3 vs 5\); only axis 2 may differ/);
    expect(op.concat([a, c], 1).shape).toEqual([2, 8, 4]);
  });
  it('Slice, Split, Pad, Squeeze: bad attributes', () => {
    expect(() => op.slice(a, { starts: [0], ends: [1], steps: [0] })).toThrow(/Slice: steps must be non-zero/);
    expect(() => op.slice(a, { starts: [0, 0], ends: [1], axes: [0, 1] })).toThrow(/Slice: starts, ends, axes and steps must have equal lengths/);
    expect(() => op.slice(a, { starts: [0, 0], ends: [1, 1], axes: [1, -2] })).toThrow(/Slice: axes must be unique/);
    const s = g.input('sym', 'float', ['batch', 3]);
    expect(() => op.slice(s, { starts: [0], ends: [1] })).toThrow(/Slice: sliced axis 0 of sym:float\[batch,3\] must be static/);
    expect(() => op.split(a, [1, 1], 1)).toThrow(/Split: sizes \[1,1\] \(sum 2\) must be non-negative integers summing to dim 1 of a:float\[2,3,4\] \(3\)/);
    expect(() => op.pad(a, [0, 0, 0, 1])).toThrow(/Pad: pads \[0,0,0,1\] must have 2\*rank = 6 entries/);
    expect(() => op.pad(a, [0, -1, 0, 0, 0, 0])).toThrow(/Pad: pads .* must be non-negative/);
    expect(() => op.squeeze(a, [1])).toThrow(/Squeeze: axis 1 of a:float\[2,3,4\] has size 3, expected 1/);
  });
});
