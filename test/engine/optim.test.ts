/**
 * The in-graph optimizers against direct float64 restatements of PyTorch's update rules
 * (torch/optim/adamw.py `_single_tensor_adamw`, torch/optim/sgd.py `_single_tensor_sgd`),
 * run for several steps with a varying learning rate and per-parameter weight-decay masks:
 * on the float64 interpreter, on ONNX Runtime in float64 and on ONNX Runtime in float32.
 */
import { describe, expect, it } from 'vitest';
import { interpret } from '../../src/engine/interp.js';
import { Graph, type Value } from '../../src/engine/ir/graph.js';
import type { HostTensor } from '../../src/engine/ir/tensor.js';
import * as op from '../../src/engine/ops/index.js';
import { type AdamWHyper, type OptimizerConfig, type SgdHyper, buildTrainingGraph, warmupCosine } from '../../src/engine/optim/index.js';
import { TrainingSession } from '../../src/engine/runtime/training.js';
import { relErr } from '../../src/engine/testing/gradcheck.js';
import { Rng } from '../../src/util/rng.js';

const STEPS = 6;
const lrAt = (t: number) => warmupCosine(t, STEPS, 2, 0.05);

/**
 * loss = sum(c1 * w1^2) / 2 + sum(c2 * w2) + sum(w3 * x)^2, so the gradients are
 * g1 = c1 * w1, g2 = c2 and g3 = 2 * sum(w3 * x) * x: state-dependent, of mixed signs.
 * w1 [3,4] and w3 [2,2] decay, w2 [4] does not (a bias-like vector).
 */
const SHAPES: Record<string, number[]> = { w1: [3, 4], w2: [4], w3: [2, 2] };
const DECAY: Record<string, boolean> = { w1: true, w2: false, w3: true };

function problem(seed: number) {
  const rng = new Rng(seed);
  const draw = (n: number) => Array.from({ length: n }, () => rng.normal());
  return { c1: draw(12).map(Math.abs), c2: draw(4), x: draw(4), init: { w1: draw(12), w2: draw(4), w3: draw(4) } };
}

type P = ReturnType<typeof problem>;

function grads(p: P, w: Record<string, number[]>): Record<string, number[]> {
  const s = w.w3!.reduce((acc, v, i) => acc + v * p.x[i]!, 0);
  return { w1: w.w1!.map((v, i) => p.c1[i]! * v), w2: [...p.c2], w3: p.x.map((xi) => 2 * s * xi) };
}

function lossOf(p: P, w: Record<string, number[]>): number {
  const s = w.w3!.reduce((acc, v, i) => acc + v * p.x[i]!, 0);
  return w.w1!.reduce((a, v, i) => a + (p.c1[i]! * v * v) / 2, 0) + w.w2!.reduce((a, v, i) => a + p.c2[i]! * v, 0) + s * s;
}

/** PyTorch AdamW, single-tensor path, restated in float64. */
function referenceAdamW(p: P, hp: Required<AdamWHyper>) {
  const w = structuredClone(p.init) as Record<string, number[]>;
  const m: Record<string, number[]> = {};
  const v: Record<string, number[]> = {};
  for (const k of Object.keys(w)) ((m[k] = w[k]!.map(() => 0)), (v[k] = w[k]!.map(() => 0)));
  const losses: number[] = [];
  for (let t = 1; t <= STEPS; t++) {
    const lr = lrAt(t - 1);
    losses.push(lossOf(p, w));
    const g = grads(p, w);
    for (const k of Object.keys(w)) {
      const param = w[k]!;
      if (DECAY[k]) for (let i = 0; i < param.length; i++) param[i] = param[i]! * (1 - lr * hp.weightDecay);
      const bc1 = 1 - hp.beta1 ** t;
      const bc2 = 1 - hp.beta2 ** t;
      const stepSize = lr / bc1;
      for (let i = 0; i < param.length; i++) {
        m[k]![i] = m[k]![i]! + (g[k]![i]! - m[k]![i]!) * (1 - hp.beta1); // exp_avg.lerp_(grad, 1 - beta1)
        v[k]![i] = v[k]![i]! * hp.beta2 + (1 - hp.beta2) * g[k]![i]! * g[k]![i]!;
        const denom = Math.sqrt(v[k]![i]!) / Math.sqrt(bc2) + hp.eps;
        param[i] = param[i]! - (stepSize * m[k]![i]!) / denom;
      }
    }
  }
  const state: Record<string, number[]> = {};
  for (const k of Object.keys(w)) ((state[`${k}.exp_avg`] = m[k]!), (state[`${k}.exp_avg_sq`] = v[k]!));
  return { params: w, state, losses };
}

