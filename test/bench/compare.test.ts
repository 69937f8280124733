/**
 * The ratios `stmedfm bench` reports: ours over PyTorch at equal threads, best against best (each
 * side at its own fastest thread count; times lower-is-better, throughputs higher-is-better) and
 * the scaling from the fewest threads to more.
 */
import { describe, expect, it } from 'vitest';
import type { BenchResult } from '../../src/bench/bench.js';
import { compareBench, defaultBenchThreads } from '../../src/bench/compare.js';

const r = (threads: number, t2: number, t3: number, i2: number, i3: number): BenchResult => ({ threads, train_step_ms: { '2d': t2, '3d': t3 }, infer_per_s: { '2d': i2, '3d': i3 } });

describe('compareBench', () => {
  // Ours gets faster with 2 threads; this PyTorch gets slower (as measured here), except 3D inference.
  const runs = [
    { threads: 2, stmedfm: r(2, 50, 100, 6000, 500), torch: r(2, 80, 300, 1500, 200) },
    { threads: 1, stmedfm: r(1, 75, 180, 4000, 300), torch: r(1, 64, 260, 2000, 150) },
  ];
  const c = compareBench(runs);

  it('orders by threads and gives equal-thread speed-ups of ours over PyTorch', () => {
    expect(c.threads).toEqual([1, 2]);
    expect(c.equal_threads.map((e) => e.threads)).toEqual([1, 2]);
    expect(c.equal_threads[0]!.speedup.train_2d).toBeCloseTo(64 / 75, 12);
    expect(c.equal_threads[1]!.speedup.infer_2d).toBeCloseTo(6000 / 1500, 12);
  });

  it('compares each side at its own fastest thread count', () => {
    expect(c.best.stmedfm.train_2d).toEqual({ value: 50, threads: 2 });
    expect(c.best.torch!.train_2d).toEqual({ value: 64, threads: 1 });
    expect(c.best.torch!.infer_2d).toEqual({ value: 2000, threads: 1 });
    expect(c.best.torch!.infer_3d).toEqual({ value: 200, threads: 2 });
    expect(c.best.speedup!.train_2d).toBeCloseTo(64 / 50, 12);
    expect(c.best.speedup!.train_3d).toBeCloseTo(260 / 100, 12);
    expect(c.best.speedup!.infer_3d).toBeCloseTo(500 / 200, 12);
  });

  it('gives the scaling from 1 thread to 2 of both sides (> 1: faster with more threads)', () => {
    expect(c.scaling).toHaveLength(1);
    const s = c.scaling[0]!;
    expect([s.from, s.to]).toEqual([1, 2]);
    expect(s.stmedfm.train_2d).toBeCloseTo(75 / 50, 12);
    expect(s.stmedfm.train_3d).toBeCloseTo(1.8, 12);
    expect(s.stmedfm.infer_2d).toBeCloseTo(1.5, 12);
    expect(s.torch!.train_2d).toBeCloseTo(64 / 80, 12);
  });

  it('without a PyTorch side gives only our best and scaling', () => {
    const ours = compareBench(runs.map(({ threads, stmedfm }) => ({ threads, stmedfm })));
    expect(ours.equal_threads).toEqual([]);
    expect(ours.best.torch).toBeUndefined();
    expect(ours.best.stmedfm.train_3d).toEqual({ value: 100, threads: 2 });
    expect(ours.scaling[0]!.torch).toBeUndefined();
  });

  it('best against best takes our data-parallel training step where it is the fastest, and says so', () => {
    const dp = [
      { threads: 1, stmedfm: r(1, 46, 130, 6000, 480), torch: r(1, 53, 1000, 750, 63) },
      // 2D: data-parallel 30 ms beats 1 thread; 3D: data-parallel 140 ms does not beat 130.
      { threads: 2, stmedfm: { ...r(2, 52, 148, 6100, 545), train_step_dp_ms: { '2d': 30, '3d': 140 } }, torch: r(2, 100, 800, 1100, 70) },
    ];
    const b = compareBench(dp).best;
    expect(b.stmedfm.train_2d).toEqual({ value: 30, threads: 2, data_parallel: true });
    expect(b.stmedfm.train_3d).toEqual({ value: 130, threads: 1 });
    expect(b.speedup!.train_2d).toBeCloseTo(53 / 30, 12);
    expect(b.stmedfm.infer_2d).toEqual({ value: 6100, threads: 2 });
    // Scaling of the training step as a user gets it at 2 threads (data-parallel) beside one session's.
    const s = compareBench(dp).scaling[0]!;
    expect(s.stmedfm.train_2d).toBeCloseTo(46 / 52, 12);
    expect(s.stmedfm_data_parallel).toEqual({ train_2d: 46 / 30, train_3d: 130 / 140 });
    expect(c.scaling[0]!.stmedfm_data_parallel).toBeUndefined();
  });

  it('measures 1, powers of two and all cores by default', () => {
    expect(defaultBenchThreads(1)).toEqual([1]);
    expect(defaultBenchThreads(2)).toEqual([1, 2]);
    expect(defaultBenchThreads(6)).toEqual([1, 2, 4, 6]);
    expect(defaultBenchThreads(8)).toEqual([1, 2, 4, 8]);
  });
});
