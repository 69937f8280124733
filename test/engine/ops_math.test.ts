import { describe, expect, it } from 'vitest';
import { grad } from '../../src/engine/autodiff.js';
import { GraphBuildError } from '../../src/engine/ir/errors.js';
import { Graph, type Value } from '../../src/engine/ir/graph.js';
import { type HostTensor, tensor } from '../../src/engine/ir/tensor.js';
import { interpret } from '../../src/engine/interp.js';
import * as op from '../../src/engine/ops/index.js';
import type { LowerContext, OnnxAttr } from '../../src/engine/ops/op.js';
import { erfNumber, erfcNumber } from '../../src/engine/ops/unary.js';

/** Builds a graph from float inputs, evaluates `fn` on the interpreter and returns the result. */
function run(inputs: HostTensor[], fn: (...xs: Value[]) => Value): HostTensor {
  const g = new Graph('test');
  const xs = inputs.map((t, i) => g.input(`x${i}`, t.dtype, t.shape));
  const out = fn(...xs);
  return interpret(g, new Map(xs.map((x, i) => [x, inputs[i]!])), [out])[0]!;
}

function expectClose(actual: ArrayLike<number>, expected: readonly number[], rel = 1e-12): void {
  expect(actual.length).toBe(expected.length);
  for (let i = 0; i < expected.length; i++) {
    const e = expected[i]!;
    expect(Math.abs(actual[i]! - e), `element ${i}: ${actual[i]} vs ${e}`).toBeLessThanOrEqual(rel * Math.max(Math.abs(e), 1e-300));
  }
}

const t = (shape: number[], data: number[], dtype: HostTensor['dtype'] = 'float') => tensor(shape, data, dtype);

describe('erf in float64', () => {
  // Reference values: erf/erfc tables (as printed by C's libm).
  const table: [number, number][] = [
    [0.1, 0.1124629160182849],
    [0.5, 0.5204998778130465],
    [1, 0.8427007929497149],
    [1.5, 0.9661051464753108],
    [2, 0.9953222650189527],
    [2.5, 0.999593047982555],
    [3, 0.9999779095030014],
    [-0.7, -0.6778011938374184],
  ];
  const tail: [number, number][] = [
    [1, 0.15729920705028513],
    [2, 0.004677734981047266],
    [3, 2.209049699858544e-5],
    [5, 1.5374597944280349e-12],
    [10, 2.088487583762545e-45],
    [-1, 1.8427007929497148],
  ];

  it('matches known values of erf and erfc to ~1e-15 relative', () => {
    for (const [x, v] of table) expect(Math.abs(erfNumber(x) - v) / Math.abs(v), `erf(${x})`).toBeLessThan(2e-15);
    for (const [x, v] of tail) expect(Math.abs(erfcNumber(x) - v) / v, `erfc(${x})`).toBeLessThan(1e-14);
  });

  it('is odd, saturates and agrees with erfc', () => {
    expect(erfNumber(0)).toBe(0);
    expect(erfNumber(40)).toBe(1);
    expect(erfNumber(-40)).toBe(-1);
    expect(Number.isNaN(erfNumber(NaN))).toBe(true);
    for (const x of [0.3, 1.2, 2.49, 2.51, 4.4]) {
      expect(erfNumber(-x)).toBe(-erfNumber(x));
      expect(Math.abs(erfNumber(x) + erfcNumber(x) - 1)).toBeLessThan(4e-16);
    }
  });

  it('is what the Erf op evaluates', () => {
    const out = run([t([3], [0.5, -1, 3])], op.erf);
    expectClose(out.data, [0.5204998778130465, -0.8427007929497149, 0.9999779095030014], 2e-15);
  });
});

