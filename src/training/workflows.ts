/**
 * The product's operations as library functions: multi-task pretraining, fine-tuning by one of
 * the five methods, and evaluation. The CLI and `reproduce` are thin layers over these.
 */
import { type DataSourceOptions, type TaskData, checkEvalLabels, checkTrainLabels, classWeights, loadTask, selectShots, splitClassIds } from '../data/index.js';
import { evaluateAll, evaluateMultilabel, temperatureScaling } from '../evaluation/index.js';
import { Predictor } from '../inference/predictor.js';
import { type ModelConfig, STMEDFM_TINY } from '../model/config.js';
import { ParamStore } from '../model/params.js';
import { DEFAULT_ADAPTER, DEFAULT_LORA, type AdapterConfig, type LoraConfig } from '../model/peft.js';
import { type Method, METHODS, STMedFM, countParams } from '../model/stmedfm.js';
import { type LoadedModel, loadModel, loadOptimizer } from './checkpoint.js';
import { UserError } from './errors.js';
import { DEFAULT_BATCH, DEFAULT_FINETUNE_STEPS, taskHead } from './tasks.js';
import { type OptimOptions, type StepLog, type TaskStream, type TrainResult, train } from './trainer.js';

export interface CommonTrainOptions {
  data?: DataSourceOptions;
  seed?: number;
  threads?: number;
  steps?: number;
  batch2d?: number;
  batch3d?: number;
  optim?: Partial<OptimOptions>;
  onStep?: (log: StepLog) => void;
  shouldStop?: () => boolean;
  /** Already-loaded task data (reproduce loads each file once). */
  loaded?: ReadonlyMap<string, TaskData>;
}

function dataFor(task: string, o: CommonTrainOptions): TaskData {
  return o.loaded?.get(task) ?? loadTask(task, o.data ?? {});
}

export interface PretrainOptions extends CommonTrainOptions {
  tasks: readonly string[];
  config?: ModelConfig;
}

export interface TrainedModel extends LoadedModel {
  result: TrainResult;
  training: Record<string, unknown>;
}

