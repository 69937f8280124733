/**
 * End to end on a toy problem: a 2-16-2 MLP learns XOR-placed Gaussian blobs (not linearly
 * separable) with the whole step (forward, backward, AdamW) as one ONNX Runtime run per step,
 * then a forward session with a symbolic batch dim evaluates held-out points.
 */
import { describe, expect, it } from 'vitest';
import { Graph, type Value } from '../../src/engine/ir/graph.js';
import * as op from '../../src/engine/ops/index.js';
import { buildTrainingGraph, warmupCosine } from '../../src/engine/optim/index.js';
import { ForwardSession } from '../../src/engine/runtime/session.js';
import { floatTensor, int64Tensor, toFloat32 } from '../../src/engine/runtime/tensors.js';
import { TrainingSession } from '../../src/engine/runtime/training.js';
import { Rng } from '../../src/util/rng.js';

const HIDDEN = 16;
const BATCH = 64;
const STEPS = 300;

/** Points around (+-1.5, +-1.5); the class is 1 when the two coordinates have the same sign. */
function xorBlobs(n: number, rng: Rng): { x: Float32Array; y: number[] } {
  const x = new Float32Array(n * 2);
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const sx = rng.next() < 0.5 ? -1 : 1;
    const sy = rng.next() < 0.5 ? -1 : 1;
    x[2 * i] = 1.5 * sx + 0.35 * rng.normal();
    x[2 * i + 1] = 1.5 * sy + 0.35 * rng.normal();
    y.push(sx === sy ? 1 : 0);
  }
  return { x, y };
}

function mlp(g: Graph, x: Value, p: Record<string, Value>): Value {
  const h = op.relu(op.add(op.matmul(x, p.w1!), p.b1!));
  return op.add(op.matmul(h, p.w2!), p.b2!);
}

const SHAPES: Record<string, number[]> = { w1: [2, HIDDEN], b1: [HIDDEN], w2: [HIDDEN, 2], b2: [2] };

function paramInputs(g: Graph): Record<string, Value> {
  return Object.fromEntries(Object.entries(SHAPES).map(([k, s]) => [k, g.input(k, 'float', s)]));
}

describe('toy training run', () => {
  it('learns XOR blobs: the loss falls and held-out accuracy exceeds 95%', async () => {
    const rng = new Rng(2024);

    const g = new Graph('toy_train');
    const x = g.input('x', 'float', [BATCH, 2]);
    const labels = g.input('labels', 'int64', [BATCH]);
    const params = paramInputs(g);
    const logits = mlp(g, x, params);
    const loss = op.softmaxCrossEntropy(logits, labels);
    const tg = buildTrainingGraph(g, { loss, params: Object.values(params), optimizer: { kind: 'adamw', hp: { weightDecay: 0.01 } }, outputs: { logits } });

    const init: Record<string, Float32Array> = {
      w1: Float32Array.from({ length: 2 * HIDDEN }, () => rng.normal() / Math.SQRT2),
      b1: new Float32Array(HIDDEN),
      w2: Float32Array.from({ length: HIDDEN * 2 }, () => rng.normal() / Math.sqrt(HIDDEN)),
      b2: new Float32Array(2),
    };
    const ts = await TrainingSession.create(tg.graph, tg.spec, init, { threads: 1 });

    const train = xorBlobs(1024, rng);
    const losses: number[] = [];
    for (let s = 0; s < STEPS; s++) {
      const idx = Array.from({ length: BATCH }, () => rng.int(train.y.length));
      const xb = new Float32Array(BATCH * 2);
      idx.forEach((j, i) => xb.set(train.x.subarray(2 * j, 2 * j + 2), 2 * i));
      const { loss: l } = await ts.step(
        { x: floatTensor(xb, [BATCH, 2]), labels: int64Tensor(idx.map((j) => train.y[j]!), [BATCH]) },
        { lr: warmupCosine(s, STEPS, 20, 0.03) },
      );
      losses.push(l);
    }
    const mean = (a: number[]) => a.reduce((p, q) => p + q, 0) / a.length;
    const first = mean(losses.slice(0, 10));
    const last = mean(losses.slice(-20));
    expect(losses.every(Number.isFinite)).toBe(true);
    expect(losses[0]).toBeGreaterThan(0.3); // the random init is no solution (chance level: ln 2 = 0.69)
    expect(last).toBeLessThan(0.05);
    expect(last).toBeLessThan(0.1 * first);

    // Held-out evaluation with a symbolic batch dim.
    const eg = new Graph('toy_eval');
    const ex = eg.input('x', 'float', ['batch', 2]);
    const ep = paramInputs(eg);
    eg.output('probs', op.softmax(mlp(eg, ex, ep)));
    const fs = await ForwardSession.create(eg);
    const test = xorBlobs(500, rng);
    const feeds = Object.fromEntries(Object.entries(SHAPES).map(([k, s]) => [k, floatTensor(ts.get(k) as Float32Array, s)]));
    const res = await fs.run({ ...feeds, x: floatTensor(test.x, [500, 2]) });
    const probs = toFloat32(res.probs!);
    let correct = 0;
    test.y.forEach((yi, i) => (correct += (probs[2 * i + 1]! > probs[2 * i]! ? 1 : 0) === yi ? 1 : 0));
    const acc = correct / test.y.length;
    expect(acc).toBeGreaterThan(0.95);
    await ts.release();
    await fs.release();
  });
});
