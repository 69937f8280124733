/** Shared CLI plumbing: one-line errors, option parsing, progress on TTYs, JSON output. */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option } from 'commander';
import { getDataset, parseDataOverrides, parseSizedDataOverrides, type DataSourceOptions } from '../data/index.js';
import { UserError } from '../training/errors.js';
import { defineTasksFromData } from '../training/task_from_data.js';
import type { StepLog } from '../training/trainer.js';
import { diskErrorMessage } from './outputs.js';

const EXPECTED_ERRORS = new Set(['UserError', 'DataError', 'SafetensorsError', 'PeftFileError', 'GraphBuildError', 'FetchError', 'ModelError']);

/** Runs a command action: expected problems and disk errors print one line (no stack) and exit 2. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      const err = e as Error;
      const disk = diskErrorMessage(e);
      if (EXPECTED_ERRORS.has(err?.name) || disk) {
        process.stderr.write(`stmedfm: error: ${disk ?? err.message}\n`);
        process.exitCode = 2;
      } else {
        process.stderr.write(`stmedfm: internal error: ${err?.message ?? String(e)}\n`);
        if (process.env.STMEDFM_DEBUG) process.stderr.write(`${err?.stack ?? ''}\n`);
        else process.stderr.write('(set STMEDFM_DEBUG=1 to see the stack trace; please report it)\n');
        process.exitCode = 1;
      }
    }
  };
}

/** The repository root (two levels above dist/cli or src/cli). */
export function packageRoot(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
}

/** The built-in demo data pack: real MedMNIST subsets shipped in data/demo. */
export function defaultDataDir(): string {
  return join(packageRoot(), 'data', 'demo');
}

const dataNotes: string[] = [];

/** Defines the `--data NAME=FILE` tasks of your own (see training/task_from_data.ts). */
export function useDataTasks(data: readonly string[] | undefined): void {
  dataNotes.push(...defineTasksFromData(data ?? []));
}

/** Says what was inferred about tasks of your own (training commands, once their checks passed). */
export function printDataNotes(): void {
  for (const note of dataNotes.splice(0)) process.stderr.write(`stmedfm: note: ${note}\n`);
}

/** `--data-dir` and `--data`; with `sized` (reproduce's image-size axis) a task may be given once per image size. */
export function dataOptions(o: { dataDir?: string; data?: string[] }, opts: { sized?: boolean } = {}): DataSourceOptions {
  useDataTasks(o.data);
  const dataDir = o.dataDir ?? defaultDataDir();
  if (o.dataDir && !existsSync(o.dataDir)) throw new UserError(`--data-dir ${o.dataDir}: no such folder`);
  if (opts.sized) return { dataDir, ...parseSizedDataOverrides(o.data ?? []) };
  return { dataDir, files: parseDataOverrides(o.data ?? []) };
}

export const collect = (v: string, prev: string[] = []): string[] => [...prev, v];

export function int(name: string, min = 0): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`${name} must be an integer >= ${min}.`);
    return n;
  };
}

