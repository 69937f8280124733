/**
 * Area under the ROC curve, one-vs-rest per class and macro-averaged, as MedMNIST's evaluator
 * and scikit-learn's `roc_auc_score(multi_class="ovr", average="macro")` compute it; plus ROC
 * curve points for plots (sklearn's `roc_curve` with `drop_intermediate=True`).
 */
import { asMatrix, checkLabels, MetricInputError, type Scores } from './scores.js';

function checkBinaryInputs(fn: string, scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number {
  const n = scores.length;
  if (positive.length !== n) throw new MetricInputError(`${fn}: ${n} scores but ${positive.length} targets`);
  for (let i = 0; i < n; i++) {
    if (!Number.isFinite(scores[i]!)) throw new MetricInputError(`${fn}: score ${i} is ${scores[i]}`);
  }
  return n;
}

/**
 * AUROC of `scores` for the binary target `positive` (truthy = positive), by the Mann-Whitney
 * statistic with midranks for tied scores: (sum of positive ranks - P(P+1)/2) / (P Q). A tie
 * between a positive and a negative counts one half, which is exactly the trapezoidal area of
 * sklearn's ROC curve. Returns null when the target has only one class (P = 0 or Q = 0): the AUROC
 * is undefined there (sklearn raises "Only one class present in y_true").
 */
export function binaryAuroc(scores: ArrayLike<number>, positive: ArrayLike<boolean | number>): number | null {
  const n = checkBinaryInputs('binaryAuroc', scores, positive);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[a]! - scores[b]!);
  let rankSumPos = 0;
  let nPos = 0;
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && scores[order[end]!] === scores[order[start]!]) end++;
    // ranks start+1 .. end (1-based) shared by the tie group
    const midrank = (start + 1 + end) / 2;
    for (let k = start; k < end; k++) {
      if (positive[order[k]!]) {
        rankSumPos += midrank;
        nPos++;
      }
    }
    start = end;
  }
  const nNeg = n - nPos;
  if (nPos === 0 || nNeg === 0) return null;
  return (rankSumPos - (nPos * (nPos + 1)) / 2) / (nPos * nNeg);
}

export interface AurocResult {
  /**
   * Macro AUROC: the unweighted mean of `perClass` over the classes that could be scored. For a
   * 2-column (binary) task it is the AUROC of p[:,1] alone, as sklearn and MedMNIST do. NaN when
   * no class could be scored (e.g. a single-class label set).
   */
  readonly value: number;
  /** One-vs-rest AUROC of p[:,c] for y == c; null for a class absent from (or the only class in) the labels. */
  readonly perClass: readonly (number | null)[];
  /**
   * Classes left out of the mean because their one-vs-rest AUROC is undefined. sklearn raises
   * and MedMNIST's evaluator (which loops over classes calling roc_auc_score) raises too; we skip
   * them instead so a small or unlucky split still gets a number, and say which were skipped.
   */
  readonly skipped: readonly number[];
}

/** Macro one-vs-rest AUROC of a [N, C] score matrix (probabilities or any monotone scores). */
export function macroAuroc(scores: Scores, labels: ArrayLike<number>): AurocResult {
  const m = asMatrix('macroAuroc', scores, labels.length);
  checkLabels('macroAuroc', labels, m.c);
  const perClass: (number | null)[] = [];
  const column = new Float64Array(m.n);
  const target = new Uint8Array(m.n);
  for (let c = 0; c < m.c; c++) {
    for (let i = 0; i < m.n; i++) {
      column[i] = m.data[i * m.c + c]!;
      target[i] = labels[i] === c ? 1 : 0;
    }
    perClass.push(binaryAuroc(column, target));
  }
  const skipped = perClass.flatMap((a, c) => (a === null ? [c] : []));
  let value: number;
  if (m.c === 2) {
    value = perClass[1] ?? NaN;
  } else {
    const scored = perClass.filter((a): a is number => a !== null);
    value = scored.length === 0 ? NaN : scored.reduce((s, a) => s + a, 0) / scored.length;
  }
  return { value, perClass, skipped };
}

export interface RocCurve {
  readonly fpr: readonly number[];
  readonly tpr: readonly number[];
  /** Decreasing score thresholds; the first is +Infinity (the (0, 0) point), as sklearn >= 1.3. */
  readonly thresholds: readonly number[];
}

/**
 * ROC curve points at every distinct score (predict positive iff score >= threshold), following
 * sklearn's `roc_curve`. With `dropIntermediate` (default, as sklearn) points whose removal does
 * not change the curve's shape (equal second differences of both counts) are dropped, which keeps
 * SVG plots of large test sets small. Returns null when either class is absent.
 */
export function rocCurve(
  scores: ArrayLike<number>,
  positive: ArrayLike<boolean | number>,
  opts: { dropIntermediate?: boolean } = {},
): RocCurve | null {
  const n = checkBinaryInputs('rocCurve', scores, positive);
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => scores[b]! - scores[a]!);
  let tps: number[] = [];
  let fps: number[] = [];
  let thr: number[] = [];
  let tp = 0;
  for (let k = 0; k < n; k++) {
    if (positive[order[k]!]) tp++;
    const last = k === n - 1 || scores[order[k + 1]!] !== scores[order[k]!];
    if (last) {
      tps.push(tp);
      fps.push(k + 1 - tp);
      thr.push(scores[order[k]!]!);
    }
  }
  const nPos = tps[tps.length - 1] ?? 0;
  const nNeg = fps[fps.length - 1] ?? 0;
  if (nPos === 0 || nNeg === 0) return null;
  if ((opts.dropIntermediate ?? true) && tps.length > 2) {
    const keep: number[] = [0];
    for (let k = 1; k < tps.length - 1; k++) {
      const d2f = fps[k + 1]! - 2 * fps[k]! + fps[k - 1]!;
      const d2t = tps[k + 1]! - 2 * tps[k]! + tps[k - 1]!;
      if (d2f !== 0 || d2t !== 0) keep.push(k);
    }
    keep.push(tps.length - 1);
    tps = keep.map((k) => tps[k]!);
    fps = keep.map((k) => fps[k]!);
    thr = keep.map((k) => thr[k]!);
  }
  return {
    fpr: [0, ...fps.map((f) => f / nNeg)],
    tpr: [0, ...tps.map((t) => t / nPos)],
    thresholds: [Infinity, ...thr],
  };
}

/** One-vs-rest ROC curve of p[:,c] for every class c (null for a class absent from the labels). */
export function rocCurves(scores: Scores, labels: ArrayLike<number>, opts: { dropIntermediate?: boolean } = {}): (RocCurve | null)[] {
  const m = asMatrix('rocCurves', scores, labels.length);
  checkLabels('rocCurves', labels, m.c);
  const out: (RocCurve | null)[] = [];
  for (let c = 0; c < m.c; c++) {
    const column = Float64Array.from({ length: m.n }, (_, i) => m.data[i * m.c + c]!);
    const target = Uint8Array.from({ length: m.n }, (_, i) => (labels[i] === c ? 1 : 0));
    out.push(rocCurve(column, target, opts));
  }
  return out;
}