describe('unary ops', () => {
  it('exact GELU is x * Phi(x)', () => {
    // Phi(1) = 0.8413447460685429, Phi(2) = 0.9772498680518208, Phi(-3) = 0.0013498980316301
    const out = run([t([5], [0, 1, -1, 2, -3])], op.gelu);
    expectClose(out.data, [0, 0.8413447460685429, -0.15865525393145707, 2 * 0.9772498680518208, -3 * 0.0013498980316301], 1e-13);
  });

  it('evaluates the elementwise functions', () => {
    const x = t([4], [0.25, 1, 2, 4]);
    expectClose(run([x], op.sqrt).data, [0.5, 1, Math.SQRT2, 2]);
    expectClose(run([x], op.reciprocal).data, [4, 1, 0.5, 0.25]);
    expectClose(run([x], op.log).data, [Math.log(0.25), 0, Math.LN2, 2 * Math.LN2]);
    const s = t([5], [-2, -0.5, 0, 0.5, 800]);
    expectClose(run([s], op.relu).data, [0, 0, 0, 0.5, 800]);
    expectClose(run([s], op.abs).data, [2, 0.5, 0, 0.5, 800]);
    expectClose(run([s], op.sign).data, [-1, -1, 0, 1, 1]);
    expectClose(run([s], op.sigmoid).data, [1 / (1 + Math.exp(2)), 1 / (1 + Math.exp(0.5)), 0.5, 1 / (1 + Math.exp(-0.5)), 1]);
    expect(run([t([1], [-800])], op.sigmoid).data[0]).toBe(0); // no NaN from exp overflow
  });
});

describe('binary additions', () => {
  it('Pow, Max and Min broadcast', () => {
    expectClose(run([t([2, 1], [2, 3]), t([2], [2, 0.5])], op.pow).data, [4, Math.SQRT2, 9, Math.sqrt(3)]);
    expectClose(run([t([3], [1, 5, -2]), t([1], [0])], op.max2).data, [1, 5, 0]);
    expectClose(run([t([3], [1, 5, -2]), t([1], [0])], op.min2).data, [0, 0, -2]);
  });

  it('comparisons give bool and Where selects with broadcasting', () => {
    const a = t([3], [1, 2, 3]);
    const b = t([3], [3, 2, 1]);
    const eq = run([a, b], op.equal);
    expect(eq.dtype).toBe('bool');
    expect([...eq.data]).toEqual([0, 1, 0]);
    expect([...run([a, b], op.less).data]).toEqual([1, 0, 0]);
    expect([...run([a, b], op.greater).data]).toEqual([0, 0, 1]);
    const w = run([t([2, 1], [1, 0], 'bool'), t([3], [1, 2, 3])], (c, x) => op.where(c, x, -1));
    expect(w.shape).toEqual([2, 3]);
    expect([...w.data]).toEqual([1, 2, 3, -1, -1, -1]);
  });

  it('Cast truncates float -> int64 toward zero and maps nonzero to true', () => {
    const x = t([4], [-1.7, 1.7, 2, 0]);
    const i = run([x], (v) => op.cast(v, 'int64'));
    expect(i.dtype).toBe('int64');
    expect([...i.data]).toEqual([-1, 1, 2, 0]);
    expect([...run([x], (v) => op.cast(v, 'bool')).data]).toEqual([1, 1, 1, 0]);
    const g = new Graph('same');
    const v = g.input('v', 'float', [2]);
    expect(op.cast(v, 'float')).toBe(v);
  });

  it('rejects mismatched dtypes and non-bool conditions', () => {
    const g = new Graph('e');
    const f = g.input('f', 'float', [2]);
    const i = g.input('i', 'int64', [2]);
    expect(() => op.pow(f, i)).toThrow(/Pow: dtypes differ/);
    expect(() => op.where(f, f, f)).toThrow(/Where: the condition must be bool/);
    expect(() => op.exp(i)).toThrow(/Exp: expects a float input/);
  });
});

describe('ReduceMax', () => {
  it('reduces over axes with and without keepdims', () => {
    const x = t([2, 3], [1, 7, 3, -4, -2, -9]);
    const r = run([x], (v) => op.reduceMax(v, [1]));
    expect(r.shape).toEqual([2]);
    expectClose(r.data, [7, -2]);
    const k = run([x], (v) => op.reduceMax(v, [0], true));
    expect(k.shape).toEqual([1, 3]);
    expectClose(k.data, [1, 7, 3]);
    expect(() => op.reduceMax(new Graph('e').input('x', 'float', [2]), [])).toThrow(/ReduceMax: empty axes/);
  });

  it('splits the gradient evenly between tied maxima', () => {
    const g = new Graph('ties');
    const x = g.input('x', 'float', [4]);
    const [dx] = grad(op.reduceMax(x), [x]);
    const out = interpret(g, new Map([[x, t([4], [3, 1, 3, 3])]]), [dx!])[0]!;
    expectClose(out.data, [1 / 3, 0, 1 / 3, 1 / 3]);
  });
});

