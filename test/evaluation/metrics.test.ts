import { describe, expect, it } from 'vitest';
import {
  accuracy,
  binIndex,
  binaryAuroc,
  brier,
  classwiseEce,
  ece,
  evaluateAll,
  macroAuroc,
  MetricInputError,
  multilabelAccuracy,
  multilabelAuroc,
  nll,
  nllFromLogits,
  reliabilityDiagram,
  rocCurve,
} from '../../src/evaluation/index.js';
import { Rng } from '../../src/util/rng.js';

/** Trapezoidal area under (fpr, tpr) points. */
function trapezoid(fpr: readonly number[], tpr: readonly number[]): number {
  let a = 0;
  for (let k = 1; k < fpr.length; k++) a += ((fpr[k]! - fpr[k - 1]!) * (tpr[k]! + tpr[k - 1]!)) / 2;
  return a;
}

/** Pairwise definition of AUROC: P(score_pos > score_neg) + 1/2 P(equal), by brute force. */
function pairwiseAuroc(s: readonly number[], y: readonly number[]): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < s.length; i++) {
    if (!y[i]) continue;
    for (let j = 0; j < s.length; j++) {
      if (y[j]) continue;
      den++;
      num += s[i]! > s[j]! ? 1 : s[i] === s[j] ? 0.5 : 0;
    }
  }
  return num / den;
}

describe('accuracy', () => {
  it('counts argmax hits and breaks ties towards the lowest class index', () => {
    // row 1 ties classes 0 and 2 -> predicts 0 (correct); row 2 ties 1 and 2 -> predicts 1 (label 2: wrong)
    const p = [0.1, 0.7, 0.2, 0.4, 0.2, 0.4, 0.2, 0.4, 0.4];
    expect(accuracy(p, [1, 0, 2])).toBeCloseTo(2 / 3, 15);
    expect(accuracy(p, [1, 2, 1])).toBeCloseTo(2 / 3, 15);
  });

  it('accepts a [N, C] tensor-like and checks its shape against the labels', () => {
    expect(accuracy({ shape: [2, 2], data: [0.9, 0.1, 0.3, 0.7] }, [0, 1])).toBe(1);
    expect(() => accuracy({ shape: [3, 2], data: [0.9, 0.1, 0.3, 0.7, 0.5, 0.5] }, [0, 1])).toThrow(/3 rows but there are 2 labels/);
  });
});

