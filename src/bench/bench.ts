/**
 * `stmedfm bench`: medians of STMedFM's training step (2D batch 64, 3D batch 16) and inference
 * throughput (2D batch 256, 3D batch 32), through the same graphs training uses; with a PyTorch
 * eager baseline of the same model run in the same call when python3 + torch are available.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { buildTrainingGraph } from '../engine/optim/train_graph.js';
import { DataParallelTrainingSession } from '../engine/runtime/data_parallel.js';
import { TrainingSession } from '../engine/runtime/training.js';
import { floatTensor, int64Tensor } from '../engine/runtime/tensors.js';
import { Predictor } from '../inference/predictor.js';
import { STMEDFM_TINY, type TaskHead } from '../model/config.js';
import { ParamStore } from '../model/params.js';
import { STMedFM } from '../model/stmedfm.js';
import { buildDataParallelStep, dataParallelReplicas } from '../training/data_parallel.js';
import { buildLossGraph, classWeightsFeed } from '../training/graphs.js';
import { Rng } from '../util/rng.js';

export interface BenchResult {
  threads: number;
  train_step_ms: { '2d': number; '3d': number };
  /**
   * The training step data-parallel: `threads` replicas of one intra-op thread each, the batch
   * in shards, gradients summed, one AdamW update (what training runs with 2+ threads). Ours
   * only, at 2+ threads.
   */
  train_step_dp_ms?: { '2d': number; '3d': number };
  infer_per_s: { '2d': number; '3d': number };
}

export interface BenchOptions {
  threads: number;
  warmup: number;
  repeats: number;
  /** Only these parts (default all). */
  parts?: ('train2d' | 'train3d' | 'infer2d' | 'infer3d')[];
  /** Write ONNX Runtime profiles with this prefix. */
  profile?: string;
  /** At 2+ threads also time the data-parallel training step (default true). */
  dataParallel?: boolean;
  log?: (line: string) => void;
}

export const BENCH_HEADS: TaskHead[] = [
  { name: 'pathmnist', numClasses: 9, modality: '2d' },
  { name: 'organmnist3d', numClasses: 11, modality: '3d' },
];

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

export function randomData(n: number, seed: number): Float32Array {
  const rng = new Rng(seed);
  return Float32Array.from({ length: n }, () => rng.uniform(-1, 1));
}

async function timeIt(fn: () => Promise<unknown>, warmup: number, repeats: number): Promise<number> {
  for (let i = 0; i < warmup; i++) await fn();
  const ts: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    await fn();
    ts.push(performance.now() - t0);
  }
  return median(ts);
}

/**
 * Times several runners in alternating rounds (each `steps` runs in a row per round), after
 * `warmup` untimed runs of each, so that machine load hits all alike; every run's ms per runner.
 */
export async function timeInterleaved(runs: readonly (() => Promise<unknown>)[], o: { warmup: number; rounds: number; steps: number }): Promise<number[][]> {
  const times: number[][] = runs.map(() => []);
  for (const run of runs) for (let i = 0; i < o.warmup; i++) await run();
  for (let round = 0; round < o.rounds; round++) {
    for (let k = 0; k < runs.length; k++) {
      for (let s = 0; s < o.steps; s++) {
        const t0 = performance.now();
        await runs[k]!();
        times[k]!.push(performance.now() - t0);
      }
    }
  }
  return times;
}

/**
 * The training step of full fine-tuning of `task` on STMedFM-Tiny (the graph, its carried tensors'
 * initial values, and feeds of random data): what the benchmarks and the setup probes time.
 */
export function benchTrainingStep(task: string, batch: number) {
  const model = new STMedFM(STMEDFM_TINY, BENCH_HEADS);
  const store = ParamStore.init(model.specs(), 0);
  const trainable = model.trainableSpecs(task, 'full');
  const lg = buildLossGraph(model, store, new Set(trainable.map((s) => s.name)), [{ task, batchSize: batch }]);
  const params = [...lg.binder.trainableInputs.values()];
  const decay = new Map(trainable.map((s) => [s.name, s.decay]));
  const tg = buildTrainingGraph(lg.graph, { loss: lg.loss, params, decay: (p) => decay.get(p.name) ?? false });
  const init = Object.fromEntries(params.map((p) => [p.name, Float32Array.from(store.get(p.name).data)]));
  const names = lg.inputNames.get(task)!;
  const shape = [batch, ...lg.graph.findInput(names.x)!.shape.slice(1)] as number[];
  const x = floatTensor(randomData(shape.reduce((a, b) => a * b, 1), 1), shape);
  const classes = model.head(task).numClasses;
  const y = int64Tensor(Array.from({ length: batch }, (_, i) => i % classes), [batch]);
  const w = classWeightsFeed(model, { task, batchSize: batch });
  const feeds = { [names.x]: x, [names.y]: y, ...(names.w && w ? { [names.w]: floatTensor(w, [w.length]) } : {}) };
  return { graph: tg.graph, spec: tg.spec, init, feeds };
}

