/**
 * `stmedfm reproduce`: per seed one multi-task pretraining, then every task x method, each
 * evaluated on test and val. Every finished piece is written atomically as it completes
 * (checkpoints, rows/<id>.json, runs/<id>.json), so a re-run of the same command after an
 * interrupt skips what is done and ends with the same results.
 */
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { type DataSourceOptions, type TaskData, loadTask } from '../data/index.js';
import { macroAuroc, reliabilityDiagram, rocCurves } from '../evaluation/index.js';
import { writeFileAtomicSync } from '../io/atomic.js';
import { MODEL_CONFIGS } from '../model/config.js';
import type { Method } from '../model/stmedfm.js';
import { type LoadedModel, loadModel, saveModel } from '../training/checkpoint.js';
import { UserError } from '../training/errors.js';
import { taskHead } from '../training/tasks.js';
import type { StepLog } from '../training/trainer.js';
import { evaluate, finetune, pretrain } from '../training/workflows.js';
import { type ProtocolConfig, runId, validateProtocol } from './protocol.js';
import type { ResultRow, RunDetail } from './types.js';

export interface ReproduceEvents {
  /** A unit of work starts: pretraining of a seed or one fine-tuning run. */
  onRunStart?: (info: { id: string; index: number; total: number; steps: number }) => void;
  onStep?: (log: StepLog) => void;
  /** A unit finished (or was found done on disk). */
  onRunEnd?: (info: { id: string; index: number; total: number; skipped: boolean; summary: string }) => void;
  shouldStop?: () => boolean;
}

export interface ReproduceOptions {
  out: string;
  data: DataSourceOptions;
  protocol: ProtocolConfig;
  events?: ReproduceEvents;
}

export interface ReproduceResult {
  rows: ResultRow[];
  details: RunDetail[];
  complete: boolean;
  seconds: number;
}

