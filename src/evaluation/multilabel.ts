/**
 * Multi-label metrics (ChestMNIST: 14 independent binary labels, sigmoid outputs), as MedMNIST's
 * evaluator defines them for task "multi-label, binary-class":
 *   auroc  mean over labels of the per-label binary AUROC
 *   acc    mean over labels of the per-label accuracy, predicting positive iff p > threshold (0.5)
 *          (strict ">" as in medmnist >= 2.2's getACC)
 * and, for calibration, per label l the binned ECE of p[:,l] against t[:,l] (the classwise ECE of
 * calibration.ts with labels for classes; `ece` is their mean), the Brier score and the binary
 * cross-entropy, both averaged over all N x L entries (= the mean over labels of sklearn's
 * brier_score_loss / log_loss, every label having the same N).
 * A label whose targets are all 0 or all 1 has no AUROC; it is skipped and reported, as in the
 * multi-class macro AUROC.
 */
import { binaryAuroc, type AurocResult } from './auroc.js';
import { DEFAULT_BINS, calibrationBins } from './calibration.js';
import { MetricInputError, asMatrix, type Matrix, type Scores } from './scores.js';

function labelMatrices(fn: string, scores: Scores, targets: ArrayLike<number>, numLabels: number): Matrix {
  if (!Number.isInteger(numLabels) || numLabels < 1) throw new MetricInputError(`${fn}: numLabels must be a positive integer, got ${numLabels}`);
  if (targets.length % numLabels !== 0) {
    throw new MetricInputError(`${fn}: ${targets.length} targets are not a whole number of rows of ${numLabels} labels`);
  }
  const n = targets.length / numLabels;
  const m = asMatrix(fn, scores, n, 1);
  if (m.c !== numLabels) throw new MetricInputError(`${fn}: scores have ${m.c} columns, expected ${numLabels} labels`);
  for (let i = 0; i < targets.length; i++) {
    const t = targets[i]!;
    if (t !== 0 && t !== 1) throw new MetricInputError(`${fn}: target [${Math.floor(i / numLabels)}, ${i % numLabels}] is ${t}, expected 0 or 1`);
  }
  return m;
}

/** Mean over labels of the binary AUROC of scores[:,l] against targets[:,l] (targets flat [N, L]). */
export function multilabelAuroc(scores: Scores, targets: ArrayLike<number>, numLabels: number): AurocResult {
  const m = labelMatrices('multilabelAuroc', scores, targets, numLabels);
  const perClass: (number | null)[] = [];
  for (let l = 0; l < m.c; l++) {
    const col = Float64Array.from({ length: m.n }, (_, i) => m.data[i * m.c + l]!);
    const tgt = Float64Array.from({ length: m.n }, (_, i) => targets[i * m.c + l]!);
    perClass.push(binaryAuroc(col, tgt));
  }
  const scored = perClass.filter((a): a is number => a !== null);
  return {
    value: scored.length === 0 ? NaN : scored.reduce((s, a) => s + a, 0) / scored.length,
    perClass,
    skipped: perClass.flatMap((a, l) => (a === null ? [l] : [])),
  };
}

/** A label counts as predicted present when its probability is above this (MedMNIST's evaluator's). */
export const MULTI_LABEL_THRESHOLD = 0.5;

/** The labels of one sample's probabilities predicted present (above `threshold`), as `predict` names them. */
export function labelsAbove(probs: ArrayLike<number>, threshold = MULTI_LABEL_THRESHOLD): number[] {
  const out: number[] = [];
  for (let c = 0; c < probs.length; c++) if (probs[c]! > threshold) out.push(c);
  return out;
}

/** Mean over labels of the per-label accuracy of (p > threshold) against the 0/1 targets. */
export function multilabelAccuracy(probs: Scores, targets: ArrayLike<number>, numLabels: number, threshold = MULTI_LABEL_THRESHOLD): number {
  const m = labelMatrices('multilabelAccuracy', probs, targets, numLabels);
  let hits = 0;
  for (let i = 0; i < m.data.length; i++) if ((m.data[i]! > threshold ? 1 : 0) === targets[i]) hits++;
  // every label has the same N, so the mean of per-label accuracies is the overall hit rate
  return hits / m.data.length;
}

