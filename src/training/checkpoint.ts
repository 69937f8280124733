/**
 * STMedFM checkpoints: a `.safetensors` state dict under PyTorch names, with the model config,
 * the task heads and any PEFT config in `__metadata__`, so a file always rebuilds its own model.
 *
 * Optimizer state for resuming goes to a sidecar `<file>.optim.safetensors`. The two are a pair:
 * both headers carry the same random `pair id` and step count, they are written as one group
 * (see io/atomic.ts: the checkpoint is renamed into place last), and resuming refuses a
 * checkpoint whose sidecar is missing or belongs to another write.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, openSync, readSync, statSync } from 'node:fs';
import { type GroupFile, writeFileAtomic, writeFileGroupAtomic } from '../io/atomic.js';
import { type Checkpoint, loadCheckpoint, saveCheckpoint, serializeCheckpoint } from '../io/checkpoint.js';
import { loadSafetensors, serializeSafetensors } from '../io/safetensors.js';
import { type ModelConfig, type TaskHead, validateConfig } from '../model/config.js';
import { ParamStore } from '../model/params.js';
import type { PeftConfig } from '../model/peft.js';
import { STMedFM } from '../model/stmedfm.js';
import { type TaskCalibration, parseCalibration } from './calibration.js';
import { UserError } from './errors.js';

export const CHECKPOINT_FORMAT = 'stmedfm/1';
/** Header keys shared by a checkpoint and its optimizer sidecar. */
export const PAIR_ID_KEY = 'stmedfm_pair_id';
export const STEPS_DONE_KEY = 'stmedfm_steps_done';

export interface CheckpointConfig {
  format: string;
  model: ModelConfig;
  heads: TaskHead[];
  peft?: PeftConfig;
  /** Free-form provenance: how this checkpoint was trained (`trained_heads`: heads trained with these weights). */
  training?: Record<string, unknown>;
  /** Per task: the temperature fitted on its validation split after fine-tuning (training/calibration.ts). */
  calibration?: Record<string, TaskCalibration>;
}

export interface LoadedModel {
  model: STMedFM;
  store: ParamStore;
  config: CheckpointConfig;
}

function checkpointConfig(model: STMedFM, training?: Record<string, unknown>, calibration?: Record<string, TaskCalibration>): CheckpointConfig {
  return {
    format: CHECKPOINT_FORMAT,
    model: model.config,
    heads: [...model.heads],
    ...(model.peft ? { peft: model.peft } : {}),
    ...(training ? { training } : {}),
    ...(calibration && Object.keys(calibration).length ? { calibration } : {}),
  };
}

function stateDict(model: STMedFM, store: ParamStore) {
  return new Map(model.specs().map((s) => [s.name, store.get(s.name)]));
}

export async function saveModel(path: string, model: STMedFM, store: ParamStore, training?: Record<string, unknown>, calibration?: Record<string, TaskCalibration>): Promise<void> {
  await saveCheckpoint(path, stateDict(model, store), checkpointConfig(model, training, calibration));
}

/** `x.safetensors` -> `x.optim.safetensors`. */
export const optimizerPath = (ckpt: string): string => ckpt.replace(/\.safetensors$/, '') + '.optim.safetensors';
/** Where an interrupted run keeps its resumable state: `x.safetensors` -> `x.partial.safetensors`. */
export const partialPath = (ckpt: string): string => ckpt.replace(/\.safetensors$/, '') + '.partial.safetensors';

export interface TrainingState {
  model: STMedFM;
  store: ParamStore;
  training: Record<string, unknown>;
  optimizerState: Record<string, Float32Array>;
  stepsDone: number;
  calibration?: Record<string, TaskCalibration>;
}

/**
 * The files of a checkpoint + optimizer pair, in write order: `extra` files (e.g. adapter files)
 * first, then the optimizer state, the checkpoint last. Renaming the checkpoint last means that
 * an existing checkpoint always has everything written before it, and that a failure before it
 * leaves the previous checkpoint in place.
 */
