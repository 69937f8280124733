/** Shared CLI plumbing: one-line errors, option parsing, progress on TTYs, JSON output. */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import cliProgress from 'cli-progress';
import { InvalidArgumentError } from 'commander';
import { parseDataOverrides, type DataSourceOptions } from '../data/index.js';
import { UserError } from '../training/errors.js';
import type { StepLog } from '../training/trainer.js';

const EXPECTED_ERRORS = new Set(['UserError', 'DataError', 'SafetensorsError', 'PeftFileError', 'GraphBuildError', 'FetchError', 'ModelError']);

/** Runs a command action: expected problems print one line (no stack) and exit 2. */
export function action<A extends unknown[]>(fn: (...args: A) => Promise<void>): (...args: A) => Promise<void> {
  return async (...args: A) => {
    try {
      await fn(...args);
    } catch (e) {
      const err = e as Error;
      if (EXPECTED_ERRORS.has(err?.name)) {
        process.stderr.write(`stmedfm: error: ${err.message}\n`);
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

export function dataOptions(o: { dataDir?: string; data?: string[] }): DataSourceOptions {
  const dataDir = o.dataDir ?? defaultDataDir();
  if (o.dataDir && !existsSync(o.dataDir)) throw new UserError(`--data-dir ${o.dataDir}: no such folder`);
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
      stop: () => started && bar.stop(),
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

/** Ctrl-C: finish the current step, save, exit cleanly; a second Ctrl-C exits at once. */
export function interruptFlag(): { stopped: () => boolean; dispose: () => void } {
  let stop = false;
  const handler = () => {
    if (stop) process.exit(130);
    stop = true;
    process.stderr.write('\nstmedfm: interrupted; finishing the current step (Ctrl-C again to quit now)\n');
  };
  process.on('SIGINT', handler);
  return { stopped: () => stop, dispose: () => process.off('SIGINT', handler) };
}
