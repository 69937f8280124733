/**
 * A data-parallel training step (the batch in two shards on two replicas, gradients summed, one
 * AdamW update) is the single-session step: same loss and same parameters after three steps, for
 * every kind of loss the trainer builds. The shards' loss factors are what makes the sum exact:
 * with class weights and an uneven split of the labels, a plain 1/2 per shard is wrong.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { HostTensor } from '../../src/engine/ir/tensor.js';
import { buildTrainingGraph } from '../../src/engine/optim/train_graph.js';
import { DataParallelTrainingSession } from '../../src/engine/runtime/data_parallel.js';
import { liveReplicaThreads, workerReplicas } from '../../src/engine/runtime/replica_worker.js';
import { releaseIdleSessions } from '../../src/engine/runtime/session.js';
import { TrainingSession } from '../../src/engine/runtime/training.js';
import type { TaskHead } from '../../src/model/config.js';
import { ParamStore, type ParamSpec } from '../../src/model/params.js';
import { DEFAULT_LORA } from '../../src/model/peft.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { buildDataParallelStep, dataParallelReplicas } from '../../src/training/data_parallel.js';
import { type TaskBatch, buildLossGraph, classWeightsFeed, inputShape } from '../../src/training/graphs.js';
import { loadTaskFile } from '../../src/data/index.js';
import { taskHead } from '../../src/training/tasks.js';
import { train } from '../../src/training/trainer.js';
import { SMALL_28 } from '../helpers/models.js';
import { synthDataFile } from '../helpers/synth.js';

afterEach(releaseIdleSessions);

const HEADS: TaskHead[] = [
  { name: 'blood', numClasses: 4, modality: '2d' },
  { name: 'chest', numClasses: 5, modality: '2d', multiLabel: true },
  { name: 'organ', numClasses: 3, modality: '3d' },
];

// eps 1e-3 instead of 1e-8: with a tiny eps AdamW's m / sqrt(v) is sign(g) even for gradients
// that are float32 rounding noise (an entry summed from two shards may round the other way), so
// parameters would differ by up to lr where the gradient is ~0. With eps 1e-3 a difference in
// the gradient moves a parameter by at most ~lr / eps times as much.
const OPTIM = { kind: 'adamw' as const, hp: { weightDecay: 0.05, eps: 1e-3 } };
const LR = [2e-3, 1e-3, 5e-4];

function wave(n: number, seed: number): Float64Array {
  return Float64Array.from({ length: n }, (_, i) => Math.sin(i * 0.731 + seed * 1.3) * Math.cos(i * 0.117 + seed));
}

/** Step `s`'s feeds: images, labels (fixed per task so the shards' label mix is controlled) and class weights. */
function feedsFor(model: STMedFM, batches: readonly TaskBatch[], labels: Readonly<Record<string, readonly number[]>>, s: number): Record<string, HostTensor> {
  const feeds: Record<string, HostTensor> = {};
  for (const b of batches) {
    const head = model.head(b.task);
    const shape = [b.batchSize, ...inputShape(model, head.modality)];
    feeds[`x_${b.task}`] = { dtype: 'float', shape, data: wave(shape.reduce((a, c) => a * c, 1), s + b.task.length) };
    if (head.multiLabel) {
      feeds[`y_${b.task}`] = { dtype: 'float', shape: [b.batchSize, head.numClasses], data: Float64Array.from({ length: b.batchSize * head.numClasses }, (_, i) => ((i * 7 + s) % 3 === 0 ? 1 : 0)) };
    } else {
      feeds[`y_${b.task}`] = { dtype: 'int64', shape: [b.batchSize], data: Float64Array.from(labels[b.task]!) };
      const w = classWeightsFeed(model, b)!;
      feeds[`class_weights_${b.task}`] = { dtype: 'float', shape: [w.length], data: Float64Array.from(w) };
    }
  }
  return feeds;
}

interface Compared {
  loss: [number, number][];
  taskLoss: [number, number][];
  maxParamDiff: number;
  maxParamStep: number;
}

