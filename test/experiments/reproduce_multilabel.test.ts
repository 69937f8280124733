/**
 * `stmedfm reproduce` with a multi-label (ChestMNIST-style) task: it runs to the end (no
 * temperature is fitted for a sigmoid head), its rows carry MedMNIST's multi-label metrics equal to
 * an independent evaluation of the saved checkpoint, and the report shows them and says what they are.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { writeSynth } from '../../src/data/index.js';
import { evaluateMultilabel, multilabelAuroc } from '../../src/evaluation/index.js';
import type { ResultRow, RunDetail } from '../../src/experiments/types.js';
import { loadModel } from '../../src/training/checkpoint.js';
import { evaluate } from '../../src/training/workflows.js';
import { runCli } from '../helpers/cli.js';

let data: string;
let out: string;

beforeAll(() => {
  data = mkdtempSync(join(tmpdir(), 'repro-ml-data-'));
  writeSynth(join(data, 'chestmnist.npz'), 'chestmnist', { sizes: { train: 48, val: 16, test: 32 }, seed: 21 });
  writeSynth(join(data, 'pathmnist.npz'), 'pathmnist', { sizes: { train: 48, val: 16, test: 24 }, seed: 22 });
});

describe('reproduce with a multi-label task', () => {
  it('completes, and records multi-label metrics, no temperature, and the calibration of the single-label task', () => {
    out = mkdtempSync(join(tmpdir(), 'repro-ml-'));
    const r = runCli(['reproduce', '--data-dir', data, '--tasks', 'chestmnist,pathmnist', '--methods', 'scratch', '--seeds', '0', '--pretrain-steps', '2', '--steps-2d', '3', '--batch-2d', '8', '--out', out, '--threads', '1', '--quiet']);
    expect(r.stderr).not.toMatch(/error|\n\s+at /);
    expect(r.code).toBe(0);
    const rows = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ResultRow[];
    const chest = rows.find((x) => x.task === 'chestmnist')!;
    const path = rows.find((x) => x.task === 'pathmnist')!;
    expect(chest.multi_label).toBe(true);
    expect([chest.temperature, chest.ece_ts, chest.nll_ts, chest.temperature_at_bound]).toEqual([null, null, null, null]);
    expect(chest.warnings).toContain('chestmnist is multi-label: no temperature is fitted or stored (predict returns raw sigmoid probabilities)');
    // The single-label task keeps its temperature (fitted on val by finetune) and its at-bound flag.
    expect(path.multi_label).toBe(false);
    expect(path.temperature).toBeGreaterThan(0);
    expect(typeof path.temperature_at_bound).toBe('boolean');
    expect(path.auroc_why).toBeNull();
  }, 400_000);

  it('records test metrics equal to an independent multi-label evaluation of the saved checkpoint', async () => {
    const rows = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ResultRow[];
    const chest = rows.find((x) => x.task === 'chestmnist')!;
    const m = await loadModel(join(out, 'checkpoints', 'chestmnist-scratch-s0.safetensors'));
    const test = await evaluate(m, { task: 'chestmnist', split: 'test', data: { dataDir: data }, threads: 1 });
    const ml = evaluateMultilabel({ logits: test.logits }, test.labels, 14);
    for (const k of ['acc', 'auroc', 'ece', 'brier', 'nll'] as const) expect(chest[k], k).toBeCloseTo(ml[k], 6);
    // One ROC curve per label that has both values in the test split.
    const detail = JSON.parse(readFileSync(join(out, 'runs', 'chestmnist-scratch-s0.json'), 'utf8')) as RunDetail;
    expect(detail.roc).toHaveLength(14 - ml.auroc_skipped.length);
    const perLabel = multilabelAuroc(test.probs, test.labels, 14).perClass;
    for (const c of detail.roc) expect(c.auc).toBeCloseTo(perLabel[c.cls]!, 9);
  });

  it('shows the multi-label task in the report table with its metrics and says what they are', () => {
    const rows = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as ResultRow[];
    const chest = rows.find((x) => x.task === 'chestmnist')!;
    const md = readFileSync(join(out, 'report.md'), 'utf8');
    const line = md.split('\n').find((l) => l.startsWith('| chestmnist | scratch |'))!;
    expect(line).toContain(chest.acc.toFixed(3));
    expect(line).toContain(chest.auroc.toFixed(3));
    expect(md).toMatch(/chestmnist is multi-label: acc is the accuracy over all labels at p > 0.5 and AUROC the mean of the per-label AUROCs/);
    const csv = readFileSync(join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toMatch(/,multi_label,temperature_at_bound,auroc_why,warnings$/);
    expect(csv).toHaveLength(3);
  });
});
