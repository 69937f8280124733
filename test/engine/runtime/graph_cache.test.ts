/**
 * The on-disk cache of ORT-optimised graphs and in-process session reuse: a miss compiles and
 * stores, a hit loads, a damaged entry is detected and replaced, the cache can be turned off, and
 * none of this changes a single bit of the losses or trained weights.
 */
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Graph } from '../../../src/engine/ir/graph.js';
import { toOnnxModel } from '../../../src/engine/onnx/serialize.js';
import * as op from '../../../src/engine/ops/index.js';
import { buildTrainingGraph } from '../../../src/engine/optim/index.js';
import { decodeEntry, encodeEntry, graphCacheKey } from '../../../src/engine/runtime/graph_cache.js';
import { ort } from '../../../src/engine/runtime/node.js';
import { type SessionOrigin, createSession, openSession, releaseIdleSessions, sessionCacheCounts, sessionCacheKey } from '../../../src/engine/runtime/session.js';
import { floatTensor, int64Tensor } from '../../../src/engine/runtime/tensors.js';
import { TrainingSession } from '../../../src/engine/runtime/training.js';
import { Rng } from '../../../src/util/rng.js';

const BATCH = 16;
let dir: string;
const saved = { dir: process.env.STMEDFM_CACHE_DIR, off: process.env.STMEDFM_GRAPH_CACHE };

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'stmedfm-graph-cache-test-'));
  process.env.STMEDFM_CACHE_DIR = dir;
  delete process.env.STMEDFM_GRAPH_CACHE;
});
afterEach(async () => {
  await releaseIdleSessions();
  process.env.STMEDFM_CACHE_DIR = saved.dir;
  if (saved.off === undefined) delete process.env.STMEDFM_GRAPH_CACHE;
  else process.env.STMEDFM_GRAPH_CACHE = saved.off;
});

/** A 4-h-3 MLP training step (AdamW), with MatMul+Add pairs and a GELU for ORT to fuse (tanh in float64: ORT has no float64 Erf). */
function toyStep(hidden: number, act: 'gelu' | 'tanh' = 'gelu') {
  const g = new Graph(`toy_${hidden}`);
  const x = g.input('x', 'float', [BATCH, 4]);
  const y = g.input('y', 'int64', [BATCH]);
  const shapes: Record<string, number[]> = { w1: [4, hidden], b1: [hidden], w2: [hidden, 3], b2: [3] };
  const p = Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, g.input(k, 'float', s)]));
  const pre = op.add(op.matmul(x, p.w1!), p.b1!);
  const h = act === 'gelu' ? op.gelu(pre) : op.tanh(pre);
  const logits = op.add(op.matmul(h, p.w2!), p.b2!);
  const tg = buildTrainingGraph(g, { loss: op.softmaxCrossEntropy(logits, y), params: Object.values(p), optimizer: { kind: 'adamw', hp: { weightDecay: 0.01 } } });
  const init = (seed: number) => {
    const rng = new Rng(seed);
    return Object.fromEntries(Object.entries(shapes).map(([k, s]) => [k, Float32Array.from({ length: s.reduce((a, b) => a * b, 1) }, () => rng.normal() * 0.5)]));
  };
  return { tg, init };
}

interface Outcome {
  origin: SessionOrigin;
  losses: number[];
  weights: Float32Array[];
}

/** Five steps of the toy step; returns where the session came from and every loss and final weight. */
async function train(hidden: number, o: { seed?: number; precision?: 'float32' | 'float64'; threads?: number } = {}): Promise<Outcome> {
  const precision = o.precision ?? 'float32';
  const { tg, init } = toyStep(hidden, precision === 'float64' ? 'tanh' : 'gelu');
  const start = init(o.seed ?? 1);
  const ts = await TrainingSession.create(tg.graph, tg.spec, precision === 'float64' ? Object.fromEntries(Object.entries(start).map(([k, v]) => [k, Float64Array.from(v)])) : start, {
    threads: o.threads ?? 1,
    precision,
    cache: true,
  });
  const rng = new Rng(7);
  const losses: number[] = [];
  for (let s = 0; s < 5; s++) {
    const xs = Float32Array.from({ length: BATCH * 4 }, () => rng.normal());
    const x = precision === 'float64' ? floatTensor(Float64Array.from(xs), [BATCH, 4]) : floatTensor(xs, [BATCH, 4]);
    const y = int64Tensor(Array.from({ length: BATCH }, () => rng.int(3)), [BATCH]);
    losses.push((await ts.step({ x, y }, { lr: 0.01 })).loss);
  }
  const weights = ts.names('param').map((n) => Float32Array.from(ts.get(n)));
  const origin = ts.origin;
  await ts.release();
  return { origin, losses, weights };
}

