import { describe, expect, it } from 'vitest';
import { aggregate } from '../../src/report/aggregate.js';
import { bestMethod, compareStats, readResults } from '../../src/report/reading.js';
import { meanStd } from '../../src/report/stats.js';
import type { DataNote } from '../../src/report/types.js';
import { row } from './helpers.js';

const text = (sections: ReturnType<typeof readResults>, title: string) => sections.find((s) => s.title.startsWith(title))?.bullets.join('\n') ?? '';

describe('compareStats', () => {
  it('calls a difference within noise when it is no larger than the larger std', () => {
    expect(compareStats(meanStd([0.9, 0.92]), meanStd([0.89, 0.91])).verdict).toBe('within-noise');
    expect(compareStats(meanStd([0.95, 0.951]), meanStd([0.9, 0.901])).verdict).toBe('beyond-noise');
    expect(compareStats(meanStd([0.95]), meanStd([0.9])).verdict).toBe('single-seed');
  });
});

describe('bestMethod', () => {
  // AUROC means: scratch 0.80, full 0.90, lora 0.93 (clear), adapter 0.92 (within noise of lora)
  const rows = [0, 1, 2].flatMap((s) => [
    row('t', 'scratch', s, { auroc: 0.8 + 0.001 * s, acc: 0.5 }),
    row('t', 'full', s, { auroc: 0.9 + 0.001 * s, acc: 0.7 + 0.001 * s }),
    row('t', 'lora', s, { auroc: [0.92, 0.93, 0.94][s]!, acc: 0.6 }),
    row('t', 'adapter', s, { auroc: [0.91, 0.92, 0.93][s]!, acc: 0.6 }),
  ]);
  const cells = aggregate(rows);

  it('picks the highest mean, the runner-up and the methods within noise', () => {
    const b = bestMethod(cells, 't', 'auroc')!;
    expect(b.best).toBe('lora');
    expect(b.runnerUp).toBe('adapter');
    expect(b.comparison!.diff).toBeCloseTo(0.01, 12);
    expect(b.comparison!.verdict).toBe('within-noise');
    expect(b.withinNoise).toEqual(['adapter']);
    expect(bestMethod(cells, 't', 'acc')!.best).toBe('full');
  });

  it('picks the lowest for lower-is-better metrics and breaks ties by protocol order', () => {
    const c = aggregate([row('t', 'adapter', 0, { ece: 0.05 }), row('t', 'full', 0, { ece: 0.05 }), row('t', 'scratch', 0, { ece: 0.2 })]);
    expect(bestMethod(c, 't', 'ece', false)!.best).toBe('full');
    expect(bestMethod(c, 't', 'ece', true)!.best).toBe('scratch');
    expect(bestMethod(c, 'missing', 'ece')).toBeUndefined();
  });

  it('the reading names the best method and says the gap is within noise', () => {
    const t = text(readResults(cells, []), 'Best method');
    expect(t).toContain('best AUROC `lora` 0.930 ± 0.010');
    expect(t).toContain('next `adapter` 0.920 ± 0.010 (Δ +0.010, within noise)');
    expect(t).toContain('Best accuracy: `full`');
  });
});

