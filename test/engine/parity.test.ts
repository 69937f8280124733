/**
 * Engine parity with PyTorch: two miniature STMedFM networks (2D and 3D stems, one pre-norm
 * attention block, final norm, mean pooling, head, cross-entropy) are rebuilt here with the
 * engine's builder ops and compared against float64 PyTorch fixtures written by
 * scripts/torch_reference/make_engine_fixture.py (test/fixtures/engine_parity/*.json):
 *   - loss and every parameter gradient, on the float64 interpreter and on ONNX Runtime (float32);
 *   - the parameters after 3 AdamW steps on the same batch.
 * The networks are restated op by op from the PyTorch module instead of importing src/model, so
 * this checks the engine (ops, autodiff, lowering, optimizer), not a model file against itself.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { grad } from '../../src/engine/autodiff.js';
import { interpret } from '../../src/engine/interp.js';
import { Graph, type Value } from '../../src/engine/ir/graph.js';
import { type HostTensor, zeros } from '../../src/engine/ir/tensor.js';
import * as op from '../../src/engine/ops/index.js';
import { buildTrainingGraph } from '../../src/engine/optim/index.js';
import { ForwardSession, TrainingSession } from '../../src/engine/runtime/index.js';
import { relErr } from '../../src/engine/testing/gradcheck.js';

interface FixtureParam {
  name: string;
  shape: number[];
  /** AdamW weight decay applies (weight matrices and conv kernels; not pos, norms or biases). */
  decay: boolean;
  data: number[];
}

interface Fixture {
  config: {
    rank: 2 | 3;
    dim: number;
    heads: number;
    depth: number;
    eps: number;
    stem_kernel: number;
    patch: number;
    tokens: number;
    task: string;
  };
  input: { shape: number[]; data: number[] };
  labels: number[];
  params: FixtureParam[];
  loss: number;
  grads: Record<string, number[]>;
  adamw: {
    lr: number;
    beta1: number;
    beta2: number;
    eps: number;
    weight_decay: number;
    steps: number;
    losses: number[];
    final_loss: number;
    params_after: Record<string, number[]>;
  };
}

const FIXTURES = ['net2d.json', 'net3d.json'] as const;

/** float64 against float64: only summation order differs, so the bound is tight enough to catch e.g. a wrong LayerNorm epsilon. */
const TOL_F64 = 1e-9;
/**
 * ONNX Runtime computes in float32. Its errors are compared normwise per tensor: elementwise
 * ratios on small entries measure float32 cancellation, not the engine (PyTorch's own float32
 * run of these nets is off by 6e-5 elementwise but < 5e-7 normwise against its float64 run).
 */
const TOL_F32 = 1e-5;

function loadFixture(file: string): Fixture {
  const path = fileURLToPath(new URL(`../fixtures/engine_parity/${file}`, import.meta.url));
  return JSON.parse(readFileSync(path, 'utf8')) as Fixture;
}

const host = (shape: readonly number[], data: readonly number[], dtype: HostTensor['dtype'] = 'float'): HostTensor => ({
  dtype,
  shape: [...shape],
  data: Float64Array.from(data),
});

type Params = (name: string) => Value;

/** PyTorch nn.Linear: x W^T + b with W [out, in]. */
const linear = (x: Value, p: Params, name: string): Value => op.add(op.matmul(x, op.transpose(p(`${name}.weight`), [1, 0])), p(`${name}.bias`));

const layerNorm = (x: Value, p: Params, name: string, eps: number): Value =>
  op.layerNorm(x, p(`${name}.weight`), p(`${name}.bias`), { axis: -1, epsilon: eps });

