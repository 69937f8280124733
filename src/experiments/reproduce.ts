/**
 * `stmedfm reproduce`: per seed one multi-task pretraining, and every fine-tuning run of the
 * grid, `jobs` at a time in worker processes (each `stmedfm reproduce --run-index I`, with its
 * share of the cores); a run that starts from a pretraining waits for it, the others (scratch)
 * run beside it. Every finished run is written atomically as it
 * completes (see run_one.ts), so a re-run of the same command after an interrupt, even kill -9,
 * skips what is done and ends with the same results. Results do not depend on `jobs`: a run's
 * numbers depend only on its own inputs and its thread count, which every row records.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import ort from 'onnxruntime-node';
import { type DataSourceOptions, type TaskData, loadTask, loadTaskFile } from '../data/index.js';
import { MODEL_CONFIGS } from '../model/config.js';
import { UserError } from '../training/errors.js';
import { taskHead } from '../training/tasks.js';
import { type DataFingerprint, fingerprintData } from './data_notes.js';
import { type FolderConfig, openFolder } from './folder.js';
import type { Lock } from './lock.js';
import { type PlannedRun, planRuns } from './plan.js';
import { type ProtocolConfig, validateProtocol } from './protocol.js';
import { Interrupted, completedDetail, completedRow, executeRun, isDone, paths, sizedDataKey, summarize } from './run_one.js';
import type { ResultRow, RunDetail } from './types.js';

export { Interrupted, RESULT_COLUMNS, resultColumns } from './run_one.js';

export interface StepInfo {
  step: number;
  total: number;
  loss: number;
}

export interface ReproduceEvents {
  /** A run starts (several may be running at once). */
  onRunStart?: (info: { id: string; kind: PlannedRun['kind']; total: number; steps: number; threads: number }) => void;
  onStep?: (id: string, log: StepInfo) => void;
  /** A run finished, failed, or was found done on disk; `done` counts runs over with so far. */
  onRunEnd?: (info: { id: string; kind: PlannedRun['kind']; done: number; total: number; skipped: boolean; summary: string; failed?: string }) => void;
  shouldStop?: () => boolean;
}

export interface ReproduceOptions {
  out: string;
  data: DataSourceOptions;
  protocol: ProtocolConfig;
  /** Fine-tuning runs at once (default: the cores available). */
  jobs?: number;
  /** Threads per fine-tuning run (default: a fair share of the cores, cores / jobs). */
  threads?: number;
  /** Threads of pretraining (default: `threads` when given, else all cores). */
  pretrainThreads?: number;
  /** How to start the CLI in a worker process: argv before `reproduce` (default: this process's). */
  cli?: string[];
  events?: ReproduceEvents;
}

export interface ReproduceResult {
  rows: ResultRow[];
  details: RunDetail[];
  /** Runs that failed, by name, with their one-line reason. */
  failed: { id: string; reason: string }[];
  seconds: number;
  threads: { finetune: number; pretrain: number; jobs: number };
}

/**
 * Jobs and threads. Pretraining gets all cores when it would run alone; when other runs can run
 * beside it (several seeds' pretraining, or scratch runs, which do not start from it) and
 * `jobs` > 1, it is one job among them with a fair share, like a fine-tuning run: independent
 * runs use cores better than one run's intra-op threads do (measured on this 2-core machine:
 * a training step is no faster with 2 threads than with 1).
 */
export function executionDefaults(o: { jobs?: number; threads?: number; pretrainThreads?: number }, plan?: readonly PlannedRun[]) {
  const cores = availableParallelism();
  const jobs = o.jobs ?? cores;
  if (!Number.isInteger(jobs) || jobs < 1) throw new UserError('--jobs must be a positive integer');
  const finetune = o.threads ?? Math.max(1, Math.floor(cores / jobs));
  const pretrain = o.pretrainThreads ?? o.threads ?? (jobs > 1 && plan && pretrainingShares(plan) ? finetune : cores);
  return { jobs, finetune, pretrain };
}

/** True when some other run can run while a pretraining run does. */
export function pretrainingShares(plan: readonly PlannedRun[]): boolean {
  const pretrains = plan.filter((r) => r.kind === 'pretrain').length;
  return pretrains > 1 || (pretrains === 1 && plan.some((r) => r.kind === 'finetune' && r.pretrainId === null));
}

