/**
 * Calibrated probabilities: a temperature T stored with the model (fitted on the validation split
 * by temperature scaling) turns logits into softmax(logits / T). Where it is stored:
 * - checkpoint config: `calibration: { [task]: { temperature, split: 'val', nll_before, nll_after } }`
 * - adapter_config.json: `stmedfm_calibration: { task, temperature, ... }`
 * - ONNX metadata `stmedfm.temperature` (the exported `probabilities` output is already calibrated).
 * Read defensively: a missing or malformed field means "uncalibrated", never an error.
 */
import { softmaxRows } from '../../src/evaluation/scores.js';

export interface Calibration {
  readonly temperature: number;
  /** Where the temperature came from, for the page. */
  readonly from: 'checkpoint' | 'adapter' | 'onnx' | 'fine-tuning in this tab (fitted on its val split)';
}

function positive(t: unknown): number | undefined {
  const v = typeof t === 'string' ? Number(t) : t;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

const isRecord = (x: unknown): x is Record<string, unknown> => typeof x === 'object' && x !== null && !Array.isArray(x);

/** The checkpoint's temperature for `task` (from its `calibration` config entry). */
export function checkpointCalibration(config: unknown, task: string): Calibration | undefined {
  const all = isRecord(config) ? config.calibration : undefined;
  const entry = isRecord(all) ? all[task] : undefined;
  const t = isRecord(entry) ? positive(entry.temperature) : undefined;
  return t === undefined ? undefined : { temperature: t, from: 'checkpoint' };
}

/** The adapter's temperature, when it was fitted for `task` (`stmedfm_calibration` in adapter_config.json). */
export function adapterCalibration(config: unknown, task: string): Calibration | undefined {
  const c = isRecord(config) ? config.stmedfm_calibration : undefined;
  if (!isRecord(c) || (c.task !== undefined && c.task !== task)) return undefined;
  const t = positive(c.temperature);
  return t === undefined ? undefined : { temperature: t, from: 'adapter' };
}

/** An exported model's temperature (`stmedfm.temperature` metadata). */
export function onnxCalibration(meta: Readonly<Record<string, string>>): Calibration | undefined {
  const t = positive(meta['stmedfm.temperature']);
  return t === undefined ? undefined : { temperature: t, from: 'onnx' };
}

/** softmax(logits / T) for one sample (the evaluation module's float64 softmax). */
export function calibratedProbs(logits: Float32Array, temperature: number): Float32Array {
  return Float32Array.from(softmaxRows({ n: 1, c: logits.length, data: logits }, temperature));
}

export function describeCalibration(c: Calibration | undefined): string {
  return c ? `calibrated (T=${+c.temperature.toPrecision(4)})` : 'uncalibrated';
}
