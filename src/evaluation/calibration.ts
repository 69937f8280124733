/**
 * Calibration: expected calibration error (ECE) on top-label confidence, classwise ECE and the
 * per-bin data of a reliability diagram.
 *
 * Binning (SPEC 6): `nBins` equal-width bins with edges k / nBins; bin m holds confidences in
 * (m / nBins, (m + 1) / nBins], and confidence exactly 0 goes to the first bin. This is the
 * `conf > lo && conf <= hi` rule of the common PyTorch ECE implementation (Guo et al. 2017).
 *   ECE = sum_m |B_m| / n * |acc(B_m) - conf(B_m)|
 */
import { argmaxRow, asMatrix, checkLabels, checkProbabilities, type Matrix, type Scores } from './scores.js';

export const DEFAULT_BINS = 15;

/**
 * Bin of a confidence in [0, 1]. Compares against the edges k / nBins themselves (not
 * floor(conf * nBins)), so a confidence written as a decimal on an edge, e.g. 0.2 with 15 bins
 * (= 3/15 as the nearest double), lands in the bin whose upper edge it is.
 */
export function binIndex(conf: number, nBins: number = DEFAULT_BINS): number {
  let m = Math.min(nBins - 1, Math.max(0, Math.ceil(conf * nBins) - 1));
  while (m > 0 && conf <= m / nBins) m--;
  while (m < nBins - 1 && conf > (m + 1) / nBins) m++;
  return m;
}

export interface ReliabilityBin {
  /** Bin edges: the bin holds confidences in (lo, hi] (bin 0 also holds 0). */
  readonly lo: number;
  readonly hi: number;
  readonly count: number;
  /** Mean confidence of the samples in the bin; null when the bin is empty. */
  readonly confidence: number | null;
  /** Fraction of the bin's samples whose outcome is positive (correct); null when empty. */
  readonly accuracy: number | null;
}

/**
 * Bins `conf[i]` with outcome `hit[i]` (1 = correct / positive, 0 = not) and returns the bins
 * and the binned calibration error sum_m |B_m|/n |acc(B_m) - conf(B_m)|.
 */
export function calibrationBins(
  conf: ArrayLike<number>,
  hit: ArrayLike<number>,
  nBins: number = DEFAULT_BINS,
): { bins: ReliabilityBin[]; error: number } {
  if (!Number.isInteger(nBins) || nBins < 1) throw new Error(`calibrationBins: nBins must be a positive integer, got ${nBins}`);
  const n = conf.length;
  if (hit.length !== n) throw new Error(`calibrationBins: ${n} confidences but ${hit.length} outcomes`);
  const count = new Float64Array(nBins);
  const sumConf = new Float64Array(nBins);
  const sumHit = new Float64Array(nBins);
  for (let i = 0; i < n; i++) {
    const m = binIndex(conf[i]!, nBins);
    count[m]!++;
    sumConf[m]! += conf[i]!;
    sumHit[m]! += hit[i]!;
  }
  let error = 0;
  const bins: ReliabilityBin[] = [];
  for (let m = 0; m < nBins; m++) {
    const k = count[m]!;
    // |B|/n * |sumHit/|B| - sumConf/|B|| = |sumHit - sumConf| / n
    if (k > 0) error += Math.abs(sumHit[m]! - sumConf[m]!) / n;
    bins.push({
      lo: m / nBins,
      hi: (m + 1) / nBins,
      count: k,
      confidence: k > 0 ? sumConf[m]! / k : null,
      accuracy: k > 0 ? sumHit[m]! / k : null,
    });
  }
  return { bins, error };
}

function probMatrix(fn: string, probs: Scores, labels: ArrayLike<number>): Matrix {
  const m = asMatrix(fn, probs, labels.length);
  checkLabels(fn, labels, m.c);
  checkProbabilities(fn, m);
  return m;
}

/** Top-label confidence (max probability) and correctness of the argmax (ties -> lowest index). */
function topLabel(m: Matrix, labels: ArrayLike<number>): { conf: Float64Array; hit: Float64Array } {
  const conf = new Float64Array(m.n);
  const hit = new Float64Array(m.n);
  for (let i = 0; i < m.n; i++) {
    const k = argmaxRow(m, i);
    conf[i] = m.data[i * m.c + k]!;
    hit[i] = k === labels[i] ? 1 : 0;
  }
  return { conf, hit };
}

/** Reliability-diagram data on top-label confidence, with the ECE of the same bins. */
export function reliabilityDiagram(
  probs: Scores,
  labels: ArrayLike<number>,
  nBins: number = DEFAULT_BINS,
): { bins: ReliabilityBin[]; ece: number } {
  const { conf, hit } = topLabel(probMatrix('reliabilityDiagram', probs, labels), labels);
  const { bins, error } = calibrationBins(conf, hit, nBins);
  return { bins, ece: error };
}

/** Expected calibration error on top-label confidence (SPEC 6). */
export function ece(probs: Scores, labels: ArrayLike<number>, nBins: number = DEFAULT_BINS): number {
  const { conf, hit } = topLabel(probMatrix('ece', probs, labels), labels);
  return calibrationBins(conf, hit, nBins).error;
}

/**
 * Classwise ECE (Kull et al. 2019): for each class c, the binned calibration error of p[:,c]
 * against 1[y = c] over all samples, averaged over classes. Every class counts, including one
 * absent from the labels (its error is then the mean predicted p[:,c]).
 */
export function classwiseEce(probs: Scores, labels: ArrayLike<number>, nBins: number = DEFAULT_BINS): number {
  const m = probMatrix('classwiseEce', probs, labels);
  const conf = new Float64Array(m.n);
  const hit = new Float64Array(m.n);
  let total = 0;
  for (let c = 0; c < m.c; c++) {
    for (let i = 0; i < m.n; i++) {
      conf[i] = m.data[i * m.c + c]!;
      hit[i] = labels[i] === c ? 1 : 0;
    }
    total += calibrationBins(conf, hit, nBins).error;
  }
  return total / m.c;
}
