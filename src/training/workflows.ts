/**
 * The product's operations as library functions: multi-task pretraining, fine-tuning by one of
 * the five methods, and evaluation. The CLI and `reproduce` are thin layers over these.
 */
import { type DataSourceOptions, type TaskData, type TaskSplit, checkEvalLabels, checkTrainLabels, classWeights, loadTask, selectShots, splitClassIds, splitFingerprint } from '../data/index.js';
import { applyTemperature, evaluateAll, evaluateMultilabel, temperatureScaling } from '../evaluation/index.js';
import { INFERENCE_BATCH, Predictor } from '../inference/predictor.js';
import { type ModelConfig, STMEDFM_TINY, type TaskHead } from '../model/config.js';
import { ParamStore } from '../model/params.js';
import { DEFAULT_ADAPTER, DEFAULT_LORA, type AdapterConfig, type LoraConfig } from '../model/peft.js';
import { type Method, METHODS, STMedFM, countParams } from '../model/stmedfm.js';
import { type LoadedModel, type ResumePoint, type TrainingState, loadResumePoint } from './checkpoint.js';
import { type TaskCalibration, atSearchBound, calibrationFromLogits, storedTemperature, whyNotCalibrated } from './calibration.js';
import { UserError } from './errors.js';
import { checkImageSizeFits, configForData } from './image_size.js';
import { checkHeadFits } from './task_from_data.js';
import { DEFAULT_BATCH, DEFAULT_FINETUNE_STEPS, taskHead } from './tasks.js';
import { DEFAULT_OPTIM, type OptimOptions, type StepLog, type TaskStream, type TrainResult, train } from './trainer.js';

export interface CommonTrainOptions {
  data?: DataSourceOptions;
  seed?: number;
  threads?: number;
  /** Data-parallel steps with 2+ threads (default true; see TrainOptions.dataParallel). */
  dataParallel?: boolean;
  steps?: number;
  batch2d?: number;
  batch3d?: number;
  optim?: Partial<OptimOptions>;
  onStep?: (log: StepLog) => void;
  shouldStop?: () => boolean;
  /** Already-loaded task data (reproduce loads each file once). */
  loaded?: ReadonlyMap<string, TaskData>;
  /**
   * Continue an interrupted run from this checkpoint and its optimizer sidecar. The run's
   * settings must equal the interrupted run's (checked before training), so that the result
   * equals an uninterrupted run; `steps` defaults to the interrupted run's.
   */
  resumeFrom?: string;
}

function dataFor(task: string, o: CommonTrainOptions): TaskData {
  return o.loaded?.get(task) ?? loadTask(task, o.data ?? {});
}

/** A split that training or evaluation cannot do without; empty ones are refused naming file and task. */
function nonEmpty(split: TaskSplit, why: string): TaskSplit {
  if (split.n === 0) throw new UserError(`${split.file}: the ${split.split} split of ${split.task} is empty (0 samples); ${why}`);
  return split;
}

const show = (v: unknown): string => {
  const t = JSON.stringify(v) ?? 'none';
  return t.length > 80 ? `${t.slice(0, 77)}...` : t;
};

/**
 * Loads a resume point and checks it was written by a run with exactly these settings: another
 * task, method, model, PEFT config, seed, batch or optimizer setting would not continue the
 * same run. Returns the point and the total steps to run.
 */