describe('softmax', () => {
  const e = [Math.exp(1), Math.exp(2), Math.exp(3)];
  const s = e[0]! + e[1]! + e[2]!;

  it('normalises along the last axis by default and along axis 0 on request', () => {
    const x = t([2, 3], [1, 2, 3, 1001, 1002, 1003]);
    const expected = [e[0]! / s, e[1]! / s, e[2]! / s];
    expectClose(run([x], (v) => op.softmax(v)).data, [...expected, ...expected]); // shift-invariant, no overflow
    expectClose(run([x], (v) => op.logSoftmax(v, -1)).data, [...expected, ...expected].map(Math.log));
    const col = run([t([2, 2], [1, 2, 3, 5])], (v) => op.softmax(v, 0));
    expectClose(col.data, [1 / (1 + Math.exp(2)), 1 / (1 + Math.exp(3)), 1 / (1 + Math.exp(-2)), 1 / (1 + Math.exp(-3))]);
  });

  it('rejects an axis out of range', () => {
    expect(() => op.softmax(new Graph('e').input('x', 'float', [2, 3]), 2)).toThrow(/Softmax: axis 2 is out of range for rank 2/);
  });
});

describe('layerNorm', () => {
  it('normalises the last axis with biased variance, then scales and shifts', () => {
    const x = t([2, 4], [1, 2, 3, 4, -2, 0, 0, 2]);
    const scale = t([4], [1, 2, 1, 1]);
    const bias = t([4], [0, 0, 0, 1]);
    // row 0: mean 2.5, var (2.25 + 0.25 + 0.25 + 2.25) / 4 = 1.25; row 1: mean 0, var 2
    const i0 = 1 / Math.sqrt(1.25 + 1e-5);
    const i1 = 1 / Math.sqrt(2 + 1e-5);
    const y = run([x, scale, bias], (v, sc, b) => op.layerNorm(v, sc, b));
    expectClose(y.data, [-1.5 * i0, -0.5 * i0 * 2, 0.5 * i0, 1.5 * i0 + 1, -2 * i1, 0, 0, 2 * i1 + 1]);
  });

  it('exposes Mean and InvStdDev with the normalised dims kept as 1', () => {
    const g = new Graph('ln');
    const x = g.input('x', 'float', [2, 2, 2]);
    const s = g.input('s', 'float', [2, 2]);
    const b = g.input('b', 'float', [2, 2]);
    const [y, mean, inv] = op.layerNormalization(x, s, b, { axis: 1, epsilon: 0.5 });
    expect(mean.shape).toEqual([2, 1, 1]);
    expect(inv.shape).toEqual([2, 1, 1]);
    expect(y.shape).toEqual([2, 2, 2]);
    const feeds = new Map([
      [x, t([2, 2, 2], [0, 0, 2, 2, 1, 1, 1, 1])],
      [s, t([2, 2], [1, 1, 1, 1])],
      [b, t([2, 2], [0, 0, 0, 0])],
    ]);
    const [m, iv] = interpret(g, feeds, [mean, inv]);
    expectClose(m!.data, [1, 1]);
    expectClose(iv!.data, [1 / Math.sqrt(1 + 0.5), 1 / Math.sqrt(0.5)]);
  });

  it('checks scale and bias against the normalised shape', () => {
    const g = new Graph('e');
    const x = g.input('x', 'float', [2, 3, 4]);
    expect(() => op.layerNorm(x, g.input('s', 'float', [3]), g.input('b', 'float', [4]))).toThrow(
      /LayerNormalization: scale must be float with the normalised shape \[4\] of x:float\[2,3,4\] \(axis 2\), got s:float\[3\]/,
    );
    expect(() => op.layerNorm(x, g.input('s2', 'float', [4]), g.input('b2', 'float', [3, 4]))).toThrow(/bias must be float with the normalised shape \[4\]/);
    expect(() => op.layerNorm(x, g.input('s3', 'float', [3, 4]), g.input('b3', 'float', [3, 4]), { axis: 3 })).toThrow(/axis 3 is out of range/);
  });
});