export class Interrupted extends Error {
  constructor() {
    super('interrupted');
    this.name = 'Interrupted';
  }
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

function finetuneSteps(p: ProtocolConfig, task: string): number {
  return taskHead(task).modality === '2d' ? p.finetuneSteps2d : p.finetuneSteps3d;
}

/** Refuses to mix results of different configs in one folder. */
function checkConfig(out: string, p: ProtocolConfig): void {
  const path = join(out, 'config.json');
  const text = json({ protocol: p });
  if (existsSync(path)) {
    const prev = readFileSync(path, 'utf8');
    if (prev !== text) {
      throw new UserError(`${out} holds results of a different configuration (see ${path}); use another --out, or delete the folder to start over`);
    }
  } else {
    writeFileAtomicSync(path, text);
  }
}

export async function reproduce(o: ReproduceOptions): Promise<ReproduceResult> {
  const p = o.protocol;
  validateProtocol(p);
  const config = MODEL_CONFIGS[p.model];
  if (!config) throw new UserError(`unknown --model '${p.model}'`);
  for (const t of p.tasks) taskHead(t);
  const ev = o.events ?? {};
  for (const sub of ['checkpoints', 'rows', 'runs']) mkdirSync(join(o.out, sub), { recursive: true });
  checkConfig(o.out, p);
  // Leftover temp files of a killed write are never results; clear them.
  for (const sub of ['checkpoints', 'rows', 'runs']) {
    for (const f of readdirSync(join(o.out, sub))) if (f.includes('.tmp')) rmSync(join(o.out, sub, f), { force: true });
  }

  const loaded = new Map<string, TaskData>();
  for (const t of p.tasks) loaded.set(taskHead(t).name, loadTask(t, o.data));

  const total = p.seeds.length * (1 + p.tasks.length * p.methods.length);
  let index = 0;
  const t0 = performance.now();
  const rows: ResultRow[] = [];
  const details: RunDetail[] = [];
  const needsPretrain = p.methods.some((m) => m === 'full' || m === 'lora' || m === 'adapter');
  const stop = () => {
    if (ev.shouldStop?.()) throw new Interrupted();
  };

  for (const seed of p.seeds) {
    // 1. multi-task pretraining of this seed
    const preId = `pretrain-s${seed}`;
    const prePath = join(o.out, 'checkpoints', `${preId}.safetensors`);
    let pre: LoadedModel | undefined;
    index++;
    if (needsPretrain) {
      if (existsSync(prePath)) {
        pre = await loadModel(prePath);
        ev.onRunEnd?.({ id: preId, index, total, skipped: true, summary: `${preId}: done earlier` });
      } else {
        ev.onRunStart?.({ id: preId, index, total, steps: p.pretrainSteps });
        const t = await pretrain({
          tasks: p.tasks,
          config,
          loaded,
          seed,
          threads: p.threads,
          steps: p.pretrainSteps,
          batch2d: p.batch2d,
          batch3d: p.batch3d,
          optim: { lr: p.pretrainLr, warmup: p.warmup, weightDecay: p.weightDecay },
          onStep: ev.onStep,
          shouldStop: ev.shouldStop,
        });
        stop();
        await saveModel(prePath, t.model, t.store, { ...t.training, train_seconds: t.result.seconds, losses: t.result.losses });
        pre = t;
        ev.onRunEnd?.({ id: preId, index, total, skipped: false, summary: `${preId}: ${p.pretrainSteps} steps in ${t.result.seconds.toFixed(1)} s, loss ${t.result.losses[0]!.toFixed(3)} -> ${t.result.losses.at(-1)!.toFixed(3)}` });
      }
    } else {
      ev.onRunEnd?.({ id: preId, index, total, skipped: true, summary: `${preId}: not needed by the chosen methods` });
    }

    // 2. every task x method
    for (const task of p.tasks) {
      for (const method of p.methods) {
        index++;
        const id = runId(task, method, seed);
        const rowPath = join(o.out, 'rows', `${id}.json`);
        const detailPath = join(o.out, 'runs', `${id}.json`);
        if (existsSync(rowPath) && existsSync(detailPath)) {
          const row = JSON.parse(readFileSync(rowPath, 'utf8')) as ResultRow;
          rows.push(row);
          details.push(JSON.parse(readFileSync(detailPath, 'utf8')) as RunDetail);
          ev.onRunEnd?.({ id, index, total, skipped: true, summary: `${id}: done earlier (auroc ${row.auroc.toFixed(3)})` });
          continue;
        }
        const steps = finetuneSteps(p, task);
        ev.onRunStart?.({ id, index, total, steps });
        const t = await finetune({
          task,
          method,
          config,
          ...(pre && !method.startsWith('scratch') ? { from: pre } : {}),
          loaded,
          seed,
          threads: p.threads,
          steps,
          batch2d: p.batch2d,
          batch3d: p.batch3d,
          ...(p.shots !== null ? { shots: p.shots } : {}),
          optim: { lr: p.lr[method], warmup: p.warmup, weightDecay: p.weightDecay },
          onStep: ev.onStep,
          shouldStop: ev.shouldStop,
        });
        stop();
        const test = await evaluate(t, { task, split: 'test', loaded, threads: p.threads, temperature: true });
        const val = await evaluate(t, { task, split: 'val', loaded, threads: p.threads });
        const row: ResultRow = {
          task,
          method,
          seed,
          trainable_params: t.result.trainableCount,
          steps: t.result.stepsDone,
          train_seconds: Number(t.result.seconds.toFixed(3)),
          acc: test.acc,
          auroc: test.auroc,
          ece: test.ece,
          classwise_ece: test.classwise_ece,
          brier: test.brier,
          nll: test.nll,
          temperature: test.temperature!.t,
          ece_ts: test.temperature!.ece,
          brier_ts: test.temperature!.brier,
          nll_ts: test.temperature!.nll,
          val_acc: val.acc,
          val_auroc: val.auroc,
        };
        const shape = [test.n, test.probs.length / test.n];
        const rel = reliabilityDiagram({ shape, data: test.probs }, test.labels);
        const labels = loaded.get(task)!.test.info.labels;
        const roc = rocCurves({ shape, data: test.probs }, test.labels);
        const perClass = macroAuroc({ shape, data: test.probs }, test.labels).perClass;
        const detail: RunDetail = {
          id,
          task,
          method,
          seed,
          loss: t.result.losses.map((l) => Number(l.toFixed(5))),
          reliability: rel.bins.map((b) => ({ lo: b.lo, hi: b.hi, count: b.count, conf: b.confidence ?? 0, acc: b.accuracy ?? 0 })),
          roc: roc.flatMap((c, k) =>
            c ? [{ cls: k, label: labels[k] ?? String(k), fpr: c.fpr.map((v) => Number(v.toFixed(4))), tpr: c.tpr.map((v) => Number(v.toFixed(4))), auc: perClass[k] ?? NaN }] : [],
          ),
        };
        const ckPath = join(o.out, 'checkpoints', `${id}.safetensors`);
        await saveModel(ckPath, t.model, t.store, { ...t.training, train_seconds: t.result.seconds });
        // The detail first, the row last: a row on disk means the run is complete.
        writeFileAtomicSync(detailPath, json(detail));
        writeFileAtomicSync(rowPath, json(row));
        rows.push(row);
        details.push(detail);
        ev.onRunEnd?.({
          id,
          index,
          total,
          skipped: false,
          summary: `${id}: acc ${row.acc.toFixed(3)} auroc ${row.auroc.toFixed(3)} ece ${row.ece.toFixed(3)} (${row.trainable_params.toLocaleString('en-US')} params, ${row.train_seconds.toFixed(1)} s)`,
        });
      }
    }
  }
  return { rows: sortRows(rows, p), details, complete: true, seconds: (performance.now() - t0) / 1000 };
}

export function sortRows(rows: ResultRow[], p: ProtocolConfig): ResultRow[] {
  const key = (r: ResultRow) => [p.tasks.indexOf(r.task), p.methods.indexOf(r.method), r.seed];
  return [...rows].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < 3; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return 0;
  });
}

export const RESULT_COLUMNS: (keyof ResultRow)[] = [
  'task', 'method', 'seed', 'trainable_params', 'steps', 'train_seconds', 'acc', 'auroc', 'ece', 'classwise_ece', 'brier', 'nll', 'temperature', 'ece_ts', 'brier_ts', 'nll_ts', 'val_acc', 'val_auroc',
];

export function toCsv(rows: readonly ResultRow[]): string {
  const lines = [RESULT_COLUMNS.join(',')];
  for (const r of rows) lines.push(RESULT_COLUMNS.map((c) => String(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

export function machineInfo(threads: number) {
  return { cpus: availableParallelism(), threads, node: process.version, ort: ort.env.versions?.common ?? 'unknown' };
}

