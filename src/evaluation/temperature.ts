/**
 * Temperature scaling (Guo et al. 2017): one scalar T > 0 fitted on validation logits to minimise
 * the NLL of softmax(z / T), then applied to test logits. It changes no argmax, so accuracy is
 * unchanged and AUROC nearly so (only cross-sample orderings of p[:,c] can move); it is reported
 * for calibration (ECE, NLL, Brier) before and after.
 *
 * The validation NLL is convex in 1/T (log-sum-exp of a linear function minus a linear term), so
 * it is unimodal in log T and a golden-section search on log T finds the minimum
 * deterministically with no derivative code. The objective is the UNclamped NLL (smooth); the
 * reported metrics use the clamped NLL of metrics.ts, which differs only for p_y < 1e-12.
 */
import { evaluateAll, type EvaluateOptions, type Metrics } from './metrics.js';
import { asMatrix, checkLabels, logProbOfLabel, type Matrix, type Scores } from './scores.js';

export interface TemperatureFit {
  readonly temperature: number;
  /** Validation NLL (unclamped) at T = 1 and at the fitted T. */
  readonly valNllBefore: number;
  readonly valNllAfter: number;
  readonly iterations: number;
  /** True when the optimum lies at a search bound (e.g. perfectly separable validation data). */
  readonly atBound: boolean;
}

export interface TemperatureOptions {
  /** Search interval for T (default [1e-3, 1e3]). */
  readonly min?: number;
  readonly max?: number;
  /** Stop when the log T interval is shorter than this (default 1e-10). */
  readonly tol?: number;
}

function meanNll(m: Matrix, labels: ArrayLike<number>, t: number): number {
  const lp = logProbOfLabel(m, labels, t);
  let s = 0;
  for (let i = 0; i < lp.length; i++) s -= lp[i]!;
  return s / lp.length;
}

/** Fits T on validation logits by golden-section search on log T. */
export function fitTemperature(valLogits: Scores, valLabels: ArrayLike<number>, opts: TemperatureOptions = {}): TemperatureFit {
  const m = asMatrix('fitTemperature', valLogits, valLabels.length);
  checkLabels('fitTemperature', valLabels, m.c);
  const tMin = opts.min ?? 1e-3;
  const tMax = opts.max ?? 1e3;
  const tol = opts.tol ?? 1e-10;
  if (!(tMin > 0 && tMax > tMin)) throw new Error(`fitTemperature: need 0 < min < max, got [${tMin}, ${tMax}]`);
  const f = (u: number): number => meanNll(m, valLabels, Math.exp(u));

  const invPhi = (Math.sqrt(5) - 1) / 2;
  let a = Math.log(tMin);
  let b = Math.log(tMax);
  let x1 = b - invPhi * (b - a);
  let x2 = a + invPhi * (b - a);
  let f1 = f(x1);
  let f2 = f(x2);
  let iterations = 0;
  while (b - a > tol) {
    iterations++;
    if (f1 <= f2) {
      b = x2;
      x2 = x1;
      f2 = f1;
      x1 = b - invPhi * (b - a);
      f1 = f(x1);
    } else {
      a = x1;
      x1 = x2;
      f1 = f2;
      x2 = a + invPhi * (b - a);
      f2 = f(x2);
    }
  }
  const u = (a + b) / 2;
  const edge = 1e-6 * (Math.log(tMax) - Math.log(tMin));
  return {
    temperature: Math.exp(u),
    valNllBefore: meanNll(m, valLabels, 1),
    valNllAfter: f(u),
    iterations,
    atBound: u - Math.log(tMin) < edge || Math.log(tMax) - u < edge,
  };
}

/** Logits divided by T (flat row-major copy). */
export function applyTemperature(logits: Scores, temperature: number): Float64Array {
  if (!(temperature > 0) || !Number.isFinite(temperature)) throw new Error(`applyTemperature: T must be a positive finite number, got ${temperature}`);
  const data = 'shape' in logits && 'data' in logits ? logits.data : (logits as ArrayLike<number>);
  return Float64Array.from({ length: data.length }, (_, i) => data[i]! / temperature);
}

export interface TemperatureReport {
  readonly fit: TemperatureFit;
  readonly before: Metrics;
  readonly after: Metrics;
  /** Set when T is at a search bound: the scaled probabilities are then not a calibration. */
  readonly warning?: string;
}

/** What a temperature at its search bound means, in words (undefined when T is inside). */
export function boundWarning(fit: TemperatureFit, opts: TemperatureOptions = {}): string | undefined {
  if (!fit.atBound) return undefined;
  const low = fit.temperature < Math.sqrt((opts.min ?? 1e-3) * (opts.max ?? 1e3));
  const bound = low ? (opts.min ?? 1e-3) : (opts.max ?? 1e3);
  const cause = low
    ? 'the validation predictions are all (or nearly all) correct, so sharpening them always lowers the NLL'
    : 'the validation predictions are worse than uniform guessing, so flattening them always lowers the NLL';
  return (
    `the fitted temperature is at its search bound (T = ${bound}): ${cause}; ` +
    'the scaled probabilities are not a meaningful calibration (use a larger or more varied validation split)'
  );
}

/** Fits T on (valLogits, valLabels) and reports test metrics before and after scaling. */
export function temperatureScaling(
  val: { readonly logits: Scores; readonly labels: ArrayLike<number> },
  test: { readonly logits: Scores; readonly labels: ArrayLike<number> },
  opts: TemperatureOptions & EvaluateOptions = {},
): TemperatureReport {
  const fit = fitTemperature(val.logits, val.labels, opts);
  const before = evaluateAll({ logits: test.logits }, test.labels, opts);
  const scaled = { shape: [before.n, before.num_classes], data: applyTemperature(test.logits, fit.temperature) };
  const after = evaluateAll({ logits: scaled }, test.labels, opts);
  const warning = boundWarning(fit, opts);
  return { fit, before, after, ...(warning ? { warning } : {}) };
}
