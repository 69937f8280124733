/**
 * Classification metrics of SPEC 6 on a row-major [N, C] matrix of class probabilities (or
 * logits, where said) and integer labels, in plain float64 TypeScript:
 *
 *   acc            fraction of samples whose argmax (ties -> lowest index) is the label
 *   auroc          macro one-vs-rest AUROC, midrank ties (auroc.ts); binary: AUROC of p[:,1]
 *   ece            15-bin expected calibration error on top-label confidence (calibration.ts)
 *   classwise_ece  mean over classes of the same binned error of p[:,c] vs 1[y = c]
 *   brier          mean over samples of sum_c (p_c - 1[y = c])^2, range 0..2
 *   nll            mean of -log p_y, with p_y clamped below at 1e-12 (so at most 27.63 per sample)
 */
import { macroAuroc } from './auroc.js';
import { DEFAULT_BINS, classwiseEce, ece } from './calibration.js';
import {
  argmaxRow,
  asMatrix,
  checkLabels,
  checkProbabilities,
  logProbOfLabel,
  softmaxRows,
  type Matrix,
  type Scores,
} from './scores.js';

/** Probabilities below this count as this in the NLL, so one confident mistake cannot make it infinite. */
export const NLL_EPS = 1e-12;
const LOG_NLL_EPS = Math.log(NLL_EPS);

/** Accuracy of the argmax; ties between classes go to the lowest index (numpy.argmax). */
export function accuracy(scores: Scores, labels: ArrayLike<number>): number {
  const m = asMatrix('accuracy', scores, labels.length);
  checkLabels('accuracy', labels, m.c);
  let hits = 0;
  for (let i = 0; i < m.n; i++) if (argmaxRow(m, i) === labels[i]) hits++;
  return hits / m.n;
}

/** Multi-class Brier score: mean over samples of sum_c (p_c - 1[y = c])^2 (0 = perfect, 2 = worst). */
export function brier(probs: Scores, labels: ArrayLike<number>): number {
  const m = asMatrix('brier', probs, labels.length);
  checkLabels('brier', labels, m.c);
  checkProbabilities('brier', m);
  let total = 0;
  for (let i = 0; i < m.n; i++) {
    for (let c = 0; c < m.c; c++) {
      const d = m.data[i * m.c + c]! - (labels[i] === c ? 1 : 0);
      total += d * d;
    }
  }
  return total / m.n;
}

/** Mean negative log-likelihood of the labels, -log max(p_y, 1e-12). */
export function nll(probs: Scores, labels: ArrayLike<number>): number {
  const m = asMatrix('nll', probs, labels.length);
  checkLabels('nll', labels, m.c);
  checkProbabilities('nll', m);
  let total = 0;
  for (let i = 0; i < m.n; i++) total -= Math.log(Math.max(m.data[i * m.c + labels[i]!]!, NLL_EPS));
  return total / m.n;
}

/**
 * The same NLL computed from logits through a stable log-softmax (no round trip through a
 * probability that could underflow), with the same clamp. `temperature` divides the logits.
 */
export function nllFromLogits(logits: Scores, labels: ArrayLike<number>, temperature = 1): number {
  const m = asMatrix('nllFromLogits', logits, labels.length);
  checkLabels('nllFromLogits', labels, m.c);
  const lp = logProbOfLabel(m, labels, temperature);
  let total = 0;
  for (let i = 0; i < m.n; i++) total -= Math.max(lp[i]!, LOG_NLL_EPS);
  return total / m.n;
}

/** What a model predicted: raw logits (softmax is applied here) or class probabilities. */
export type Prediction = { readonly logits: Scores } | { readonly probs: Scores };

/** Every metric of SPEC 6 for one set of predictions; snake_case keys as they appear in results.json. */
export interface Metrics {
  readonly n: number;
  readonly num_classes: number;
  readonly acc: number;
  /** NaN only if no class could be scored; see `auroc_skipped`. */
  readonly auroc: number;
  /** Classes absent from the labels, left out of the macro AUROC (empty normally). */
  readonly auroc_skipped: readonly number[];
  /** Why `auroc` is NaN (present only then), e.g. "only class 2 occurs in the labels". */
  readonly auroc_why?: string;
  readonly ece: number;
  readonly classwise_ece: number;
  readonly brier: number;
  readonly nll: number;
}

export interface EvaluateOptions {
  /** Number of calibration bins (default 15). */
  readonly bins?: number;
}

/** Probabilities (as a checked matrix) of a prediction, applying softmax to logits. */
export function toProbabilities(pred: Prediction, n: number): Matrix {
  if ('logits' in pred) {
    const z = asMatrix('evaluateAll', pred.logits, n);
    return { n: z.n, c: z.c, data: softmaxRows(z) };
  }
  const m = asMatrix('evaluateAll', pred.probs, n);
  checkProbabilities('evaluateAll', m);
  return m;
}

/** acc, macro AUROC, ECE, classwise ECE, Brier and NLL in one object. */
export function evaluateAll(pred: Prediction, labels: ArrayLike<number>, opts: EvaluateOptions = {}): Metrics {
  const bins = opts.bins ?? DEFAULT_BINS;
  const p = toProbabilities(pred, labels.length);
  checkLabels('evaluateAll', labels, p.c);
  const shaped = { shape: [p.n, p.c], data: p.data };
  const au = macroAuroc(shaped, labels);
  const why = Number.isNaN(au.value) ? aurocUndefinedReason(labels) : undefined;
  return {
    n: p.n,
    num_classes: p.c,
    acc: accuracy(shaped, labels),
    auroc: au.value,
    auroc_skipped: au.skipped,
    ...(why ? { auroc_why: why } : {}),
    ece: ece(shaped, labels, bins),
    classwise_ece: classwiseEce(shaped, labels, bins),
    brier: brier(shaped, labels),
    nll: 'logits' in pred ? nllFromLogits(pred.logits, labels) : nll(shaped, labels),
  };
}

/** Why a (macro or binary) AUROC of these labels is undefined: it needs samples of two classes. */
export function aurocUndefinedReason(labels: ArrayLike<number>): string {
  const classes = [...new Set(Array.from(labels))].sort((a, b) => a - b);
  if (classes.length === 0) return 'no samples';
  if (classes.length === 1) return `only class ${classes[0]} occurs in the labels; AUROC needs two classes`;
  return 'no class could be scored';
}

/**
 * A metric for people: fixed decimals, or "n/a (why)" where the metric is undefined (NaN), so a
 * report never shows a bare NaN.
 */
export function formatMetric(value: number | null | undefined, why?: string, digits = 4): string {
  if (typeof value === 'number' && Number.isFinite(value)) return value.toFixed(digits);
  return `n/a (${why ?? 'undefined'})`;
}