describe('losses', () => {
  it('oneHot compares labels against an arange; out-of-range labels give zero rows', () => {
    const out = run([t([4], [2, 0, 1, 3], 'int64')], (y) => op.oneHot(y, 3));
    expect(out.dtype).toBe('float');
    expect(out.shape).toEqual([4, 3]);
    expect([...out.data]).toEqual([0, 0, 1, 1, 0, 0, 0, 1, 0, 0, 0, 0]);
  });

  const logits = t([2, 3], [2, 1, 0, 0, 0, 0]);
  const labels = t([2], [0, 2], 'int64');
  // -log softmax([2,1,0])[0] = log(e^2 + e + 1) - 2; -log softmax([0,0,0])[2] = log 3
  const nll0 = Math.log(Math.exp(2) + Math.exp(1) + 1) - 2;
  const nll1 = Math.log(3);

  it('softmaxCrossEntropy is the batch mean of the NLL', () => {
    expectClose(run([logits, labels], (z, y) => op.softmaxCrossEntropy(z, y)).data, [(nll0 + nll1) / 2]);
  });

  it('softmaxCrossEntropy with class weights is sum w[y] nll / sum w[y]', () => {
    const w = t([3], [1, 3, 0.5]);
    const out = run([logits, labels, w], (z, y, wv) => op.softmaxCrossEntropy(z, y, { classWeights: wv }));
    expect(out.shape).toEqual([]);
    expectClose(out.data, [(1 * nll0 + 0.5 * nll1) / (1 + 0.5)]);
  });

  it('softmaxCrossEntropy rejects wrong label length, dtype and weight length at build time', () => {
    const g = new Graph('e');
    const z = g.input('z', 'float', [4, 3]);
    expect(() => op.softmaxCrossEntropy(z, g.input('y5', 'int64', [5]))).toThrow(
      /softmaxCrossEntropy: labels y5:int64\[5\] must have one entry per row of logits z:float\[4,3\] \(4\), got 5/,
    );
    expect(() => op.softmaxCrossEntropy(z, g.input('yf', 'float', [4]))).toThrow(/labels must be int64 class indices/);
    expect(() => op.softmaxCrossEntropy(z, g.input('y2', 'int64', [4, 1]))).toThrow(/labels must be int64 class indices of shape \[N\]/);
    expect(() => op.softmaxCrossEntropy(z, g.input('y', 'int64', [4]), { classWeights: g.input('w', 'float', [4]) })).toThrow(
      /classWeights must be float \[3\]/,
    );
    expect(() => op.softmaxCrossEntropy(g.input('z1', 'float', [12]), g.input('y12', 'int64', [12]))).toThrow(/logits must be float \[N, C\]/);
    expect(() => op.softmaxCrossEntropy(z, g.input('y4', 'int64', [4]))).not.toThrow(GraphBuildError);
  });

  it('softmaxCrossEntropy keeps a symbolic batch dim', () => {
    const g = new Graph('dyn');
    const loss = op.softmaxCrossEntropy(g.input('z', 'float', ['batch', 3]), g.input('y', 'int64', ['batch']));
    expect(loss.shape).toEqual([]);
  });

  it('sigmoidBinaryCrossEntropy is the mean BCE with logits and stays finite for large logits', () => {
    const softplus = (v: number) => Math.log(1 + Math.exp(v));
    const z = t([4], [0, 2, -3, 50]);
    const y = t([4], [1, 0, 0.5, 0]);
    // BCE(x, t) = t softplus(-x) + (1 - t) softplus(x); softplus(50) = 50 to double precision
    const expected = (softplus(-0) + softplus(2) + 0.5 * softplus(3) + 0.5 * softplus(-3) + 50) / 4;
    expectClose(run([z, y], op.sigmoidBinaryCrossEntropy).data, [expected], 1e-14);
    const g = new Graph('e');
    expect(() => op.sigmoidBinaryCrossEntropy(g.input('a', 'float', [2, 3]), g.input('b', 'float', [3, 2]))).toThrow(
      /sigmoidBinaryCrossEntropy: logits and targets must be float tensors of the same shape, got a:float\[2,3\] and b:float\[3,2\]/,
    );
  });

  it('sigmoidBinaryCrossEntropy has the exact gradient (sigmoid(x) - t) / n at x = 0', () => {
    const g = new Graph('kink');
    const z = g.input('z', 'float', [3]);
    const y = g.input('y', 'float', [3]);
    const [dz] = grad(op.sigmoidBinaryCrossEntropy(z, y), [z]);
    const out = interpret(g, new Map([[z, t([3], [0, 0, 0])], [y, t([3], [0, 1, 0.25])]]), [dz!])[0]!;
    expectClose(out.data, [0.5 / 3, -0.5 / 3, 0.25 / 3]);
  });
});

