/**
 * Seeded batching, few-shot selection and class weights.
 *
 * Training batches are random-access: the order of epoch e is a permutation drawn from a
 * generator seeded by (seed, e) alone, so step s can be produced without replaying steps 0..s-1
 * (a resumed run sees exactly the batches an uninterrupted one would).
 */
import { Rng } from '../util/rng.js';
import { DataError } from './errors.js';

/** Combines a seed with a stream index into a new 32-bit seed (murmur3 finaliser). */
export function mixSeed(seed: number, stream: number): number {
  let h = (seed >>> 0) ^ Math.imul((stream >>> 0) + 0x632be5ab, 0x9e3779b1);
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

export interface TrainBatch {
  /** Sample indices into the split. */
  readonly indices: Int32Array;
  readonly step: number;
  readonly epoch: number;
}

/**
 * An endless stream of training batches over a pool of sample indices (all of a split, or a
 * few-shot subset). Each epoch is a fresh seeded shuffle of the pool; the last partial batch of
 * an epoch is dropped. A pool smaller than the batch size cannot fill one batch: then every batch
 * is the whole pool, shuffled (`batchSize` reports the effective size and `warning` says so).
 */
export class TrainBatcher {
  readonly batchSize: number;
  readonly stepsPerEpoch: number;
  readonly warning: string | undefined;
  private readonly pool: Int32Array;
  private step = 0;
  private cachedEpoch = -1;
  private order: Int32Array = new Int32Array(0);

  constructor(
    pool: number | ArrayLike<number>,
    requestedBatchSize: number,
    readonly seed: number,
  ) {
    this.pool = typeof pool === 'number' ? Int32Array.from({ length: pool }, (_, i) => i) : Int32Array.from(pool);
    if (!Number.isInteger(requestedBatchSize) || requestedBatchSize < 1) {
      throw new DataError(`batch size must be a positive integer, got ${requestedBatchSize}`);
    }
    if (this.pool.length === 0) throw new DataError('cannot draw training batches from an empty set');
    if (this.pool.length < requestedBatchSize) {
      this.batchSize = this.pool.length;
      this.warning =
        `only ${this.pool.length} training samples for batch size ${requestedBatchSize}: ` +
        `each batch is the whole set (${this.pool.length}), reshuffled`;
    } else {
      this.batchSize = requestedBatchSize;
      this.warning = undefined;
    }
    this.stepsPerEpoch = Math.floor(this.pool.length / this.batchSize);
  }

  /** The sample order of one epoch (a permutation of the pool). */
  epochOrder(epoch: number): Int32Array {
    if (epoch !== this.cachedEpoch) {
      const perm = new Rng(mixSeed(this.seed, epoch)).permutation(this.pool.length);
      this.order = Int32Array.from(perm, (i) => this.pool[i]!);
      this.cachedEpoch = epoch;
    }
    return this.order;
  }

  /** The batch of a given global step (0-based). */
  batchAt(step: number): TrainBatch {
    if (!Number.isInteger(step) || step < 0) throw new DataError(`step must be a non-negative integer, got ${step}`);
    const epoch = Math.floor(step / this.stepsPerEpoch);
    const start = (step % this.stepsPerEpoch) * this.batchSize;
    return { indices: this.epochOrder(epoch).slice(start, start + this.batchSize), step, epoch };
  }

  next(): TrainBatch {
    return this.batchAt(this.step++);
  }

  /** The step the next call to next() returns. */
  get position(): number {
    return this.step;
  }

  /** Continue from a step (resume). */
  seek(step: number): void {
    if (!Number.isInteger(step) || step < 0) throw new DataError(`step must be a non-negative integer, got ${step}`);
    this.step = step;
  }
}

/** Sequential batches covering 0..n-1 exactly once; the last one may be smaller. */
export function* evalBatches(n: number, batchSize: number): Generator<Int32Array> {
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new DataError(`batch size must be a positive integer, got ${batchSize}`);
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize);
    yield Int32Array.from({ length: end - start }, (_, i) => start + i);
  }
}

export interface ShotSelection {
  /** Selected sample indices, ascending. */
  readonly indices: Int32Array;
  /** How many were kept per class. */
  readonly perClass: number[];
  /** One message per class that had fewer than k examples. */
  readonly warnings: string[];
}

/**
 * Keeps k training examples per class, chosen at random with a seed. Each class draws from its
 * own generator, so the examples kept for one class do not depend on the others. Classes with
 * fewer than k examples keep all of them, with a warning.
 */
export function selectShots(
  labels: ArrayLike<number>,
  k: number,
  seed: number,
  opts: { numClasses?: number; classNames?: readonly string[] } = {},
): ShotSelection {
  if (!Number.isInteger(k) || k < 1) throw new DataError(`--shots must be a positive integer, got ${k}`);
  let maxLabel = -1;
  for (let i = 0; i < labels.length; i++) maxLabel = Math.max(maxLabel, labels[i]!);
  const c = opts.numClasses ?? maxLabel + 1;
  if (maxLabel >= c) throw new DataError(`selectShots: label ${maxLabel} is not below numClasses = ${c}`);
  const byClass: number[][] = Array.from({ length: c }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0) throw new DataError(`selectShots: label ${y} at index ${i} is not a class id`);
    byClass[y]!.push(i);
  }
  const kept: number[] = [];
  const perClass: number[] = [];
  const warnings: string[] = [];
  byClass.forEach((idx, cls) => {
    const name = opts.classNames?.[cls] !== undefined ? ` (${opts.classNames[cls]})` : '';
    if (idx.length < k) {
      warnings.push(`class ${cls}${name} has ${idx.length} training example${idx.length === 1 ? '' : 's'}, fewer than --shots ${k}; keeping all ${idx.length}`);
    }
    const take = new Rng(mixSeed(seed, cls)).shuffle(idx).slice(0, k);
    perClass.push(take.length);
    kept.push(...take);
  });
  kept.sort((a, b) => a - b);
  return { indices: Int32Array.from(kept), perClass, warnings };
}

/**
 * Class weights w_c = N / (C * n_c) (sklearn's "balanced"), with N the number of labels and C the
 * number of classes of the task. A class absent from `labels` gets weight 0: the formula would
 * give infinity, and since that class is never a target its weight never enters the weighted
 * cross-entropy anyway (PyTorch semantics: sum_i w[y_i] nll_i / sum_i w[y_i]).
 */
export function classWeights(labels: ArrayLike<number>, numClasses: number): Float64Array {
  const counts = new Float64Array(numClasses);
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= numClasses) {
      throw new DataError(`classWeights: label ${y} at index ${i} is not in 0..${numClasses - 1}`);
    }
    counts[y]!++;
  }
  const n = labels.length;
  return counts.map((nc) => (nc === 0 ? 0 : n / (numClasses * nc)));
}

/** Per-class sample counts. */
export function classCounts(labels: ArrayLike<number>, numClasses: number): number[] {
  const counts = new Array<number>(numClasses).fill(0);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]!++;
  return counts;
}