export function trainingPairFiles(path: string, s: TrainingState, extra: readonly GroupFile[] = []): GroupFile[] {
  const pair = { [PAIR_ID_KEY]: randomBytes(8).toString('hex'), [STEPS_DONE_KEY]: String(s.stepsDone) };
  const optim = new Map(Object.entries(s.optimizerState).map(([k, v]) => [k, { dtype: 'F32' as const, shape: [v.length], data: v }]));
  const kind = String(s.training.kind ?? '');
  return [
    ...extra,
    { path: optimizerPath(path), data: serializeSafetensors(optim, { ...pair, kind, steps_done: String(s.stepsDone) }) },
    { path, data: serializeCheckpoint(stateDict(s.model, s.store), checkpointConfig(s.model, s.training, s.calibration), { metadata: pair }) },
  ];
}

/** Writes a checkpoint and its optimizer state (and `extra` files) as one group. */
export async function saveTrainingPair(path: string, s: TrainingState, extra: readonly GroupFile[] = []): Promise<void> {
  await writeFileGroupAtomic(trainingPairFiles(path, s, extra));
}

/** Fails with a clear line unless `path` is an existing regular file. */
function checkCheckpointFile(path: string, what: string): void {
  if (!existsSync(path)) throw new UserError(`${path}: no such ${what} file`);
  if (statSync(path).isDirectory()) throw new UserError(`${path} is a folder; give the ${what} file itself (a .safetensors file)`);
  if (path.toLowerCase().endsWith('.onnx')) throw onnxGiven(path);
}

const onnxGiven = (path: string) =>
  new UserError(`${path} is an ONNX model (as written by \`stmedfm export\`), not a checkpoint; give the .safetensors checkpoint it was exported from`);

/** An ONNX model is a protobuf that starts with field 1 (ir_version, a small varint), then field 2 or 3 (strings). */
function looksLikeOnnx(path: string): boolean {
  const head = Buffer.alloc(3);
  const fd = openSync(path, 'r');
  try {
    return readSync(fd, head, 0, 3, 0) === 3 && head[0] === 0x08 && head[1]! > 0 && head[1]! < 0x20 && (head[2] === 0x12 || head[2] === 0x1a);
  } finally {
    closeSync(fd);
  }
}

/** The name of the first tensor with a NaN or infinite value, and how many such values it has. */
function firstNonFinite(tensors: ReadonlyMap<string, { data: ArrayLike<number> }>): { name: string; count: number; kind: string } | undefined {
  for (const [name, t] of tensors) {
    let count = 0;
    let nan = false;
    for (let i = 0; i < t.data.length; i++) {
      const v = t.data[i]!;
      if (!Number.isFinite(v)) {
        count++;
        nan ||= Number.isNaN(v);
      }
    }
    if (count) return { name, count, kind: nan ? 'NaN' : 'infinite' };
  }
  return undefined;
}

export async function loadModel(path: string): Promise<LoadedModel> {
  return (await readModel(path)).loaded;
}

async function readModel(path: string): Promise<{ loaded: LoadedModel; header: Readonly<Record<string, string>> }> {
  checkCheckpointFile(path, 'checkpoint');
  let ck;
  try {
    ck = await loadCheckpoint(path);
  } catch (e) {
    if (looksLikeOnnx(path)) throw onnxGiven(path);
    throw new UserError((e as Error).message);
  }
  return { loaded: modelOf(ck, path), header: ck.metadata };
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
  const bad = firstNonFinite(ck.tensors);
  if (bad) {
    throw new UserError(`${path}: tensor ${bad.name} has ${bad.count} ${bad.kind} value${bad.count > 1 ? 's' : ''}; the checkpoint is unusable (did its training diverge?)`);
  }
  for (const [task, c] of Object.entries(cfg.calibration ?? {})) {
    const parsed = parseCalibration(c);
    if (typeof parsed === 'string') throw new UserError(`${path}: the stored calibration of ${task} is unusable: ${parsed}`);
  }
  return { model, store, config: cfg as CheckpointConfig };
}