/**
 * A training step of full fine-tuning on random data, ready to run repeatedly (benchmarks and A/B
 * runs). With `replicas` > 1 the step is data-parallel: that many replicas of one thread each.
 */
export async function trainStepRunner(task: string, batch: number, opts: { threads: number; replicas?: number; profilePrefix?: string }) {
  const step = benchTrainingStep(task, batch);
  if ((opts.replicas ?? 1) > 1) {
    const dp = benchDataParallelStep(task, batch, opts.replicas!);
    const session = await DataParallelTrainingSession.create(dp.gradient.graph, dp.gradient.spec, dp.update, step.init, { replicas: opts.replicas!, shard: dp.shard });
    return { run: () => session.step(step.feeds, { lr: 1e-3 }), release: () => session.release() };
  }
  const session = await TrainingSession.create(step.graph, step.spec, step.init, { threads: opts.threads, ...(opts.profilePrefix ? { profilePrefix: opts.profilePrefix } : {}) });
  return {
    run: () => session.step(step.feeds, { lr: 1e-3 }),
    release: async () => {
      if (opts.profilePrefix) session.endProfiling();
      await session.release();
    },
  };
}

/** The data-parallel form of `benchTrainingStep`'s step (same model, parameters and feeds). */
export function benchDataParallelStep(task: string, batch: number, replicas: number) {
  const model = new STMedFM(STMEDFM_TINY, BENCH_HEADS);
  const store = ParamStore.init(model.specs(), 0);
  const trainable = model.trainableSpecs(task, 'full');
  const decay = new Map(trainable.map((s) => [s.name, s.decay]));
  return buildDataParallelStep(model, store, new Set(trainable.map((s) => s.name)), [{ task, batchSize: batch }], replicas, {
    decay: (p) => decay.get(p) ?? false,
    optimizer: { kind: 'adamw' },
  });
}

/**
 * Median ms of one full training step (forward, backward, AdamW) of full fine-tuning: one session
 * with `o.threads` intra-op threads, or with `replicas` data-parallel replicas of one thread.
 */
export async function benchTrainStep(task: 'pathmnist' | 'organmnist3d', batch: number, o: BenchOptions, replicas = 1): Promise<number> {
  const profile = o.profile && replicas === 1 ? { profilePrefix: `${o.profile}-train-${task}` } : {};
  const r = await trainStepRunner(task, batch, { threads: replicas > 1 ? 1 : o.threads, replicas, ...profile });
  const ms = await timeIt(r.run, o.warmup, o.repeats);
  await r.release();
  return ms;
}

/** Samples per second of the inference graph (softmax probabilities) at a given batch. */
export async function benchInference(task: 'pathmnist' | 'organmnist3d', batch: number, o: BenchOptions): Promise<number> {
  const model = new STMedFM(STMEDFM_TINY, BENCH_HEADS);
  const store = ParamStore.init(model.specs(), 0);
  const p = await Predictor.create(model, store, task, { threads: o.threads });
  const per = p.sampleShape.reduce((a, b) => a * b, 1);
  const x = randomData(batch * per, 2);
  const ms = await timeIt(() => p.run(x, batch), o.warmup, o.repeats);
  await p.release();
  return (batch / ms) * 1000;
}