async function resumePoint(path: string, expect: Record<string, unknown>, model: STMedFM, requestedSteps: number | undefined): Promise<{ point: ResumePoint; steps: number; warnings: string[] }> {
  const point = await loadResumePoint(path);
  const t = point.training;
  if (t.kind !== expect.kind) throw new UserError(`--resume ${path} is a ${String(t.kind ?? 'unknown')} checkpoint; \`${String(expect.kind)}\` cannot continue it`);
  const diffs: string[] = [];
  const cfg = point.loaded.config;
  if (JSON.stringify(cfg.model) !== JSON.stringify(model.config)) diffs.push(`model ${show(cfg.model)} vs ${show(model.config)}`);
  if (JSON.stringify(cfg.heads) !== JSON.stringify(model.heads)) diffs.push(`heads ${cfg.heads.map((h) => h.name).join(',')} vs ${model.heads.map((h) => h.name).join(',')}`);
  if (JSON.stringify(cfg.peft ?? null) !== JSON.stringify(model.peft ?? null)) diffs.push(`PEFT config ${show(cfg.peft ?? null)} vs ${show(model.peft ?? null)}`);
  for (const [k, v] of Object.entries(expect)) {
    if (k === 'kind') continue;
    if (JSON.stringify(t[k] ?? null) === JSON.stringify(v ?? null)) continue;
    diffs.push(k === 'train_data' ? `the training data differ (content fingerprint ${show(t[k] ?? null)} vs ${show(v)}: other --data or a changed file)` : `${k} ${show(t[k] ?? null)} vs ${show(v ?? null)}`);
  }
  if (diffs.length) {
    throw new UserError(`--resume ${path} was written by a run with other settings (checkpoint vs this command: ${diffs.slice(0, 3).join('; ')}); resume with the interrupted run's settings, or start a new run without --resume`);
  }
  const original = Number(t.steps);
  const steps = requestedSteps ?? original;
  const warnings: string[] = [];
  if (steps !== original && steps > point.stepsDone) {
    warnings.push(`the interrupted run was for ${original} steps and this one is for ${steps}: the learning-rate schedule changes, so the result will differ from an uninterrupted ${steps}-step run`);
  }
  return { point, steps, warnings };
}

export interface PretrainOptions extends CommonTrainOptions {
  tasks: readonly string[];
  config?: ModelConfig;
}

export interface TrainedModel extends LoadedModel {
  result: TrainResult;
  training: Record<string, unknown>;
}

/** What `saveTrainingPair` writes for a trained (or interrupted) run. */
export function trainingState(t: TrainedModel): TrainingState {
  return { model: t.model, store: t.store, training: t.training, optimizerState: t.result.optimizerState, stepsDone: t.result.stepsDone, ...(t.config.calibration ? { calibration: t.config.calibration } : {}) };
}

export async function pretrain(o: PretrainOptions): Promise<TrainedModel> {
  if (!o.tasks.length) throw new UserError('--tasks is empty; name at least one MedMNIST task, e.g. --tasks pathmnist,organmnist3d');
  const heads = o.tasks.map(taskHead);
  const seed = o.seed ?? 0;
  const batch2d = o.batch2d ?? DEFAULT_BATCH['2d'];
  const batch3d = o.batch3d ?? DEFAULT_BATCH['3d'];
  const optim = { ...DEFAULT_OPTIM, ...o.optim };
  // The train splits' content is part of what the run is: resuming on other data would not continue it.
  const data = new Map(heads.map((h) => [h.name, dataFor(h.name, o)]));
  // The model takes the data's image size (28 px: the SPEC's config itself).
  const model = new STMedFM(configForData(o.config ?? STMEDFM_TINY, [...data.values()].map((d) => d.train)), heads);
  const trainData = Object.fromEntries(heads.map((h) => [h.name, splitFingerprint(data.get(h.name)!.train)]));
  const identity = { kind: 'pretrain', tasks: heads.map((h) => h.name), seed, batch2d, batch3d, optim, train_data: trainData };
  const resume = o.resumeFrom ? await resumePoint(o.resumeFrom, identity, model, o.steps) : undefined;
  const steps = resume?.steps ?? o.steps ?? 200;
  const store = resume ? resume.point.loaded.store : ParamStore.init(model.specs(), seed);
  // Refuses an empty or one-class train split before any training; warns of classes it cannot teach.
  const labelWarnings = heads.flatMap((h) => checkTrainLabels(nonEmpty(data.get(h.name)!.train, 'nothing to pretrain on'), h.numClasses));
  const streams: TaskStream[] = heads.map((h) => ({
    task: h.name,
    split: data.get(h.name)!.train,
    batchSize: h.modality === '2d' ? batch2d : batch3d,
  }));
  const result = await train(model, store, model.pretrainSpecs(heads.map((h) => h.name)), streams, {
    steps,
    seed,
    threads: o.threads,
    ...(o.dataParallel !== undefined ? { dataParallel: o.dataParallel } : {}),
    optim,
    onStep: o.onStep,
    shouldStop: o.shouldStop,
    ...(resume ? { resume: { state: resume.point.optimizer.state, stepsDone: resume.point.stepsDone } } : {}),
  });
  result.warnings.unshift(...(resume?.warnings ?? []), ...labelWarnings);
  // Multi-task pretraining trains every task's head together with the shared weights.
  const training = { ...identity, steps, stepsDone: result.stepsDone, trained_heads: heads.map((h) => h.name) };
  return { model, store: result.store, config: { format: 'stmedfm/1', model: model.config, heads, training }, result, training };
}