export function num(name: string): (v: string) => number {
  return (v: string) => {
    const n = Number(v);
    if (!Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number.`);
    return n;
  };
}

export function list(v: string): string[] {
  return v.split(',').map((s) => s.trim()).filter(Boolean);
}

export function printJson(v: unknown): void {
  process.stdout.write(`${JSON.stringify(v, null, 2)}\n`);
}

/** A step progress bar on a TTY; elsewhere a line every `every` steps (so logs stay readable). */
export function stepReporter(label: string, opts: { quiet?: boolean; every?: number } = {}): { onStep: (l: StepLog) => void; stop: () => void } {
  if (opts.quiet) return { onStep: () => {}, stop: () => {} };
  if (process.stderr.isTTY) {
    const bar = new cliProgress.SingleBar(
      { format: `${label} [{bar}] {value}/{total} loss {loss} | ETA {eta_formatted}`, stream: process.stderr, hideCursor: true, etaBuffer: 20 },
      cliProgress.Presets.shades_classic,
    );
    let started = false;
    return {
      onStep: (l) => {
        if (!started) {
          bar.start(l.total, 0, { loss: '-' });
          started = true;
        }
        bar.update(l.step, { loss: l.loss.toFixed(4) });
      },
      stop: () => {
        if (started) bar.stop();
        started = false;
      },
    };
  }
  const every = opts.every ?? 10;
  return {
    onStep: (l) => {
      if (l.step % every === 0 || l.step === l.total) {
        const parts = Object.keys(l.taskLosses).length > 1 ? ' ' + Object.entries(l.taskLosses).map(([t, v]) => `${t}=${v.toFixed(4)}`).join(' ') : '';
        process.stderr.write(`${label} step ${l.step}/${l.total} loss ${l.loss.toFixed(4)}${parts} lr ${l.lr.toExponential(2)}\n`);
      }
    },
    stop: () => {},
  };
}

/** Exit codes of an interrupted command: 128 + the signal number, as shells report them. */
export const INTERRUPT_EXIT = { SIGINT: 130, SIGTERM: 143 } as const;

export interface Interrupt {
  stopped: () => boolean;
  /** The first signal received, if any. */
  signal: () => keyof typeof INTERRUPT_EXIT | undefined;
  dispose: () => void;
}

/**
 * Ctrl-C (SIGINT) or SIGTERM: finish the current step, save, exit 130 (143 for SIGTERM);
 * a second signal exits at once (temp files of writes in flight are removed on exit).
 */
export function interruptFlag(): Interrupt {
  let got: keyof typeof INTERRUPT_EXIT | undefined;
  const handler = (sig: keyof typeof INTERRUPT_EXIT) => {
    if (got) process.exit(INTERRUPT_EXIT[sig]);
    got = sig;
    process.stderr.write(`\nstmedfm: ${sig === 'SIGINT' ? 'interrupted' : 'terminated'}; finishing the current step (${sig === 'SIGINT' ? 'Ctrl-C' : 'the signal'} again to quit now)\n`);
  };
  process.on('SIGINT', handler);
  process.on('SIGTERM', handler);
  return {
    stopped: () => got !== undefined,
    signal: () => got,
    dispose: () => {
      process.off('SIGINT', handler);
      process.off('SIGTERM', handler);
    },
  };
}

export function warn(message: string): void {
  process.stderr.write(`stmedfm: warning: ${message}\n`);
}

/** Threads of single commands when --threads is not given: every core this process may use. */
export function defaultThreads(): number {
  return availableParallelism();
}

/**
 * The `--threads` option of the single commands (pretrain, finetune, evaluate, predict, explain):
 * all cores by default. `reproduce` has its own (cores / jobs per fine-tuning run). Results do
 * not depend on it beyond float rounding in the last bits (measured; see the README).
 */
export function threadsOption(what = 'ONNX Runtime intra-op threads'): Option {
  return new Option('--threads <n>', `${what} (default: all cores; at most the number of cores)`).argParser(int('--threads', 1)).default(defaultThreads());
}

/** More ONNX Runtime threads than cores only adds contention (runs get many times slower). */
export function checkThreads(threads: number): void {
  const cores = availableParallelism();
  if (threads > cores) warn(`--threads ${threads} is above the ${cores} core${cores > 1 ? 's' : ''} available here, which makes ONNX Runtime much slower; use --threads ${cores} or fewer`);
}

/** `--data NAME=FILE` entries for tasks the command does not use are a likely mistake: say so. */
export function warnUnusedData(data: readonly string[] | undefined, used: readonly string[]): void {
  useDataTasks(data);
  const files = parseDataOverrides(data ?? []);
  const usedNames = new Set<string>(used.map((t) => getDataset(t).name));
  for (const [task, file] of Object.entries(files)) {
    if (!usedNames.has(task)) warn(`--data ${task}=${file} is ignored: this command uses ${[...usedNames].join(', ')}, not ${task}`);
  }
}