describe('readResults', () => {
  const notes: DataNote[] = [
    { task: 'pathmnist', file: 'pathmnist.npz', kind: 'official', note: '' },
    { task: 'dermamnist', file: 'derma_demo.npz', kind: 'official-subset', note: '300 test images' },
    { task: 'organmnist3d', file: 'organ3d.npz', kind: 're-created', note: 'split re-created' },
  ];

  it('with one seed says so once and does not rank with confidence', () => {
    const cells = aggregate([
      row('pathmnist', 'scratch', 0, { auroc: 0.85, acc: 0.55 }),
      row('pathmnist', 'full', 0, { auroc: 0.9, acc: 0.62 }),
      row('pathmnist', 'lora', 0, { auroc: 0.89, acc: 0.6 }),
    ]);
    const r = readResults(cells, notes);
    expect(text(r, 'Overview')).toContain('**single seed**');
    expect(text(r, 'Overview')).not.toContain('sample standard deviation');
    const best = text(r, 'Best method');
    expect(best).toContain('best AUROC `full` 0.900, next `lora` 0.890 (Δ +0.010)');
    expect(best).not.toContain('noise');
    expect(text(r, 'Did pretraining')).toContain('pathmnist AUROC +0.050, acc +0.070');
    expect(text(r, 'Did pretraining')).toContain('in this single-seed run');
  });

  it('compares PEFT with full fine-tuning by parameter ratio and AUROC difference', () => {
    const rows = [0, 1].flatMap((s) => [
      row('pathmnist', 'full', s, { auroc: 0.9 + 0.01 * s, trainable_params: 137_673 }),
      row('pathmnist', 'lora', s, { auroc: 0.8 + 0.001 * s, trainable_params: 3_657 }),
      row('pathmnist', 'adapter', s, { auroc: 0.9 + 0.01 * s, trainable_params: 4_969 }),
    ]);
    const t = text(readResults(aggregate(rows), []), 'Parameter-efficient');
    // 137673 / 3657 = 37.6; 137673 / 4969 = 27.7
    expect(t).toContain('`lora` trains 3,657 parameters, 38× fewer than `full`');
    expect(t).toContain('-0.105 on pathmnist (larger than the seed std)');
    expect(t).toContain('`adapter` trains 4,969 parameters, 28× fewer');
    expect(t).toContain('0.000 on pathmnist (within noise)');
  });

  it('reports whether pretraining helped and how temperature scaling changed ECE', () => {
    const rows = [0, 1, 2].flatMap((s) => [
      row('a', 'scratch', s, { auroc: 0.8 + 0.001 * s, ece: 0.1, ece_ts: 0.05, temperature: 1.4 }),
      row('a', 'full', s, { auroc: 0.9 + 0.001 * s, ece: 0.2, ece_ts: 0.04, temperature: 1.8 }),
      row('b', 'scratch', s, { auroc: 0.9 + 0.02 * s, ece: 0.03, ece_ts: 0.06, temperature: 0.9 }),
      row('b', 'full', s, { auroc: 0.89 + 0.02 * s, ece: 0.05, ece_ts: 0.04, temperature: 1.1 }),
    ]);
    const r = readResults(aggregate(rows), []);
    const pre = text(r, 'Did pretraining');
    expect(pre).toContain('a AUROC +0.100 (larger than the seed std)');
    expect(pre).toContain('b AUROC -0.010 (within noise)');
    expect(pre).toContain('Higher AUROC on 1 of 2 tasks, by more than the seed std on 1');
    const cal = text(r, 'Calibration');
    expect(cal).toContain('lowered ECE in 3 of 4');
    expect(cal).toContain('mean ECE 0.095 → 0.048');
    expect(cal).toContain('raised it in 1: b/`scratch` 0.030 → 0.060');
    expect(cal).toContain('range 0.90–1.80; T > 1 (the model was over-confident before scaling) in 3 of 4');
  });

  it('states the data caveats and compares only the direction with the paper', () => {
    const cells = aggregate([
      row('pathmnist', 'scratch', 0, { auroc: 0.9 }),
      row('pathmnist', 'full', 0, { auroc: 0.88 }),
      row('dermamnist', 'full', 0),
      row('organmnist3d', 'full', 0),
      row('bloodmnist', 'full', 0),
    ]);
    const r = readResults(cells, notes);
    const data = text(r, 'Data caveats');
    expect(data).toContain('Official MedMNIST split: pathmnist (`pathmnist.npz`)');
    expect(data).toContain('Subset of the official split: dermamnist (`derma_demo.npz`; 300 test images)');
    expect(data).toContain('Re-created split (not the official files): organmnist3d');
    expect(data).toContain('No data provenance was recorded for bloodmnist');
    const paper = text(r, 'Against the paper');
    expect(paper).toContain('absolute values are not comparable');
    expect(paper).toContain('pathmnist: the paper has `full` minus `scratch` AUROC +0.028; here -0.020 — opposite direction');
  });

  it('warns loudly about synthetic data', () => {
    const r = readResults(aggregate([row('pathmnist', 'full', 0)]), [{ task: 'pathmnist', file: 'synth.npz', kind: 'synthetic', note: '' }]);
    expect(text(r, 'Data caveats')).toContain('**Synthetic data** for pathmnist');
  });

  it('names user-supplied files as not verified', () => {
    const r = readResults(aggregate([row('pathmnist', 'full', 0)]), [{ task: 'pathmnist', file: 'pathmnist_subset.npz', kind: 'user-supplied', note: 'user-supplied, not verified: no known content' }]);
    const data = text(r, 'Data caveats');
    expect(data).toContain('User-supplied, not verified: pathmnist (`pathmnist_subset.npz`; user-supplied, not verified: no known content)');
    expect(data).toContain('not comparable with numbers reported on the official MedMNIST test sets');
  });
});
