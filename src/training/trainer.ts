/**
 * The training loop: one compiled step graph (forward, backward, AdamW) per run, driven by
 * ONNX Runtime. Used for multi-task pretraining (one batch per task per step, summed losses) and
 * for fine-tuning (one task). Batches are random-access by step, so a resumed run sees exactly
 * the batches an uninterrupted run would.
 */
import { type TaskSplit, TrainBatcher, classIds, multiLabelTargets, toInput } from '../data/index.js';
import { buildTrainingGraph } from '../engine/optim/train_graph.js';
import { warmupCosine } from '../engine/optim/schedule.js';
import type { SessionOrigin } from '../engine/runtime/session.js';
import { DataParallelTrainingSession } from '../engine/runtime/data_parallel.js';
import { TrainingSession } from '../engine/runtime/training.js';
import { floatTensor, int64Tensor } from '../engine/runtime/tensors.js';
import type { ParamSpec, ParamStore } from '../model/params.js';
import type { STMedFM } from '../model/stmedfm.js';
import { UserError } from './errors.js';
import { buildDataParallelStep, dataParallelReplicas } from './data_parallel.js';
import { buildLossGraph, classWeightsFeed, type TaskBatch } from './graphs.js';

export interface OptimOptions {
  lr: number;
  warmup: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  eps: number;
}

export const DEFAULT_OPTIM: OptimOptions = { lr: 1e-3, warmup: 10, weightDecay: 0.05, beta1: 0.9, beta2: 0.999, eps: 1e-8 };

/** A task's batch spec plus where its samples come from. */
export interface TaskStream extends TaskBatch {
  split: TaskSplit;
  /** Training indices to draw from (few-shot subsets); default: the whole split. */
  pool?: ArrayLike<number>;
}

export interface StepLog {
  step: number;
  total: number;
  loss: number;
  taskLosses: Record<string, number>;
  lr: number;
}

export interface TrainOptions {
  steps: number;
  seed: number;
  threads?: number;
  /**
   * With threads >= 2, run each step data-parallel (the batch in shards on `threads` replicas of
   * one intra-op thread each, gradients summed, one AdamW update) when the batches split evenly;
   * default true. False: one session with `threads` intra-op threads. STMEDFM_DATA_PARALLEL=0
   * turns it off too.
   */
  dataParallel?: boolean;
  optim?: Partial<OptimOptions>;
  /** Resume: optimizer state by carried-tensor name and the number of steps already done. */
  resume?: { state: Record<string, Float32Array>; stepsDone: number };
  onStep?: (log: StepLog) => void;
  /** Called before each step; returning true stops there (Ctrl-C): the result has the steps done so far. */
  shouldStop?: () => boolean;
}

export interface TrainResult {
  /** Trained parameters (a copy of the store with the trainable tensors replaced). */
  store: ParamStore;
  losses: number[];
  seconds: number;
  stepsDone: number;
  /** The step this run started from (0, or the resumed checkpoint's steps). */
  startStep: number;
  /** Stopped by `shouldStop` before `steps` were done. */
  interrupted: boolean;
  trainableCount: number;
  /** AdamW state for resuming. */
  optimizerState: Record<string, Float32Array>;
  warnings: string[];
  /**
   * Seconds spent building the training graph (forward, backward, AdamW) and creating its ONNX
   * Runtime session, and where the session's compiled graph came from.
   */
  setupSeconds: { graph: number; session: number; origin: SessionOrigin };
  /** How the steps ran: `threads`, and `replicas` > 1 for data-parallel steps (each replica one thread). */
  parallelism: { threads: number; replicas: number };
}

