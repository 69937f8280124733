/**
 * Adapter files (peft layout) as bytes, and a base checkpoint plus adapter files as one model.
 * The browser app downloads and loads adapters through these; Node can use them on files it read.
 */
import { adapterSpec } from '../cli/adapter_files.js';
import {
  ADAPTER_CONFIG_NAME,
  ADAPTER_WEIGHTS_NAME,
  PEFT_KEY_PREFIX,
  type AdapterSpec,
  type PeftAdapter,
  adapterConfigText,
  checkAdapterTensors,
} from '../io/peft_files.js';
import { type SafeTensor, serializeSafetensors } from '../io/safetensors.js';
import type { TaskHead } from '../model/config.js';
import { ParamStore } from '../model/params.js';
import type { LoraTarget, PeftConfig } from '../model/peft.js';
import { STMedFM } from '../model/stmedfm.js';
import type { TaskCalibration } from '../training/calibration.js';
import { UserError } from '../training/errors.js';

/** adapter_model.safetensors and adapter_config.json of a LoRA/adapter model's task, as the CLI writes them. */
export function adapterFiles(t: { model: STMedFM; store: ParamStore; config?: { calibration?: Record<string, TaskCalibration> } }, task: string, baseModel: string | null = null): { weights: Uint8Array; config: string } {
  const spec = adapterSpec(t.model, task, baseModel, t.config?.calibration?.[task]);
  const names = [...t.model.peftSpecs(), ...t.model.headSpecs(task)].map((s) => s.name);
  const tensors = new Map(names.map((n) => [n, t.store.get(n)]));
  checkAdapterTensors(spec, tensors);
  const prefixed = new Map<string, SafeTensor>();
  for (const [name, v] of tensors) prefixed.set(PEFT_KEY_PREFIX + name, { dtype: 'F32', shape: v.shape, data: v.data });
  return { weights: serializeSafetensors(prefixed, { format: 'pt' }), config: adapterConfigText(spec) };
}

function peftConfigOf(spec: AdapterSpec): PeftConfig {
  if (spec.method === 'lora') {
    return { kind: 'lora', r: spec.r, alpha: spec.alpha, rslora: spec.rslora, targets: spec.targetModules.map((t) => t.replace(/^.*\./, '') as LoraTarget), dropout: spec.dropout };
  }
  return { kind: 'adapter', placement: spec.placement, bottleneck: spec.bottleneck };
}

/**
 * The base model with the adapter's PEFT tensors and task head. Refuses, with what does not fit,
 * a base that already carries PEFT, an adapter without a task head, and tensors whose shapes
 * differ from what the base model's config needs (an adapter trained on another model size).
 */
export function applyAdapter(
  base: { model: STMedFM; store: ParamStore },
  adapter: PeftAdapter,
  name = ADAPTER_WEIGHTS_NAME,
): { model: STMedFM; store: ParamStore; task: string; calibration?: Record<string, TaskCalibration> } {
  if (base.model.peft) throw new UserError(`the base checkpoint already carries a ${base.model.peft.kind} config; load the adapter onto the plain checkpoint it was trained from`);
  const headModule = adapter.spec.modulesToSave.find((m) => m.startsWith('heads.'));
  if (!headModule) throw new UserError(`${ADAPTER_CONFIG_NAME}: modules_to_save names no task head (heads.<task>)`);
  const task = headModule.slice('heads.'.length);
  const headW = adapter.tensors.get(`${headModule}.weight`);
  if (!headW || headW.shape.length !== 2) throw new UserError(`${name}: no ${headModule}.weight matrix`);
  const known = base.model.headsByName.get(task);
  const head: TaskHead = known ?? { name: task, numClasses: headW.shape[0]!, modality: base.model.heads[0]?.modality ?? '2d' };
  if (known && known.numClasses !== headW.shape[0]) {
    throw new UserError(`the adapter's head '${task}' has ${headW.shape[0]} classes but the checkpoint's has ${known.numClasses}: they do not fit together`);
  }
  let model: STMedFM;
  try {
    model = new STMedFM(base.model.config, known ? [...base.model.heads] : [...base.model.heads, head], peftConfigOf(adapter.spec));
  } catch (e) {
    throw new UserError(`${ADAPTER_CONFIG_NAME}: ${(e as Error).message}`);
  }
  const store = new ParamStore();
  for (const n of base.store.names()) store.set(n, base.store.get(n));
  const problems: string[] = [];
  const wanted = new Map([...model.peftSpecs(), ...model.headSpecs(task)].map((s) => [s.name, s]));
  for (const [n, s] of wanted) {
    const t = adapter.tensors.get(n);
    if (!t) problems.push(`missing ${n}`);
    else if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) problems.push(`${n} is [${t.shape.join(', ')}], the model needs [${s.shape.join(', ')}]`);
    else store.set(n, { dtype: 'float', shape: [...s.shape], data: Float64Array.from(t.data) });
  }
  for (const n of adapter.tensors.keys()) if (!wanted.has(n)) problems.push(`unexpected ${n}`);
  if (problems.length) {
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    throw new UserError(`the adapter does not fit the checkpoint (model dim ${model.config.dim}, depth ${model.config.depth}): ${problems.slice(0, 3).join('; ')}${more}`);
  }
  // The adapter's calibration belongs to its own head; one naming another task is not applied.
  const cal = adapter.spec.calibration;
  if (cal && cal.task !== task) throw new UserError(`${ADAPTER_CONFIG_NAME}: stmedfm_calibration is for task '${cal.task}', but the adapter's head is '${task}'`);
  const calibration = cal ? { [task]: { temperature: cal.temperature, split: cal.split, nll_before: cal.nll_before, nll_after: cal.nll_after } } : undefined;
  return { model, store, task, ...(calibration ? { calibration } : {}) };
}
