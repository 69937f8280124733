import { describe, expect, it } from 'vitest';
import { applyTemperature, fitTemperature, nllFromLogits, temperatureScaling } from '../../src/evaluation/index.js';
import { Rng } from '../../src/util/rng.js';

/** Draws labels from softmax(z / trueT), so trueT is the calibrating temperature of z. */
function sample(rng: Rng, n: number, c: number, trueT: number): { z: number[]; y: number[] } {
  const z: number[] = [];
  const y: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: c }, () => 3 * rng.normal());
    const e = row.map((v) => Math.exp(v / trueT));
    const s = e.reduce((a, b) => a + b, 0);
    let u = rng.next() * s;
    let k = 0;
    while (k < c - 1 && u >= e[k]!) u -= e[k++]!;
    z.push(...row);
    y.push(k);
  }
  return { z, y };
}

describe('temperature scaling', () => {
  it('finds the NLL minimum: zero derivative and no better value on a grid', () => {
    const { z, y } = sample(new Rng(11), 400, 6, 2);
    const fit = fitTemperature(z, y);
    const f = (t: number): number => nllFromLogits(z, y, t);
    const t = fit.temperature;
    const h = 1e-4 * t;
    expect(Math.abs((f(t + h) - f(t - h)) / (2 * h))).toBeLessThan(1e-6);
    for (let k = -40; k <= 40; k++) expect(f(t * Math.exp(k / 20))).toBeGreaterThanOrEqual(fit.valNllAfter - 1e-12);
    expect(fit.valNllAfter).toBeLessThanOrEqual(fit.valNllBefore);
  });

  it('recovers the temperature that generated the labels', () => {
    const { z, y } = sample(new Rng(5), 4000, 5, 2.5);
    expect(fitTemperature(z, y).temperature).toBeGreaterThan(2.2);
    expect(fitTemperature(z, y).temperature).toBeLessThan(2.8);
  });

  it('is deterministic', () => {
    const { z, y } = sample(new Rng(2), 100, 3, 1.5);
    expect(fitTemperature(z, y)).toEqual(fitTemperature(z, y));
  });

  it('reports a bound when the data are separable (NLL keeps falling as T -> 0)', () => {
    const z = [5, 0, 0, 5, 4, 1];
    const y = [0, 1, 0];
    const fit = fitTemperature(z, y, { min: 0.05, max: 20 });
    expect(fit.atBound).toBe(true);
    expect(fit.temperature).toBeCloseTo(0.05, 6);
  });

  it('applyTemperature divides and rejects a non-positive T', () => {
    expect(Array.from(applyTemperature([2, -4], 2))).toEqual([1, -2]);
    expect(Array.from(applyTemperature({ shape: [1, 2], data: [2, -4] }, 4))).toEqual([0.5, -1]);
    expect(() => applyTemperature([1], 0)).toThrow(/positive finite/);
  });

  it('keeps accuracy, lowers test NLL for an over-confident model', () => {
    const rng = new Rng(9);
    const val = sample(rng, 600, 4, 3);
    const test = sample(rng, 600, 4, 3);
    const r = temperatureScaling({ logits: val.z, labels: val.y }, { logits: test.z, labels: test.y });
    expect(r.fit.temperature).toBeGreaterThan(2);
    expect(r.after.acc).toBe(r.before.acc);
    expect(r.after.nll).toBeLessThan(r.before.nll);
    expect(r.after.ece).toBeLessThan(r.before.ece);
  });
});