export async function train(model: STMedFM, store: ParamStore, trainable: readonly ParamSpec[], streams: readonly TaskStream[], opts: TrainOptions): Promise<TrainResult> {
  const o = { ...DEFAULT_OPTIM, ...opts.optim };
  if (!Number.isInteger(opts.steps) || opts.steps < 1) throw new UserError(`--steps must be a positive integer, got ${opts.steps}`);
  if (!(o.lr > 0) || !Number.isFinite(o.lr)) throw new UserError(`--lr must be a positive number, got ${o.lr}`);
  if (!(o.weightDecay >= 0) || !Number.isFinite(o.weightDecay)) throw new UserError(`--weight-decay must be >= 0 (AdamW's decoupled decay; 0 turns it off), got ${o.weightDecay}`);
  if (!Number.isInteger(o.warmup) || o.warmup < 0) throw new UserError(`--warmup must be an integer >= 0, got ${o.warmup}`);
  for (const s of streams) {
    const n = s.pool ? s.pool.length : s.split.n;
    if (n === 0) throw new UserError(`${s.split.file}: the ${s.split.split} split of ${s.task} is empty (0 samples); nothing to train on`);
  }
  const start = opts.resume?.stepsDone ?? 0;
  if (start >= opts.steps) {
    throw new UserError(`--steps ${opts.steps} is not above the ${start} steps the resumed checkpoint has already done; ask for more steps (e.g. --steps ${start + 1}) or do not resume`);
  }
  const warmup = Math.min(o.warmup, opts.steps);

  const warnings: string[] = [];
  const batchers = streams.map((s, k) => {
    const b = new TrainBatcher(s.pool ?? s.split.n, s.batchSize, (opts.seed * 7919 + k * 104729) >>> 0);
    if (b.warning) warnings.push(`${s.task}: ${b.warning}`);
    return b;
  });
  const batches: TaskBatch[] = streams.map((s, k) => ({ task: s.task, batchSize: batchers[k]!.batchSize, classWeights: s.classWeights }));
  const trainableNames = new Set(trainable.map((s) => s.name));
  const threads = opts.threads ?? 1;
  const replicas = dataParallelReplicas(threads, batches.map((b) => b.batchSize), opts.dataParallel ?? true);
  const tSetup = performance.now();
  const decayByName = new Map(trainable.map((s) => [s.name, s.decay]));
  const optimizer = { kind: 'adamw' as const, hp: { beta1: o.beta1, beta2: o.beta2, eps: o.eps, weightDecay: o.weightDecay } };
  let graphSeconds: number;
  let open: (init: Record<string, Float32Array>) => Promise<TrainingSession | DataParallelTrainingSession>;
  let carried: readonly { input: string; kind: string; shape: readonly number[] }[];
  let inputNames: Map<string, { x: string; y: string; w?: string }>;
  let params: string[];
  if (replicas > 1) {
    const dp = buildDataParallelStep(model, store, trainableNames, batches, replicas, { decay: (p) => decayByName.get(p) ?? false, optimizer });
    graphSeconds = (performance.now() - tSetup) / 1000;
    params = dp.gradient.spec.params.map((p) => p.name);
    carried = dp.update.spec.carried;
    inputNames = dp.inputNames;
    open = (init) => DataParallelTrainingSession.create(dp.gradient.graph, dp.gradient.spec, dp.update, init, { replicas, shard: dp.shard, cache: true });
  } else {
    const lg = buildLossGraph(model, store, trainableNames, batches);
    const ps = [...lg.binder.trainableInputs.values()];
    const tg = buildTrainingGraph(lg.graph, {
      loss: lg.loss,
      params: ps,
      decay: (p) => decayByName.get(p.name) ?? false,
      optimizer,
      outputs: Object.fromEntries([...lg.taskLosses].map(([t, v]) => [`loss_${t}`, v])),
    });
    graphSeconds = (performance.now() - tSetup) / 1000;
    params = ps.map((p) => p.name);
    carried = tg.spec.carried;
    inputNames = lg.inputNames;
    // Runs of the same graph shape (scratch, scratch-weighted, full of a task; every seed) share one compiled graph.
    open = (init) => TrainingSession.create(tg.graph, tg.spec, init, { threads, cache: true });
  }
  const init: Record<string, Float32Array> = {};
  for (const p of params) init[p] = Float32Array.from(store.get(p).data);
  if (opts.resume) {
    // The optimizer state must be exactly this run's: same tensors, same sizes.
    const want = new Map(carried.filter((c) => c.kind === 'state').map((c) => [c.input, c.shape.reduce((a, b) => a * b, 1)]));
    const have = Object.entries(opts.resume.state);
    const wrong = have.filter(([k, v]) => want.get(k) !== v.length).map(([k]) => k);
    const missing = [...want.keys()].filter((k) => !(k in opts.resume!.state));
    if (wrong.length || missing.length) {
      throw new UserError(
        `the resumed optimizer state does not fit this run's trainable parameters (${[...missing.map((k) => `missing ${k}`), ...wrong.map((k) => `unexpected ${k}`)].slice(0, 3).join('; ')}); resume with the run's original settings`,
      );
    }
    Object.assign(init, opts.resume.state);
  }
  const session = await open(init);
  const setupSeconds = { graph: graphSeconds, session: (performance.now() - tSetup) / 1000 - graphSeconds, origin: session.origin };
  session.steps = start; // AdamW's bias correction continues from the resumed step count

  const losses: number[] = [];
  const t0 = performance.now();
  const fetch = streams.length > 1 ? streams.map((s) => `loss_${s.task}`) : [];
  // Class weights are data fed with every batch (ones for an unweighted loss), not part of the graph.
  const classWeights = new Map<string, Float32Array>();
  for (const b of batches) {
    const w = classWeightsFeed(model, b);
    const name = inputNames.get(b.task)!.w;
    if (w && name) classWeights.set(name, w);
  }
  let step = start;
  let interrupted = false;
  try {
    for (; step < opts.steps; step++) {
      // Checked before each step, so a stop requested while the graph was being built runs no step.
      if (opts.shouldStop?.()) {
        interrupted = true;
        break;
      }
      const feeds: Record<string, ReturnType<typeof floatTensor>> = {};
      // A fresh tensor per step: onnxruntime-web's worker proxy (the browser app) transfers, and so detaches, every fed buffer.
      for (const [name, w] of classWeights) feeds[name] = floatTensor(w.slice(), [w.length]);
      streams.forEach((s, k) => {
        const { indices } = batchers[k]!.batchAt(step);
        const x = toInput(s.split, indices);
        const names = inputNames.get(s.task)!;
        feeds[names.x] = floatTensor(x.data, x.shape);
        const head = model.head(s.task);
        feeds[names.y] = head.multiLabel
          ? floatTensor(multiLabelTargets(s.split, indices), [indices.length, head.numClasses])
          : int64Tensor(classIds(s.split, indices), [indices.length]);
      });
      const lr = warmupCosine(step, opts.steps, warmup, o.lr);
      const r = await session.step(feeds, { lr, fetch });
      const taskLosses: Record<string, number> = {};
      if (fetch.length) for (const s of streams) taskLosses[s.task] = Number((r.outputs[`loss_${s.task}`]!.data as Float32Array)[0]);
      else taskLosses[streams[0]!.task] = r.loss;
      if (!Number.isFinite(r.loss)) {
        throw new UserError(
          `training diverged: the loss became ${r.loss} at step ${step + 1}/${opts.steps} (lr ${lr.toExponential(2)}); ` +
            `lower --lr or check the data`,
        );
      }
      losses.push(r.loss);
      opts.onStep?.({ step: step + 1, total: opts.steps, loss: r.loss, taskLosses, lr });
    }
  } catch (e) {
    // Ends the session (and a data-parallel run's replica threads) before the error leaves.
    await session.release();
    throw e;
  }
  const seconds = (performance.now() - t0) / 1000;
  const out = store.clone();
  for (const p of params) out.set(p, { dtype: 'float', shape: [...store.get(p).shape], data: Float64Array.from(session.get(p)) });
  const optimizerState: Record<string, Float32Array> = {};
  for (const name of session.names('state')) optimizerState[name] = Float32Array.from(session.get(name));
  await session.release();
  const trainableCount = params.reduce((n, p) => n + store.get(p).data.length, 0);
  return { store: out, losses, seconds, stepsDone: step, startStep: start, interrupted, trainableCount, optimizerState, warnings, setupSeconds, parallelism: { threads, replicas } };
}
