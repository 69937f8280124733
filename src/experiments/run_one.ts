/**
 * One run of a reproduce grid, by itself: what makes it done, and how it is executed and recorded.
 * A fine-tuning run is done only when its whole record is on disk and belongs to this exact run:
 * the checkpoint, the detail (runs/<id>.json) and the row (rows/<id>.json, written last) with every
 * column, both carrying the run's key (a hash of protocol, grid point and data contents).
 * A pretraining run is done when its checkpoint and its record runs/<id>.json are.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type TaskData, loadTaskFile } from '../data/index.js';
import { type ReliabilityBin, type RocCurve, calibrationBins, macroAuroc, multilabelAuroc, reliabilityDiagram, rocCurve, rocCurves } from '../evaluation/index.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { MODEL_CONFIGS } from '../model/config.js';
import { loadModel, saveModel } from '../training/checkpoint.js';
import { UserError } from '../training/errors.js';
import type { StepLog } from '../training/trainer.js';
import { type EvaluationResult, evaluate, finetune, pretrain } from '../training/workflows.js';
import { fingerprintFile, fingerprintFor } from './data_notes.js';
import type { FolderConfig } from './folder.js';
import type { FinetuneRun, PlannedRun, PretrainRun } from './plan.js';
import type { ResultRow, RunDetail } from './types.js';

export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

export const RESULT_COLUMNS: (keyof ResultRow)[] = [
  'task', 'method', 'seed', 'shots', 'lora_rank', 'lora_alpha', 'adapter_width', 'trainable_params', 'steps', 'train_seconds',
  'acc', 'auroc', 'ece', 'classwise_ece', 'brier', 'nll', 'temperature', 'ece_ts', 'brier_ts', 'nll_ts', 'val_acc', 'val_auroc', 'threads', 'data_parallel_replicas', 'run_key',
  'multi_label', 'temperature_at_bound', 'auroc_why', 'warnings',
];

/** The columns of results.csv: RESULT_COLUMNS, plus `image_size` after the other grid axes when the rows have an image-size axis. */
export function resultColumns(rows: readonly ResultRow[]): (keyof ResultRow)[] {
  if (!rows.some((r) => r.image_size !== undefined)) return RESULT_COLUMNS;
  const at = RESULT_COLUMNS.indexOf('adapter_width') + 1;
  return [...RESULT_COLUMNS.slice(0, at), 'image_size', ...RESULT_COLUMNS.slice(at)];
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

/** Everything that defines a run's result; the execution (threads, jobs, executor) is not part of it. */
export function runKey(config: FolderConfig, run: PlannedRun): string {
  const { index: _i, ...what } = run;
  const ident = { protocol: config.protocol, data: config.data.map((d) => [d.task, d.sha256]), run: what };
  return createHash('sha256').update(JSON.stringify(ident)).digest('hex').slice(0, 32);
}

export const paths = (out: string, id: string) => ({
  checkpoint: join(out, 'checkpoints', `${id}.safetensors`),
  row: join(out, 'rows', `${id}.json`),
  detail: join(out, 'runs', `${id}.json`),
  lock: join(out, 'locks', `${id}.lock`),
  failed: join(out, 'failed', `${id}.txt`),
});

function readJson<T>(path: string): T | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as T;
  } catch {
    return undefined;
  }
}

/** The run's row when the run is complete, else undefined. */
export function completedRow(out: string, config: FolderConfig, run: FinetuneRun): ResultRow | undefined {
  const p = paths(out, run.id);
  const key = runKey(config, run);
  const row = readJson<ResultRow>(p.row);
  if (!row || row.run_key !== key || RESULT_COLUMNS.some((c) => !(c in row))) return undefined;
  const detail = readJson<RunDetail>(p.detail);
  if (!detail || detail.run_key !== key) return undefined;
  if (!existsSync(p.checkpoint)) return undefined;
  return row;
}

export function completedDetail(out: string, run: FinetuneRun): RunDetail {
  return readJson<RunDetail>(paths(out, run.id).detail)!;
}

interface PretrainRecord {
  id: string;
  run_key: string;
  steps: number;
  threads: number;
  data_parallel_replicas: number;
  train_seconds: number;
  losses: number[];
}

export function isDone(out: string, config: FolderConfig, run: PlannedRun): boolean {
  if (run.kind === 'finetune') return completedRow(out, config, run) !== undefined;
  const rec = readJson<PretrainRecord>(paths(out, run.id).detail);
  return rec?.run_key === runKey(config, run) && existsSync(paths(out, run.id).checkpoint);
}

export function summarize(run: PlannedRun, out: string): string {
  if (run.kind === 'pretrain') {
    const rec = readJson<PretrainRecord>(paths(out, run.id).detail);
    return rec ? `${run.id}: ${rec.steps} steps in ${rec.train_seconds.toFixed(1)} s, loss ${rec.losses[0]!.toFixed(3)} -> ${rec.losses.at(-1)!.toFixed(3)}` : run.id;
  }
  const row = readJson<ResultRow>(paths(out, run.id).row);
  if (!row) return run.id;
  const f = (x: number | null) => (typeof x === 'number' ? x.toFixed(3) : 'n/a');
  return `${run.id}: acc ${f(row.acc)} auroc ${f(row.auroc)} ece ${f(row.ece)} (${row.trainable_params.toLocaleString('en-US')} params, ${row.train_seconds.toFixed(1)} s, ${row.threads} thread${row.threads === 1 ? '' : 's'})`;
}

