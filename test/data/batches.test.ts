import { describe, expect, it } from 'vitest';
import { TrainBatcher, classCounts, classWeights, evalBatches, selectShots } from '../../src/data/batches.js';
import { DataError } from '../../src/data/errors.js';

const take = (b: TrainBatcher, k: number): number[][] => Array.from({ length: k }, () => Array.from(b.next().indices));

describe('training batches', () => {
  it('are deterministic in the seed and differ across seeds', () => {
    expect(take(new TrainBatcher(50, 8, 7), 20)).toEqual(take(new TrainBatcher(50, 8, 7), 20));
    expect(take(new TrainBatcher(50, 8, 7), 3)).not.toEqual(take(new TrainBatcher(50, 8, 8), 3));
  });

  it('reshuffle every epoch and drop the last partial batch', () => {
    const b = new TrainBatcher(10, 4, 1);
    expect(b.stepsPerEpoch).toBe(2);
    const epochs: number[][] = [];
    for (let e = 0; e < 4; e++) {
      const seen = [...b.next().indices, ...b.next().indices];
      expect(seen).toHaveLength(8);
      expect(new Set(seen).size).toBe(8); // no repeats within an epoch
      epochs.push(seen);
    }
    // Epoch orders differ, and over several epochs the dropped samples rotate.
    expect(new Set(epochs.map((e) => e.join(','))).size).toBe(4);
    expect(new Set(epochs.flat()).size).toBe(10);
    expect(b.next().epoch).toBe(4);
  });

  it('give random access equal to the sequential stream (resume)', () => {
    const seq = new TrainBatcher(37, 5, 3);
    const all = take(seq, 30);
    const r = new TrainBatcher(37, 5, 3);
    expect(Array.from(r.batchAt(17).indices)).toEqual(all[17]);
    r.seek(25);
    expect(r.position).toBe(25);
    expect(Array.from(r.next().indices)).toEqual(all[25]);
    expect(Array.from(r.batchAt(3).indices)).toEqual(all[3]);
  });

  it('draw from a subset pool', () => {
    const pool = [3, 9, 11, 20, 21, 40];
    const b = new TrainBatcher(pool, 3, 0);
    const seen = [...b.next().indices, ...b.next().indices].sort((x, y) => x - y);
    expect(seen).toEqual(pool);
  });

  it('use the whole pool as the batch when it is smaller than the batch size', () => {
    const b = new TrainBatcher(5, 64, 0);
    expect(b.batchSize).toBe(5);
    expect(b.warning).toMatch(/only 5 training samples for batch size 64/);
    const x = Array.from(b.next().indices);
    expect([...x].sort()).toEqual([0, 1, 2, 3, 4]);
    expect(new TrainBatcher(64, 64, 0).warning).toBeUndefined();
    expect(() => new TrainBatcher(0, 4, 0)).toThrow(DataError);
    expect(() => new TrainBatcher(10, 0, 0)).toThrow(/positive integer/);
  });
});

describe('evaluation batches', () => {
  it('cover every sample once, in order, keeping the last partial batch', () => {
    const batches = [...evalBatches(10, 4)].map((b) => Array.from(b));
    expect(batches).toEqual([
      [0, 1, 2, 3],
      [4, 5, 6, 7],
      [8, 9],
    ]);
    expect([...evalBatches(0, 4)]).toEqual([]);
  });
});

describe('few-shot selection', () => {
  // 4 classes: 10, 6, 2 and 5 examples.
  const labels = [...Array(10).fill(0), ...Array(6).fill(1), ...Array(2).fill(2), ...Array(5).fill(3)];

  it('keeps k per class, seeded, with a warning for small classes', () => {
    const s = selectShots(labels, 3, 42, { classNames: ['a', 'b', 'c', 'd'] });
    expect(s.perClass).toEqual([3, 3, 2, 3]);
    expect(s.indices).toHaveLength(11);
    expect(classCounts(Array.from(s.indices, (i) => labels[i]!), 4)).toEqual([3, 3, 2, 3]);
    expect(Array.from(s.indices)).toEqual([...s.indices].sort((x, y) => x - y));
    expect(s.warnings).toEqual(['class 2 (c) has 2 training examples, fewer than --shots 3; keeping all 2']);
    expect(Array.from(selectShots(labels, 3, 42).indices)).toEqual(Array.from(s.indices));
    const other = [0, 1, 2, 3, 4, 5].map((seed) => Array.from(selectShots(labels, 3, seed).indices).join(','));
    expect(new Set(other).size).toBeGreaterThan(1);
  });

  it("picks a class's examples independently of the other classes", () => {
    const a = selectShots(labels, 2, 9);
    const fewer = labels.map((y) => (y === 3 ? 1 : y)); // change class 3 only
    const b = selectShots(fewer, 2, 9, { numClasses: 4 });
    const class0 = (s: { indices: Int32Array }): number[] => Array.from(s.indices).filter((i) => labels[i] === 0);
    expect(class0(b)).toEqual(class0(a));
    expect(b.warnings).toEqual(['class 3 has 0 training examples, fewer than --shots 2; keeping all 0']);
  });

  it('refuses k < 1', () => {
    expect(() => selectShots(labels, 0, 1)).toThrow(/--shots must be a positive integer/);
  });
});

describe('class weights', () => {
  it('are N / (C * n_c), 0 for an absent class', () => {
    // N = 6, C = 4, counts 3, 1, 2, 0.
    const w = classWeights([0, 0, 2, 1, 0, 2], 4);
    expect(Array.from(w)).toEqual([6 / 12, 6 / 4, 6 / 8, 0]);
    expect(Array.from(w)).toEqual([0.5, 1.5, 0.75, 0]);
  });

  it('give a balanced set weight 1 everywhere', () => {
    expect(Array.from(classWeights([0, 1, 2, 2, 1, 0], 3))).toEqual([1, 1, 1]);
  });

  it('refuse labels outside 0..C-1', () => {
    expect(() => classWeights([0, 3], 3)).toThrow(/label 3 at index 1 is not in 0..2/);
  });
});