/** Element-wise logistic sigmoid of logits (stable for large |z|). */
export function sigmoid(logits: ArrayLike<number>): Float64Array {
  return Float64Array.from({ length: logits.length }, (_, i) => {
    const z = logits[i]!;
    if (z >= 0) return 1 / (1 + Math.exp(-z));
    const e = Math.exp(z);
    return e / (1 + e);
  });
}

/** Binned ECE of p[:,l] against the 0/1 targets t[:,l], per label (15 bins as in calibration.ts). */
export function perLabelEce(probs: Scores, targets: ArrayLike<number>, numLabels: number, nBins: number = DEFAULT_BINS): number[] {
  const m = labelMatrices('perLabelEce', probs, targets, numLabels);
  return Array.from({ length: m.c }, (_, l) => {
    const conf = Float64Array.from({ length: m.n }, (_, i) => m.data[i * m.c + l]!);
    const hit = Float64Array.from({ length: m.n }, (_, i) => targets[i * m.c + l]!);
    return calibrationBins(conf, hit, nBins).error;
  });
}

/** Mean over all N x L entries of (p - t)^2. */
export function multilabelBrier(probs: Scores, targets: ArrayLike<number>, numLabels: number): number {
  const m = labelMatrices('multilabelBrier', probs, targets, numLabels);
  let s = 0;
  for (let i = 0; i < m.data.length; i++) s += (m.data[i]! - targets[i]!) ** 2;
  return s / m.data.length;
}

/** Probabilities below this (or above 1 - this) are clamped in the BCE, as the multi-class NLL. */
const BCE_EPS = 1e-12;

/** Mean over all N x L entries of the binary cross-entropy -[t log p + (1 - t) log(1 - p)]. */
export function multilabelNll(probs: Scores, targets: ArrayLike<number>, numLabels: number): number {
  const m = labelMatrices('multilabelNll', probs, targets, numLabels);
  let s = 0;
  for (let i = 0; i < m.data.length; i++) {
    const p = Math.min(1 - BCE_EPS, Math.max(BCE_EPS, m.data[i]!));
    s -= targets[i] === 1 ? Math.log(p) : Math.log1p(-p);
  }
  return s / m.data.length;
}

export interface MultilabelMetrics {
  readonly n: number;
  readonly num_labels: number;
  readonly acc: number;
  readonly auroc: number;
  /** Labels with one value in every sample, left out of the mean AUROC. */
  readonly auroc_skipped: readonly number[];
  /** Why `auroc` is NaN (present only then). */
  readonly auroc_why?: string;
  /** Mean of `per_label_ece`. */
  readonly ece: number;
  readonly per_label_ece: readonly number[];
  readonly brier: number;
  readonly nll: number;
}

/** acc and mean per-label AUROC for multi-label predictions (`logits` go through a sigmoid). */
export function evaluateMultilabel(
  pred: { readonly logits: ArrayLike<number> } | { readonly probs: ArrayLike<number> },
  targets: ArrayLike<number>,
  numLabels: number,
  threshold = MULTI_LABEL_THRESHOLD,
): MultilabelMetrics {
  const probs = 'logits' in pred ? sigmoid(pred.logits) : pred.probs;
  const au = multilabelAuroc(probs, targets, numLabels);
  const perLabel = perLabelEce(probs, targets, numLabels);
  return {
    n: targets.length / numLabels,
    num_labels: numLabels,
    acc: multilabelAccuracy(probs, targets, numLabels, threshold),
    auroc: au.value,
    auroc_skipped: au.skipped,
    ...(Number.isNaN(au.value) ? { auroc_why: 'every label has one value in all samples; AUROC needs both values of a label' } : {}),
    ece: perLabel.reduce((a, b) => a + b, 0) / perLabel.length,
    per_label_ece: perLabel,
    brier: multilabelBrier(probs, targets, numLabels),
    nll: multilabelNll(probs, targets, numLabels),
  };
}