/** The forward pass to the logits [N, classes], op for op as the PyTorch module. */
function buildLogits(fx: Fixture, x: Value, p: Params): Value {
  const c = fx.config;
  const n = fx.input.shape[0]!;
  const d = c.dim;
  const dh = d / c.heads;
  const stem = `stem${c.rank}d`;

  // Stem: conv -> GELU -> patchify conv -> [N,D,T] -> [N,T,D] (row-major tokens) -> + pos -> LayerNorm.
  let h = op.gelu(op.conv(x, p(`${stem}.c1.weight`), p(`${stem}.c1.bias`), { pads: Math.floor(c.stem_kernel / 2) }));
  h = op.conv(h, p(`${stem}.c2.weight`), p(`${stem}.c2.bias`), { strides: c.patch });
  let t = op.transpose(op.reshape(h, [n, d, c.tokens]), [0, 2, 1]);
  t = layerNorm(op.add(t, p(`${stem}.pos`)), p, `${stem}.ln`, c.eps);

  for (let i = 0; i < c.depth; i++) {
    const b = `blocks.${i}`;
    // The qkv features are laid out [3][heads][dh]: [N,T,3D] -> [N,T,3,H,Dh] -> [3,N,H,T,Dh].
    const qkv = linear(layerNorm(t, p, `${b}.ln1`, c.eps), p, `${b}.qkv`);
    const heads = op.transpose(op.reshape(qkv, [n, c.tokens, 3, c.heads, dh]), [2, 0, 3, 1, 4]);
    const [q, k, v] = op.split(heads, [1, 1, 1], 0).map((s) => op.reshape(s, [n, c.heads, c.tokens, dh])) as [Value, Value, Value];
    const att = op.softmax(op.mul(op.matmul(q, op.transpose(k, [0, 1, 3, 2])), 1 / Math.sqrt(dh)), -1);
    const merged = op.reshape(op.transpose(op.matmul(att, v), [0, 2, 1, 3]), [n, c.tokens, d]);
    t = op.add(t, linear(merged, p, `${b}.proj`));
    t = op.add(t, linear(op.gelu(linear(layerNorm(t, p, `${b}.ln2`, c.eps), p, `${b}.fc1`)), p, `${b}.fc2`));
  }
  return linear(op.reduceMean(layerNorm(t, p, 'norm', c.eps), [1]), p, `heads.${c.task}`);
}

/** Input, labels and every parameter as graph inputs, and the cross-entropy loss. */
function buildLossGraph(fx: Fixture) {
  const g = new Graph(`parity_net${fx.config.rank}d`);
  const x = g.input('x', 'float', fx.input.shape);
  const labels = g.input('labels', 'int64', [fx.labels.length]);
  const params = new Map(fx.params.map((q) => [q.name, g.input(q.name, 'float', q.shape)] as const));
  const p: Params = (name) => {
    const v = params.get(name);
    if (!v) throw new Error(`parity net: the fixture has no parameter '${name}'`);
    return v;
  };
  return { g, params, loss: op.softmaxCrossEntropy(buildLogits(fx, x, p), labels) };
}

/** The loss graph with outputs `loss` and `grad.<name>` per parameter. */
function buildGradGraph(fx: Fixture) {
  const { g, params, loss } = buildLossGraph(fx);
  const grads = grad(loss, [...params.values()]);
  g.output('loss', loss);
  fx.params.forEach((q, i) => g.output(`grad.${q.name}`, grads[i]!));
  return { g, loss, grads };
}

/**
 * The engine's AdamW training step over the same loss, with the fixture's decay groups (the
 * fixture excludes `pos` from decay; the engine's default `rank >= 2` rule would include it).
 */
function buildAdamWGraph(fx: Fixture) {
  const { g, params, loss } = buildLossGraph(fx);
  const decay = new Map(fx.params.map((q) => [q.name, q.decay]));
  const a = fx.adamw;
  return buildTrainingGraph(g, {
    loss,
    params: [...params.values()],
    decay: (v) => decay.get(v.name)!,
    optimizer: { kind: 'adamw', hp: { beta1: a.beta1, beta2: a.beta2, eps: a.eps, weightDecay: a.weight_decay } },
  });
}