/** Bit-for-bit equality of two runs' losses and weights. */
function expectSameResults(a: Outcome, b: Outcome): void {
  expect(a.losses).toEqual(b.losses);
  expect(a.weights.length).toBe(b.weights.length);
  a.weights.forEach((w, i) => expect(Buffer.from(w.buffer).equals(Buffer.from(b.weights[i]!.buffer))).toBe(true));
}

async function cacheOff<T>(f: () => Promise<T>): Promise<T> {
  process.env.STMEDFM_GRAPH_CACHE = '0';
  try {
    return await f();
  } finally {
    delete process.env.STMEDFM_GRAPH_CACHE;
  }
}

const entries = () => readdirSync(dir).filter((f) => f.endsWith('.onnx'));

describe('graph cache', () => {
  it('a miss compiles and stores, a hit loads from disk, a second run in the process reuses the session; results equal the cache off to the bit', async () => {
    const off = await cacheOff(() => train(16));
    expect(off.origin).toBe('compiled');
    expect(readdirSync(dir)).toEqual([]);

    const miss = await train(16);
    expect(miss.origin).toBe('compiled, cached');
    expect(entries()).toHaveLength(1);
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
    const reused = await train(16); // the session the miss left idle
    expect(reused.origin).toBe('reused');
    await releaseIdleSessions();
    const hit = await train(16);
    expect(hit.origin).toBe('disk cache');
    for (const r of [miss, reused, hit]) expectSameResults(r, off);
  });

  it('a reused session starts from the new run’s weights, not the last run’s', async () => {
    const fresh = await cacheOff(() => train(16, { seed: 2 }));
    await train(16, { seed: 1 });
    const reused = await train(16, { seed: 2 });
    expect(reused.origin).toBe('reused');
    expectSameResults(reused, fresh);
  });

  it('another model gets its own entry (the key covers the model bytes)', async () => {
    const off8 = await cacheOff(() => train(8));
    expect((await train(16)).origin).toBe('compiled, cached');
    await releaseIdleSessions();
    const miss8 = await train(8);
    expect(miss8.origin).toBe('compiled, cached');
    expect(entries()).toHaveLength(2);
    await releaseIdleSessions();
    const hit8 = await train(8);
    expect(hit8.origin).toBe('disk cache');
    expectSameResults(miss8, off8);
    expectSameResults(hit8, off8);
  });

  it('the key changes with the model bytes, the ORT version and the optimisation level', () => {
    const a = toOnnxModel(toyStep(16).tg.graph);
    const b = toOnnxModel(toyStep(8).tg.graph);
    const parts = { ort: JSON.stringify(ort.env.versions), level: 'all' };
    const k = graphCacheKey(a, parts);
    expect(graphCacheKey(a, { ...parts })).toBe(k);
    expect(graphCacheKey(b, parts)).not.toBe(k);
    expect(graphCacheKey(a, { ...parts, ort: JSON.stringify({ ...ort.env.versions, node: '0.0.1' }) })).not.toBe(k);
    expect(graphCacheKey(a, { ...parts, level: 'extended' })).not.toBe(k);
    // Sessions are keyed by exactly these parts: this ORT's versions and the level asked for.
    expect(sessionCacheKey(a, { cache: true })).toBe(k);
    expect(sessionCacheKey(a, { cache: true, graphOptimization: 'basic' })).toBe(graphCacheKey(a, { ...parts, level: 'basic' }));
    // Not cached: without `cache`, with optimisation off (nothing to save) or with the cache turned off.
    expect(sessionCacheKey(a, {})).toBeUndefined();
    expect(sessionCacheKey(a, { cache: true, graphOptimization: 'disabled' })).toBeUndefined();
    process.env.STMEDFM_GRAPH_CACHE = 'off';
    expect(sessionCacheKey(a, { cache: true })).toBeUndefined();
  });

  it('a truncated or damaged entry is detected by its checksum, recompiled and replaced; results unchanged', async () => {
    const off = await cacheOff(() => train(16));
    await train(16);
    await releaseIdleSessions();
    const [name] = entries();
    const path = join(dir, name!);
    const good = readFileSync(path);
    const damages: [string, Buffer][] = [
      ['truncated', good.subarray(0, Math.floor(good.length * 0.6))],
      ['one byte changed', Buffer.from(good).fill(good[Math.floor(good.length / 2)]! ^ 0x55, Math.floor(good.length / 2), Math.floor(good.length / 2) + 1)],
      ['empty', Buffer.alloc(0)],
    ];
    for (const [what, bad] of damages) {
      writeFileSync(path, bad);
      sessionCacheCounts(true);
      const r = await train(16);
      await releaseIdleSessions();
      expect(r.origin, what).toBe('compiled, cached');
      // Caught before ORT saw it (ORT refusing it would count as damaged).
      expect(sessionCacheCounts().damaged, what).toBe(0);
      expect(readFileSync(path).equals(good), what).toBe(true);
      expectSameResults(r, off);
    }
  });

  it('an entry ORT cannot load (checksum fine) is dropped and recompiled', async () => {
    const off = await cacheOff(() => train(16));
    await train(16);
    await releaseIdleSessions();
    const path = join(dir, entries()[0]!);
    const good = readFileSync(path);
    writeFileSync(path, encodeEntry(Buffer.from('not an onnx model')));
    sessionCacheCounts(true);
    const r = await train(16);
    expect(r.origin).toBe('compiled, cached');
    expect(sessionCacheCounts().damaged).toBe(1);
    expect(readFileSync(path).equals(good)).toBe(true);
    expectSameResults(r, off);
  });

  it('entries carry their checksum: decodeEntry returns the model only when it matches', () => {
    const model = Buffer.from('an optimised model');
    const e = encodeEntry(model);
    expect(Buffer.from(decodeEntry(e)!).equals(model)).toBe(true);
    expect(decodeEntry(e.subarray(0, e.length - 1))).toBeUndefined();
    const flipped = Buffer.from(e);
    flipped[flipped.length - 3] ^= 1;
    expect(decodeEntry(flipped)).toBeUndefined();
  });

  it('an unusable cache folder only costs the compile: the run still trains', async () => {
    const off = await cacheOff(() => train(16));
    const file = join(dir, 'a-file');
    writeFileSync(file, 'x');
    process.env.STMEDFM_CACHE_DIR = join(file, 'ort');
    const r = await train(16);
    expect(r.origin).toBe('compiled');
    expectSameResults(r, off);
  });

  it('two sessions compiling one graph at once both store it; the entry is whole and no temp file is left', async () => {
    const off = await cacheOff(() => train(16));
    const [a, b] = await Promise.all([train(16), train(16)]);
    expect([a.origin, b.origin]).toEqual(['compiled, cached', 'compiled, cached']);
    expect(readdirSync(dir).filter((f) => !f.endsWith('.onnx'))).toEqual([]);
    expect(decodeEntry(readFileSync(join(dir, entries()[0]!)))).toBeDefined();
    await releaseIdleSessions();
    const hit = await train(16);
    expect(hit.origin).toBe('disk cache');
    for (const r of [a, b, hit]) expectSameResults(r, off);
  });

  it('float64 training graphs go through the cache unchanged', async () => {
    const off = await cacheOff(() => train(16, { precision: 'float64' }));
    expect((await train(16, { precision: 'float64' })).origin).toBe('compiled, cached');
    await releaseIdleSessions();
    const hit = await train(16, { precision: 'float64' });
    expect(hit.origin).toBe('disk cache');
    expectSameResults(hit, off);
  });

  it('the key leaves out the thread count: ORT writes the same optimised model at 1 and 2 threads', async () => {
    const bytes = toOnnxModel(toyStep(16).tg.graph);
    const written: Buffer[] = [];
    for (const threads of [1, 2]) {
      const out = join(dir, `optimised-${threads}.bin`);
      await (await createSession(bytes, { threads, optimizedModelPath: out })).release();
      written.push(readFileSync(out));
    }
    expect(written[0]!.equals(written[1]!)).toBe(true);
    expect(sessionCacheKey(bytes, { cache: true, threads: 1 })).toBe(sessionCacheKey(bytes, { cache: true, threads: 2 }));
    // the same model bytes compiled at 1 thread are loaded from disk at 2 (a training graph's bytes
    // can differ between thread counts: its sums are lowered for the session's threads)
    const first = await openSession(bytes, { cache: true, threads: 1 });
    expect(first.origin).toBe('compiled, cached');
    await first.session.release();
    const second = await openSession(bytes, { cache: true, threads: 2 });
    expect(second.origin).toBe('disk cache');
    await second.session.release();
  });
});
