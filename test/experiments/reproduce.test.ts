/**
 * `stmedfm reproduce` on tiny synthetic data: it survives SIGKILL, SIGINT and SIGTERM mid-run, a re-run
 * of the same command skips what is done, and the final results equal an uninterrupted run's.
 */
import { spawn, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSynth } from '../../src/data/index.js';
import type { ResultRow } from '../../src/experiments/types.js';
import { loadModel } from '../../src/training/checkpoint.js';
import { evaluate } from '../../src/training/workflows.js';
import { runCli } from '../helpers/cli.js';

const ROOT = resolve(import.meta.dirname, '..', '..');
let data: string;

const args = (out: string, jobs = 1) => [
  'reproduce', '--data-dir', data, '--tasks', 'pathmnist,organmnist3d', '--methods', 'scratch,full,lora', '--seeds', '0',
  '--pretrain-steps', '4', '--steps-2d', '3', '--steps-3d', '2', '--batch-2d', '8', '--batch-3d', '2', '--out', out,
  '--jobs', String(jobs), '--threads', '1',
];
const SLOW = 400_000;

/** Starts the CLI and kills it with `signal` once `ready()` holds. */
function runAndKill(out: string, signal: NodeJS.Signals, ready: () => boolean, jobs = 1): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args(out, jobs)], { cwd: ROOT });
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
    // The data notes come from the files' content: both are synthetic (marker found).
    expect((JSON.parse(readFileSync(join(reference, 'data.json'), 'utf8')) as { kind: string }[]).map((n) => n.kind)).toEqual(['synthetic', 'synthetic']);
    expect(readFileSync(join(reference, 'results.csv'), 'utf8').trim().split('\n')).toHaveLength(7);
  }, SLOW);

  it('gives the same metrics with --jobs 2 (worker processes) as with --jobs 1, at the same threads per run', () => {
    const again = mkdtempSync(join(tmpdir(), 'repro-b-'));
    const r = runCli(args(again, 2));
    expect(r.code).toBe(0);
    expect(r.stderr).toMatch(/2 at a time with 1 thread\(s\) each \(pretraining 1\)/);
    // Progress names every running run. Scratch runs (which do not start from the pretraining)
    // run beside it; no run that starts from it starts before it ended.
    const at = (line: RegExp) => r.stderr.search(line);
    const pretrainEnd = at(/^\[\d\/7\] pretrain-s0:/m);
    expect(at(/^started pretrain-s0 \(1 thread\)$/m)).toBeGreaterThanOrEqual(0);
    expect(at(/^started pathmnist-scratch-s0 \(1 thread\)$/m)).toBeLessThan(pretrainEnd);
    for (const id of ['pathmnist-full-s0', 'pathmnist-lora-s0', 'organmnist3d-full-s0', 'organmnist3d-lora-s0']) {
      expect(at(new RegExp(`^started ${id} `, 'm'))).toBeGreaterThan(pretrainEnd);
    }
    expectSameMetrics(metrics(reference), metrics(again));
    for (const row of JSON.parse(readFileSync(join(again, 'results.json'), 'utf8')) as ResultRow[]) expect(row.threads).toBe(1);
  }, SLOW);

  it('--jobs 2: a failed pretraining fails the runs that start from it, by name, and not the others', () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-prefail-'));
    // the pretraining worker cannot write its checkpoint (a full disk, injected)
    const r = runCli([...args(out, 2), '--quiet'], { env: { STMEDFM_FAULT: 'write:ENOSPC:pretrain-s0' } });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/5 run\(s\) failed: pretrain-s0: cannot write .*disk is full/);
    for (const id of ['pathmnist-full-s0', 'pathmnist-lora-s0', 'organmnist3d-full-s0', 'organmnist3d-lora-s0']) {
      expect(r.stderr).toContain(`${id}: its pretraining pretrain-s0 failed`);
    }
    expect(readdirSync(join(out, 'rows')).sort()).toEqual(['organmnist3d-scratch-s0.json', 'pathmnist-scratch-s0.json']);
    // the same command without the fault finishes the rest
    const again = runCli([...args(out, 2), '--quiet']);
    expect(again.code, again.stderr).toBe(0);
    expectSameMetrics(metrics(reference), metrics(out));
  }, SLOW);

  it('resumes after SIGKILL of a parallel run (--jobs 2) with the same final results', async () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-kill-'));
    const killed = await runAndKill(out, 'SIGKILL', () => rowsIn(out) >= 2, 2);
    expect(killed.code).toBeNull();
    const done = rowsIn(out);
    expect(done).toBeGreaterThanOrEqual(2);
    expect(done).toBeLessThan(6);
    expect(existsSync(join(out, 'results.json'))).toBe(false);
    const r = runCli(args(out, 2));
    expect(r.code).toBe(0);
    // The finished runs were skipped, not redone.
    expect((r.stderr.match(/done earlier/g) ?? []).length).toBeGreaterThanOrEqual(done + 1);
    expectSameMetrics(metrics(reference), metrics(out));
  }, SLOW);

  it('stops cleanly on Ctrl-C (SIGINT) and resumes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-int-'));
    const stopped = await runAndKill(out, 'SIGINT', () => rowsIn(out) >= 1);
    expect(stopped.code).toBe(130);
    expect(stopped.stderr).toMatch(/interrupted; finished runs are saved/);
    expect(stopped.stderr).not.toMatch(/\n\s+at /);
    expect(runCli([...args(out), '--quiet']).code).toBe(0);
    expectSameMetrics(metrics(reference), metrics(out));
  }, SLOW);

  it('stops cleanly on SIGTERM (kill, scancel) with exit 143, also with worker processes (--jobs 2), and resumes', async () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-term-'));
    const stopped = await runAndKill(out, 'SIGTERM', () => rowsIn(out) >= 1, 2);
    expect(stopped.code).toBe(143);
    expect(stopped.stderr).toMatch(/terminated; finished runs are saved/);
    expect(stopped.stderr).not.toMatch(/\n\s+at /);
    expect(existsSync(join(out, 'results.json'))).toBe(false);
    expect(runCli([...args(out), '--quiet']).code).toBe(0);
    expectSameMetrics(metrics(reference), metrics(out));
  }, SLOW);

  it('refuses to mix a different configuration into a results folder', () => {
    const r = runCli([...args(reference).map((a) => (a === '3' ? '5' : a)), '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/holds results of a different configuration/);
  });

  it('records test metrics that equal an independent evaluation of each saved checkpoint on the test split', async () => {
    const rows = JSON.parse(readFileSync(join(reference, 'results.json'), 'utf8')) as ResultRow[];
    for (const row of rows) {
      const m = await loadModel(join(reference, 'checkpoints', `${row.task}-${row.method}-s${row.seed}.safetensors`));
      const test = await evaluate(m, { task: row.task, split: 'test', data: { dataDir: data }, threads: 1 });
      const val = await evaluate(m, { task: row.task, split: 'val', data: { dataDir: data }, threads: 1 });
      for (const k of ['acc', 'auroc', 'ece', 'brier', 'nll'] as const) expect(row[k], `${row.task}/${row.method} ${k}`).toBeCloseTo(test[k], 6);
      expect(row.val_acc).toBeCloseTo(val.acc, 6);
      expect(row.val_auroc).toBeCloseTo(val.auroc, 6);
    }
  });

  // --jobs 2 goes through the workers' own check (`--run-index`), --jobs 1 through the in-process one.
  it.each([1, 2])('counts a run done only when its whole record is there (--jobs %i): a lone detail file or an incomplete row is redone', (jobs) => {
    const out = mkdtempSync(join(tmpdir(), 'repro-partial-'));
    cpSync(reference, out, { recursive: true });
    rmSync(join(out, 'results.json'));
    rmSync(join(out, 'rows', 'pathmnist-full-s0.json')); // detail and checkpoint stay
    const lora = join(out, 'rows', 'organmnist3d-lora-s0.json');
    const { val_auroc: _dropped, ...incomplete } = JSON.parse(readFileSync(lora, 'utf8')) as ResultRow;
    writeFileSync(lora, JSON.stringify(incomplete));
    const r = runCli(args(out, jobs));
    expect(r.code).toBe(0);
    expect(r.stderr).not.toMatch(/pathmnist-full-s0: done earlier/);
    expect(r.stderr).not.toMatch(/organmnist3d-lora-s0: done earlier/);
    expect(r.stderr).toMatch(/pathmnist-scratch-s0: done earlier/);
    expect(r.stderr).toMatch(/pathmnist-full-s0: acc /);
    expectSameMetrics(metrics(reference), metrics(out));
  }, SLOW);

  it('refuses other --data files in a finished folder instead of reusing and relabelling its runs', () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-otherdata-'));
    cpSync(reference, out, { recursive: true });
    const before = readFileSync(join(out, 'results.json'), 'utf8');
    const other = join(mkdtempSync(join(tmpdir(), 'repro-other-')), 'path.npz');
    writeSynth(other, 'pathmnist', { sizes: { train: 48, val: 16, test: 24 }, seed: 99 });
    const r = runCli([...args(out), '--data', `pathmnist=${other}`]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/stmedfm: error: .* holds results of a different configuration \(other data for pathmnist: its runs used .*pathmnist\.npz \(sha256 [0-9a-f]{12}\.\.\.\), now .*path\.npz has sha256/);
    expect(readFileSync(join(out, 'results.json'), 'utf8')).toBe(before);
  });

  it('locks the folder: a live holder is named and refused, a dead holder\'s lock is taken over', () => {
    const out = mkdtempSync(join(tmpdir(), 'repro-lock-'));
    cpSync(reference, out, { recursive: true });
    const lock = join(out, '.lock');
    writeFileSync(lock, JSON.stringify({ pid: process.pid, host: hostname(), started: 'now', what: 'reproduce into x' }));
    const busy = runCli([...args(out), '--quiet']);
    expect(busy.code).toBe(2);
    expect(busy.stderr).toBe(`stmedfm: error: the results folder ${out} is in use by process ${process.pid} on host ${hostname()} (reproduce into x, since now); wait for it to finish, or if that process is gone for good, delete ${lock}\n`);
    const gone = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(lock, JSON.stringify({ pid: gone, host: hostname(), started: 'then', what: 'reproduce into x' }));
    const r = runCli([...args(out), '--quiet']);
    expect(r.code).toBe(0);
    expect(existsSync(lock)).toBe(false);
  });

  it('keeps a second reproduce with other settings out of a new folder while the first runs', async () => {
    const out = join(mkdtempSync(join(tmpdir(), 'repro-two-')), 'new');
    const first = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/main.ts'), ...args(out), '--quiet'], { cwd: ROOT });
    try {
      // config.json is written before the first run starts
      while (!existsSync(join(out, 'config.json'))) await new Promise((r) => setTimeout(r, 50));
      expect(rowsIn(out)).toBe(0);
      const second = runCli([...args(out).map((a) => (a === '3' ? '5' : a)), '--quiet']);
      expect(second.code).toBe(2);
      expect(second.stderr).toMatch(/is in use by process \d+ on host /);
    } finally {
      first.kill('SIGKILL');
    }
  }, SLOW);

  it('creates no folder and no config for a rejected flag', () => {
    const parent = mkdtempSync(join(tmpdir(), 'repro-reject-'));
    const bad: string[][] = [['--seeds', 'x'], ['--tasks', 'nosuchtask'], ['--jobs', '0'], ['--lora-rank', '0'], ['--shots', '-1'], ['--data', 'pathmnist=/no/such.npz'], ['--executor', 'k8s']];
    for (const [i, extra] of bad.entries()) {
      const out = join(parent, `o${i}`);
      const r = runCli([...args(out), ...extra, '--quiet']);
      expect(r.code, extra.join(' ')).toBe(2);
      expect(existsSync(out), extra.join(' ')).toBe(false);
    }
  });
});