describe('ONNX lowering', () => {
  interface Emitted {
    op: string;
    inputs: readonly string[];
    outputs: readonly string[];
    attrs: readonly OnnxAttr[];
  }

  /** Lowers the last node of `build`'s graph with a recording context. */
  function lowerLast(build: (g: Graph) => void, floatElemType?: number): { nodes: Emitted[]; ints: number[][] } {
    const g = new Graph('lower');
    build(g);
    const node = g.nodes[g.nodes.length - 1]!;
    const nodes: Emitted[] = [];
    const ints: number[][] = [];
    let k = 0;
    const ctx: LowerContext = {
      inputs: node.inputs.map((v) => v.name),
      outputs: node.outputs.map((v) => v.name),
      node: (opType, inputs, outputs, attrs = []) => void nodes.push({ op: opType, inputs, outputs, attrs }),
      int64: (values) => (ints.push([...values]), `int64_${ints.length - 1}`),
      float: () => 'float_const',
      temp: (hint) => `${hint}_${k++}`,
      ...(floatElemType === undefined ? {} : { floatElemType }),
    };
    if (node.op.lower) node.op.lower(node, ctx);
    else ctx.node(node.op.type, ctx.inputs, ctx.outputs, node.op.onnxAttrs?.(node.attrs) ?? []);
    return { nodes, ints };
  }

  it('Gelu is ONNX Gelu (opset 20) with approximate = none', () => {
    const { nodes } = lowerLast((g) => op.gelu(g.input('x', 'float', [2])));
    expect(nodes).toEqual([{ op: 'Gelu', inputs: ['x'], outputs: ['Gelu'], attrs: [{ name: 'approximate', type: 'string', value: 'none' }] }]);
    expect(op.GeluOp.minOpset).toBe(20);
  });

  it('Cast resolves the float element type from the context', () => {
    const toFloat = (g: Graph) => op.cast(g.input('i', 'int64', [2]), 'float');
    expect(lowerLast(toFloat).nodes[0]!.attrs).toEqual([{ name: 'to', type: 'int', value: 1 }]);
    expect(lowerLast(toFloat, 11).nodes[0]!.attrs).toEqual([{ name: 'to', type: 'int', value: 11 }]);
    expect(lowerLast((g) => op.cast(g.input('f', 'float', [2]), 'int64')).nodes[0]!.attrs).toEqual([{ name: 'to', type: 'int', value: 7 }]);
    expect(lowerLast((g) => op.cast(g.input('f', 'float', [2]), 'bool')).nodes[0]!.attrs).toEqual([{ name: 'to', type: 'int', value: 9 }]);
  });

  it('ReduceMax passes axes as an int64 input (opset 18)', () => {
    const { nodes, ints } = lowerLast((g) => op.reduceMax(g.input('x', 'float', [2, 3, 4]), [-1, 0], true));
    expect(ints).toEqual([[0, 2]]);
    expect(nodes[0]).toMatchObject({ op: 'ReduceMax', inputs: ['x', 'int64_0'], attrs: [{ name: 'keepdims', type: 'int', value: 1 }] });
    expect(op.ReduceMaxOp.minOpset).toBe(18);
  });

  it('Softmax and LogSoftmax carry the normalised axis (opset 13 semantics)', () => {
    expect(lowerLast((g) => op.softmax(g.input('x', 'float', [2, 3, 4]), -1)).nodes[0]!.attrs).toEqual([{ name: 'axis', type: 'int', value: 2 }]);
    expect(lowerLast((g) => op.logSoftmax(g.input('x', 'float', [2, 3, 4]), 1)).nodes[0]!.attrs).toEqual([{ name: 'axis', type: 'int', value: 1 }]);
  });

  it('LayerNormalization emits one node with three outputs, and casts the float32 statistics in a double graph', () => {
    const build = (g: Graph) => op.layerNorm(g.input('x', 'float', [2, 4]), g.input('s', 'float', [4]), g.input('b', 'float', [4]));
    const f32 = lowerLast(build).nodes;
    expect(f32).toHaveLength(1);
    expect(f32[0]!.op).toBe('LayerNormalization');
    expect(f32[0]!.inputs).toEqual(['x', 's', 'b']);
    expect(f32[0]!.outputs).toHaveLength(3);
    expect(f32[0]!.attrs).toContainEqual({ name: 'axis', type: 'int', value: 1 });
    const f64 = lowerLast(build, 11).nodes;
    expect(f64.map((n) => n.op)).toEqual(['LayerNormalization', 'Cast', 'Cast']);
    expect(f64[1]!.outputs[0]).toBe(f32[0]!.outputs[1]);
    expect(f64[2]!.outputs[0]).toBe(f32[0]!.outputs[2]);
  });
});