export interface RunOptions {
  out: string;
  config: FolderConfig;
  threads: number;
  /**
   * Data already loaded by the caller (by task; with an image-size axis by sizedDataKey);
   * otherwise loaded from config.json's files.
   */
  loaded?: Map<string, TaskData>;
  onStep?: (log: StepLog) => void;
  shouldStop?: () => boolean;
}

/** The key of a task's data at an image size in a protocol with an image-size axis. */
export const sizedDataKey = (task: string, imageSize: number) => `${task}@${imageSize}`;

/**
 * Loads the tasks' files named in config.json (at the run's image size, with an image-size axis),
 * refusing a file whose content changed since. Returns the run's data by task; `cache` (by task,
 * or by sizedDataKey with an image-size axis) keeps what was loaded for later runs.
 */
export function loadConfiguredData(config: FolderConfig, tasks: readonly string[], cache = new Map<string, TaskData>(), imageSize?: number): Map<string, TaskData> {
  const sized = config.protocol.imageSizes !== undefined;
  const size = imageSize ?? 28;
  const out = new Map<string, TaskData>();
  for (const t of tasks) {
    const fp = sized ? fingerprintFor(config.data, t, size) : config.data.find((d) => d.task === t);
    const key = sized ? sizedDataKey(t, fp?.image_size ?? size) : t;
    let d = cache.get(key);
    if (!d) {
      if (!fp) throw new UserError(`config.json names no data file for ${t}${sized ? ` at ${size} px` : ''}`);
      if (!existsSync(fp.file)) throw new UserError(`${fp.file} (data of ${t}, named in config.json) does not exist on this machine`);
      if (fingerprintFile(fp.file).sha256 !== fp.sha256) throw new UserError(`${fp.file} changed since the folder was set up (its sha256 differs from config.json); use another --out`);
      d = loadTaskFile(t, fp.file);
      cache.set(key, d);
    }
    out.set(t, d);
  }
  return out;
}

export async function executeRun(run: PlannedRun, o: RunOptions): Promise<void> {
  const p = o.config.protocol;
  const model = MODEL_CONFIGS[p.model];
  if (!model) throw new UserError(`unknown --model '${p.model}'`);
  const key = runKey(o.config, run);
  const at = paths(o.out, run.id);
  // A stale failure note of an earlier attempt is no longer true once the run is retried.
  rmSync(at.failed, { force: true });
  if (run.kind === 'pretrain') return executePretrain(run, o, model, key);
  return executeFinetune(run, o, model, key);
}

async function executePretrain(run: PretrainRun, o: RunOptions, model: NonNullable<(typeof MODEL_CONFIGS)[string]>, key: string): Promise<void> {
  const p = o.config.protocol;
  const loaded = loadConfiguredData(o.config, p.tasks, o.loaded, run.imageSize);
  const t = await pretrain({
    tasks: p.tasks,
    // the model takes the data's image size (pretrain checks that all 2D tasks have one)
    config: model,
    loaded,
    seed: run.seed,
    threads: o.threads,
    steps: run.steps,
    batch2d: p.batch2d,
    batch3d: p.batch3d,
    optim: { lr: p.pretrainLr, warmup: p.warmup, weightDecay: p.weightDecay },
    onStep: o.onStep,
    shouldStop: o.shouldStop,
  });
  if (o.shouldStop?.()) throw new Interrupted();
  const at = paths(o.out, run.id);
  await saveModel(at.checkpoint, t.model, t.store, { ...t.training, train_seconds: t.result.seconds, losses: t.result.losses, threads: o.threads, data_parallel_replicas: t.result.parallelism.replicas, run_key: key });
  const rec: PretrainRecord = { id: run.id, run_key: key, steps: t.result.stepsDone, threads: o.threads, data_parallel_replicas: t.result.parallelism.replicas, train_seconds: Number(t.result.seconds.toFixed(3)), losses: t.result.losses.map((l) => Number(l.toFixed(5))) };
  writeFileAtomicSync(at.detail, json(rec));
}

