/**
 * `stmedfm evaluate` prints the right numbers, not just numbers: its accuracy, AUROC, NLL and Brier
 * on a split are recomputed here from `stmedfm predict`'s probabilities on the same images (the
 * split written out as a .npy) with plain formulas, and the split asked for is the split scored.
 * Degenerate data (one class) is refused for training and shown as "n/a (why)" in metrics.
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadTask, npyArray, synthesize, writeNpyFile, writeNpz, writeSynth } from '../../src/data/index.js';
import { runCli } from '../helpers/cli.js';

let dir: string;
const ckpt = () => join(dir, 'scratch.safetensors');

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'stmedfm-evalvalues-'));
  writeSynth(join(dir, 'bloodmnist.npz'), 'bloodmnist', { sizes: { train: 64, val: 24, test: 40 }, seed: 7 });
  const ft = runCli(['finetune', '--data-dir', dir, '--task', 'bloodmnist', '--method', 'scratch', '--steps', '6', '--batch-2d', '16', '--out', ckpt(), '--quiet']);
  expect(ft.code, ft.stderr).toBe(0);
});

/** One-vs-rest AUROC of one class by counting ordered pairs (ties count half). */
function pairAuroc(scores: number[], positive: boolean[]): number {
  let wins = 0;
  let pairs = 0;
  scores.forEach((s, i) => {
    if (!positive[i]) return;
    scores.forEach((t, j) => {
      if (positive[j]) return;
      pairs++;
      wins += s > t ? 1 : s === t ? 0.5 : 0;
    });
  });
  return wins / pairs;
}

describe('evaluate --json values', () => {
  for (const split of ['test', 'val'] as const) {
    it(`equal an independent recomputation from predict's probabilities (${split} split)`, () => {
      const data = loadTask('bloodmnist', { dataDir: dir })[split];
      const npy = join(dir, `${split}.npy`);
      writeNpyFile(npy, npyArray('uint8', [data.n, ...data.imageShape], data.images));
      // Raw probabilities for the raw metrics; the checkpoint's calibrated ones for the temperature-scaled metrics.
      const pr = runCli(['predict', '--checkpoint', ckpt(), '--task', 'bloodmnist', '--input', npy, '--json', '--no-calibration']);
      expect(pr.code, pr.stderr).toBe(0);
      const probs = JSON.parse(pr.stdout).probabilities as number[][];
      expect(probs).toHaveLength(data.n);
      const calibrated = JSON.parse(runCli(['predict', '--checkpoint', ckpt(), '--task', 'bloodmnist', '--input', npy, '--json']).stdout).probabilities as number[][];
      const y = Array.from(data.labels);

      const ev = runCli(['evaluate', '--checkpoint', ckpt(), '--data-dir', dir, '--task', 'bloodmnist', '--split', split, '--json']);
      expect(ev.code, ev.stderr).toBe(0);
      const m = JSON.parse(ev.stdout);
      expect(m.split).toBe(split);
      expect(m.n).toBe(data.n);

      const argmax = (r: number[]) => r.indexOf(Math.max(...r));
      const acc = probs.filter((r, i) => argmax(r) === y[i]).length / data.n;
      expect(m.acc).toBeCloseTo(acc, 10);
      const nll = probs.reduce((s, r, i) => s - Math.log(r[y[i]!]!), 0) / data.n;
      expect(m.nll).toBeCloseTo(nll, 4);
      const brier = probs.reduce((s, r, i) => s + r.reduce((t, p, c) => t + (p - (c === y[i] ? 1 : 0)) ** 2, 0), 0) / data.n;
      expect(m.brier).toBeCloseTo(brier, 4);
      const present = [...new Set(y)];
      const auroc = present.reduce((s, c) => s + pairAuroc(probs.map((r) => r[c]!), y.map((l) => l === c)), 0) / present.length;
      expect(m.auroc).toBeCloseTo(auroc, 3);
      // Temperature scaling never changes the argmax; its NLL is that of predict's calibrated probabilities.
      expect(m.temperature_scaled.source).toBe('checkpoint');
      expect(m.temperature_scaled.acc).toBe(m.acc);
      expect(m.temperature_scaled.nll).toBeCloseTo(calibrated.reduce((s, r, i) => s - Math.log(r[y[i]!]!), 0) / data.n, 4);
    });
  }
});

