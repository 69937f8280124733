/**
 * Calibrated probabilities: a temperature T stored with the model (fitted on the validation split
 * by temperature scaling) turns logits into softmax(logits / T). Where it is stored:
 * - checkpoint config: `calibration: { [task]: { temperature, split: 'val', nll_before, nll_after } }`
 * - adapter_config.json: `stmedfm_calibration: { task, temperature, ... }`
 * - ONNX metadata `stmedfm.temperature` (the exported `probabilities` output is already calibrated).
 * Checkpoints and adapters are validated where they are parsed (the CLI's loaders refuse a
 * malformed record); the temperature is read with the CLI's own `storedTemperature`. A missing
 * field means "uncalibrated".
 */
import { softmaxRows } from '../../src/evaluation/scores.js';
import { type TaskCalibration, storedTemperature } from '../../src/training/calibration.js';

export interface Calibration {
  readonly temperature: number;
  /** Where the temperature came from, for the page. */
  readonly from: 'checkpoint' | 'adapter' | 'onnx' | 'fine-tuning in this tab (fitted on its val split)';
}

function positive(t: unknown): number | undefined {
  const v = typeof t === 'string' ? Number(t) : t;
  return typeof v === 'number' && Number.isFinite(v) && v > 0 ? v : undefined;
}

/** The temperature a checkpoint config (or an applied adapter, which keeps its own next to the model) stores for `task`. */
export function storedCalibration(
  holder: { calibration?: Record<string, TaskCalibration> } | undefined,
  task: string,
  from: Calibration['from'],
): Calibration | undefined {
  const t = storedTemperature(holder, task);
  return t === undefined ? undefined : { temperature: t, from };
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