async function executeFinetune(run: FinetuneRun, o: RunOptions, model: NonNullable<(typeof MODEL_CONFIGS)[string]>, key: string): Promise<void> {
  const p = o.config.protocol;
  const loaded = loadConfiguredData(o.config, [run.task], o.loaded, run.imageSize);
  let from;
  if (run.pretrainId) {
    const pre = paths(o.out, run.pretrainId);
    if (!existsSync(pre.checkpoint) || !existsSync(pre.detail)) throw new UserError(`${run.id} starts from ${run.pretrainId}, which has not finished; run it first`);
    from = await loadModel(pre.checkpoint);
  }
  const t = await finetune({
    task: run.task,
    method: run.method,
    config: model,
    ...(from ? { from } : {}),
    loaded,
    seed: run.seed,
    threads: o.threads,
    steps: run.steps,
    batch2d: p.batch2d,
    batch3d: p.batch3d,
    ...(run.shots !== null ? { shots: run.shots } : {}),
    ...(run.loraRank !== null ? { lora: { r: run.loraRank, alpha: run.loraAlpha! } } : {}),
    ...(run.adapterWidth !== null ? { adapter: { bottleneck: run.adapterWidth } } : {}),
    optim: { lr: p.lr[run.method], warmup: p.warmup, weightDecay: p.weightDecay },
    onStep: o.onStep,
    shouldStop: o.shouldStop,
  });
  if (o.shouldStop?.()) throw new Interrupted();
  // The temperature is the one finetune fitted on val and stored with the model (none for multi-label).
  const test = await evaluate(t, { task: run.task, split: 'test', loaded, threads: o.threads, temperature: true });
  const val = await evaluate(t, { task: run.task, split: 'val', loaded, threads: o.threads });
  const ts = test.temperature;
  const row: ResultRow = {
    task: run.task,
    method: run.method,
    seed: run.seed,
    shots: run.shots,
    lora_rank: run.loraRank,
    lora_alpha: run.loraAlpha,
    adapter_width: run.adapterWidth,
    ...(run.imageSize !== undefined ? { image_size: run.imageSize } : {}),
    trainable_params: t.result.trainableCount,
    steps: t.result.stepsDone,
    train_seconds: Number(t.result.seconds.toFixed(3)),
    acc: test.acc,
    auroc: test.auroc,
    ece: test.ece,
    classwise_ece: test.classwise_ece,
    brier: test.brier,
    nll: test.nll,
    temperature: ts?.t ?? null,
    ece_ts: ts?.ece ?? null,
    brier_ts: ts?.brier ?? null,
    nll_ts: ts?.nll ?? null,
    val_acc: val.acc,
    val_auroc: val.auroc,
    threads: o.threads,
    data_parallel_replicas: t.result.parallelism.replicas,
    run_key: key,
    multi_label: test.multi_label === true,
    temperature_at_bound: ts ? ts.at_bound : null,
    auroc_why: test.auroc_why ?? null,
    // What the user should know about this run: training (data, calibration) and test-set warnings, once each.
    warnings: [...new Set([...t.result.warnings, ...test.warnings])],
  };
  const labels = loaded.get(run.task)!.test.info.labels;
  const { rel, roc, perClass } = test.multi_label ? multiLabelCurves(test) : singleLabelCurves(test);
  const detail: RunDetail = {
    id: run.id,
    run_key: key,
    task: run.task,
    method: run.method,
    seed: run.seed,
    loss: t.result.losses.map((l) => Number(l.toFixed(5))),
    reliability: rel.bins.map((b) => ({ lo: b.lo, hi: b.hi, count: b.count, conf: b.confidence ?? 0, acc: b.accuracy ?? 0 })),
    roc: roc.flatMap((c, k) =>
      c ? [{ cls: k, label: labels[k] ?? String(k), fpr: c.fpr.map((v) => Number(v.toFixed(4))), tpr: c.tpr.map((v) => Number(v.toFixed(4))), auc: perClass[k] ?? NaN }] : [],
    ),
  };
  const at = paths(o.out, run.id);
  await saveModel(at.checkpoint, t.model, t.store, { ...t.training, train_seconds: t.result.seconds, threads: o.threads, data_parallel_replicas: t.result.parallelism.replicas, run_key: key }, t.config.calibration);
  // The detail first, the row last: a complete row on disk means the run is complete.
  writeFileAtomicSync(at.detail, json(detail));
  writeFileAtomicSync(at.row, json(row));
}

type Curves = { rel: { bins: readonly ReliabilityBin[] }; roc: readonly (RocCurve | null)[]; perClass: readonly (number | null)[] };

/** Top-label reliability and one-vs-rest ROC per class of softmax predictions. */
function singleLabelCurves(test: EvaluationResult): Curves {
  const shape = [test.n, test.probs.length / test.n];
  return {
    rel: reliabilityDiagram({ shape, data: test.probs }, test.labels),
    roc: rocCurves({ shape, data: test.probs }, test.labels),
    perClass: macroAuroc({ shape, data: test.probs }, test.labels).perClass,
  };
}

/** Multi-label: reliability of every (sample, label) probability against its 0/1 target, and one ROC per label. */
function multiLabelCurves(test: EvaluationResult): Curves {
  const labels = test.probs.length / test.n;
  const column = (a: ArrayLike<number>, l: number) => Float64Array.from({ length: test.n }, (_, i) => a[i * labels + l]!);
  return {
    rel: calibrationBins(test.probs, test.labels),
    roc: Array.from({ length: labels }, (_, l) => rocCurve(column(test.probs, l), column(test.labels, l))),
    perClass: multilabelAuroc(test.probs, test.labels, labels).perClass,
  };
}