export interface FinetuneOptions extends CommonTrainOptions {
  task: string;
  method: Method;
  /** Pretrained checkpoint (required for full, lora and adapter). */
  from?: LoadedModel;
  shots?: number;
  lora?: Partial<LoraConfig>;
  adapter?: Partial<AdapterConfig>;
  config?: ModelConfig;
}

export const DEFAULT_LR: Record<Method, number> = { scratch: 1e-3, 'scratch-weighted': 1e-3, full: 1e-3, lora: 3e-3, adapter: 3e-3 };

export async function finetune(o: FinetuneOptions): Promise<TrainedModel> {
  if (!METHODS.includes(o.method)) throw new UserError(`unknown method '${o.method}'; choose one of ${METHODS.join(', ')}`);
  const head = taskHead(o.task);
  const seed = o.seed ?? 0;
  const fromScratch = o.method === 'scratch' || o.method === 'scratch-weighted';
  if (head.multiLabel && (o.method === 'scratch-weighted' || o.shots !== undefined)) {
    const what = o.method === 'scratch-weighted' ? 'class weights (--method scratch-weighted)' : '--shots (k examples per class)';
    throw new UserError(`${head.name} is a multi-label task: ${what} need one class per sample; use --method scratch, full, lora or adapter without --shots`);
  }
  if (!fromScratch && !o.from) throw new UserError(`method '${o.method}' starts from a pretrained checkpoint: pass --from FILE.safetensors (from \`stmedfm pretrain\`)`);
  if (fromScratch && o.from) throw new UserError(`method '${o.method}' trains from random weights and does not use --from; drop --from, or use --method full (or lora/adapter) to start from the checkpoint`);

  const data = dataFor(head.name, o);
  let model: STMedFM;
  let store: ParamStore;
  if (fromScratch) {
    model = new STMedFM(configForData(o.config ?? STMEDFM_TINY, [data.train]), [head]);
    store = ParamStore.init(model.specs(), seed);
  } else {
    const base = o.from!;
    checkImageSizeFits(base.model.config, data.train, 'the checkpoint to start from');
    if (base.model.peft) throw new UserError(`--from checkpoint already carries a ${base.model.peft.kind} config; fine-tune from a plain (pretrained or fully fine-tuned) checkpoint`);
    const known = base.model.headsByName.get(head.name);
    if (known) checkHeadFits(known, head, '--from checkpoint');
    const heads = known ? [...base.model.heads] : [...base.model.heads, head];
    const peft = o.method === 'lora' ? { ...DEFAULT_LORA, ...o.lora } : o.method === 'adapter' ? { ...DEFAULT_ADAPTER, ...o.adapter } : undefined;
    model = new STMedFM(base.model.config, heads, peft);
    // The pretrained head of a known task is kept; new heads and PEFT tensors get fresh (seeded) init.
    store = ParamStore.init(model.specs(), seed);
    for (const name of base.store.names()) store.set(name, base.store.get(name));
  }

  const batch = head.modality === '2d' ? (o.batch2d ?? DEFAULT_BATCH['2d']) : (o.batch3d ?? DEFAULT_BATCH['3d']);
  const optim = { ...DEFAULT_OPTIM, lr: DEFAULT_LR[o.method], ...o.optim };
  // The train split's content is part of what the run is: resuming on other data would not continue it.
  const identity = { kind: 'finetune', task: head.name, method: o.method, seed, shots: o.shots ?? null, batch, optim, train_data: splitFingerprint(data.train) };
  const resume = o.resumeFrom ? await resumePoint(o.resumeFrom, identity, model, o.steps) : undefined;
  if (resume) store = resume.point.loaded.store;

  nonEmpty(data.train, 'nothing to fine-tune on');
  const warnings: string[] = [...(resume?.warnings ?? []), ...checkTrainLabels(data.train, head.numClasses)];
  if (data.val.n > 0) warnings.push(...checkEvalLabels(data.val, head.numClasses));
  for (const s of [data.val, data.test]) {
    if (s.n === 0) warnings.push(`${s.file}: the ${s.split} split of ${head.name} is empty, so \`evaluate --split ${s.split}\`${s.split === 'val' ? ' and temperature scaling' : ''} cannot use this file`);
  }
  // Single-label only (multi-label refused --shots and class weights above).
  const labels = head.multiLabel ? undefined : splitClassIds(data.train);
  let pool: Int32Array | undefined;
  if (o.shots !== undefined) {
    const sel = selectShots(labels!, o.shots, seed, { numClasses: head.numClasses, classNames: data.train.info.labels });
    pool = sel.indices;
    warnings.push(...sel.warnings);
  }
  const weightsFrom = pool ? Array.from(pool, (i) => labels![i]!) : labels!;
  const stream: TaskStream = {
    task: head.name,
    split: data.train,
    batchSize: batch,
    ...(pool ? { pool } : {}),
    ...(o.method === 'scratch-weighted' ? { classWeights: Array.from(classWeights(weightsFrom, head.numClasses)) } : {}),
  };
  const steps = resume?.steps ?? o.steps ?? DEFAULT_FINETUNE_STEPS[head.modality];
  const trainable = model.trainableSpecs(head.name, o.method);
  const result = await train(model, store, trainable, [stream], {
    steps,
    seed,
    threads: o.threads,
    ...(o.dataParallel !== undefined ? { dataParallel: o.dataParallel } : {}),
    optim,
    onStep: o.onStep,
    shouldStop: o.shouldStop,
    ...(resume ? { resume: { state: resume.point.optimizer.state, stepsDone: resume.point.stepsDone } } : {}),
  });
  result.warnings.unshift(...warnings);
  // Only this task's head is trained with the new weights; other heads kept from --from are stale.
  const training = { ...identity, steps, stepsDone: result.stepsDone, trainable_params: countParams(trainable), trained_heads: [head.name] };
  const calibration = await finetuneCalibration(model, result, head, data.val, o);
  return {
    model,
    store: result.store,
    config: { format: 'stmedfm/1', model: model.config, heads: [...model.heads], ...(model.peft ? { peft: model.peft } : {}), training, ...(calibration ? { calibration } : {}) },
    result,
    training,
  };
}

