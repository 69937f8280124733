/**
 * The deployable model: the forward graph of one task with every weight as an initializer,
 * LoRA merged, softmax on top, a dynamic batch dimension, and metadata saying what goes in.
 */
import { getDataset } from '../data/index.js';
import { toOnnxModel } from '../engine/onnx/index.js';
import { writeFileGroupAtomic } from '../io/atomic.js';
import { mergeLora } from '../model/merge.js';
import type { ParamStore } from '../model/params.js';
import { STMedFM } from '../model/stmedfm.js';
import { ONNX_TEMPERATURE_KEY } from '../training/calibration.js';
import { buildForwardGraph } from '../training/graphs.js';

export interface ExportInfo {
  task: string;
  labels: readonly string[];
  inputShape: (number | string)[];
  /** The temperature the probabilities output applies (null: raw probabilities). */
  temperature: number | null;
}

function outputsNote(multiLabel: boolean, t: number | undefined): Record<string, string> {
  const what = multiLabel ? 'sigmoid of each logit (independent labels)' : 'softmax of logits';
  const scaled = multiLabel ? 'sigmoid of each logit / T (independent labels)' : 'softmax of logits / T';
  return {
    logits: multiLabel ? '[batch, labels], raw (not temperature-scaled)' : '[batch, classes], raw (not temperature-scaled)',
    probabilities: t === undefined ? `${what} (uncalibrated)` : `${scaled}, calibrated with T = stmedfm.temperature (fitted on the validation split)`,
  };
}

/** A plain STMedFM (no PEFT) with LoRA folded into the base weights; adapters stay as layers. */
export function mergedForExport(model: STMedFM, store: ParamStore): { model: STMedFM; store: ParamStore } {
  if (model.peft?.kind !== 'lora') return { model, store };
  return { model: new STMedFM(model.config, model.heads), store: mergeLora(model, store) };
}

/**
 * With `temperature` (the checkpoint's calibration of the task) the `probabilities` output is
 * softmax(logits / T) (sigmoid(logits / T) per label for a multi-label head) and T is in the
 * metadata under `stmedfm.temperature`; `logits` stay raw either way.
 */
export async function exportOnnx(model: STMedFM, store: ParamStore, task: string, path: string, opts: { temperature?: number } = {}): Promise<ExportInfo> {
  const merged = mergedForExport(model, store);
  const t = opts.temperature;
  const { graph } = buildForwardGraph(merged.model, merged.store, task, 'batch', t);
  const info = getDataset(task);
  const x = graph.findInput('x')!;
  // A task of your own names its classes in its head (the registry does not know it).
  const labels = merged.model.head(task).classNames ?? info.labels;
  const metadata = {
    'stmedfm.task': task,
    'stmedfm.labels': JSON.stringify(labels),
    'stmedfm.input': JSON.stringify({ name: 'x', shape: x.shape, layout: info.dim === 3 ? 'NCDHW' : 'NCHW' }),
    'stmedfm.preprocessing': JSON.stringify({
      steps: ['uint8 pixels', 'x / 255', '(x - 0.5) / 0.5', ...(info.dim === 2 && info.channels === 1 ? ['repeat grayscale to 3 channels'] : []), 'HWC -> CHW'],
      mean: 0.5,
      std: 0.5,
    }),
    'stmedfm.outputs': JSON.stringify(outputsNote(merged.model.head(task).multiLabel === true, t)),
    'stmedfm.model': JSON.stringify(model.config),
    ...(t !== undefined ? { [ONNX_TEMPERATURE_KEY]: String(t) } : {}),
  };
  // One atomic write (missing folders created, removed again if the write fails).
  await writeFileGroupAtomic([{ path, data: toOnnxModel(graph, { precision: 'float32', metadata }) }]);
  return { task, labels, inputShape: [...x.shape], temperature: t ?? null };
}
