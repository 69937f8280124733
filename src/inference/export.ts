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
import { buildForwardGraph } from '../training/graphs.js';

export interface ExportInfo {
  task: string;
  labels: readonly string[];
  inputShape: (number | string)[];
}

/** A plain STMedFM (no PEFT) with LoRA folded into the base weights; adapters stay as layers. */
export function mergedForExport(model: STMedFM, store: ParamStore): { model: STMedFM; store: ParamStore } {
  if (model.peft?.kind !== 'lora') return { model, store };
  return { model: new STMedFM(model.config, model.heads), store: mergeLora(model, store) };
}

export async function exportOnnx(model: STMedFM, store: ParamStore, task: string, path: string): Promise<ExportInfo> {
  const merged = mergedForExport(model, store);
  const { graph } = buildForwardGraph(merged.model, merged.store, task);
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
    'stmedfm.outputs': JSON.stringify(merged.model.head(task).multiLabel ? { logits: '[batch, labels]', probabilities: 'sigmoid of each logit (independent labels)' } : { logits: '[batch, classes]', probabilities: 'softmax of logits' }),
    'stmedfm.model': JSON.stringify(model.config),
  };
  // One atomic write (missing folders created, removed again if the write fails).
  await writeFileGroupAtomic([{ path, data: toOnnxModel(graph, { precision: 'float32', metadata }) }]);
  return { task, labels, inputShape: [...x.shape] };
}