/** PyTorch SGD, single-tensor path (momentum buffer created from the first d_p), restated in float64. */
function referenceSgd(p: P, hp: Required<SgdHyper>) {
  const w = structuredClone(p.init) as Record<string, number[]>;
  const buf: Record<string, number[] | undefined> = {};
  const losses: number[] = [];
  for (let t = 1; t <= STEPS; t++) {
    const lr = lrAt(t - 1);
    losses.push(lossOf(p, w));
    const g = grads(p, w);
    for (const k of Object.keys(w)) {
      const param = w[k]!;
      let d = g[k]!.map((gi, i) => (DECAY[k] && hp.weightDecay ? gi + hp.weightDecay * param[i]! : gi));
      if (hp.momentum !== 0) {
        const b = buf[k];
        const nb = b === undefined ? [...d] : b.map((bi, i) => bi * hp.momentum + (1 - hp.dampening) * d[i]!);
        buf[k] = nb;
        d = hp.nesterov ? d.map((di, i) => di + hp.momentum * nb[i]!) : nb;
      }
      for (let i = 0; i < param.length; i++) param[i] = param[i]! - lr * d[i]!;
    }
  }
  const state: Record<string, number[]> = {};
  for (const k of Object.keys(w)) if (buf[k]) state[`${k}.momentum_buffer`] = buf[k]!;
  return { params: w, state, losses };
}

function stepGraph(p: P, optimizer: OptimizerConfig) {
  const g = new Graph('opt');
  const ws: Record<string, Value> = {};
  for (const [k, s] of Object.entries(SHAPES)) ws[k] = g.input(k, 'float', s);
  const c1 = g.constant({ dtype: 'float', shape: [3, 4], data: Float64Array.from(p.c1) }, 'c1');
  const c2 = g.constant({ dtype: 'float', shape: [4], data: Float64Array.from(p.c2) }, 'c2');
  const x = g.constant({ dtype: 'float', shape: [2, 2], data: Float64Array.from(p.x) }, 'x');
  const s = op.reduceSum(op.mul(ws.w3!, x));
  const loss = op.add(op.add(op.mul(op.reduceSum(op.mul(c1, op.mul(ws.w1!, ws.w1!))), 0.5), op.reduceSum(op.mul(c2, ws.w2!))), op.mul(s, s));
  const params = Object.values(ws);
  return buildTrainingGraph(g, { loss, params, decay: (v) => DECAY[v.name]!, optimizer });
}

/** Runs the step graph on the interpreter, carrying outputs to inputs by hand. */
function runInterpreter(p: P, optimizer: OptimizerConfig) {
  const tg = stepGraph(p, optimizer);
  const cur = new Map<string, HostTensor>();
  for (const c of tg.spec.carried) {
    const init = c.kind === 'param' ? (p.init as Record<string, number[]>)[c.input]! : new Array<number>(c.shape.reduce((a, b) => a * b, 1)).fill(0);
    cur.set(c.input, { dtype: 'float', shape: [...c.shape], data: Float64Array.from(init) });
  }
  const losses: number[] = [];
  const outs = [tg.graph.outputs.get(tg.spec.loss)!, ...tg.spec.carried.map((c) => tg.graph.outputs.get(c.output)!)];
  for (let t = 1; t <= STEPS; t++) {
    const feeds: Record<string, HostTensor> = Object.fromEntries(cur);
    feeds.lr = { dtype: 'float', shape: [], data: Float64Array.of(lrAt(t - 1)) };
    feeds.step = { dtype: 'float', shape: [], data: Float64Array.of(t) };
    const [l, ...next] = interpret(tg.graph, feeds, outs);
    losses.push(l!.data[0]!);
    tg.spec.carried.forEach((c, i) => cur.set(c.input, next[i]!));
  }
  return { cur, losses, spec: tg.spec };
}

