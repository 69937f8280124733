/**
 * Binary tasks (PneumoniaMNIST, BreastMNIST) are scored as medmnist's evaluator scores
 * "binary-class": a 2-class softmax head, accuracy of p[:,1] > 0.5 and the AUROC of p[:,1].
 */
import { describe, expect, it } from 'vitest';
import { binaryAuroc, evaluateAll } from '../../src/evaluation/index.js';
import { Rng } from '../../src/util/rng.js';

describe('binary tasks', () => {
  it('acc is the rate of (p1 > 0.5) == y, ties at 0.5 predicting 0; auroc is the AUROC of p1', () => {
    const rng = new Rng(3);
    const n = 80;
    const y = Array.from({ length: n }, (_, i) => (i < 2 ? i : rng.next() < 0.4 ? 1 : 0));
    const p1 = y.map((l, i) => (i % 9 === 0 ? 0.5 : Math.min(0.99, Math.max(0.01, 0.35 + 0.3 * l + 0.25 * rng.normal()))));
    const probs = { shape: [n, 2], data: Float64Array.from(p1.flatMap((p) => [1 - p, p])) };
    const m = evaluateAll({ probs }, y);
    expect(m.acc).toBe(y.filter((l, i) => (p1[i]! > 0.5 ? 1 : 0) === l).length / n);
    expect(m.auroc).toBe(binaryAuroc(p1, y)!);
    // The positive class is column 1 (p0 would rank the other way).
    expect(m.auroc).not.toBeCloseTo(binaryAuroc(p1.map((p) => 1 - p), y)!, 3);
  });
});