/** Checks every flag and data file, then opens the folder: nothing is created for a rejected input. */
export function prepare(out: string, protocol: ProtocolConfig, data: DataSourceOptions): { config: FolderConfig; loaded: Map<string, TaskData>; lock: Lock } {
  validateProtocol(protocol);
  if (!MODEL_CONFIGS[protocol.model]) throw new UserError(`unknown --model '${protocol.model}'`);
  const tasks = protocol.tasks.map((t) => taskHead(t).name);
  const fingerprints: DataFingerprint[] = fingerprintData(tasks, data, protocol.imageSizes);
  const loaded = new Map<string, TaskData>();
  if (protocol.imageSizes === undefined) {
    for (const t of tasks) loaded.set(t, loadTask(t, data));
  } else {
    // one file per task and image size; each must hold images of the size it was found for
    for (const fp of fingerprints) {
      const d = loadTaskFile(fp.task, fp.file);
      if (d.train.info.dim === 2 && d.train.imageSize !== fp.image_size) {
        throw new UserError(`${fp.file} has ${d.train.imageSize}-px images, but it was found as the ${fp.image_size}-px file of ${fp.task}; rename it, or give each size its own file with --data ${fp.task}=FILE`);
      }
      loaded.set(sizedDataKey(fp.task, fp.image_size!), d);
    }
  }
  const config: FolderConfig = { protocol, data: fingerprints };
  const lock = openFolder(out, config);
  return { config, loaded, lock };
}

/** The default worker command: this same CLI (node, its flags such as tsx's loader, the script). */
export function thisCli(): string[] {
  return [process.execPath, ...process.execArgv, process.argv[1]!];
}

export async function reproduce(o: ReproduceOptions): Promise<ReproduceResult> {
  const ex = executionDefaults(o);
  const { config, loaded, lock } = prepare(o.out, o.protocol, o.data);
  try {
    return await runAll(o, config, loaded, ex);
  } finally {
    lock.release();
  }
}

async function runAll(o: ReproduceOptions, config: FolderConfig, loaded: Map<string, TaskData>, ex: ReturnType<typeof executionDefaults>): Promise<ReproduceResult> {
  const ev = o.events ?? {};
  const plan = planRuns(config.protocol);
  const total = plan.length;
  let done = 0;
  const t0 = performance.now();
  const failed: { id: string; reason: string }[] = [];
  const stop = () => {
    if (ev.shouldStop?.()) throw new Interrupted();
  };
  const end = (run: PlannedRun, skipped: boolean, reason?: string) => {
    done++;
    ev.onRunEnd?.({ id: run.id, kind: run.kind, done, total, skipped, summary: reason ? `${run.id}: FAILED: ${reason}` : skipped ? `${run.id}: done earlier` : summarize(run, o.out), ...(reason ? { failed: reason } : {}) });
  };
  const inProcess = async (run: PlannedRun, threads: number) => {
    ev.onRunStart?.({ id: run.id, kind: run.kind, total, steps: run.steps, threads });
    await executeRun(run, { out: o.out, config, threads, loaded, onStep: (l) => ev.onStep?.(run.id, l), shouldStop: ev.shouldStop });
    stop();
    end(run, false);
  };

  const todo: PlannedRun[] = [];
  for (const run of plan) {
    if (isDone(o.out, config, run)) end(run, true);
    else todo.push(run);
  }
  if (ex.jobs <= 1) {
    // in this process: pretraining first (every run that starts from it needs it), then fine-tuning
    for (const run of todo) await inProcess(run, run.kind === 'pretrain' ? ex.pretrain : ex.finetune);
  } else {
    // `jobs` worker processes (which load their own data, so this process lets go of its copy:
    // peak memory is then about one process per job); a run starts once its pretraining is done
    loaded.clear();
    await runPool(todo, { ...o, cli: o.cli ?? thisCli() }, ex, total, (r) => {
      if (r.reason) failed.push({ id: r.run.id, reason: r.reason });
      end(r.run, false, r.reason);
    });
  }

  const rows: ResultRow[] = [];
  const details: RunDetail[] = [];
  for (const run of plan) {
    if (run.kind !== 'finetune') continue;
    const row = completedRow(o.out, config, run);
    if (!row) continue;
    rows.push(row);
    details.push(completedDetail(o.out, run));
  }
  return { rows: sortRows(rows, config.protocol), details, failed, seconds: (performance.now() - t0) / 1000, threads: { finetune: ex.finetune, pretrain: ex.pretrain, jobs: ex.jobs } };
}

interface PoolResult {
  run: PlannedRun;
  reason?: string;
}

/**
 * Runs `todo` in at most `jobs` child processes at once, in plan order as their inputs become
 * ready: a fine-tuning run waits for its pretraining run (when that is in `todo`); runs whose
 * pretraining failed end failed without starting. Resolves when all ended.
 */