describe('AUROC (midrank / Mann-Whitney)', () => {
  it('gives tied positive/negative pairs half credit', () => {
    // ranks: 0.1 -> 1, 0.4 & 0.4 -> 2.5, 0.8 -> 4; positives 0.4 and 0.8: (2.5 + 4 - 3) / (2 * 2) = 0.875
    expect(binaryAuroc([0.1, 0.4, 0.4, 0.8], [0, 0, 1, 1])).toBe(0.875);
  });

  it('is 1 for a perfect ranking, 0 for a reversed one and 0.5 for a constant score', () => {
    expect(binaryAuroc([0.1, 0.2, 0.8, 0.9], [0, 0, 1, 1])).toBe(1);
    expect(binaryAuroc([0.9, 0.8, 0.2, 0.1], [0, 0, 1, 1])).toBe(0);
    expect(binaryAuroc([0.3, 0.3, 0.3, 0.3, 0.3], [0, 1, 0, 1, 1])).toBe(0.5);
  });

  it('is undefined (null) when the target has one class only', () => {
    expect(binaryAuroc([0.1, 0.2], [1, 1])).toBeNull();
    expect(binaryAuroc([0.1, 0.2], [0, 0])).toBeNull();
  });

  it('skips a class absent from the labels in the macro mean and reports it', () => {
    // class 0: positives 0.7, 0.5 vs negatives 0.2, 0.6 -> 3/4
    // class 1: positives 0.6, 0.3 vs negatives 0.2, 0.3 -> (1 + 1 + 1 + 0.5)/4 = 0.875
    // class 2: no positive -> skipped; macro = (0.75 + 0.875) / 2
    const p = [0.7, 0.2, 0.1, 0.5, 0.3, 0.2, 0.2, 0.6, 0.2, 0.6, 0.3, 0.1];
    const r = macroAuroc(p, [0, 0, 1, 1]);
    expect(r.perClass).toEqual([0.75, 0.875, null]);
    expect(r.skipped).toEqual([2]);
    expect(r.value).toBeCloseTo(0.8125, 15);
    expect(accuracy(p, [0, 0, 1, 1])).toBe(0.75);
  });

  it('uses p[:,1] alone for a binary task, as sklearn does', () => {
    // p[:,0] is deliberately not 1 - p[:,1]: the binary AUROC must ignore column 0
    const p = [0.9, 0.1, 0.9, 0.3, 0.0, 0.2, 0.5, 0.6];
    const y = [0, 0, 1, 1];
    const r = macroAuroc(p, y);
    expect(r.value).toBe(binaryAuroc([0.1, 0.3, 0.2, 0.6], y));
    expect(r.value).toBe(0.75);
    expect(r.perClass[0]).not.toBe(r.value);
  });

  it('is NaN with every class reported when a binary task has one label value', () => {
    const r = macroAuroc([0.2, 0.8, 0.6, 0.4], [1, 1]);
    expect(r.value).toBeNaN();
    expect(r.skipped).toEqual([0, 1]);
  });

  it('a perfect predictor has macro AUROC 1 and accuracy 1; a constant one AUROC 0.5', () => {
    const y = [0, 1, 2, 2, 1, 0, 2];
    const perfect = y.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 0.8 : 0.1)));
    expect(macroAuroc(perfect, y).value).toBe(1);
    expect(accuracy(perfect, y)).toBe(1);
    const constant = y.flatMap(() => [0.2, 0.5, 0.3]);
    const r = macroAuroc(constant, y);
    expect(r.value).toBe(0.5);
    expect(r.perClass).toEqual([0.5, 0.5, 0.5]);
    // argmax of the constant row is class 1 for everyone
    expect(accuracy(constant, y)).toBeCloseTo(2 / 7, 15);
  });

  it('equals the pairwise definition and the trapezoidal area of its ROC curve on tied random data', () => {
    const rng = new Rng(7);
    for (let trial = 0; trial < 20; trial++) {
      const n = 5 + rng.int(60);
      const s = Array.from({ length: n }, () => Math.round(rng.next() * 6) / 6); // few distinct values
      const y = Array.from({ length: n }, () => (rng.next() < 0.4 ? 1 : 0));
      y[0] = 1;
      y[1] = 0;
      const a = binaryAuroc(s, y)!;
      expect(a).toBeCloseTo(pairwiseAuroc(s, y), 14);
      const full = rocCurve(s, y, { dropIntermediate: false })!;
      const thin = rocCurve(s, y)!;
      expect(trapezoid(full.fpr, full.tpr)).toBeCloseTo(a, 14);
      expect(trapezoid(thin.fpr, thin.tpr)).toBeCloseTo(a, 14);
      expect(thin.fpr.length).toBeLessThanOrEqual(full.fpr.length);
    }
  });

  it('ROC curve starts at (0, 0) with threshold +Infinity and ends at (1, 1)', () => {
    const c = rocCurve([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1], { dropIntermediate: false })!;
    expect(c.thresholds).toEqual([Infinity, 0.8, 0.4, 0.35, 0.1]);
    expect(c.fpr).toEqual([0, 0, 0.5, 0.5, 1]);
    expect(c.tpr).toEqual([0, 0.5, 0.5, 1, 1]);
    expect(rocCurve([0.1, 0.2], [1, 1])).toBeNull();
  });
});