/** The heads this checkpoint's weights were trained with, or undefined if it does not say. */
export function trainedHeads(m: LoadedModel): string[] | undefined {
  const h = m.config.training?.trained_heads;
  return Array.isArray(h) ? h.map(String) : undefined;
}

/** A warning when `task`'s head was not trained with the checkpoint's current weights. */
export function untrainedHeadWarning(m: LoadedModel, path: string, task: string): string | undefined {
  const trained = trainedHeads(m);
  if (!trained || trained.includes(task)) return undefined;
  return (
    `${path}: the ${task} head was not trained with this checkpoint's weights (trained: ${trained.join(', ') || 'none'}); ` +
    `its outputs come from a stale head. Fine-tune on ${task} first for meaningful results`
  );
}

export interface OptimizerCheckpoint {
  state: Record<string, Float32Array>;
  stepsDone: number;
  meta: Record<string, string>;
}

/** A lone optimizer file without a pair id (library compatibility); training runs save with {@link saveTrainingPair}. */
export async function saveOptimizer(ckpt: string, state: Record<string, Float32Array>, stepsDone: number, meta: Record<string, string>): Promise<void> {
  const tensors = new Map(Object.entries(state).map(([k, v]) => [k, { dtype: 'F32' as const, shape: [v.length], data: v }]));
  await writeFileAtomic(optimizerPath(ckpt), serializeSafetensors(tensors, { ...meta, steps_done: String(stepsDone) }));
}

export async function loadOptimizer(ckpt: string): Promise<OptimizerCheckpoint> {
  const p = optimizerPath(ckpt);
  if (!existsSync(p)) throw new UserError(`${p}: no optimizer state to resume from (it is written next to the checkpoint by finetune/pretrain)`);
  let f;
  try {
    f = await loadSafetensors(p);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const state: Record<string, Float32Array> = {};
  for (const [k, t] of f.tensors) state[k] = Float32Array.from(t.data);
  const bad = firstNonFinite(f.tensors);
  if (bad) throw new UserError(`${p}: optimizer state ${bad.name} has ${bad.count} ${bad.kind} values; it cannot be resumed`);
  const meta = f.metadata ?? {};
  return { state, stepsDone: Number(meta.steps_done ?? 0), meta };
}

export interface ResumePoint {
  loaded: LoadedModel;
  optimizer: OptimizerCheckpoint;
  stepsDone: number;
  training: Record<string, unknown>;
}

/** Loads a checkpoint + optimizer pair to resume from, refusing a mismatched or incomplete pair. */
export async function loadResumePoint(path: string): Promise<ResumePoint> {
  const { loaded, header } = await readModel(path);
  const optimizer = await loadOptimizer(path);
  const ckId = header[PAIR_ID_KEY];
  const opId = optimizer.meta[PAIR_ID_KEY];
  if (!ckId || !opId) {
    throw new UserError(`--resume ${path}: the checkpoint or its optimizer file ${optimizerPath(path)} carries no pair id (written by reproduce or an older version); it cannot be resumed safely`);
  }
  if (ckId !== opId || header[STEPS_DONE_KEY] !== optimizer.meta[STEPS_DONE_KEY]) {
    throw new UserError(
      `--resume ${path}: its optimizer file ${optimizerPath(path)} belongs to another save (step ${optimizer.meta[STEPS_DONE_KEY] ?? '?'}, ` +
        `checkpoint step ${header[STEPS_DONE_KEY] ?? '?'}; a write was cut short); resuming would mix two states. Start a new run without --resume`,
    );
  }
  const training = loaded.config.training ?? {};
  return { loaded, optimizer, stepsDone: Number(header[STEPS_DONE_KEY]), training };
}