/** Three AdamW steps of one session and of two replicas from the same initial parameters. */
async function compareSteps(model: STMedFM, trainable: readonly ParamSpec[], batches: readonly TaskBatch[], labels: Readonly<Record<string, readonly number[]>> = {}): Promise<Compared> {
  const store = ParamStore.init(model.specs(), 3);
  const names = new Set(trainable.map((s) => s.name));
  const decay = new Map(trainable.map((s) => [s.name, s.decay]));
  const lg = buildLossGraph(model, store, names, batches);
  const params = [...lg.binder.trainableInputs.values()];
  const taskOutputs = batches.length > 1 ? Object.fromEntries([...lg.taskLosses].map(([t, v]) => [`loss_${t}`, v])) : {};
  const tg = buildTrainingGraph(lg.graph, { loss: lg.loss, params, decay: (p) => decay.get(p.name) ?? false, optimizer: OPTIM, outputs: taskOutputs });
  const init = Object.fromEntries(params.map((p) => [p.name, Float32Array.from(store.get(p.name).data)]));
  const single = await TrainingSession.create(tg.graph, tg.spec, init, { threads: 1 });
  const dp = buildDataParallelStep(model, store, names, batches, 2, { decay: (p) => decay.get(p) ?? false, optimizer: OPTIM });
  const par = await DataParallelTrainingSession.create(dp.gradient.graph, dp.gradient.spec, dp.update, init, { replicas: 2, shard: dp.shard });
  const fetch = Object.keys(taskOutputs);
  const out: Compared = { loss: [], taskLoss: [], maxParamDiff: 0, maxParamStep: 0 };
  try {
    for (let s = 0; s < 3; s++) {
      const feeds = feedsFor(model, batches, labels, s);
      const a = await single.step(feeds, { lr: LR[s]!, fetch });
      const b = await par.step(feeds, { lr: LR[s]!, fetch });
      out.loss.push([a.loss, b.loss]);
      for (const name of fetch) out.taskLoss.push([(a.outputs[name]!.data as Float32Array)[0]!, (b.outputs[name]!.data as Float32Array)[0]!]);
    }
    expect(par.steps).toBe(3);
    for (const p of params) {
      const a = single.get(p.name);
      const b = par.get(p.name);
      const p0 = init[p.name]!;
      for (let i = 0; i < a.length; i++) {
        out.maxParamDiff = Math.max(out.maxParamDiff, Math.abs(a[i]! - b[i]!));
        out.maxParamStep = Math.max(out.maxParamStep, Math.abs(a[i]! - p0[i]!));
      }
    }
    // Optimizer state is carried too (resume).
    expect(Object.keys(par.snapshot('state')).sort()).toEqual(Object.keys(single.snapshot('state')).sort());
  } finally {
    await single.release();
    await par.release();
  }
  return out;
}

/** Losses equal to float32 rounding; parameters after three steps far closer than the steps themselves. */
function expectSame(c: Compared): void {
  for (const [a, b] of [...c.loss, ...c.taskLoss]) expect(Math.abs(a - b)).toBeLessThan(2e-6 * Math.max(1, Math.abs(a)));
  expect(c.maxParamStep).toBeGreaterThan(1e-3); // the parameters did move
  expect(c.maxParamDiff).toBeLessThan(1e-6); // measured <= 1.2e-7, against steps of ~3.5e-3
}

describe('data-parallel training step', () => {
  const model = new STMedFM(SMALL_28, HEADS);

  it('plain cross-entropy: loss and every parameter after 3 AdamW steps equal the single session', async () => {
    expectSame(await compareSteps(model, model.trainableSpecs('blood', 'full'), [{ task: 'blood', batchSize: 8 }], { blood: [0, 1, 2, 3, 3, 2, 1, 0] }));
  });

  it('class-weighted cross-entropy with the labels split unevenly across the shards (each shard weighs its own share)', async () => {
    // Shard 0 holds only the light class, shard 1 only heavy ones: normalisers 0.8 and 11 of 11.8.
    const c = await compareSteps(model, model.trainableSpecs('blood', 'scratch-weighted'), [{ task: 'blood', batchSize: 8, classWeights: [0.2, 3, 2.5, 1] }], {
      blood: [0, 0, 0, 0, 1, 1, 2, 1],
    });
    expectSame(c);
  });

  it('multi-label binary cross-entropy', async () => {
    expectSame(await compareSteps(model, model.trainableSpecs('chest', 'full'), [{ task: 'chest', batchSize: 6 }]));
  });

  it('a multi-task pretraining batch (2D single-label, 2D multi-label and 3D; per-task factors and per-task losses)', async () => {
    const tasks = ['blood', 'chest', 'organ'];
    const c = await compareSteps(
      model,
      model.pretrainSpecs(tasks),
      [
        { task: 'blood', batchSize: 4, classWeights: [1, 4, 1, 0.5] },
        { task: 'chest', batchSize: 4 },
        { task: 'organ', batchSize: 2 },
      ],
      { blood: [1, 1, 3, 0], organ: [2, 0] },
    );
    expect(c.taskLoss).toHaveLength(9);
    expectSame(c);
  });

  it('LoRA (PEFT): only the adapters and the head train', async () => {
    const lora = new STMedFM(SMALL_28, HEADS, { ...DEFAULT_LORA, r: 2 });
    expectSame(await compareSteps(lora, lora.trainableSpecs('blood', 'lora'), [{ task: 'blood', batchSize: 4 }], { blood: [2, 0, 1, 3] }));
  });
});