export async function benchStmedfm(o: BenchOptions): Promise<BenchResult> {
  const parts = new Set(o.parts ?? ['train2d', 'train3d', 'infer2d', 'infer3d']);
  const log = o.log ?? (() => {});
  const r: BenchResult = { threads: o.threads, train_step_ms: { '2d': NaN, '3d': NaN }, infer_per_s: { '2d': NaN, '3d': NaN } };
  // Data-parallel rows beside the single-session ones, each right after its single-session twin.
  const dp = dataParallelReplicas(o.threads, [64, 16], o.dataParallel ?? true);
  if (dp > 1) r.train_step_dp_ms = { '2d': NaN, '3d': NaN };
  const dpNote = `data-parallel, ${dp} replicas x 1 thread`;
  if (parts.has('train2d')) {
    log(`2D train step (batch 64): ${(r.train_step_ms['2d'] = await benchTrainStep('pathmnist', 64, o)).toFixed(1)} ms`);
    if (r.train_step_dp_ms) log(`2D train step (batch 64, ${dpNote}): ${(r.train_step_dp_ms['2d'] = await benchTrainStep('pathmnist', 64, o, dp)).toFixed(1)} ms`);
  }
  if (parts.has('train3d')) {
    log(`3D train step (batch 16): ${(r.train_step_ms['3d'] = await benchTrainStep('organmnist3d', 16, o)).toFixed(1)} ms`);
    if (r.train_step_dp_ms) log(`3D train step (batch 16, ${dpNote}): ${(r.train_step_dp_ms['3d'] = await benchTrainStep('organmnist3d', 16, o, dp)).toFixed(1)} ms`);
  }
  if (parts.has('infer2d')) log(`2D inference (batch 256): ${(r.infer_per_s['2d'] = await benchInference('pathmnist', 256, o)).toFixed(0)} images/s`);
  if (parts.has('infer3d')) log(`3D inference (batch 32): ${(r.infer_per_s['3d'] = await benchInference('organmnist3d', 32, o)).toFixed(1)} volumes/s`);
  return r;
}

/** A python with torch: $STMEDFM_PYTHON, Debian's /usr/bin/python3, or python3 on PATH. */
export function findTorchPython(): string | undefined {
  for (const py of [process.env.STMEDFM_PYTHON, '/usr/bin/python3', 'python3']) {
    if (!py) continue;
    const r = spawnSync(py, ['-c', 'import torch'], { encoding: 'utf8' });
    if (r.status === 0) return py;
  }
  return undefined;
}

/**
 * glibc malloc settings for the PyTorch side, so that it is compared at its best: by default
 * glibc hands PyTorch's large per-step buffers back to the kernel (mmap/munmap, trim) and page-
 * faults them in again every step. Measured here at 1 thread: 2D step 118-145 ms without these,
 * 53.7 ms with them; 2D inference 806 -> 3,160 images/s; 3D step 1,254-1,317 -> 210 ms. Our side
 * is unaffected (ONNX Runtime keeps its own arena; the same settings left our figures unchanged).
 * Set in the environment to override.
 */
export const TORCH_MALLOC_ENV: Readonly<Record<string, string>> = {
  MALLOC_MMAP_THRESHOLD_: process.env.MALLOC_MMAP_THRESHOLD_ ?? '4294967296',
  MALLOC_TRIM_THRESHOLD_: process.env.MALLOC_TRIM_THRESHOLD_ ?? '4294967296',
  MALLOC_TOP_PAD_: process.env.MALLOC_TOP_PAD_ ?? '1073741824',
};

/** Runs bench/torch_stmedfm_bench.py (same model, same thread count) and parses its JSON line. */
export function torchBaseline(root: string, o: BenchOptions): BenchResult | { error: string } {
  const py = findTorchPython();
  if (!py) return { error: 'no python3 with torch found (apt-get install python3-torch, or set STMEDFM_PYTHON)' };
  const script = join(root, 'bench', 'torch_stmedfm_bench.py');
  if (!existsSync(script)) return { error: `${script} is missing` };
  const r = spawnSync(py, [script, '--threads', String(o.threads), '--warmup', String(o.warmup), '--repeats', String(o.repeats)], {
    encoding: 'utf8',
    env: { ...process.env, OMP_NUM_THREADS: String(o.threads), MKL_NUM_THREADS: String(o.threads), ...TORCH_MALLOC_ENV },
  });
  if (r.status !== 0) return { error: `torch baseline failed: ${(r.stderr || r.stdout).trim().split('\n').at(-1)}` };
  const line = r.stdout.trim().split('\n').at(-1) ?? '';
  try {
    return JSON.parse(line) as BenchResult;
  } catch {
    return { error: `torch baseline printed no JSON: ${line}` };
  }
}
