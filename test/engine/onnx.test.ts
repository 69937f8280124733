import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { interpret } from '../../src/engine/interp.js';
import { GraphBuildError } from '../../src/engine/ir/errors.js';
import { Graph, type Node } from '../../src/engine/ir/graph.js';
import type { HostTensor } from '../../src/engine/ir/tensor.js';
import { BASE_OPSET, MAX_OPSET, irVersionFor, readOnnxMetadata, readOnnxModel, saveOnnx, toInt64, toOnnxModel } from '../../src/engine/onnx/index.js';
import { ElemType, onnxType } from '../../src/engine/onnx/proto.js';
import * as op from '../../src/engine/ops/index.js';
import { defineOp, type LowerContext } from '../../src/engine/ops/op.js';
import { createSession, convertFeeds, inputTypes } from '../../src/engine/runtime/session.js';
import { fromOrt } from '../../src/engine/runtime/tensors.js';
import { relErr } from '../../src/engine/testing/gradcheck.js';
import { Rng } from '../../src/util/rng.js';

const rng = new Rng(7);
const randn = (shape: number[]): HostTensor => {
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float', shape, data: Float64Array.from({ length: n }, () => rng.normal()) };
};

/** Runs model bytes on ORT with host feeds; returns every output as a HostTensor. */
async function runOrt(bytes: Uint8Array, feeds: Record<string, HostTensor>): Promise<Record<string, HostTensor>> {
  const s = await createSession(bytes);
  try {
    const res = await s.run(convertFeeds(s, inputTypes(s), feeds));
    return Object.fromEntries(Object.entries(res).map(([k, v]) => [k, fromOrt(v as ort.Tensor)]));
  } finally {
    await s.release();
  }
}

/** An MLP-ish forward graph with a symbolic batch dim. */
function forwardGraph() {
  const g = new Graph('fwd');
  const x = g.input('x', 'float', ['batch', 3, 4]);
  const w = g.constant(randn([12, 5]), 'w');
  const b = g.input('b', 'float', [5]);
  const flat = op.reshape(x, [0, -1]);
  const h = op.relu(op.add(op.matmul(flat, w), b));
  const p = op.softmax(h, -1);
  const s = op.reduceSum(op.mul(h, h), [1], true);
  g.output('probs', p);
  g.output('sq', s);
  return { g, x, b, p, s };
}