describe('data-parallel replicas', () => {
  const model = new STMedFM(SMALL_28, HEADS);
  const batches = [{ task: 'blood', batchSize: 4 }];
  const trainable = model.trainableSpecs('blood', 'full');

  async function open(corrupt?: (shards: Record<string, unknown>[]) => void, cache = false) {
    const store = ParamStore.init(model.specs(), 1);
    const names = new Set(trainable.map((s) => s.name));
    const dp = buildDataParallelStep(model, store, names, batches, 2, { decay: () => true, optimizer: OPTIM });
    const init = Object.fromEntries(dp.gradient.spec.params.map((p) => [p.name, Float32Array.from(store.get(p.name).data)]));
    const shard = corrupt
      ? (f: Parameters<typeof dp.shard>[0], n: number) => {
          const s = dp.shard(f, n);
          corrupt(s);
          return s;
        }
      : dp.shard;
    return DataParallelTrainingSession.create(dp.gradient.graph, dp.gradient.spec, dp.update, init, { replicas: 2, shard, cache });
  }

  it("with the graph cache the replicas load the leader's optimised gradient graph; results are identical to the bit", async () => {
    const feeds = feedsFor(model, batches, { blood: [0, 1, 2, 3] }, 0);
    const plain = await open();
    const cached = await open(undefined, true);
    try {
      expect(plain.replicaOrigin).toBe('compiled');
      expect(cached.replicaOrigin).toBe('disk cache');
      for (let s = 0; s < 2; s++) expect((await cached.step(feeds, { lr: 1e-3 })).loss).toBe((await plain.step(feeds, { lr: 1e-3 })).loss);
      const name = plain.names('param')[0]!;
      expect(Buffer.from(cached.get(name).buffer).equals(Buffer.from(plain.get(name).buffer))).toBe(true);
    } finally {
      await plain.release();
      await cached.release();
    }
  });

  it('release ends the replica threads', async () => {
    const before = liveReplicaThreads();
    const s = await open();
    expect(liveReplicaThreads()).toBe(before + 1);
    await s.step(feedsFor(model, batches, { blood: [0, 1, 2, 3] }, 0), { lr: 1e-3 });
    await s.release();
    expect(liveReplicaThreads()).toBe(before);
  });

  it("an error in a replica's run surfaces in the leader, naming the replica, and ends the threads", async () => {
    const before = liveReplicaThreads();
    // Replica 1 is fed images of the wrong size: its ORT run fails inside the worker thread.
    const s = await open((shards) => {
      shards[1]!.x_blood = { dtype: 'float', shape: [2, 3, 14, 14], data: new Float64Array(2 * 3 * 14 * 14) };
    });
    const feeds = feedsFor(model, batches, { blood: [0, 1, 2, 3] }, 0);
    await expect(s.step(feeds, { lr: 1e-3 })).rejects.toThrow(/data-parallel replica 1 of 2 failed: .*x_blood/);
    expect(liveReplicaThreads()).toBe(before);
    await expect(s.step(feeds, { lr: 1e-3 })).rejects.toThrow(/a replica failed earlier/);
    await s.release();
  });

  it('a replica that cannot open its session fails to start with the reason, and its thread ends', async () => {
    const before = liveReplicaThreads();
    await expect(workerReplicas.spawn(Uint8Array.of(1, 2, 3), {})).rejects.toThrow(/replica could not open its session: .+/);
    await new Promise((r) => setTimeout(r, 50));
    expect(liveReplicaThreads()).toBe(before);
  });

  it('the trainer uses replicas only with 2+ threads and batches that split evenly, and can be turned off', () => {
    expect(dataParallelReplicas(1, [64])).toBe(1);
    expect(dataParallelReplicas(2, [64, 16])).toBe(2);
    expect(dataParallelReplicas(2, [64, 15])).toBe(1);
    expect(dataParallelReplicas(3, [64])).toBe(2);
    expect(dataParallelReplicas(2, [64], false)).toBe(1);
    const saved = process.env.STMEDFM_DATA_PARALLEL;
    process.env.STMEDFM_DATA_PARALLEL = '0';
    try {
      expect(dataParallelReplicas(2, [64])).toBe(1);
    } finally {
      if (saved === undefined) delete process.env.STMEDFM_DATA_PARALLEL;
      else process.env.STMEDFM_DATA_PARALLEL = saved;
    }
  });
});

describe('the trainer with 2 threads', () => {
  it('runs data-parallel by default (recorded in the result), one session when turned off, with the same losses', async () => {
    const split = loadTaskFile('bloodmnist', synthDataFile('bloodmnist', { seed: 2, imbalance: 4 }).file).train;
    const model = new STMedFM(SMALL_28, [taskHead('bloodmnist')]);
    const store = ParamStore.init(model.specs(), 0);
    const trainable = model.trainableSpecs('bloodmnist', 'scratch-weighted');
    const streams = [{ task: 'bloodmnist', split, batchSize: 8, classWeights: [1, 2, 0.5, 1, 3, 1, 1, 0.25] }];
    const run = (o: { dataParallel?: boolean; threads: number }) => train(model, store, trainable, streams, { steps: 3, seed: 1, ...o });
    const dp = await run({ threads: 2 });
    const one = await run({ threads: 1 });
    const off = await run({ threads: 2, dataParallel: false });
    expect(dp.parallelism).toEqual({ threads: 2, replicas: 2 });
    expect(one.parallelism).toEqual({ threads: 1, replicas: 1 });
    expect(off.parallelism).toEqual({ threads: 2, replicas: 1 });
    expect(liveReplicaThreads()).toBe(0);
    for (let i = 0; i < 3; i++) expect(dp.losses[i]).toBeCloseTo(one.losses[i]!, 5);
    for (let i = 0; i < 3; i++) expect(off.losses[i]).toBeCloseTo(one.losses[i]!, 5);
  });
});
