/**
 * `stmedfm reproduce` on tiny synthetic data: it survives SIGKILL and SIGINT mid-run, a re-run
 * of the same command skips what is done, and the final results equal an uninterrupted run's.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSynth } from '../../src/data/index.js';
import type { ResultRow } from '../../src/experiments/types.js';
import { runCli } from '../helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
let data: string;

const args = (out: string) => [
  'reproduce', '--data-dir', data, '--tasks', 'pathmnist,organmnist3d', '--methods', 'scratch,full,lora', '--seeds', '0',
  '--pretrain-steps', '4', '--steps-2d', '3', '--steps-3d', '2', '--batch-2d', '8', '--batch-3d', '2', '--out', out,
];

/** Starts the CLI and kills it with `signal` once `ready()` holds. */
function runAndKill(out: string, signal: NodeJS.Signals, ready: () => boolean): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args(out)], { cwd: ROOT });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += String(d)));
    const timer = setInterval(() => {
      if (ready()) {
        clearInterval(timer);
        child.kill(signal);
      }
    }, 20);
    child.on('exit', (code) => {
      clearInterval(timer);
      done({ code, stderr });
    });
  });
}

const rowsIn = (out: string) => (existsSync(join(out, 'rows')) ? readdirSync(join(out, 'rows')).filter((f) => f.endsWith('.json')).length : 0);

function metrics(out: string): Omit<ResultRow, 'train_seconds'>[] {
  const rows = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ResultRow[];
  return rows.map(({ train_seconds: _t, ...rest }) => rest);
}

function expectSameMetrics(a: ReturnType<typeof metrics>, b: ReturnType<typeof metrics>): void {
  expect(b.length).toBe(a.length);
  a.forEach((ra, i) => {
    const rb = b[i]!;
    for (const [k, v] of Object.entries(ra)) {
      const w = (rb as Record<string, unknown>)[k];
      if (typeof v === 'number') expect(Math.abs(v - (w as number))).toBeLessThanOrEqual(1e-6);
      else expect(w).toEqual(v);
    }
  });
}

beforeAll(() => {
  data = mkdtempSync(join(tmpdir(), 'repro-data-'));
  writeSynth(join(data, 'pathmnist.npz'), 'pathmnist', { sizes: { train: 48, val: 16, test: 24 }, seed: 11 });
  writeSynth(join(data, 'organmnist3d.npz'), 'organmnist3d', { sizes: { train: 12, val: 6, test: 12 }, seed: 12 });
});

describe('stmedfm reproduce', () => {
  let reference: string;

  it('runs the protocol and writes results, report and checkpoints', () => {
    reference = mkdtempSync(join(tmpdir(), 'repro-a-'));
    const r = runCli([...args(reference), '--quiet']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const rows = metrics(reference);
    expect(rows).toHaveLength(6);
    expect(rows.map((x) => `${x.task}/${x.method}`)).toEqual(['pathmnist/scratch', 'pathmnist/full', 'pathmnist/lora', 'organmnist3d/scratch', 'organmnist3d/full', 'organmnist3d/lora']);
    for (const f of ['results.csv', 'report.md', 'report.html', 'config.json', 'checkpoints/pretrain-s0.safetensors']) expect(existsSync(join(reference, f))).toBe(true);
    expect(readFileSync(join(reference, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(7);
  });

  it('is deterministic: the same seed and threads give the same metrics', () => {
    const again = mkdtempSync(join(tmpdir(), 'repro-b-'));
    expect(runCli([...args(again), '--quiet']).code).toBe(0);
    expectSameMetrics(metrics(reference), metrics(again));
  });

  it('resumes after SIGKILL mid-run with the same final results', async () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-kill-'));
    const killed = await runAndKill(out, 'SIGKILL', () => rowsIn(out) >= 2);
    expect(killed.code).toBeNull();
    const done = rowsIn(out);
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(6);
    expect(existsSync(join(out, 'results.json'))).toBe(false);
    const r = runCli(args(out));
    expect(r.code).toBe(0);
    // The finished runs were skipped, not redone.
    expect((r.stderr.match(/done earlier/g) ?? []).length).toBeGreaterThanOrEqual(done + 1);
    expectSameMetrics(metrics(reference), metrics(out));
  });

  it('stops cleanly on Ctrl-C (SIGINT) and resumes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-int-'));
    const stopped = await runAndKill(out, 'SIGINT', () => rowsIn(out) >= 1);
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/interrupted; finished runs are saved/);
    expect(stopped.stderr).not.toMatch(/\n\s+at /);
    expect(runCli([...args(out), '--quiet']).code).toBe(0);
    expectSameMetrics(metrics(reference), metrics(out));
  });

  it('refuses to mix a different configuration into a results folder', () => {
    const r = runCli([...args(reference).map((a) => (a === '3' ? '5' : a)), '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/holds results of a different configuration/);
  });
});
