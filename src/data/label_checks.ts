/**
 * Degenerate label sets, found before they turn into silent NaNs: a training split with fewer
 * than two classes cannot train a classifier (refused), a class with no training samples cannot
 * be learned (warned), and a val/test split with fewer than two classes has no AUROC and makes
 * accuracy and temperature scaling say little (warned). Messages name the file, split and class.
 */
import { basename } from 'node:path';
import { classCounts } from './batches.js';
import { DataError } from './errors.js';
import { isMultiLabel } from './registry.js';
import type { TaskSplit } from './dataset.js';

/** Samples with label 1, per label, of a multi-label split. */
export function positiveCounts(split: TaskSplit): number[] {
  const w = split.labelWidth;
  const counts = Array<number>(w).fill(0);
  for (let i = 0; i < split.labels.length; i++) counts[i % w]! += split.labels[i]!;
  return counts;
}

const where = (s: TaskSplit): string => `${basename(s.file)}, ${s.split} split`;

function className(s: TaskSplit, c: number): string {
  const name = s.info.labels[c];
  return name === undefined || name === String(c) ? `class ${c}` : `class ${c} '${name}'`;
}

function present(counts: readonly number[]): number[] {
  return counts.flatMap((n, c) => (n > 0 ? [c] : []));
}

/**
 * Checks a training split: throws a DataError if it has fewer than two classes (or, multi-label,
 * no label with both values), and returns warnings for classes (labels) it cannot teach.
 */
export function checkTrainLabels(split: TaskSplit, numClasses: number): string[] {
  if (split.n === 0) throw new DataError(`${where(split)} is empty: there is nothing to train on (${split.file})`);
  if (isMultiLabel(split.info)) {
    const pos = positiveCounts(split);
    const constant = pos.flatMap((p, l) => (p === 0 || p === split.n ? [l] : []));
    if (constant.length === pos.length) throw new DataError(`${where(split)}: every label has the same value in all ${split.n} samples, so there is nothing to learn; check the labels (${split.file})`);
    return constant.map((l) => `${where(split)}: ${className(split, l)} is ${pos[l] === 0 ? 'never' : 'always'} positive, so the model cannot learn it`);
  }
  const counts = classCounts(split.labels, numClasses);
  const seen = present(counts);
  if (seen.length < 2) {
    throw new DataError(
      `${where(split)} has only one class (${className(split, seen[0]!)}, all ${split.n} samples): a classifier cannot learn from it; ` +
        `check the labels or use a file with at least two classes (${split.file})`,
    );
  }
  return counts.flatMap((n, c) => (n === 0 ? [`${where(split)} has no samples of ${className(split, c)}: the model cannot learn to predict it`] : []));
}

/** Warnings for a split used for metrics (val, test): fewer than two classes leaves AUROC undefined. */
export function checkEvalLabels(split: TaskSplit, numClasses: number): string[] {
  if (split.n === 0) return [`${where(split)} is empty: no metrics can be computed`];
  if (isMultiLabel(split.info)) {
    const pos = positiveCounts(split);
    const constant = pos.flatMap((p, l) => (p === 0 || p === split.n ? [l] : []));
    if (!constant.length) return [];
    return [`${where(split)}: ${constant.length} of ${pos.length} labels have one value in every sample and are left out of the mean AUROC (${constant.map((l) => className(split, l)).join(', ')})`];
  }
  const seen = present(classCounts(split.labels, numClasses));
  if (seen.length >= 2) return [];
  return [
    `${where(split)} has only one class (${className(split, seen[0]!)}, all ${split.n} samples): AUROC is undefined and ` +
      `accuracy only counts how often that class is predicted`,
  ];
}