/**
 * Gradient entries that are zero to float64 precision in the fixture, by parameter. They must be
 * exactly the key biases: adding a constant to every key shifts all scores of a query by the same
 * amount, which softmax ignores, so d loss / d b_k = 0 in exact arithmetic.
 */
function vanishingGradients(fx: Fixture): Map<string, Set<number>> {
  const scale = Math.max(...fx.params.map((q) => Math.max(...fx.grads[q.name]!.map(Math.abs))));
  const out = new Map<string, Set<number>>();
  for (const q of fx.params) {
    const idx = fx.grads[q.name]!.flatMap((g, i) => (Math.abs(g) <= 1e-10 * scale ? [i] : []));
    if (idx.length) out.set(q.name, new Set(idx));
  }
  return out;
}

function feedsOf(fx: Fixture): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {
    x: host(fx.input.shape, fx.input.data),
    labels: host([fx.labels.length], fx.labels, 'int64'),
  };
  for (const q of fx.params) feeds[q.name] = host(q.shape, q.data);
  return feeds;
}

const lossErr = (got: number, want: number): number => Math.abs(got - want) / Math.abs(want);

/** ||got - want|| / ||want|| (Euclidean). */
function normRelErr(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < want.length; i++) {
    num += (got[i]! - want[i]!) ** 2;
    den += want[i]! ** 2;
  }
  return got.length === want.length ? Math.sqrt(num / Math.max(den, 1e-300)) : Infinity;
}

type ErrFn = (got: ArrayLike<number>, want: ArrayLike<number>) => number;

/** Per-parameter relative errors of the gradients. */
function gradErrors(fx: Fixture, got: (name: string) => ArrayLike<number>, err: ErrFn): Record<string, number> {
  return Object.fromEntries(fx.params.map((q) => [q.name, err(got(q.name), fx.grads[q.name]!)]));
}

function worst(errs: Record<string, number>): [string, number] {
  return Object.entries(errs).reduce((a, b) => (b[1] > a[1] || Number.isNaN(b[1]) ? b : a), ['', 0]);
}