describe('evaluate --json values, multi-label (ChestMNIST layout)', () => {
  it('equal the medmnist metrics recomputed from predict\'s sigmoid probabilities', () => {
    const d = mkdtempSync(join(tmpdir(), 'stmedfm-chest-'));
    writeSynth(join(d, 'chestmnist.npz'), 'chestmnist', { sizes: { train: 64, val: 16, test: 48 }, seed: 3 });
    const ck = join(d, 'chest.safetensors');
    const ft = runCli(['finetune', '--data-dir', d, '--task', 'chestmnist', '--method', 'scratch', '--steps', '4', '--batch-2d', '16', '--out', ck, '--quiet']);
    expect(ft.code, ft.stderr).toBe(0);
    const data = loadTask('chestmnist', { dataDir: d }).test;
    const npy = join(d, 'test.npy');
    writeNpyFile(npy, npyArray('uint8', [data.n, ...data.imageShape], data.images));
    const pr = runCli(['predict', '--checkpoint', ck, '--task', 'chestmnist', '--input', npy, '--json']);
    expect(pr.code, pr.stderr).toBe(0);
    const out = JSON.parse(pr.stdout) as { probabilities: number[][]; labels: number[][]; multi_label: boolean; threshold: number; class_names: string[] };
    const probs = out.probabilities;
    // predict names every label above 0.5 (evaluate's threshold), not one argmax
    expect(out.multi_label).toBe(true);
    expect(out.threshold).toBe(0.5);
    expect(out.labels).toEqual(probs.map((r) => r.flatMap((p, l) => (p > 0.5 ? [l] : []))));
    const csv = runCli(['predict', '--checkpoint', ck, '--task', 'chestmnist', '--input', npy]);
    expect(csv.code, csv.stderr).toBe(0);
    const predicted = csv.stdout.trim().split('\n').slice(1).map((line) => line.split(',')[1]!.replace(/^"|"$/g, ''));
    expect(predicted).toEqual(out.labels.map((ls) => (ls.length ? ls.map((l) => out.class_names[l]).join('; ') : '(none)')));
    const ev = runCli(['evaluate', '--checkpoint', ck, '--data-dir', d, '--task', 'chestmnist', '--json']);
    expect(ev.code, ev.stderr).toBe(0);
    const m = JSON.parse(ev.stdout);
    const L = 14;
    const t = (i: number, l: number) => data.labels[i * L + l]!;
    let hits = 0;
    probs.forEach((r, i) => r.forEach((p, l) => (hits += (p > 0.5 ? 1 : 0) === t(i, l) ? 1 : 0)));
    expect(m.multi_label).toBe(true);
    expect(m.acc).toBeCloseTo(hits / (data.n * L), 10);
    const scored = Array.from({ length: L }, (_, l) => l).filter((l) => probs.some((_, i) => t(i, l) === 1) && probs.some((_, i) => t(i, l) === 0));
    const auroc = scored.reduce((s, l) => s + pairAuroc(probs.map((r) => r[l]!), probs.map((_, i) => t(i, l) === 1)), 0) / scored.length;
    expect(m.auroc).toBeCloseTo(auroc, 3);
    expect(m.per_label_ece).toHaveLength(L);
  });
});

describe('degenerate data', () => {
  /** bloodmnist data whose `split` labels are all `cls`. */
  function oneClass(split: 'train' | 'test', cls: number): string {
    const d = mkdtempSync(join(tmpdir(), 'stmedfm-oneclass-'));
    const s = synthesize('bloodmnist', { sizes: { train: 64, val: 24, test: 40 }, seed: 7 });
    const l = s.arrays[`${split}_labels`]!;
    writeNpz(join(d, 'bloodmnist.npz'), { ...s.arrays, [`${split}_labels`]: npyArray('uint8', l.shape, new Uint8Array(l.data.length).fill(cls)) });
    return d;
  }

  it('finetune refuses a one-class train split with one line, exit 2, nothing written', () => {
    const d = oneClass('train', 4);
    const out = join(d, 'ft.safetensors');
    const r = runCli(['finetune', '--data-dir', d, '--task', 'bloodmnist', '--method', 'scratch', '--steps', '2', '--batch-2d', '8', '--out', out, '--quiet']);
    expect(r.code).toBe(2);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toMatch(/^stmedfm: error: bloodmnist\.npz, train split has only one class \(class 4 'lymphocyte', all 64 samples\)/);
    expect(existsSync(out)).toBe(false);
  });

  it('evaluate on a one-class test split prints auroc n/a (why), never NaN, and warns', () => {
    const d = oneClass('test', 2);
    const text = runCli(['evaluate', '--checkpoint', ckpt(), '--data-dir', d, '--task', 'bloodmnist', '--split', 'test']);
    expect(text.code, text.stderr).toBe(0);
    expect(text.stdout).toMatch(/auroc n\/a \(only class 2 occurs in the labels; AUROC needs two classes \(test split\)\)/);
    expect(text.stdout).not.toMatch(/NaN/);
    expect(text.stderr).toMatch(/stmedfm: warning: bloodmnist\.npz, test split has only one class \(class 2 'erythroblast', all 40 samples\): AUROC is undefined/);
    const json = runCli(['evaluate', '--checkpoint', ckpt(), '--data-dir', d, '--task', 'bloodmnist', '--split', 'test', '--json']);
    const m = JSON.parse(json.stdout);
    expect(m.auroc).toBeNull();
    expect(m.auroc_why).toMatch(/only class 2/);
    expect(m.warnings[0]).toMatch(/only one class/);
  });
});