export async function pretrain(o: PretrainOptions): Promise<TrainedModel> {
  if (!o.tasks.length) throw new UserError('--tasks is empty; name at least one MedMNIST task, e.g. --tasks pathmnist,organmnist3d');
  const heads = o.tasks.map(taskHead);
  const model = new STMedFM(o.config ?? STMEDFM_TINY, heads);
  const seed = o.seed ?? 0;
  const store = ParamStore.init(model.specs(), seed);
  // Refuses a one-class train split before any training; warns of classes it cannot teach.
  const labelWarnings = heads.flatMap((h) => checkTrainLabels(dataFor(h.name, o).train, h.numClasses));
  const streams: TaskStream[] = heads.map((h) => ({
    task: h.name,
    split: dataFor(h.name, o).train,
    batchSize: h.modality === '2d' ? (o.batch2d ?? DEFAULT_BATCH['2d']) : (o.batch3d ?? DEFAULT_BATCH['3d']),
  }));
  const steps = o.steps ?? 200;
  const result = await train(model, store, model.pretrainSpecs(heads.map((h) => h.name)), streams, { steps, seed, threads: o.threads, optim: o.optim, onStep: o.onStep, shouldStop: o.shouldStop });
  result.warnings.unshift(...labelWarnings);
  const training = { kind: 'pretrain', tasks: heads.map((h) => h.name), steps, stepsDone: result.stepsDone, seed, optim: o.optim ?? {} };
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
  /** Resume a fine-tuning run from a checkpoint written by an interrupted run. */
  resumeFrom?: string;
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

  let model: STMedFM;
  let store: ParamStore;
  if (fromScratch) {
    model = new STMedFM(o.config ?? STMEDFM_TINY, [head]);
    store = ParamStore.init(model.specs(), seed);
  } else {
    const base = o.from!;
    if (base.model.peft) throw new UserError(`--from checkpoint already carries a ${base.model.peft.kind} config; fine-tune from a plain (pretrained or fully fine-tuned) checkpoint`);
    const known = base.model.headsByName.get(head.name);
    if (known && (known.numClasses !== head.numClasses || known.modality !== head.modality || !!known.multiLabel !== !!head.multiLabel)) {
      throw new UserError(`--from checkpoint has a head '${head.name}' with ${known.numClasses} classes, but the task has ${head.numClasses}`);
    }
    const heads = known ? [...base.model.heads] : [...base.model.heads, head];
    const peft = o.method === 'lora' ? { ...DEFAULT_LORA, ...o.lora } : o.method === 'adapter' ? { ...DEFAULT_ADAPTER, ...o.adapter } : undefined;
    model = new STMedFM(base.model.config, heads, peft);
    // The pretrained head of a known task is kept; new heads and PEFT tensors get fresh (seeded) init.
    store = ParamStore.init(model.specs(), seed);
    for (const name of base.store.names()) store.set(name, base.store.get(name));
  }

  const data = dataFor(head.name, o);
  const warnings: string[] = [...checkTrainLabels(data.train, head.numClasses), ...checkEvalLabels(data.val, head.numClasses)];
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
    batchSize: head.modality === '2d' ? (o.batch2d ?? DEFAULT_BATCH['2d']) : (o.batch3d ?? DEFAULT_BATCH['3d']),
    ...(pool ? { pool } : {}),
    ...(o.method === 'scratch-weighted' ? { classWeights: Array.from(classWeights(weightsFrom, head.numClasses)) } : {}),
  };
  const steps = o.steps ?? DEFAULT_FINETUNE_STEPS[head.modality];
  const optim = { lr: DEFAULT_LR[o.method], ...o.optim };
  const resume = o.resumeFrom ? await loadOptimizer(o.resumeFrom) : undefined;
  if (resume && o.resumeFrom) {
    const r = await loadModel(o.resumeFrom);
    for (const name of r.store.names()) if (store.has(name)) store.set(name, r.store.get(name));
  }
  const trainable = model.trainableSpecs(head.name, o.method);
  const result = await train(model, store, trainable, [stream], {
    steps,
    seed,
    threads: o.threads,
    optim,
    onStep: o.onStep,
    shouldStop: o.shouldStop,
    ...(resume ? { resume: { state: resume.state, stepsDone: resume.stepsDone } } : {}),
  });
  result.warnings.unshift(...warnings);
  const training = { kind: 'finetune', task: head.name, method: o.method, steps, stepsDone: result.stepsDone, seed, shots: o.shots ?? null, optim, trainable_params: countParams(trainable) };
  return { model, store: result.store, config: { format: 'stmedfm/1', model: model.config, heads: [...model.heads], ...(model.peft ? { peft: model.peft } : {}), training }, result, training };
}

export interface EvaluateOptions {
  task: string;
  split: 'train' | 'val' | 'test';
  data?: DataSourceOptions;
  threads?: number;
  batchSize?: number;
  loaded?: ReadonlyMap<string, TaskData>;
  /** Also fit a temperature on val and report metrics after scaling. */
  temperature?: boolean;
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
  temperature?: { t: number; ece: number; brier: number; nll: number; acc: number; auroc: number; at_bound: boolean };
  /** Raw outputs for plots (not printed by the CLI). */
  probs: Float32Array;
  logits: Float32Array;
  labels: Int32Array;
}

export async function evaluate(m: LoadedModel, o: EvaluateOptions): Promise<EvaluationResult> {
  const head = m.model.head(taskHead(o.task).name);
  const data = o.loaded?.get(head.name) ?? loadTask(head.name, o.data ?? {});
  const predictor = await Predictor.create(m.model, m.store, head.name, { threads: o.threads, ...(o.batchSize ? { batch: o.batchSize } : {}) });
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
    if (o.temperature && o.split !== 'val') {
      const val = await predictor.runSplit(data.val);
      const ts = temperatureScaling({ logits: { shape: [val.n, val.classes], data: val.logits }, labels: val.labels }, { logits: { shape, data: out.logits }, labels: out.labels });
      res.temperature = { t: ts.fit.temperature, ece: ts.after.ece, brier: ts.after.brier, nll: ts.after.nll, acc: ts.after.acc, auroc: ts.after.auroc, at_bound: ts.fit.atBound };
      if (ts.warning) res.warnings.push(ts.warning);
    }
    return res;
  } finally {
    await predictor.release();
  }
}