/**
 * The calibration a finished fine-tuning run stores: this task's temperature, fitted on val. Heads
 * kept from --from get none (their calibration was for other weights). An interrupted run fits
 * nothing. An empty val split was already warned about above, so only other reasons are added.
 */
async function finetuneCalibration(model: STMedFM, result: TrainResult, head: TaskHead, val: TaskSplit, o: FinetuneOptions): Promise<Record<string, TaskCalibration> | undefined> {
  if (result.interrupted) return undefined;
  const why = whyNotCalibrated(head, val);
  if (why) {
    if (val.n > 0) result.warnings.push(why);
    return undefined;
  }
  const predictor = await Predictor.create(model, result.store, head.name, { threads: o.threads, batch: Math.min(INFERENCE_BATCH[head.modality], val.n) });
  let fit;
  try {
    const out = await predictor.runSplit(val);
    fit = calibrationFromLogits(out.logits, out.labels, out.classes);
  } finally {
    await predictor.release();
  }
  if (fit.warning) result.warnings.push(fit.warning);
  return { [head.name]: fit.calibration };
}

export interface EvaluateOptions {
  task: string;
  split: 'train' | 'val' | 'test';
  data?: DataSourceOptions;
  threads?: number;
  batchSize?: number;
  loaded?: ReadonlyMap<string, TaskData>;
  /**
   * Also report metrics after temperature scaling: with the temperature stored in the checkpoint
   * for this task (fitted on val by `finetune`), or, when it has none, one fitted on val here.
   */
  temperature?: boolean;
  /** Fit the temperature on val even when the checkpoint stores one (needs `temperature`). */
  fitTemperature?: boolean;
}

export interface EvaluationResult {
  task: string;
  split: string;
  n: number;
  acc: number;
  auroc: number;
  ece: number;
  classwise_ece: number;
  brier: number;
  nll: number;
  auroc_skipped: number[];
  /** Why `auroc` is NaN (only then); show "n/a (why)" instead of NaN. */
  auroc_why?: string;
  /** Degenerate data and an out-of-range temperature, in words (empty normally). */
  warnings: string[];
  /**
   * Multi-label tasks (as medmnist's evaluator): acc over all labels at p > 0.5, auroc the mean
   * over labels, ece = classwise_ece the mean of `per_label_ece`, brier and nll (BCE) over all
   * entries; no temperature scaling.
   */
  multi_label?: boolean;
  per_label_ece?: number[];
  temperature?: { t: number; ece: number; brier: number; nll: number; acc: number; auroc: number; at_bound: boolean; source: 'checkpoint' | 'fitted on val' };
  /** Raw outputs for plots (not printed by the CLI). */
  probs: Float32Array;
  logits: Float32Array;
  labels: Int32Array;
}

