/**
 * Calibration that travels with the model: after fine-tuning, one temperature T is fitted on the
 * validation split (temperature scaling, evaluation/temperature.ts) and stored with the task's
 * head, in the checkpoint config, the adapter config and the exported ONNX model. Prediction then
 * returns softmax(logits / T) by default; the logits themselves are never changed.
 *
 * Multi-label (sigmoid) heads are not calibrated: one shared T over independent labels is not
 * what temperature scaling was defined for, and a per-label T would need a validation split large
 * enough per label. Such a head stores nothing and prediction stays raw.
 *
 * Pure functions only (no runtime): the browser app reads the same records and keys.
 */
import type { TaskSplit } from '../data/index.js';
import { boundWarning, fitTemperature } from '../evaluation/temperature.js';
import type { TaskHead } from '../model/config.js';

/** What is stored per task (checkpoint `calibration[task]`, adapter `stmedfm_calibration`). */
export interface TaskCalibration {
  temperature: number;
  split: 'val';
  /** Validation NLL at T = 1 and at the fitted T. */
  nll_before: number;
  nll_after: number;
}

/** adapter_config.json key holding the calibration of the adapter's task. */
export const ADAPTER_CALIBRATION_KEY = 'stmedfm_calibration';
/** ONNX metadata key holding T (a decimal string) when the exported probabilities are calibrated. */
export const ONNX_TEMPERATURE_KEY = 'stmedfm.temperature';

export interface CalibrationFit {
  calibration: TaskCalibration;
  /** The fitted T lies at its search bound: stored, but not a meaningful calibration. */
  atBound: boolean;
  /** Why the stored T should not be trusted (one line), when it is at its bound. */
  warning?: string;
}

/** Why a head gets no temperature from `val`, or undefined when it can be fitted. */
export function whyNotCalibrated(head: TaskHead, val: TaskSplit): string | undefined {
  if (head.multiLabel) return `${head.name} is multi-label: no temperature is fitted or stored (predict returns raw sigmoid probabilities)`;
  if (val.n === 0) return `${val.file}: the val split of ${head.name} is empty, so no temperature was fitted (predict returns raw probabilities)`;
  return undefined;
}

/**
 * Fits T on the validation logits of `head` (already computed by the caller's predictor) and
 * returns what to store. `logits` is row-major [val.n, classes]; `labels` the class ids.
 */
export function calibrationFromLogits(logits: Float32Array, labels: ArrayLike<number>, classes: number): CalibrationFit {
  const fit = fitTemperature({ shape: [labels.length, classes], data: logits }, labels);
  const warning = boundWarning(fit);
  return {
    calibration: { temperature: fit.temperature, split: 'val', nll_before: fit.valNllBefore, nll_after: fit.valNllAfter },
    atBound: fit.atBound,
    ...(warning ? { warning: `calibration: ${warning}` } : {}),
  };
}

/** True when T lies at a bound of fitTemperature's default search interval [1e-3, 1e3] (as its `atBound`). */
export function atSearchBound(t: number, min = 1e-3, max = 1e3): boolean {
  const edge = 1e-6 * (Math.log(max) - Math.log(min));
  return Math.log(t) - Math.log(min) < edge || Math.log(max) - Math.log(t) < edge;
}

/** The stored temperature of `task` in a checkpoint config, if it has a valid one. */
export function storedTemperature(config: { calibration?: Record<string, TaskCalibration> } | undefined, task: string): number | undefined {
  const t = config?.calibration?.[task]?.temperature;
  return typeof t === 'number' && Number.isFinite(t) && t > 0 ? t : undefined;
}

/** Checks an untrusted calibration record (from a file); returns it or a reason it is unusable. */
export function parseCalibration(v: unknown): TaskCalibration | string {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return 'is not an object';
  const c = v as Record<string, unknown>;
  if (typeof c.temperature !== 'number' || !Number.isFinite(c.temperature) || !(c.temperature > 0)) return `temperature must be a positive number, got ${JSON.stringify(c.temperature)}`;
  if (c.split !== 'val') return `split must be "val", got ${JSON.stringify(c.split)}`;
  for (const k of ['nll_before', 'nll_after'] as const) if (typeof c[k] !== 'number') return `${k} must be a number, got ${JSON.stringify(c[k])}`;
  return { temperature: c.temperature, split: 'val', nll_before: c.nll_before as number, nll_after: c.nll_after as number };
}

/** Row-wise softmax(logits / T) of row-major [n, classes] logits, in float64 then float32. */
export function temperatureSoftmax(logits: ArrayLike<number>, classes: number, temperature: number): Float32Array {
  const out = new Float32Array(logits.length);
  for (let i = 0; i < logits.length; i += classes) {
    let mx = -Infinity;
    for (let j = 0; j < classes; j++) mx = Math.max(mx, logits[i + j]! / temperature);
    let s = 0;
    for (let j = 0; j < classes; j++) s += Math.exp(logits[i + j]! / temperature - mx);
    for (let j = 0; j < classes; j++) out[i + j] = Math.exp(logits[i + j]! / temperature - mx) / s;
  }
  return out;
}
