/**
 * Ratios of a `stmedfm bench` call that measured both sides at several thread counts: ours over
 * PyTorch at equal threads, best against best (each side at its own fastest thread count, as a
 * user would run it), and each side's scaling from the fewest threads to more.
 */
import type { BenchResult } from './bench.js';

export const BENCH_METRICS = ['train_2d', 'train_3d', 'infer_2d', 'infer_3d'] as const;
export type BenchMetric = (typeof BENCH_METRICS)[number];

/** One metric's value; training steps are times (lower is better), inference throughputs (higher is better). */
export function metricValue(r: BenchResult, m: BenchMetric): number {
  switch (m) {
    case 'train_2d':
      return r.train_step_ms['2d'];
    case 'train_3d':
      return r.train_step_ms['3d'];
    case 'infer_2d':
      return r.infer_per_s['2d'];
    case 'infer_3d':
      return r.infer_per_s['3d'];
  }
}

const isTime = (m: BenchMetric) => m.startsWith('train');

/** How many times faster `a` is than `b` on metric m (> 1: a is faster). */
export function speedup(a: number, b: number, m: BenchMetric): number {
  return isTime(m) ? b / a : a / b;
}

export interface BestOf {
  value: number;
  threads: number;
  /** The value is the data-parallel training step (`threads` replicas of one thread each). */
  data_parallel?: true;
}

/** Ours' data-parallel training step on metric m, where measured (train metrics at 2+ threads). */
export function dataParallelValue(r: BenchResult, m: BenchMetric): number | undefined {
  const dp = r.train_step_dp_ms;
  if (!dp) return undefined;
  if (m === 'train_2d') return dp['2d'];
  if (m === 'train_3d') return dp['3d'];
  return undefined;
}

export interface BenchRun {
  threads: number;
  stmedfm: BenchResult;
  torch?: BenchResult;
}

export interface BenchComparison {
  threads: number[];
  /** Ours over PyTorch at the same thread count. */
  equal_threads: { threads: number; speedup: Record<BenchMetric, number> }[];
  /**
   * Each side at its fastest thread count (ours: a training step also data-parallel, marked
   * `data_parallel`); `speedup` is ours over PyTorch's.
   */
  best: { stmedfm: Record<BenchMetric, BestOf>; torch?: Record<BenchMetric, BestOf>; speedup?: Record<BenchMetric, number> };
  /** Each side's speed-up from the fewest threads measured to each larger count. */
  scaling: {
    from: number;
    to: number;
    stmedfm: Record<BenchMetric, number>;
    /** Training steps only: data-parallel at `to` (replicas of 1 thread) over one session at `from`, where measured. */
    stmedfm_data_parallel?: { train_2d: number; train_3d: number };
    torch?: Record<BenchMetric, number>;
  }[];
}

const perMetric = <T>(f: (m: BenchMetric) => T): Record<BenchMetric, T> => Object.fromEntries(BENCH_METRICS.map((m) => [m, f(m)])) as Record<BenchMetric, T>;

function bestOf(runs: { threads: number; r: BenchResult }[]): Record<BenchMetric, BestOf> {
  return perMetric((m) => {
    let best: BestOf | undefined;
    for (const { threads, r } of runs) {
      const v = metricValue(r, m);
      if (Number.isFinite(v) && (!best || speedup(v, best.value, m) > 1)) best = { value: v, threads };
      // A training step may be fastest data-parallel at the same thread count.
      const dp = dataParallelValue(r, m);
      if (dp !== undefined && Number.isFinite(dp) && (!best || speedup(dp, best.value, m) > 1)) best = { value: dp, threads, data_parallel: true };
    }
    return best ?? { value: NaN, threads: NaN };
  });
}

export function compareBench(runs: readonly BenchRun[]): BenchComparison {
  const sorted = [...runs].sort((a, b) => a.threads - b.threads);
  const withTorch = sorted.every((r) => r.torch !== undefined);
  const ours = bestOf(sorted.map((r) => ({ threads: r.threads, r: r.stmedfm })));
  const theirs = withTorch ? bestOf(sorted.map((r) => ({ threads: r.threads, r: r.torch! }))) : undefined;
  const first = sorted[0];
  return {
    threads: sorted.map((r) => r.threads),
    equal_threads: withTorch ? sorted.map((r) => ({ threads: r.threads, speedup: perMetric((m) => speedup(metricValue(r.stmedfm, m), metricValue(r.torch!, m), m)) })) : [],
    best: {
      stmedfm: ours,
      ...(theirs ? { torch: theirs, speedup: perMetric((m) => speedup(ours[m].value, theirs[m].value, m)) } : {}),
    },
    scaling: first
      ? sorted.slice(1).map((r) => ({
          from: first.threads,
          to: r.threads,
          stmedfm: perMetric((m) => speedup(metricValue(r.stmedfm, m), metricValue(first.stmedfm, m), m)),
          ...(r.stmedfm.train_step_dp_ms
            ? {
                stmedfm_data_parallel: {
                  train_2d: speedup(r.stmedfm.train_step_dp_ms['2d'], metricValue(first.stmedfm, 'train_2d'), 'train_2d'),
                  train_3d: speedup(r.stmedfm.train_step_dp_ms['3d'], metricValue(first.stmedfm, 'train_3d'), 'train_3d'),
                },
              }
            : {}),
          ...(withTorch ? { torch: perMetric((m) => speedup(metricValue(r.torch!, m), metricValue(first.torch!, m), m)) } : {}),
        }))
      : [],
  };
}

/** The thread counts `bench` measures by default: 1, the powers of two below the cores, and all cores. */
export function defaultBenchThreads(cores: number): number[] {
  const ts = new Set<number>([1]);
  for (let t = 2; t < cores; t *= 2) ts.add(t);
  ts.add(Math.max(1, cores));
  return [...ts].sort((a, b) => a - b);
}
