/**
 * STMedFM checkpoints: a `.safetensors` state dict under PyTorch names, with the model config,
 * the task heads and any PEFT config in `__metadata__`, so a file always rebuilds its own model.
 * Optimizer state for resuming goes to a sidecar `<file>.optim.safetensors`.
 */
import { existsSync } from 'node:fs';
import { type ModelConfig, type TaskHead, validateConfig } from '../model/config.js';
import { ParamStore } from '../model/params.js';
import type { PeftConfig } from '../model/peft.js';
import { STMedFM } from '../model/stmedfm.js';
import { type Checkpoint, loadCheckpoint, saveCheckpoint } from '../io/checkpoint.js';
import { loadSafetensors, saveSafetensors } from '../io/safetensors.js';
import { UserError } from './errors.js';

export const CHECKPOINT_FORMAT = 'stmedfm/1';

export interface CheckpointConfig {
  format: string;
  model: ModelConfig;
  heads: TaskHead[];
  peft?: PeftConfig;
  /** Free-form provenance: how this checkpoint was trained. */
  training?: Record<string, unknown>;
}

export interface LoadedModel {
  model: STMedFM;
  store: ParamStore;
  config: CheckpointConfig;
}

export async function saveModel(path: string, model: STMedFM, store: ParamStore, training?: Record<string, unknown>): Promise<void> {
  const config: CheckpointConfig = { format: CHECKPOINT_FORMAT, model: model.config, heads: [...model.heads], ...(model.peft ? { peft: model.peft } : {}), ...(training ? { training } : {}) };
  const names = model.specs().map((s) => s.name);
  const dict = new Map(names.map((n) => [n, store.get(n)]));
  await saveCheckpoint(path, dict, config);
}

export async function loadModel(path: string): Promise<LoadedModel> {
  if (!existsSync(path)) throw new UserError(`${path}: no such checkpoint file`);
  let ck;
  try {
    ck = await loadCheckpoint(path);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  return modelOf(ck, path);
}

/** The model a loaded checkpoint describes, checked tensor by tensor (`path` names it in errors). */
export function modelOf(ck: Checkpoint, path: string): LoadedModel {
  const cfg = ck.config as Partial<CheckpointConfig> | null;
  if (!cfg || cfg.format !== CHECKPOINT_FORMAT || !cfg.model || !Array.isArray(cfg.heads)) {
    throw new UserError(`${path}: not an STMedFM checkpoint (no '${CHECKPOINT_FORMAT}' config in its metadata)`);
  }
  let model: STMedFM;
  try {
    validateConfig(cfg.model);
    model = new STMedFM(cfg.model, cfg.heads, cfg.peft);
  } catch (e) {
    throw new UserError(`${path}: ${(e as Error).message}`);
  }
  const store = new ParamStore();
  const problems: string[] = [];
  for (const s of model.specs()) {
    const t = ck.tensors.get(s.name);
    if (!t) problems.push(`missing tensor ${s.name}`);
    else if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) problems.push(`${s.name} has shape [${t.shape}] but the config needs [${s.shape}]`);
    else store.set(s.name, { dtype: 'float', shape: [...s.shape], data: t.data });
  }
  const expected = new Set(model.specs().map((s) => s.name));
  for (const name of ck.tensors.keys()) if (!expected.has(name)) problems.push(`unexpected tensor ${name}`);
  if (problems.length) {
    const more = problems.length > 3 ? ` (and ${problems.length - 3} more)` : '';
    throw new UserError(`${path}: tensors do not match the checkpoint's config: ${problems.slice(0, 3).join('; ')}${more}`);
  }
  return { model, store, config: cfg as CheckpointConfig };
}

export const optimizerPath = (ckpt: string): string => ckpt.replace(/\.safetensors$/, '') + '.optim.safetensors';

export interface OptimizerCheckpoint {
  state: Record<string, Float32Array>;
  stepsDone: number;
  meta: Record<string, string>;
}

export async function saveOptimizer(ckpt: string, state: Record<string, Float32Array>, stepsDone: number, meta: Record<string, string>): Promise<void> {
  const tensors = new Map(Object.entries(state).map(([k, v]) => [k, { dtype: 'F32' as const, shape: [v.length], data: v }]));
  await saveSafetensors(optimizerPath(ckpt), tensors, { ...meta, steps_done: String(stepsDone) });
}

export async function loadOptimizer(ckpt: string): Promise<OptimizerCheckpoint> {
  const p = optimizerPath(ckpt);
  if (!existsSync(p)) throw new UserError(`${p}: no optimizer state to resume from (it is written next to the checkpoint by finetune/pretrain)`);
  const f = await loadSafetensors(p);
  const state: Record<string, Float32Array> = {};
  for (const [k, t] of f.tensors) state[k] = Float32Array.from(t.data);
  const meta = f.metadata ?? {};
  return { state, stepsDone: Number(meta.steps_done ?? 0), meta };
}