async function runOrt(p: P, optimizer: OptimizerConfig, precision: 'float32' | 'float64') {
  const tg = stepGraph(p, optimizer);
  const ts = await TrainingSession.create(tg.graph, tg.spec, p.init, { precision });
  const losses: number[] = [];
  for (let t = 0; t < STEPS; t++) losses.push((await ts.step({}, { lr: lrAt(t) })).loss);
  const snap = ts.snapshot();
  await ts.release();
  return { snap, losses, spec: tg.spec };
}

function expectClose(got: ArrayLike<number>, want: ArrayLike<number>, tol: number, what: string) {
  const e = relErr(got, want);
  expect(e, `${what}: rel err ${e}`).toBeLessThan(tol);
}

const cases: { name: string; optimizer: OptimizerConfig; reference: (p: P) => ReturnType<typeof referenceAdamW> }[] = [
  {
    name: 'AdamW (defaults, wd 0.05)',
    optimizer: { kind: 'adamw' },
    reference: (p) => referenceAdamW(p, { beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.05 }),
  },
  {
    name: 'AdamW (betas 0.8/0.99, eps 1e-3, wd 0.3)',
    optimizer: { kind: 'adamw', hp: { beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0.3 } },
    reference: (p) => referenceAdamW(p, { beta1: 0.8, beta2: 0.99, eps: 1e-3, weightDecay: 0.3 }),
  },
  {
    name: 'SGD momentum 0.9, dampening 0.25, wd 0.1',
    optimizer: { kind: 'sgd', hp: { momentum: 0.9, dampening: 0.25, weightDecay: 0.1 } },
    reference: (p) => referenceSgd(p, { momentum: 0.9, dampening: 0.25, weightDecay: 0.1, nesterov: false }),
  },
  {
    name: 'SGD Nesterov 0.8, wd 0.01',
    optimizer: { kind: 'sgd', hp: { momentum: 0.8, nesterov: true, weightDecay: 0.01 } },
    reference: (p) => referenceSgd(p, { momentum: 0.8, dampening: 0, weightDecay: 0.01, nesterov: true }),
  },
  {
    name: 'SGD plain',
    optimizer: { kind: 'sgd' },
    reference: (p) => referenceSgd(p, { momentum: 0, dampening: 0, weightDecay: 0, nesterov: false }),
  },
];

