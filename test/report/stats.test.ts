import { describe, expect, it } from 'vitest';
import { formatCount, formatDelta, formatDuration, formatInt, formatMeanStd, meanStd } from '../../src/report/stats.js';

describe('meanStd', () => {
  it('uses the sample standard deviation (n - 1)', () => {
    const s = meanStd([0.5, 0.6, 0.7]);
    expect(s.mean).toBeCloseTo(0.6, 12);
    // sum of squares 0.02, / (3 - 1) = 0.01, sqrt = 0.1
    expect(s.std).toBeCloseTo(0.1, 12);
    expect(s.n).toBe(3);
    // [1, 2, 3, 4]: mean 2.5, squares 2.25 + 0.25 + 0.25 + 2.25 = 5, / 3, sqrt = 1.2910
    expect(meanStd([1, 2, 3, 4]).std).toBeCloseTo(Math.sqrt(5 / 3), 12);
  });

  it('has no std for one value and no mean for none; skips non-finite values', () => {
    expect(meanStd([0.42])).toEqual({ mean: 0.42, std: undefined, n: 1, missing: 0 });
    const none = meanStd([]);
    expect(none.n).toBe(0);
    expect(Number.isNaN(none.mean)).toBe(true);
    const partial = meanStd([0.8, NaN, 0.9]);
    expect(partial.n).toBe(2);
    expect(partial.missing).toBe(1);
    expect(partial.mean).toBeCloseTo(0.85, 12);
  });
});

describe('formatting', () => {
  it('prints mean ± std, the mean alone for one seed, n/a for none', () => {
    expect(formatMeanStd(meanStd([0.5, 0.6, 0.7]))).toBe('0.600 ± 0.100');
    expect(formatMeanStd(meanStd([0.7, 0.8]))).toBe('0.750 ± 0.071'); // std = 0.1 / sqrt 2 = 0.0707
    expect(formatMeanStd(meanStd([1, 2, 3, 4]))).toBe('2.500 ± 1.291');
    expect(formatMeanStd(meanStd([0.9124]))).toBe('0.912');
    expect(formatMeanStd(meanStd([]))).toBe('n/a');
    expect(formatMeanStd(meanStd([12.25, 13.75]), 1)).toBe('13.0 ± 1.1');
    // a cell missing a seed's value says how many it averages
    expect(formatMeanStd(meanStd([0.8, NaN, 0.9]))).toBe('0.850 ± 0.071 (n=2)');
  });

  it('prints integers with thousands separators, signed deltas and durations', () => {
    expect(formatInt(137673)).toBe('137,673');
    expect(formatInt(585)).toBe('585');
    expect(formatInt(1000000)).toBe('1,000,000');
    expect(formatCount(meanStd([3657, 3657, 3657]))).toBe('3,657');
    expect(formatDelta(0.0283)).toBe('+0.028');
    expect(formatDelta(-0.01)).toBe('-0.010');
    expect(formatDelta(-0.0001)).toBe('0.000');
    expect(formatDuration(41.26)).toBe('41.3 s');
    expect(formatDuration(321.4)).toBe('5 min 21 s');
    expect(formatDuration(3725)).toBe('1 h 2 min 5 s');
  });
});
