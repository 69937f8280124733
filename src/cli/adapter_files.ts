/** The adapter-only files (Hugging Face peft layout) of a LoRA or adapter fine-tuning run. */
import type { GroupFile } from '../io/atomic.js';
import { type AdapterSpec, peftAdapterFiles } from '../io/peft_files.js';
import type { STMedFM } from '../model/stmedfm.js';
import type { ParamStore } from '../model/params.js';
import type { TaskCalibration } from '../training/calibration.js';

/** `calibration`: the task's stored temperature (checkpoint `calibration[task]`), written as `stmedfm_calibration`. */
export function adapterSpec(model: STMedFM, task: string, baseModel: string | null, calibration?: TaskCalibration): AdapterSpec {
  const p = model.peft;
  if (!p) throw new Error('adapterSpec: the model has no PEFT config');
  const modulesToSave = [`heads.${task}`];
  const cal = calibration ? { calibration: { task, temperature: calibration.temperature, split: calibration.split, nll_before: calibration.nll_before, nll_after: calibration.nll_after } } : {};
  if (p.kind === 'lora') return { method: 'lora', r: p.r, alpha: p.alpha, rslora: p.rslora, targetModules: p.targets, dropout: p.dropout, modulesToSave, baseModel, ...cal };
  return {
    ...cal,
    method: 'bottleneck',
    bottleneck: p.bottleneck,
    placement: p.placement,
    nonLinearity: 'gelu',
    dropout: 0,
    targetModules: Array.from({ length: model.config.depth }, (_, i) => `blocks.${i}`),
    modulesToSave,
    baseModel,
  };
}

/** The two files of `dir`, to be written in one group with the checkpoint they belong to. */
export function adapterFiles(t: { model: STMedFM; store: ParamStore; config?: { calibration?: Record<string, TaskCalibration> } }, dir: string, task: string, baseModel?: string): GroupFile[] {
  const names = [...t.model.peftSpecs(), ...t.model.headSpecs(task)].map((s) => s.name);
  const tensors = new Map(names.map((n) => [n, t.store.get(n)]));
  // The head's class names travel with the adapter (a task of your own has no registry entry).
  const head = t.model.head(task);
  const metadata = { stmedfm_task: task, ...(head.classNames ? { stmedfm_class_names: JSON.stringify(head.classNames) } : {}) };
  return peftAdapterFiles(dir, adapterSpec(t.model, task, baseModel ?? null, t.config?.calibration?.[task]), tensors, { metadata });
}
