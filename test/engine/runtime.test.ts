import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { interpret } from '../../src/engine/interp.js';
import { Graph } from '../../src/engine/ir/graph.js';
import type { HostTensor } from '../../src/engine/ir/tensor.js';
import * as op from '../../src/engine/ops/index.js';
import { buildTrainingGraph } from '../../src/engine/optim/index.js';
import { ForwardSession, sessionOptions } from '../../src/engine/runtime/session.js';
import { boolTensor, floatTensor, fromOrt, int64Tensor, scalarOf, toFloat32, toOrt } from '../../src/engine/runtime/tensors.js';
import { TrainingSession } from '../../src/engine/runtime/training.js';
import { relErr } from '../../src/engine/testing/gradcheck.js';
import { Rng } from '../../src/util/rng.js';

const rng = new Rng(11);
const randn = (shape: number[]): HostTensor => ({
  dtype: 'float',
  shape,
  data: Float64Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => rng.normal()),
});

describe('tensor conversions', () => {
  it('round-trip HostTensor <-> ort.Tensor by dtype', () => {
    const f = randn([2, 3]);
    const t32 = toOrt(f, 'float32');
    expect(t32.type).toBe('float32');
    expect(t32.dims).toEqual([2, 3]);
    expect(relErr(fromOrt(t32).data, f.data)).toBeLessThan(1e-7);
    const t64 = toOrt(f, 'float64');
    expect([...fromOrt(t64).data]).toEqual([...f.data]);
    const labels: HostTensor = { dtype: 'int64', shape: [3], data: Float64Array.of(0, 7, -3) };
    const ti = toOrt(labels, 'int64');
    expect(ti.type).toBe('int64');
    expect([...(ti.data as BigInt64Array)]).toEqual([0n, 7n, -3n]);
    expect(fromOrt(ti)).toEqual(labels);
    const mask: HostTensor = { dtype: 'bool', shape: [2], data: Float64Array.of(1, 0) };
    expect(fromOrt(toOrt(mask, 'bool'))).toEqual(mask);
    expect(() => toOrt(labels, 'float32')).toThrow(/expected a float tensor/);
  });

  it('wraps typed arrays without copying and checks sizes', () => {
    const data = Float32Array.of(1, 2, 3, 4);
    const t = floatTensor(data, [2, 2]);
    expect(t.data).toBe(data);
    expect(toFloat32(t)).toBe(data);
    expect(floatTensor(Float64Array.of(1, 2), [2]).type).toBe('float64');
    expect(() => floatTensor(data, [3])).toThrow(/do not fill/);
    expect([...(int64Tensor([1, 2], [2]).data as BigInt64Array)]).toEqual([1n, 2n]);
    expect(() => int64Tensor([1.5], [1])).toThrow(/safe integer/);
    expect([...(boolTensor([true, false, 1], [3]).data as Uint8Array)]).toEqual([1, 0, 1]);
    expect(scalarOf(new ort.Tensor('float32', Float32Array.of(2.5), []))).toBe(2.5);
  });

  it('builds session options from the runtime options', () => {
    const o = sessionOptions({ threads: 2, profilePrefix: '/tmp/prof' });
    expect(o).toMatchObject({ intraOpNumThreads: 2, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', enableProfiling: true, profileFilePrefix: '/tmp/prof' });
    expect(sessionOptions().enableProfiling).toBeUndefined();
    expect(() => sessionOptions({ threads: 0 })).toThrow(/threads/);
  });
});

describe('ForwardSession', () => {
  const g = new Graph('eval');
  const x = g.input('x', 'float', ['batch', 4]);
  const w = g.constant(randn([4, 3]), 'w');
  const logits = op.matmul(x, w);
  g.output('logits', logits);
  g.output('probs', op.softmax(logits));
  let s: ForwardSession;
  afterAll(async () => s?.release());

  it('runs a dynamic batch and agrees with the interpreter', async () => {
    s = await ForwardSession.create(g, { threads: 1 });
    expect(s.inputNames).toEqual(['x']);
    expect(s.outputNames).toEqual(['logits', 'probs']);
    for (const n of [1, 6]) {
      const feed = randn([n, 4]);
      const res = await s.runHost({ x: feed });
      const [want] = interpret(g, { x: feed }, [g.outputs.get('probs')!]);
      expect(res.probs!.shape).toEqual([n, 3]);
      expect(relErr(res.probs!.data, want!.data)).toBeLessThan(1e-6);
    }
    const only = await s.run({ x: floatTensor(new Float32Array(8), [2, 4]) }, ['probs']);
    expect(Object.keys(only)).toEqual(['probs']);
    expect([...toFloat32(only.probs!)].every((p) => Math.abs(p - 1 / 3) < 1e-7)).toBe(true);
  });

  it('writes an ORT profile when asked (creating its folder)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stmedfm-prof-'));
    try {
      const p = await ForwardSession.create(g, { profilePrefix: join(dir, 'sub', 'eval') });
      await p.run({ x: randn([2, 4]) });
      p.endProfiling();
      await p.release();
      const files = readdirSync(join(dir, 'sub'));
      expect(files).toHaveLength(1);
      const events = JSON.parse(readFileSync(join(dir, 'sub', files[0]!), 'utf8')) as { name: string }[];
      expect(events.some((e) => e.name.includes('MatMul'))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names the problem in feed errors', async () => {
    await expect(s.run({ y: randn([1, 4]) })).rejects.toThrow(/'y' is not an input/);
    await expect(s.run({})).rejects.toThrow(/'x' was not fed/);
    await expect(s.run({ x: floatTensor(new Float64Array(4), [1, 4]) })).rejects.toThrow(/float32, fed a float64/);
  });
});

/** Linear regression y = X w + b with SGD: the step graph carries w and b. */
function regression() {
  const g = new Graph('reg');
  const X = g.input('X', 'float', [8, 3]);
  const y = g.input('y', 'float', [8, 1]);
  const w = g.input('w', 'float', [3, 1]);
  const b = g.input('b', 'float', [1]);
  const pred = op.add(op.matmul(X, w), b);
  const err = op.sub(pred, y);
  const loss = op.reduceMean(op.mul(err, err));
  return buildTrainingGraph(g, { loss, params: [w, b], optimizer: { kind: 'adamw', hp: { weightDecay: 0.01 } }, outputs: { pred } });
}

describe('TrainingSession', () => {
  const tg = regression();
  const X = randn([8, 3]);
  const y = randn([8, 1]);
  const init = { w: Float32Array.of(0.1, -0.2, 0.3), b: Float32Array.of(0) };

  it('swaps in the updated tensors: each step starts from the last one', async () => {
    const ts = await TrainingSession.create(tg.graph, tg.spec, init, { threads: 1 });
    expect(ts.names('param')).toEqual(['w', 'b']);
    expect(ts.names('state')).toEqual(['w.exp_avg', 'w.exp_avg_sq', 'b.exp_avg', 'b.exp_avg_sq']);
    expect([...ts.get('w.exp_avg')]).toEqual([0, 0, 0]);
    const r1 = await ts.step({ X, y }, { lr: 0.1, fetch: ['pred'] });
    const w1 = ts.get('w');
    const r2 = await ts.step({ X, y }, { lr: 0.1 });
    const w2 = ts.get('w');
    expect(ts.steps).toBe(2);
    expect(r1.outputs.pred!.dims).toEqual([8, 1]);
    expect(Object.keys(r2.outputs)).toEqual([]);
    expect(r2.loss).not.toBe(r1.loss);
    expect(relErr(w1, init.w)).toBeGreaterThan(1e-3);
    expect(relErr(w2, w1)).toBeGreaterThan(1e-3);

    // The same two steps on the interpreter, carrying by hand.
    const outs = [tg.spec.loss, ...tg.spec.carried.map((c) => c.output)].map((n) => tg.graph.outputs.get(n)!);
    const cur: Record<string, HostTensor> = { X, y };
    for (const c of tg.spec.carried) {
      const v = c.kind === 'param' ? init[c.input as 'w' | 'b'] : new Float32Array(c.shape.reduce((a, b) => a * b, 1));
      cur[c.input] = { dtype: 'float', shape: [...c.shape], data: Float64Array.from(v) };
    }
    const losses: number[] = [];
    for (let t = 1; t <= 2; t++) {
      cur.lr = { dtype: 'float', shape: [], data: Float64Array.of(0.1) };
      cur.step = { dtype: 'float', shape: [], data: Float64Array.of(t) };
      const [l, ...next] = interpret(tg.graph, cur, outs);
      losses.push(l!.data[0]!);
      tg.spec.carried.forEach((c, i) => (cur[c.input] = next[i]!));
    }
    expect(relErr([r1.loss, r2.loss], losses)).toBeLessThan(1e-5);
    expect(relErr(w2, cur.w!.data)).toBeLessThan(1e-5);
    expect(relErr(ts.get('b.exp_avg_sq'), cur['b.exp_avg_sq']!.data)).toBeLessThan(1e-5);
    await ts.release();
  });

  it('get/set and snapshot/load round-trip, and resuming repeats the same trajectory', async () => {
    const a = await TrainingSession.create(tg.graph, tg.spec, init);
    await a.step({ X, y }, { lr: 0.05 });
    const snap = a.snapshot();
    const steps = a.steps;
    const next = await a.step({ X, y }, { lr: 0.05 });

    const b = await TrainingSession.create(tg.graph, tg.spec, { w: new Float32Array(3), b: new Float32Array(1) });
    b.load(snap);
    b.steps = steps;
    for (const k of b.names()) expect([...b.get(k)]).toEqual([...snap[k]!]);
    const resumed = await b.step({ X, y }, { lr: 0.05 });
    expect(resumed.loss).toBe(next.loss);
    for (const k of b.names()) expect([...b.get(k)]).toEqual([...a.get(k)]);

    // get returns a copy; set copies too.
    const wcopy = b.get('w');
    wcopy[0] = 123;
    expect(b.get('w')[0]).not.toBe(123);
    b.set('w', [1, 2, 3]);
    expect([...b.get('w')]).toEqual([1, 2, 3]);
    b.set('b', { dtype: 'float', shape: [1], data: Float64Array.of(0.5) });
    expect([...b.get('b')]).toEqual([0.5]);
    expect(() => b.set('w', [1, 2])).toThrow(/shape \[3,1\]/);
    expect(() => b.get('nope')).toThrow(/not a carried tensor/);
    await a.release();
    await b.release();
  });

  it('rejects missing parameters, managed feeds and a missing lr', async () => {
    await expect(TrainingSession.create(tg.graph, tg.spec, { w: init.w })).rejects.toThrow(/no initial value for parameter 'b'/);
    await expect(TrainingSession.create(tg.graph, tg.spec, { ...init, z: init.b })).rejects.toThrow(/'z', which is not a carried tensor/);
    const ts = await TrainingSession.create(tg.graph, tg.spec, init);
    await expect(ts.step({ X, y })).rejects.toThrow(/lr is required/);
    await expect(ts.step({ X, y, w: randn([3, 1]) }, { lr: 0.1 })).rejects.toThrow(/managed by the session/);
    await expect(ts.step({ X }, { lr: 0.1 })).rejects.toThrow(/'y' was not fed/);
    expect(ts.steps).toBe(0);
    await ts.release();
  });
});