describe('calibration', () => {
  // Four samples, two classes (hand computation):
  //   s0 p=[0.90,0.10] y=0  conf 0.90 correct   bin 13 = (13/15, 14/15]
  //   s1 p=[0.92,0.08] y=1  conf 0.92 wrong     bin 13
  //   s2 p=[0.30,0.70] y=1  conf 0.70 correct   bin 10 = (10/15, 11/15]
  //   s3 p=[0.40,0.60] y=0  conf 0.60 wrong     bin 8  = (8/15, 9/15]: 0.6 is the upper edge 9/15
  // ECE = 2/4 |0.5 - 0.91| + 1/4 |1 - 0.7| + 1/4 |0 - 0.6| = 0.205 + 0.075 + 0.15 = 0.43
  // classwise: class 0 p=[.9,.92,.3,.4] vs [1,0,0,1]: bins 13 (2/4|0.5-0.91|), 4 (|0-.3|/4), 5 (|1-.4|/4) = 0.43
  //            class 1 p=[.1,.08,.7,.6] vs [0,1,1,0]: bin 1 (|1-0.18|/4), 10 (|1-.7|/4), 8 (|0-.6|/4) = 0.43
  // Brier = (0.02 + 1.6928 + 0.18 + 0.72) / 4 = 0.6532
  const p = [0.9, 0.1, 0.92, 0.08, 0.3, 0.7, 0.4, 0.6];
  const y = [0, 1, 1, 0];

  it('ECE on a hand-computed 4-sample case', () => {
    expect(ece(p, y)).toBeCloseTo(0.43, 14);
    expect(classwiseEce(p, y)).toBeCloseTo(0.43, 14);
  });

  it('reliability diagram bins hold count, mean confidence and accuracy', () => {
    const { bins, ece: e } = reliabilityDiagram(p, y);
    expect(bins).toHaveLength(15);
    expect(e).toBeCloseTo(0.43, 14);
    const filled = bins.flatMap((b, m) => (b.count > 0 ? [{ m, count: b.count, conf: b.confidence, acc: b.accuracy }] : []));
    expect(filled.map((b) => [b.m, b.count, b.acc])).toEqual([
      [8, 1, 0],
      [10, 1, 1],
      [13, 2, 0.5],
    ]);
    expect(filled[2]!.conf).toBeCloseTo(0.91, 15);
    expect(bins[0]!.confidence).toBeNull();
    expect(bins[14]!.hi).toBe(1);
  });

  it('bins are (lo, hi] with 0 in the first bin', () => {
    expect(binIndex(0)).toBe(0);
    expect(binIndex(1 / 15)).toBe(0);
    expect(binIndex(1 / 15 + 1e-12)).toBe(1);
    expect(binIndex(0.2)).toBe(2); // 3/15
    expect(binIndex(0.6)).toBe(8); // 9/15
    expect(binIndex(0.8)).toBe(11); // 12/15
    expect(binIndex(1)).toBe(14);
    for (let k = 1; k <= 15; k++) expect(binIndex(k / 15)).toBe(k - 1);
  });

  it('a perfect one-hot predictor has ECE 0, Brier 0 and NLL 0', () => {
    const yy = [2, 0, 1];
    const q = yy.flatMap((c) => [0, 1, 2].map((k) => (k === c ? 1 : 0)));
    expect(ece(q, yy)).toBe(0);
    expect(classwiseEce(q, yy)).toBe(0);
    expect(brier(q, yy)).toBe(0);
    expect(nll(q, yy)).toBe(0);
  });

  it('a constant predictor: ECE = |frequency of class 0 - 0.25|', () => {
    const yy = [0, 1, 2, 3, 0, 0, 1, 2];
    const q = yy.flatMap(() => [0.25, 0.25, 0.25, 0.25]);
    expect(ece(q, yy)).toBeCloseTo(Math.abs(3 / 8 - 0.25), 15);
    // classwise: each class c has |freq_c - 0.25|: |3/8-1/4| + |2/8-1/4| + |2/8-1/4| + |1/8-1/4| over 4
    expect(classwiseEce(q, yy)).toBeCloseTo((0.125 + 0 + 0 + 0.125) / 4, 15);
  });
});

describe('Brier and NLL', () => {
  const p = [0.9, 0.1, 0.92, 0.08, 0.3, 0.7, 0.4, 0.6];
  const y = [0, 1, 1, 0];

  it('match hand computation', () => {
    expect(brier(p, y)).toBeCloseTo(0.6532, 14);
    expect(nll(p, y)).toBeCloseTo(-(Math.log(0.9) + Math.log(0.08) + Math.log(0.7) + Math.log(0.4)) / 4, 14);
  });

  it('NLL clamps p_y at 1e-12, also when computed from logits', () => {
    expect(nll([1, 0], [1])).toBeCloseTo(-Math.log(1e-12), 12);
    expect(nllFromLogits([100, -100], [1])).toBeCloseTo(-Math.log(1e-12), 12);
    // unclamped region: log-softmax exactly
    expect(nllFromLogits([2, 0], [1])).toBeCloseTo(Math.log(1 + Math.exp(2)), 14);
  });

  it('Brier reaches 2 for a confident wrong answer', () => {
    expect(brier([0, 1, 0], [0])).toBe(2);
  });
});