export async function evaluate(m: LoadedModel, o: EvaluateOptions): Promise<EvaluationResult> {
  const head = m.model.head(taskHead(o.task).name);
  const data = o.loaded?.get(head.name) ?? loadTask(head.name, o.data ?? {});
  checkImageSizeFits(m.model.config, data[o.split], 'the checkpoint');
  nonEmpty(data[o.split], 'nothing to evaluate; use another --split or a file with samples in it');
  const stored = o.temperature && !o.fitTemperature && !head.multiLabel ? storedTemperature(m.config, head.name) : undefined;
  const withTemperature = o.temperature && stored === undefined && o.split !== 'val' && !head.multiLabel;
  if (withTemperature) nonEmpty(data.val, 'temperature scaling is fitted on val; pass --no-temperature to skip it');
  // The graph has a fixed batch and pads the last piece: a batch above the largest split only adds padding.
  const largest = Math.max(data[o.split].n, withTemperature ? data.val.n : 0);
  const batch = Math.min(o.batchSize ?? INFERENCE_BATCH[head.modality], largest);
  const predictor = await Predictor.create(m.model, m.store, head.name, { threads: o.threads, batch });
  try {
    const out = await predictor.runSplit(data[o.split]);
    const shape = [out.n, out.classes];
    if (head.multiLabel) {
      const r = evaluateMultilabel({ logits: out.logits }, out.labels, head.numClasses);
      return {
        task: head.name,
        split: o.split,
        n: out.n,
        acc: r.acc,
        auroc: r.auroc,
        ece: r.ece,
        classwise_ece: r.ece,
        brier: r.brier,
        nll: r.nll,
        auroc_skipped: [...r.auroc_skipped],
        ...(r.auroc_why ? { auroc_why: `${r.auroc_why} (${o.split} split)` } : {}),
        warnings: checkEvalLabels(data[o.split], head.numClasses),
        multi_label: true,
        per_label_ece: [...r.per_label_ece],
        probs: out.probs,
        logits: out.logits,
        labels: out.labels,
      };
    }
    const r = evaluateAll({ logits: { shape, data: out.logits } }, out.labels);
    const res: EvaluationResult = {
      task: head.name,
      split: o.split,
      n: out.n,
      acc: r.acc,
      auroc: r.auroc,
      ece: r.ece,
      classwise_ece: r.classwise_ece,
      brier: r.brier,
      nll: r.nll,
      auroc_skipped: [...r.auroc_skipped],
      ...(r.auroc_why ? { auroc_why: `${r.auroc_why} (${o.split} split)` } : {}),
      warnings: checkEvalLabels(data[o.split], head.numClasses),
      probs: out.probs,
      logits: out.logits,
      labels: out.labels,
    };
    if (stored !== undefined) {
      const after = evaluateAll({ logits: { shape, data: applyTemperature({ shape, data: out.logits }, stored) } }, out.labels);
      res.temperature = { t: stored, ece: after.ece, brier: after.brier, nll: after.nll, acc: after.acc, auroc: after.auroc, at_bound: atSearchBound(stored), source: 'checkpoint' };
      if (res.temperature.at_bound) res.warnings.push(`the checkpoint's temperature for ${head.name} (T = ${stored}) is at its search bound: the calibrated probabilities are not a meaningful calibration`);
    } else if (withTemperature) {
      const val = await predictor.runSplit(data.val);
      const ts = temperatureScaling({ logits: { shape: [val.n, val.classes], data: val.logits }, labels: val.labels }, { logits: { shape, data: out.logits }, labels: out.labels });
      res.temperature = { t: ts.fit.temperature, ece: ts.after.ece, brier: ts.after.brier, nll: ts.after.nll, acc: ts.after.acc, auroc: ts.after.auroc, at_bound: ts.fit.atBound, source: 'fitted on val' };
      if (ts.warning) res.warnings.push(ts.warning);
    }
    return res;
  } finally {
    await predictor.release();
  }
}
