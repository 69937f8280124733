/** Undefined metrics carry their reason; a temperature at its bound says what that means. */
import { describe, expect, it } from 'vitest';
import { evaluateAll, formatMetric, temperatureScaling } from '../../src/evaluation/index.js';
import { Rng } from '../../src/util/rng.js';

function logits(n: number, c: number, labels: number[], margin: number, seed: number): { shape: number[]; data: Float64Array } {
  const rng = new Rng(seed);
  const data = Float64Array.from({ length: n * c }, (_, k) => rng.normal() + (k % c === labels[Math.floor(k / c)] ? margin : 0));
  return { shape: [n, c], data };
}

describe('undefined metrics', () => {
  it('AUROC of labels with one class is NaN with the reason; two classes: no reason', () => {
    const one = [2, 2, 2, 2, 2, 2];
    const m = evaluateAll({ logits: logits(6, 3, one, 1, 1) }, one);
    expect(m.auroc).toBeNaN();
    expect(m.auroc_why).toMatch(/only class 2 occurs in the labels; AUROC needs two classes/);
    expect(m.acc).toBeGreaterThanOrEqual(0); // accuracy stays defined
    const two = [0, 1, 0, 1, 2, 2];
    const ok = evaluateAll({ logits: logits(6, 3, two, 1, 1) }, two);
    expect(Number.isFinite(ok.auroc)).toBe(true);
    expect(ok.auroc_why).toBeUndefined();
  });

  it('formatMetric prints n/a (why) for NaN and null, decimals otherwise', () => {
    expect(formatMetric(NaN, 'only class 2 occurs in the labels')).toBe('n/a (only class 2 occurs in the labels)');
    expect(formatMetric(null)).toBe('n/a (undefined)');
    expect(formatMetric(0.12345)).toBe('0.1235');
    expect(formatMetric(0.5, 'ignored', 2)).toBe('0.50');
  });
});

describe('temperature at its search bound', () => {
  const labels = Array.from({ length: 40 }, (_, i) => i % 4);
  it('separable validation data: T at the lower bound, with a warning saying why', () => {
    const r = temperatureScaling({ logits: logits(40, 4, labels, 50, 2), labels }, { logits: logits(40, 4, labels, 1, 3), labels });
    expect(r.fit.atBound).toBe(true);
    expect(r.warning).toMatch(/at its search bound \(T = 0\.001\): the validation predictions are all \(or nearly all\) correct/);
  });
  it('worse-than-uniform validation predictions: T at the upper bound, with a warning', () => {
    const r = temperatureScaling({ logits: logits(40, 4, labels, -50, 4), labels }, { logits: logits(40, 4, labels, 1, 5), labels });
    expect(r.warning).toMatch(/T = 1000\): the validation predictions are worse than uniform/);
  });
  it('ordinary validation data: no warning', () => {
    const r = temperatureScaling({ logits: logits(40, 4, labels, 1, 6), labels }, { logits: logits(40, 4, labels, 1, 7), labels });
    expect(r.fit.atBound).toBe(false);
    expect(r.warning).toBeUndefined();
  });
});