function runPool(
  todo: PlannedRun[],
  o: ReproduceOptions & { cli: string[] },
  ex: { jobs: number; finetune: number; pretrain: number },
  total: number,
  ended: (r: PoolResult) => void,
): Promise<void> {
  const ev = o.events ?? {};
  const queue = [...todo];
  const pending = new Set(todo.filter((r) => r.kind === 'pretrain').map((r) => r.id));
  const failedPretraining = new Set<string>();
  const running = new Map<ChildProcess, PlannedRun>();
  let stopping = false;
  return new Promise((resolve, reject) => {
    const poll = setInterval(() => {
      if (!stopping && ev.shouldStop?.()) {
        stopping = true;
        queue.length = 0;
        for (const c of running.keys()) c.kill('SIGINT');
        if (running.size === 0) finish();
      }
    }, 100);
    const finish = () => {
      clearInterval(poll);
      if (stopping) reject(new Interrupted());
      else resolve();
    };
    const waitsFor = (run: PlannedRun) => (run.kind === 'finetune' && run.pretrainId ? run.pretrainId : undefined);
    const next = () => {
      for (let i = 0; !stopping && i < queue.length; ) {
        const dep = waitsFor(queue[i]!);
        if (dep && failedPretraining.has(dep)) {
          const [run] = queue.splice(i, 1);
          ended({ run: run!, reason: `its pretraining ${dep} failed` });
        } else if (running.size < ex.jobs && !(dep && pending.has(dep))) {
          start(queue.splice(i, 1)[0]!);
        } else i++;
      }
      if (running.size === 0) finish();
    };
    const start = (run: PlannedRun) => {
      const threads = run.kind === 'pretrain' ? ex.pretrain : ex.finetune;
      const [cmd, ...pre] = o.cli;
      const child = spawn(cmd!, [...pre, 'reproduce', '--out', o.out, '--run-index', String(run.index), '--threads', String(threads), '--quiet'], {
        stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      });
      running.set(child, run);
      let stderr = '';
      child.stderr!.on('data', (d) => (stderr = (stderr + String(d)).slice(-4000)));
      child.on('message', (m: { type?: string } & StepInfo) => {
        if (m?.type === 'step') ev.onStep?.(run.id, m);
      });
      ev.onRunStart?.({ id: run.id, kind: run.kind, total, steps: run.steps, threads });
      child.on('exit', (code, signal) => {
        running.delete(child);
        if (!stopping) {
          const last = stderr.trim().split('\n').filter(Boolean).at(-1)?.replace(/^stmedfm: (error: )?/, '');
          if (run.kind === 'pretrain') {
            pending.delete(run.id);
            if (code !== 0) failedPretraining.add(run.id);
          }
          ended(code === 0 ? { run } : { run, reason: last ?? `worker exited with ${signal ?? `code ${code}`}` });
        }
        next();
      });
    };
    next();
  });
}

export function sortRows(rows: ResultRow[], p: ProtocolConfig): ResultRow[] {
  const key = (r: ResultRow) => [p.tasks.indexOf(r.task), p.methods.indexOf(r.method), r.image_size ?? 28, r.seed];
  return [...rows].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) if (ka[i] !== kb[i]) return ka[i]! - kb[i]!;
    return 0;
  });
}

export function toCsv(rows: readonly ResultRow[], columns: readonly (keyof ResultRow)[]): string {
  // RFC 4180: a cell with a comma, quote or newline is quoted; a list (warnings) is one cell, ' | '-separated.
  const cell = (v: unknown) => {
    const t = v === null || v === undefined ? '' : Array.isArray(v) ? v.join(' | ') : String(v);
    return /[",\n\r]/.test(t) ? `"${t.replace(/"/g, '""')}"` : t;
  };
  const lines = [columns.join(',')];
  for (const r of rows) lines.push(columns.map((c) => cell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

export function machineInfo(threads: number) {
  return { cpus: availableParallelism(), threads, node: process.version, ort: ort.env.versions?.common ?? 'unknown' };
}

/** The folder's results as they stand: complete runs, and the runs not (yet) complete by name. */
export function collectResults(out: string, config: FolderConfig): { rows: ResultRow[]; details: RunDetail[]; missing: { id: string; index: number; reason: string }[] } {
  const rows: ResultRow[] = [];
  const details: RunDetail[] = [];
  const missing: { id: string; index: number; reason: string }[] = [];
  for (const run of planRuns(config.protocol)) {
    if (run.kind === 'pretrain') {
      if (!isDone(out, config, run)) missing.push({ id: run.id, index: run.index, reason: failureNote(out, run.id) });
      continue;
    }
    const row = completedRow(out, config, run);
    if (!row) {
      missing.push({ id: run.id, index: run.index, reason: failureNote(out, run.id) });
      continue;
    }
    rows.push(row);
    details.push(completedDetail(out, run));
  }
  return { rows: sortRows(rows, config.protocol), details, missing };
}

function failureNote(out: string, id: string): string {
  try {
    return readFileSync(paths(out, id).failed, 'utf8').trim();
  } catch {
    return 'not run (or cancelled before it started)';
  }
}