describe.each(FIXTURES)('engine parity with PyTorch (%s)', (file) => {
  const fx = loadFixture(file);

  it('fixture is self-consistent', () => {
    for (const q of fx.params) {
      expect(q.data.length, q.name).toBe(q.shape.reduce((a, b) => a * b, 1));
      expect(fx.grads[q.name]!.length, q.name).toBe(q.data.length);
      expect(fx.adamw.params_after[q.name]!.length, q.name).toBe(q.data.length);
    }
  });

  it('fixture: the only vanishing gradients are the key biases', () => {
    const d = fx.config.dim;
    const expected = new Map(
      Array.from({ length: fx.config.depth }, (_, i) => [`blocks.${i}.qkv.bias`, Array.from({ length: d }, (_, j) => d + j)] as const),
    );
    const got = new Map([...vanishingGradients(fx)].map(([k, v]) => [k, [...v]] as const));
    expect(got).toEqual(expected);
  });

  it('float64 interpreter: loss and every gradient', () => {
    const { g, loss, grads } = buildGradGraph(fx);
    const out = interpret(g, feedsOf(fx), [loss, ...grads]);
    expect(lossErr(out[0]!.data[0]!, fx.loss)).toBeLessThan(TOL_F64);
    const byName = new Map(fx.params.map((q, i) => [q.name, out[i + 1]!.data]));
    const errs = gradErrors(fx, (n) => byName.get(n)!, relErr);
    const [name, err] = worst(errs);
    expect(err, `worst gradient: ${name}`).toBeLessThan(TOL_F64);
  });

  it('ONNX Runtime float32: loss and every gradient', async () => {
    const { g } = buildGradGraph(fx);
    const session = await ForwardSession.create(g, { precision: 'float32' });
    try {
      const res = await session.runHost(feedsOf(fx));
      expect(lossErr(res['loss']!.data[0]!, fx.loss)).toBeLessThan(TOL_F32);
      const errs = gradErrors(fx, (n) => res[`grad.${n}`]!.data, normRelErr);
      const [name, err] = worst(errs);
      expect(err, `worst gradient: ${name}`).toBeLessThan(TOL_F32);
    } finally {
      await session.release();
    }
  });

  it('float64 interpreter: 3 AdamW steps (losses and parameters)', () => {
    // The interpreter plays TrainingSession: carried tensors go in by name, their `.next` outputs replace them.
    const tg = buildAdamWGraph(fx);
    const state: Record<string, HostTensor> = feedsOf(fx);
    for (const c of tg.spec.carried) if (c.kind === 'state') state[c.input] = zeros(c.shape);
    const lossV = tg.graph.outputs.get(tg.spec.loss)!;
    const nexts = tg.spec.carried.map((c) => tg.graph.outputs.get(c.output)!);
    const losses: number[] = [];
    for (let t = 1; t <= fx.adamw.steps; t++) {
      state[tg.spec.lr!] = host([], [fx.adamw.lr]);
      state[tg.spec.step!] = host([], [t]);
      const out = interpret(tg.graph, state, [lossV, ...nexts]);
      losses.push(out[0]!.data[0]!);
      tg.spec.carried.forEach((c, i) => (state[c.input] = out[i + 1]!));
    }
    losses.forEach((l, i) => expect(lossErr(l, fx.adamw.losses[i]!), `loss of step ${i + 1}`).toBeLessThan(TOL_F64));
    const errs = Object.fromEntries(fx.params.map((q) => [q.name, relErr(state[q.name]!.data, fx.adamw.params_after[q.name]!)]));
    const [name, err] = worst(errs);
    expect(err, `worst parameter after ${fx.adamw.steps} steps: ${name}`).toBeLessThan(TOL_F64);
  });

  it('ONNX Runtime float32: 3 AdamW steps with TrainingSession', async () => {
    const tg = buildAdamWGraph(fx);
    const init = Object.fromEntries(fx.params.map((q) => [q.name, q.data]));
    const session = await TrainingSession.create(tg.graph, tg.spec, init, { precision: 'float32' });
    try {
      const batch = { x: host(fx.input.shape, fx.input.data), labels: host([fx.labels.length], fx.labels, 'int64') };
      const losses: number[] = [];
      for (let t = 0; t < fx.adamw.steps; t++) losses.push((await session.step(batch, { lr: fx.adamw.lr })).loss);
      losses.forEach((l, i) => expect(lossErr(l, fx.adamw.losses[i]!), `loss of step ${i + 1}`).toBeLessThan(TOL_F32));
      // Key-bias entries: see vanishingGradients. In float32 their gradient is rounding noise, which
      // Adam normalises into steps of up to ~lr, so they are only bounded; the rest match normwise.
      const vanishing = vanishingGradients(fx);
      const errs: Record<string, number> = {};
      let noiseMove = 0;
      for (const q of fx.params) {
        const got = session.get(q.name);
        const want = fx.adamw.params_after[q.name]!;
        const skip = vanishing.get(q.name) ?? new Set<number>();
        const keep = (_: unknown, i: number) => !skip.has(i);
        errs[q.name] = normRelErr(Array.from(got).filter(keep), want.filter(keep));
        for (const i of skip) noiseMove = Math.max(noiseMove, Math.abs(got[i]! - q.data[i]!));
      }
      const [name, err] = worst(errs);
      expect(err, `worst parameter after ${fx.adamw.steps} steps: ${name}`).toBeLessThan(TOL_F32);
      expect(noiseMove).toBeLessThanOrEqual(fx.adamw.steps * fx.adamw.lr * 1.01);
    } finally {
      await session.release();
    }
  });
});
