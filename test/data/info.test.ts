import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatDataSummary, summarizeDataFile } from '../../src/data/info.js';
import { npyArray } from '../../src/data/npy.js';
import { writeNpz } from '../../src/data/npz.js';
import { runCli } from '../helpers/cli.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

describe('data info', () => {
  it('summarises a file per split, with class counts and label names', () => {
    const { file, result } = synthDataFile('bloodmnist', { sizes: { train: 24, val: 8, test: 16 }, fileName: 'bloodmnist-synth.npz' });
    const s = summarizeDataFile(file);
    expect(s).toMatchObject({ task: 'bloodmnist', taskFrom: 'file name', taskType: 'multi-class', problems: [] });
    expect(s.arrays.map((a) => a.key)).toEqual([...Object.keys(result.arrays), 'stmedfm_synthetic']);
    expect(s.splits.map((p) => [p.split, p.n, p.officialN])).toEqual([
      ['train', 24, 11959],
      ['val', 8, 1712],
      ['test', 16, 3421],
    ]);
    expect(s.splits[0]!.counts).toEqual([3, 3, 3, 3, 3, 3, 3, 3]);
    expect(s.splits[0]!.pixelMean).toHaveLength(3);
    const text = formatDataSummary(s);
    expect(text).toContain('train: N = 24 (official file: 11959); images (24, 28, 28, 3), labels (24, 1)');
    expect(text).toContain('      3  basophil');
    expect(text).toContain('ok: the file has the layout bloodmnist needs');
  });

  it('counts positives per label for the multi-label task', () => {
    const { file, result } = synthDataFile('chestmnist', { sizes: { train: 30, val: 4, test: 4 } });
    const s = summarizeDataFile(file);
    const lab = result.arrays.train_labels!.data as Uint8Array;
    const expected = Array.from({ length: 14 }, (_, j) => lab.filter((_, i) => i % 14 === j && lab[i] === 1).length);
    expect(s.splits[0]!.counts).toEqual(expected);
  });

  it('collects every problem instead of stopping at the first', () => {
    const file = join(makeTmpDir().dir, 'pneumoniamnist.npz');
    const img = npyArray('uint8', [2, 28, 28], new Uint8Array(2 * 784));
    writeNpz(file, {
      train_images: img,
      train_labels: npyArray('uint8', [2, 1], Uint8Array.of(0, 5)),
      val_images: npyArray('uint8', [2, 28, 28, 3], new Uint8Array(2 * 2352)),
      val_labels: npyArray('uint8', [2, 1], Uint8Array.of(0, 1)),
    });
    const s = summarizeDataFile(file);
    expect(s.problems).toHaveLength(3);
    expect(s.problems[0]).toMatch(/train_labels\[1\] = 5 is out of range/);
    expect(s.problems[1]).toMatch(/val_images: shape \(2, 28, 28, 3\) does not fit pneumoniamnist/);
    expect(s.problems[2]).toMatch(/split test is missing/);
    expect(formatDataSummary(s)).toContain('problems:');
  });

  it('names an empty split as a problem, lists each problem once, and the CLI exits 2 on problems', () => {
    const file = join(makeTmpDir().dir, 'pneumoniamnist.npz');
    writeNpz(file, {
      train_images: npyArray('uint8', [2, 28, 28], new Uint8Array(2 * 784)),
      train_labels: npyArray('uint8', [2, 1], Uint8Array.of(0, 1)),
      val_images: npyArray('uint8', [0, 28, 28], new Uint8Array(0)),
      val_labels: npyArray('uint8', [0, 1], new Uint8Array(0)),
      test_images: npyArray('uint8', [2, 28, 28, 3], new Uint8Array(2 * 2352)),
      test_labels: npyArray('uint8', [2, 1], Uint8Array.of(0, 1)),
    });
    const s = summarizeDataFile(file);
    expect(s.problems).toHaveLength(2);
    expect(s.problems[0]).toMatch(/split val is empty \(0 samples\)/);
    expect(s.problems[1]).toMatch(/test_images: shape \(2, 28, 28, 3\) does not fit pneumoniamnist/);
    const text = formatDataSummary(s);
    expect(text).not.toContain('NaN');
    const lines = text.split('\n').filter((l) => l.startsWith('  - '));
    expect(new Set(lines).size).toBe(lines.length);
    const r = runCli(['data', 'info', file]);
    expect(r.code).toBe(2);
    expect(r.stdout).toContain('problems:');
    const ok = runCli(['data', 'info', synthDataFile('bloodmnist', { sizes: { train: 8, val: 8, test: 8 }, fileName: 'bloodmnist.npz' }).file]);
    expect(ok.code).toBe(0);
  });

  it('summarises a file of an unknown task generically', () => {
    const { file } = synthDataFile('pathmnist', { sizes: { train: 18, val: 9, test: 9 }, fileName: 'mystery.npz' });
    const s = summarizeDataFile(file);
    expect(s.task).toBeUndefined();
    expect(s.splits[0]!.counts).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 2]);
    expect(summarizeDataFile(file, 'pathmnist').taskFrom).toBe('given');
  });
});

describe('synthetic marker', () => {
  it('files written by data synth are recognisable as synthetic; others are not', async () => {
    const { isSynthetic, writeSynth } = await import('../../src/data/synth.js');
    const { dir } = makeTmpDir();
    const f = join(dir, 'pathmnist.npz');
    const r = writeSynth(f, 'pathmnist', { sizes: { train: 4, val: 2, test: 2 } });
    expect(isSynthetic(f)).toBe(true);
    const plain = join(dir, 'plain.npz');
    writeNpz(plain, r.arrays);
    expect(isSynthetic(plain)).toBe(false);
  });
});
