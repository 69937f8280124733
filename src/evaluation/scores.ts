/**
 * Input handling shared by the metric functions: a row-major [N, C] score matrix (probabilities
 * or logits) given either as a flat array (C inferred from the number of labels) or as a
 * tensor-like `{ shape: [N, C], data }` (a HostTensor fits), plus integer class labels.
 */

/** A flat row-major [N, C] array, or anything with a `[N, C]` shape and flat data. */
export type Scores = ArrayLike<number> | { readonly shape: readonly number[]; readonly data: ArrayLike<number> };

/** Scores checked against the labels: `n` rows of `c` columns, row i at data[i*c .. i*c+c). */
export interface Matrix {
  readonly n: number;
  readonly c: number;
  readonly data: ArrayLike<number>;
}

export class MetricInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MetricInputError';
  }
}

function isShaped(s: Scores): s is { readonly shape: readonly number[]; readonly data: ArrayLike<number> } {
  return (s as { shape?: unknown }).shape !== undefined && (s as { data?: unknown }).data !== undefined;
}

/**
 * Views `scores` as an [n, C] matrix. `fn` names the calling metric in error messages;
 * `minCols` is 2 for class probabilities (a 1-column "classifier" has nothing to rank).
 */
export function asMatrix(fn: string, scores: Scores, n: number, minCols = 2): Matrix {
  if (n === 0) throw new MetricInputError(`${fn}: no samples`);
  let c: number;
  let data: ArrayLike<number>;
  if (isShaped(scores)) {
    const { shape } = scores;
    if (shape.length !== 2) throw new MetricInputError(`${fn}: scores must have shape [N, C], got [${shape.join(', ')}]`);
    if (shape[0] !== n) throw new MetricInputError(`${fn}: scores have ${shape[0]} rows but there are ${n} labels`);
    c = shape[1]!;
    data = scores.data;
    if (data.length !== n * c) throw new MetricInputError(`${fn}: shape [${n}, ${c}] needs ${n * c} values, data has ${data.length}`);
  } else {
    data = scores;
    c = data.length / n;
    if (!Number.isInteger(c)) {
      throw new MetricInputError(`${fn}: ${data.length} scores are not a whole number of rows for ${n} labels`);
    }
  }
  if (c < minCols) throw new MetricInputError(`${fn}: need at least ${minCols} columns, got ${c}`);
  for (let i = 0; i < data.length; i++) {
    if (!Number.isFinite(data[i]!)) {
      throw new MetricInputError(`${fn}: score [${Math.floor(i / c)}, ${i % c}] is ${data[i]}`);
    }
  }
  return { n, c, data };
}

/** Checks that every label is an integer class index in [0, c). */
export function checkLabels(fn: string, labels: ArrayLike<number>, c: number): void {
  for (let i = 0; i < labels.length; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= c) {
      throw new MetricInputError(`${fn}: label ${i} is ${y}, expected an integer class index in [0, ${c})`);
    }
  }
}

/** Checks that scores are probabilities (within float32 rounding of [0, 1]). */
export function checkProbabilities(fn: string, m: Matrix): void {
  const tol = 1e-6;
  for (let i = 0; i < m.data.length; i++) {
    const p = m.data[i]!;
    if (p < -tol || p > 1 + tol) {
      throw new MetricInputError(
        `${fn}: probability [${Math.floor(i / m.c)}, ${i % m.c}] is ${p}; pass logits as { logits } or apply softmax first`,
      );
    }
  }
}

/**
 * Index of the largest entry of row i. Ties go to the LOWEST index, as numpy.argmax and
 * torch.argmax on CPU do, so accuracy matches MedMNIST's evaluator and sklearn exactly.
 */
export function argmaxRow(m: Matrix, i: number): number {
  const base = i * m.c;
  let best = 0;
  let bestV = m.data[base]!;
  for (let j = 1; j < m.c; j++) {
    const v = m.data[base + j]!;
    if (v > bestV) {
      bestV = v;
      best = j;
    }
  }
  return best;
}

/**
 * Row-wise softmax in float64 (max-subtracted). Metrics computed "from logits" go through this,
 * and temperature scaling divides the logits by T first.
 */
export function softmaxRows(m: Matrix, temperature = 1): Float64Array {
  const out = new Float64Array(m.n * m.c);
  for (let i = 0; i < m.n; i++) {
    const base = i * m.c;
    let mx = -Infinity;
    for (let j = 0; j < m.c; j++) mx = Math.max(mx, m.data[base + j]! / temperature);
    let s = 0;
    for (let j = 0; j < m.c; j++) {
      const e = Math.exp(m.data[base + j]! / temperature - mx);
      out[base + j] = e;
      s += e;
    }
    for (let j = 0; j < m.c; j++) out[base + j] /= s;
  }
  return out;
}

/** log softmax(z / T)[i, y_i] for every row, computed stably (no exp underflow to log 0). */
export function logProbOfLabel(m: Matrix, labels: ArrayLike<number>, temperature = 1): Float64Array {
  const out = new Float64Array(m.n);
  for (let i = 0; i < m.n; i++) {
    const base = i * m.c;
    let mx = -Infinity;
    for (let j = 0; j < m.c; j++) mx = Math.max(mx, m.data[base + j]! / temperature);
    let s = 0;
    for (let j = 0; j < m.c; j++) s += Math.exp(m.data[base + j]! / temperature - mx);
    out[i] = m.data[base + labels[i]!]! / temperature - mx - Math.log(s);
  }
  return out;
}