describe('optimizers against float64 restatements of PyTorch', () => {
  for (const c of cases) {
    describe(c.name, () => {
      const p = problem(3);
      const ref = c.reference(p);
      const refAll: Record<string, number[]> = { ...ref.params, ...ref.state };

      it('interpreter (float64) matches to 1e-12', () => {
        const { cur, losses, spec } = runInterpreter(p, c.optimizer);
        expect(spec.carried.map((k) => k.input).sort()).toEqual(Object.keys(refAll).sort());
        for (const [k, want] of Object.entries(refAll)) expectClose(cur.get(k)!.data, want, 1e-12, k);
        expectClose(losses, ref.losses, 1e-12, 'losses');
        // The parameters actually moved, differently per decay mask.
        for (const k of Object.keys(ref.params)) expect(relErr(cur.get(k)!.data, (p.init as Record<string, number[]>)[k]!)).toBeGreaterThan(1e-3);
      });

      it('ONNX Runtime float64 matches to 1e-12, float32 to 1e-5', async () => {
        const f64 = await runOrt(p, c.optimizer, 'float64');
        for (const [k, want] of Object.entries(refAll)) expectClose(f64.snap[k]!, want, 1e-12, `f64 ${k}`);
        expectClose(f64.losses, ref.losses, 1e-12, 'f64 losses');
        const f32 = await runOrt(p, c.optimizer, 'float32');
        for (const [k, want] of Object.entries(ref.params)) expectClose(f32.snap[k]!, want, 1e-5, `f32 ${k}`);
        expectClose(f32.losses, ref.losses, 1e-5, 'f32 losses');
      });
    });
  }

  it('AdamW first step by hand: p(1 - lr wd) - lr g / (|g| + eps)', () => {
    const g = new Graph('hand');
    const w = g.input('w', 'float', [3]);
    const b = g.input('b', 'float', [3]);
    const coef = g.constant({ dtype: 'float', shape: [3], data: Float64Array.of(2, -0.5, 1e-3) }, 'coef');
    const loss = op.reduceSum(op.mul(op.add(w, b), coef)); // g_w = g_b = coef
    const tg = buildTrainingGraph(g, { loss, params: [w, b], decay: (v) => v === w, optimizer: { kind: 'adamw', hp: { weightDecay: 0.1 } } });
    const feeds: Record<string, HostTensor> = {
      w: { dtype: 'float', shape: [3], data: Float64Array.of(1, 2, 3) },
      b: { dtype: 'float', shape: [3], data: Float64Array.of(1, 2, 3) },
      lr: { dtype: 'float', shape: [], data: Float64Array.of(0.01) },
      step: { dtype: 'float', shape: [], data: Float64Array.of(1) },
    };
    for (const k of ['w', 'b']) for (const s of ['exp_avg', 'exp_avg_sq']) feeds[`${k}.${s}`] = { dtype: 'float', shape: [3], data: new Float64Array(3) };
    const [wn, bn, m] = interpret(tg.graph, feeds, ['w.next', 'b.next', 'w.exp_avg.next'].map((n) => tg.graph.outputs.get(n)!));
    const coefs = [2, -0.5, 1e-3];
    coefs.forEach((c, i) => {
      const p0 = i + 1;
      expect(wn!.data[i]).toBeCloseTo(p0 * (1 - 0.01 * 0.1) - (0.01 * c) / (Math.abs(c) + 1e-8), 14);
      expect(bn!.data[i]).toBeCloseTo(p0 - (0.01 * c) / (Math.abs(c) + 1e-8), 14);
      expect(m!.data[i]).toBeCloseTo(0.1 * c, 15);
    });
  });

  it('names state like torch.optim state_dict entries and rejects bad inputs', () => {
    const g = new Graph('names');
    const w = g.input('blocks.0.qkv.weight', 'float', [2, 2]);
    const loss = op.reduceSum(op.mul(w, w));
    const tg = buildTrainingGraph(g, { loss, params: [w], optimizer: { kind: 'sgd', hp: { momentum: 0.9 } } });
    expect(tg.spec.carried.map((c) => [c.input, c.output, c.kind])).toEqual([
      ['blocks.0.qkv.weight', 'blocks.0.qkv.weight.next', 'param'],
      ['blocks.0.qkv.weight.momentum_buffer', 'blocks.0.qkv.weight.momentum_buffer.next', 'state'],
    ]);
    const g2 = new Graph('bad');
    const c = g2.constant({ dtype: 'float', shape: [2], data: Float64Array.of(1, 2) }, 'c');
    expect(() => buildTrainingGraph(g2, { loss: op.reduceSum(op.mul(c, c)), params: [c] })).toThrow(/must be a graph input/);
  });
});

describe('warmupCosine', () => {
  it('warms up linearly, then follows a half cosine to 0', () => {
    const base = 1e-3;
    expect(warmupCosine(0, 120, 10, base)).toBeCloseTo(base / 10, 15);
    expect(warmupCosine(4, 120, 10, base)).toBeCloseTo(base / 2, 15);
    expect(warmupCosine(9, 120, 10, base)).toBeCloseTo(base, 15);
    expect(warmupCosine(10, 120, 10, base)).toBeCloseTo(base, 15);
    expect(warmupCosine(65, 120, 10, base)).toBeCloseTo(base / 2, 15); // halfway through the 110 decay steps
    expect(warmupCosine(10 + 100 / 4, 110, 10, base) / base).toBeCloseTo((1 + Math.SQRT1_2) / 2, 12);
    expect(warmupCosine(119, 120, 10, base)).toBeCloseTo(base * 0.5 * (1 + Math.cos((Math.PI * 109) / 110)), 15);
    expect(warmupCosine(119, 120, 10, base)).toBeGreaterThan(0);
    expect(warmupCosine(120, 120, 10, base)).toBe(0);
    expect(warmupCosine(0, 50, 0, base)).toBe(base);
    // Monotone decay after warmup.
    for (let s = 10; s < 119; s++) expect(warmupCosine(s + 1, 120, 10, base)).toBeLessThan(warmupCosine(s, 120, 10, base));
    expect(() => warmupCosine(0, 10, 11, base)).toThrow(/warmup/);
    expect(() => warmupCosine(-1, 10, 1, base)).toThrow(/step/);
  });
});