describe('evaluateAll', () => {
  it('gives the same numbers from logits as from their softmax', () => {
    const rng = new Rng(3);
    const n = 50;
    const c = 5;
    const z = Array.from({ length: n * c }, () => 2 * rng.normal());
    const y = Array.from({ length: n }, (_, i) => i % c);
    const probs: number[] = [];
    for (let i = 0; i < n; i++) {
      const row = z.slice(i * c, i * c + c);
      const mx = Math.max(...row);
      const e = row.map((v) => Math.exp(v - mx));
      const s = e.reduce((a, b) => a + b, 0);
      probs.push(...e.map((v) => v / s));
    }
    const a = evaluateAll({ logits: z }, y);
    const b = evaluateAll({ probs }, y);
    for (const k of ['acc', 'auroc', 'ece', 'classwise_ece', 'brier', 'nll'] as const) expect(a[k]).toBeCloseTo(b[k], 12);
    expect(a.n).toBe(n);
    expect(a.num_classes).toBe(c);
    expect(a.auroc_skipped).toEqual([]);
  });

  it('reports skipped classes', () => {
    const m = evaluateAll({ probs: [0.7, 0.2, 0.1, 0.5, 0.3, 0.2, 0.2, 0.6, 0.2, 0.6, 0.3, 0.1] }, [0, 0, 1, 1]);
    expect(m.auroc).toBeCloseTo(0.8125, 15);
    expect(m.auroc_skipped).toEqual([2]);
  });

  it('rejects bad input with messages that name the problem', () => {
    expect(() => evaluateAll({ probs: [0.5, 0.5, 0.5, 0.5] }, [0, 2])).toThrow(MetricInputError);
    expect(() => evaluateAll({ probs: [0.5, 0.5, 0.5, 0.5] }, [0, 2])).toThrow(/label 1 is 2, expected an integer class index in \[0, 2\)/);
    expect(() => evaluateAll({ probs: [0.5, 0.5, NaN, 0.5] }, [0, 1])).toThrow(/score \[1, 0\] is NaN/);
    expect(() => evaluateAll({ probs: [0.5, 0.5, 0.5] }, [0, 1])).toThrow(/not a whole number of rows/);
    expect(() => evaluateAll({ probs: [3, -2, 0.5, 0.5] }, [0, 1])).toThrow(/probability \[0, 0\] is 3; pass logits/);
    expect(() => evaluateAll({ probs: [] }, [])).toThrow(/no samples/);
    expect(() => accuracy([0.5, 0.5], [0.5])).toThrow(/label 0 is 0.5/);
  });
});

describe('multi-label', () => {
  it('averages per-label AUROC and accuracy (positive iff p > 0.5)', () => {
    // label 0: scores [0.9, 0.2, 0.6] targets [1, 0, 0] -> AUROC 1; label 1: [0.5, 0.5, 0.1] targets [1, 0, 1] -> (0.5 + 0)/2
    const s = [0.9, 0.5, 0.2, 0.5, 0.6, 0.1];
    const t = [1, 1, 0, 0, 0, 1];
    const r = multilabelAuroc(s, t, 2);
    expect(r.perClass).toEqual([1, 0.25]);
    expect(r.value).toBe(0.625);
    // predictions (p > 0.5): [1,0],[0,0],[1,0] vs targets [1,1],[0,0],[0,1] -> label 0: 2/3, label 1: 1/3
    expect(multilabelAccuracy(s, t, 2)).toBeCloseTo(0.5, 15);
  });

  it('skips a label that is all-negative', () => {
    const r = multilabelAuroc([0.2, 0.3, 0.8, 0.1], [0, 0, 1, 0], 2);
    expect(r.skipped).toEqual([1]);
    expect(r.value).toBe(1);
    expect(() => multilabelAuroc([0.2, 0.3, 0.8, 0.1], [0, 0, 2, 0], 2)).toThrow(/target \[1, 0\] is 2/);
  });
});