describe('toOnnxModel', () => {
  it('round-trips through ONNX Runtime with the interpreter results, for two batch sizes', async () => {
    const { g, p, s } = forwardGraph();
    for (const precision of ['float32', 'float64'] as const) {
      const bytes = toOnnxModel(g, { precision });
      const info = readOnnxModel(bytes);
      expect(info.inputs.find((i) => i.name === 'x')!.shape).toEqual(['batch', 3, 4]);
      expect(info.outputs.find((o) => o.name === 'probs')!.shape).toEqual(['batch', 5]);
      expect(info.inputs[0]!.elemType).toBe(precision === 'float32' ? ElemType.FLOAT : ElemType.DOUBLE);
      for (const n of [2, 7]) {
        const feeds = { x: randn([n, 3, 4]), b: randn([5]) };
        const [pr, sr] = interpret(g, feeds, [p, s]);
        const got = await runOrt(bytes, feeds);
        expect(got.probs!.shape).toEqual([n, 5]);
        const tol = precision === 'float32' ? 1e-5 : 1e-12;
        expect(relErr(got.probs!.data, pr!.data)).toBeLessThan(tol);
        expect(relErr(got.sq!.data, sr!.data)).toBeLessThan(tol);
      }
    }
  });

  it('writes metadata_props, opset, IR version and producer', () => {
    const { g } = forwardGraph();
    const bytes = toOnnxModel(g, { metadata: { 'stmedfm.config': '{"d":64}', task: 'pathmnist' } });
    expect(readOnnxMetadata(bytes)).toEqual({ 'stmedfm.config': '{"d":64}', task: 'pathmnist' });
    const info = readOnnxModel(bytes);
    // ReduceSum needs 13, Softmax/relu/matmul less: the base opset wins.
    expect(info.opsets).toEqual([{ domain: '', version: BASE_OPSET }]);
    expect(info.irVersion).toBe(irVersionFor(BASE_OPSET));
    expect(info.producerName).toBe('stmedfm');
    expect(info.graphName).toBe('fwd');
    // Valid protobuf by the schema (what Netron parses).
    const Model = onnxType('ModelProto');
    expect(Model.verify(Model.toObject(Model.decode(bytes)))).toBeNull();
    expect(info.nodes.every((n) => n.domain === '' && n.name !== '')).toBe(true);
  });

  it('honours a forced opset and refuses one beyond what ONNX Runtime 1.30 loads', async () => {
    const g = new Graph('o');
    const a = g.input('a', 'float', [2]);
    g.output('y', op.add(a, 1));
    const bytes = toOnnxModel(g, { opset: MAX_OPSET });
    expect(readOnnxModel(bytes).opsets[0]!.version).toBe(MAX_OPSET);
    const got = await runOrt(bytes, { a: { dtype: 'float', shape: [2], data: Float64Array.of(1, 2) } });
    expect([...got.y!.data]).toEqual([2, 3]);
    expect(() => toOnnxModel(g, { opset: MAX_OPSET + 1 })).toThrow(GraphBuildError);
    expect(() => toOnnxModel(g, { opset: 19 })).toThrow(/outside/);
  });

  it('shares identical int64 literals between lowerings (initializer dedup) and drops dead nodes', () => {
    const g = new Graph('dedup');
    const x = g.input('x', 'float', [2, 3, 4]);
    const a = op.reduceSum(x, [2]);
    const b = op.reduceSum(op.mul(x, x), [2]);
    const c = op.reduceSum(x, [1]);
    op.reduceSum(op.neg(x), [0]); // dead: not an output
    g.output('y', op.add(op.add(a, b), op.reduceSum(c, [1], true)));
    const info = readOnnxModel(toOnnxModel(g));
    const int64s = info.initializers.filter((t) => t.dataType === ElemType.INT64);
    expect(int64s.map((t) => t.values).sort()).toEqual([[1], [2]]);
    expect(new Set(int64s.map((t) => t.name)).size).toBe(int64s.length);
    expect(info.nodes.filter((n) => n.opType === 'ReduceSum')).toHaveLength(4);
    expect(info.nodes.some((n) => n.opType === 'Neg')).toBe(false);
  });

  it('lowers a float ReduceSum over leading axes to a MatMul with ones when ORT runs more than one thread', () => {
    const g = new Graph('sums');
    const x = g.input('x', 'float', [2, 3, 4]);
    g.output('lead', op.reduceSum(x, [0, 1], true));
    g.output('inner', op.reduceSum(x, [1]));
    const count = (threads: number, type: string) => readOnnxModel(toOnnxModel(g, { intraOpThreads: threads })).nodes.filter((n) => n.opType === type).length;
    expect([count(1, 'ReduceSum'), count(1, 'MatMul')]).toEqual([2, 0]);
    expect([count(2, 'ReduceSum'), count(2, 'MatMul')]).toEqual([1, 1]);
    const ones = readOnnxModel(toOnnxModel(g, { intraOpThreads: 2 })).initializers.find((t) => t.dataType === ElemType.FLOAT);
    expect(ones?.dims).toEqual([6]);
    expect(ones?.values).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it('writes int64 constants exactly, including -2^63, and clamps +-2^63 and infinities', () => {
    expect(toInt64(-(2 ** 63))).toBe(-(2n ** 63n));
    expect(toInt64(2 ** 63)).toBe(2n ** 63n - 1n);
    expect(toInt64(Infinity)).toBe(2n ** 63n - 1n);
    expect(toInt64(-Infinity)).toBe(-(2n ** 63n));
    expect(toInt64(-5)).toBe(-5n);
    expect(() => toInt64(1.5)).toThrow(/integer/);
    const g = new Graph('i64');
    const k = g.constant({ dtype: 'int64', shape: [3], data: Float64Array.of(-(2 ** 63), -1, 2 ** 53) }, 'k');
    const x = g.input('x', 'int64', [3]);
    g.output('y', op.add(x, k));
    const init = readOnnxModel(toOnnxModel(g)).initializers.find((t) => t.name === 'k')!;
    expect(init.int64Values).toEqual([-(2n ** 63n), -1n, 2n ** 53n]);
  });

  it('writes node outputs under their output names, and adds Identity nodes for repeated and pass-through outputs', async () => {
    const g = new Graph('outs');
    const a = g.input('a', 'float', [3]);
    const flag = g.input('flag', 'bool', [3]);
    const labels = g.input('labels', 'int64', [3]);
    const y = op.mul(a, 3);
    g.output(y.name, y); // same name as the value: no Identity
    g.output('y_again', y);
    g.output('a_out', a);
    g.output('flag_out', flag);
    g.output('labels_plus', op.add(labels, 1));
    const k = g.constant({ dtype: 'float', shape: [3], data: Float64Array.of(7, 8, 9) }, 'k');
    g.output('k_out', k);
    const bytes = toOnnxModel(g);
    const info = readOnnxModel(bytes);
    expect(info.outputs.map((o) => o.name)).toEqual([y.name, 'y_again', 'a_out', 'flag_out', 'labels_plus', 'k_out']);
    expect(info.nodes.filter((n) => n.opType === 'Identity').map((n) => n.outputs[0])).toEqual(['y_again', 'a_out', 'flag_out', 'k_out']);
    // The Add writes 'labels_plus' itself: no copy for an output whose value has another name.
    expect(info.nodes.find((n) => n.opType === 'Add')!.outputs).toEqual(['labels_plus']);
    const got = await runOrt(bytes, {
      a: { dtype: 'float', shape: [3], data: Float64Array.of(1, 2, 3) },
      flag: { dtype: 'bool', shape: [3], data: Float64Array.of(1, 0, 1) },
      labels: { dtype: 'int64', shape: [3], data: Float64Array.of(0, 5, -2) },
    });
    expect([...got[y.name]!.data]).toEqual([3, 6, 9]);
    expect([...got.y_again!.data]).toEqual([3, 6, 9]);
    expect([...got.a_out!.data]).toEqual([1, 2, 3]);
    expect(got.flag_out!.dtype).toBe('bool');
    expect([...got.flag_out!.data]).toEqual([1, 0, 1]);
    expect(got.labels_plus!.dtype).toBe('int64');
    expect([...got.labels_plus!.data]).toEqual([1, 6, -1]);
    expect([...got.k_out!.data]).toEqual([7, 8, 9]);
  });

  it('rejects output names that clash with other values', () => {
    const g = new Graph('clash');
    const a = g.input('a', 'float', [3]);
    const y = op.mul(a, 2);
    g.output('a', y);
    expect(() => toOnnxModel(g)).toThrow(/name of another value/);
    const g2 = new Graph('clash2');
    const b = g2.input('b', 'float', [3]);
    g2.output('b', b);
    expect(() => toOnnxModel(g2)).toThrow(/input of the same name/);
    expect(() => toOnnxModel(new Graph('empty'))).toThrow(/no outputs/);
  });

  it('gives lowerings temp names, float literals in the graph precision and floatElemType', async () => {
    // A test-only op lowered to two ONNX nodes: y = (x + 0.5) * 2.
    interface NoAttrs {}
    const TwoStep = defineOp<NoAttrs>({
      type: 'TestTwoStepAffine',
      infer: ([x]) => [{ dtype: x!.dtype, shape: x!.shape }],
      evaluate: ([x]) => [{ ...x!, data: x!.data.map((v) => (v + 0.5) * 2) }],
      lower: (_node: Node<NoAttrs>, ctx: LowerContext) => {
        const t = ctx.temp('shifted');
        ctx.node('Add', [ctx.inputs[0]!, ctx.float([0.5], [])], [t]);
        ctx.node('Mul', [t, ctx.float([2], [])], ctx.outputs);
        seenElemTypes.push(ctx.floatElemType ?? -1);
      },
    });
    const seenElemTypes: number[] = [];
    const g = new Graph('lower');
    const x = g.input('x', 'float', [2]);
    const y = g.apply(TwoStep, [x], {}, 'affine')[0]!;
    g.output('y', g.apply(TwoStep, [y], {}, 'affine')[0]!);
    for (const precision of ['float32', 'float64'] as const) {
      const bytes = toOnnxModel(g, { precision });
      const info = readOnnxModel(bytes);
      const floats = info.initializers.filter((t) => t.dataType === (precision === 'float32' ? ElemType.FLOAT : ElemType.DOUBLE));
      expect(floats).toHaveLength(2); // 0.5 and 2, shared by both nodes
      const names = info.nodes.flatMap((n) => n.outputs);
      expect(new Set(names).size).toBe(names.length);
      expect(info.nodes.map((n) => n.name)).toEqual(['affine', 'affine/Mul_1', 'affine_1', 'affine_1/Mul_1']);
      expect(info.nodes.at(-1)!.outputs).toEqual(['y']);
      const got = await runOrt(bytes, { x: { dtype: 'float', shape: [2], data: Float64Array.of(1, -3) } });
      const f = (v: number) => (v + 0.5) * 2;
      expect([...got.y!.data]).toEqual([f(f(1)), f(f(-3))]);
    }
    expect(seenElemTypes).toEqual([ElemType.FLOAT, ElemType.FLOAT, ElemType.DOUBLE, ElemType.DOUBLE]);
  });
});

describe('saveOnnx', () => {
  const dir = mkdtempSync(join(tmpdir(), 'stmedfm-onnx-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the model atomically (no temp file left) and ORT loads it from the path', async () => {
    const { g } = forwardGraph();
    const path = join(dir, 'sub', 'model.onnx');
    const bytes = saveOnnx(g, path, { metadata: { k: 'v' } });
    expect(existsSync(path)).toBe(true);
    expect(readdirSync(join(dir, 'sub'))).toEqual(['model.onnx']);
    expect(Buffer.compare(readFileSync(path), Buffer.from(bytes))).toBe(0);
    const s = await createSession(path);
    expect(s.inputNames).toEqual(['x', 'b']);
    expect(s.outputNames).toEqual(['probs', 'sq']);
    await s.release();
  });
});
