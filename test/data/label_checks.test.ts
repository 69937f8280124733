/** Degenerate label sets are named before training or scoring, with the file, split and class. */
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DataError, checkEvalLabels, checkTrainLabels, loadTaskFile, npyArray, synthesize, writeNpz, type NpyArray } from '../../src/data/index.js';
import { errorOf } from '../helpers/errors.js';
import { makeTmpDir } from '../helpers/synth.js';

/** A synthetic file of `task` with each split's labels replaced by `relabel(split, labels)`. */
function relabelled(task: string, relabel: (split: string, labels: Uint8Array | Int32Array) => ArrayLike<number>) {
  const s = synthesize(task, { sizes: { train: 36, val: 12, test: 12 }, seed: 9 });
  const arrays: Record<string, NpyArray> = { ...s.arrays };
  for (const split of ['train', 'val', 'test']) {
    const l = s.arrays[`${split}_labels`]!;
    arrays[`${split}_labels`] = npyArray('uint8', l.shape, Uint8Array.from(relabel(split, l.data as Uint8Array)));
  }
  const file = join(makeTmpDir().dir, `${task}.npz`);
  writeNpz(file, arrays);
  return loadTaskFile(task, file);
}

describe('training labels', () => {
  it('refuse a one-class train split, naming the class and the file', () => {
    const d = relabelled('bloodmnist', (_s, l) => l.map(() => 3));
    const e = errorOf(() => checkTrainLabels(d.train, 8));
    expect(e).toBeInstanceOf(DataError);
    expect(e.message).toMatch(/bloodmnist\.npz, train split has only one class \(class 3 'immature granulocytes\(myelocytes/);
    expect(e.message).toMatch(/cannot learn/);
  });

  it('warn of a class missing from train, and of nothing otherwise', () => {
    const d = relabelled('bloodmnist', (s, l) => (s === 'train' ? l.map((v) => (v === 5 ? 4 : v)) : l));
    const w = checkTrainLabels(d.train, 8);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/train split has no samples of class 5 'monocyte'/);
    expect(checkTrainLabels(relabelled('bloodmnist', (_s, l) => l).train, 8)).toEqual([]);
  });

  it('multi-label: refuse labels that never vary, warn of one that never does', () => {
    const none = relabelled('chestmnist', (_s, l) => l.map(() => 0));
    expect(errorOf(() => checkTrainLabels(none.train, 14)).message).toMatch(/every label has the same value/);
    const one = relabelled('chestmnist', (_s, l) => l.map((v, i) => (i % 14 === 2 ? 1 : i % 14 === 0 ? (i / 14) % 2 : v)));
    const w = checkTrainLabels(one.train, 14);
    expect(w.some((m) => /class 2 'effusion' is always positive/.test(m))).toBe(true);
  });
});

describe('evaluation labels', () => {
  it('warn when val/test has fewer than two classes (AUROC undefined)', () => {
    const d = relabelled('pathmnist', (s, l) => (s === 'test' ? l.map(() => 0) : l));
    expect(checkEvalLabels(d.val, 9)).toEqual([]);
    const w = checkEvalLabels(d.test, 9);
    expect(w).toHaveLength(1);
    expect(w[0]).toMatch(/pathmnist\.npz, test split has only one class \(class 0 'adipose', all 12 samples\): AUROC is undefined/);
  });
});
