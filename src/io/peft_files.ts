/**
 * PEFT adapter directories in the Hugging Face peft layout:
 *
 *   <dir>/adapter_model.safetensors   only the adapter tensors and the trainable head
 *   <dir>/adapter_config.json         the adapter settings, as peft's `save_pretrained` writes them
 *                                     (json.dumps(indent=2, sort_keys=True))
 *
 * Tensor keys carry peft's prefix for a model wrapped by `PeftModel` ("base_model.model."), with
 * the adapter name ("default") removed, exactly as `get_peft_model_state_dict` saves them:
 *   base_model.model.blocks.0.qkv.lora_A.weight   [r, in]
 *   base_model.model.blocks.0.qkv.lora_B.weight   [out, r]
 *   base_model.model.heads.pathmnist.weight       (a `modules_to_save` module: the task head)
 * so `PeftModel.from_pretrained(torch_model, dir)` loads a LoRA directory into the equivalent
 * PyTorch module. In memory (and in this module's API) names are the plain state-dict names.
 *
 * peft has no Houlsby/Pfeiffer bottleneck adapter type, so bottleneck adapters get a config of
 * our own with the same conventions and file names, under the deliberately non-peft type
 * "STMEDFM_BOTTLENECK" (peft refuses to load it rather than misreading it).
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type GroupFile, writeFileGroupAtomic } from './atomic.js';
import { loadSafetensors, serializeSafetensors, type LoadedTensor, type SafeTensor, type SafetensorsFile } from './safetensors.js';

export const ADAPTER_WEIGHTS_NAME = 'adapter_model.safetensors';
export const ADAPTER_CONFIG_NAME = 'adapter_config.json';
/** Key prefix of a non-prompt-learning PeftModel's saved state dict. */
export const PEFT_KEY_PREFIX = 'base_model.model.';
export const BOTTLENECK_PEFT_TYPE = 'STMEDFM_BOTTLENECK';

interface CommonSpec {
  /** Modules trained in full and saved with the adapter (peft `modules_to_save`), e.g. ["heads.pathmnist"]. */
  readonly modulesToSave: readonly string[];
  /** peft `base_model_name_or_path`: the checkpoint the adapter was trained on, or null. */
  readonly baseModel: string | null;
  /** `stmedfm_calibration`: the temperature of the adapter's task, fitted on val (absent: none stored). */
  readonly calibration?: AdapterCalibration;
}

/** adapter_config.json `stmedfm_calibration` (an STMedFM field; peft ignores unknown fields). */
export interface AdapterCalibration {
  readonly task: string;
  readonly temperature: number;
  readonly split: 'val';
  readonly nll_before: number;
  readonly nll_after: number;
}

function calibrationField(file: string, v: unknown): AdapterCalibration | undefined {
  if (v === undefined || v === null) return undefined;
  const bad = (what: string) => new PeftFileError(file, `"stmedfm_calibration" ${what}`);
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('must be an object');
  const c = v as Record<string, unknown>;
  if (typeof c.task !== 'string' || !c.task) throw bad('needs a "task" name');
  if (typeof c.temperature !== 'number' || !Number.isFinite(c.temperature) || !(c.temperature > 0)) throw bad(`needs a positive "temperature", got ${JSON.stringify(c.temperature)}`);
  if (c.split !== 'val') throw bad(`"split" must be "val", got ${JSON.stringify(c.split)}`);
  for (const k of ['nll_before', 'nll_after'] as const) if (typeof c[k] !== 'number') throw bad(`"${k}" must be a number`);
  return { task: c.task, temperature: c.temperature, split: 'val', nll_before: c.nll_before as number, nll_after: c.nll_after as number };
}

export interface LoraSpec extends CommonSpec {
  readonly method: 'lora';
  readonly r: number;
  readonly alpha: number;
  /** rsLoRA: scale alpha / sqrt(r) instead of alpha / r. */
  readonly rslora: boolean;
  /** Module-name suffixes that receive LoRA, e.g. ["qkv", "proj"]. */
  readonly targetModules: readonly string[];
  readonly dropout: number;
}

export interface BottleneckSpec extends CommonSpec {
  readonly method: 'bottleneck';
  /** Bottleneck width (down-projection output size). */
  readonly bottleneck: number;
  /** houlsby: after attention and after the MLP; pfeiffer: after the MLP only. */
  readonly placement: 'houlsby' | 'pfeiffer';
  readonly nonLinearity: 'gelu';
  readonly dropout: number;
  /** Names of the modules holding adapters (e.g. ["blocks.0", "blocks.1"]); informational. */
  readonly targetModules: readonly string[];
}

export type AdapterSpec = LoraSpec | BottleneckSpec;

/** The LoRA scale lives with the model that applies it; re-exported for adapter-file users. */
export { loraScale } from '../model/peft.js';

/** A tensor to save: shape plus row-major values (a HostTensor fits). */
export interface AdapterTensor {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

export class PeftFileError extends Error {
  constructor(
    readonly file: string,
    what: string,
  ) {
    super(`${file}: ${what}`);
    this.name = 'PeftFileError';
  }
}

// ---------------------------------------------------------------- config JSON

function sortKeysDeep(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeysDeep);
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, sortKeysDeep((v as Record<string, unknown>)[k])]));
  }
  return v;
}

/** The adapter_config.json object for a spec (field names and defaults as peft's LoraConfig). */
export function adapterConfigJson(spec: AdapterSpec): Record<string, unknown> {
  const common = {
    auto_mapping: null,
    base_model_name_or_path: spec.baseModel,
    bias: 'none',
    inference_mode: true,
    // peft keeps these as sets and writes them in arbitrary order; sorted here for reproducible files
    modules_to_save: spec.modulesToSave.length > 0 ? [...spec.modulesToSave].sort() : null,
    revision: null,
    target_modules: [...spec.targetModules].sort(),
    task_type: null,
    ...(spec.calibration ? { stmedfm_calibration: { ...spec.calibration } } : {}),
  };
  if (spec.method === 'lora') {
    return {
      ...common,
      peft_type: 'LORA',
      r: spec.r,
      lora_alpha: spec.alpha,
      lora_dropout: spec.dropout,
      use_rslora: spec.rslora,
      use_dora: false,
      fan_in_fan_out: false,
      init_lora_weights: true,
      layers_pattern: null,
      layers_to_transform: null,
      rank_pattern: {},
      alpha_pattern: {},
    };
  }
  return {
    ...common,
    peft_type: BOTTLENECK_PEFT_TYPE,
    bottleneck_size: spec.bottleneck,
    placement: spec.placement,
    non_linearity: spec.nonLinearity,
    adapter_dropout: spec.dropout,
    init_up_weights: 'zeros',
  };
}

/** Serialised as peft does: json.dumps(config, indent=2, sort_keys=True). */
export function adapterConfigText(spec: AdapterSpec): string {
  return JSON.stringify(sortKeysDeep(adapterConfigJson(spec)), null, 2);
}

function stringList(file: string, cfg: Record<string, unknown>, key: string, required: boolean): string[] {
  const v = cfg[key];
  if (v === null || v === undefined) {
    if (required) throw new PeftFileError(file, `"${key}" is missing`);
    return [];
  }
  if (typeof v === 'string') {
    throw new PeftFileError(file, `"${key}" is the regular expression ${JSON.stringify(v)}; only a list of module names is supported`);
  }
  if (!Array.isArray(v) || !v.every((s) => typeof s === 'string')) throw new PeftFileError(file, `"${key}" must be a list of strings`);
  return [...(v as string[])].sort();
}

function numberField(file: string, cfg: Record<string, unknown>, key: string, dflt: number | undefined, ok: (x: number) => boolean, want: string): number {
  const v = cfg[key] ?? dflt;
  if (typeof v !== 'number' || !ok(v)) throw new PeftFileError(file, `"${key}" must be ${want}, got ${JSON.stringify(cfg[key])}`);
  return v;
}

function isEmptyish(v: unknown): boolean {
  return v === undefined || v === null || (typeof v === 'object' && Object.keys(v as object).length === 0);
}

/** Parses adapter_config.json contents into a spec, refusing peft features this project does not implement. */
export function parseAdapterConfig(cfg: unknown, file = ADAPTER_CONFIG_NAME): AdapterSpec {
  if (typeof cfg !== 'object' || cfg === null || Array.isArray(cfg)) throw new PeftFileError(file, 'config is not a JSON object');
  const c = cfg as Record<string, unknown>;
  const baseModel = c.base_model_name_or_path ?? null;
  if (baseModel !== null && typeof baseModel !== 'string') throw new PeftFileError(file, '"base_model_name_or_path" must be a string or null');
  if ((c.bias ?? 'none') !== 'none') throw new PeftFileError(file, `bias ${JSON.stringify(c.bias)} is not supported (only "none": base biases stay frozen)`);
  const calibration = calibrationField(file, c.stmedfm_calibration);
  const common = { modulesToSave: stringList(file, c, 'modules_to_save', false), baseModel: baseModel as string | null, ...(calibration ? { calibration } : {}) };
  const positiveInt = (x: number): boolean => Number.isInteger(x) && x > 0;
  const dropout = (key: string): number => numberField(file, c, key, 0, (x) => x >= 0 && x < 1, 'a number in [0, 1)');

  if (c.peft_type === 'LORA') {
    if (c.use_dora === true) throw new PeftFileError(file, 'DoRA (use_dora: true) is not supported');
    if (c.fan_in_fan_out === true) throw new PeftFileError(file, 'fan_in_fan_out: true is not supported (Linear weights are [out, in])');
    if (!isEmptyish(c.rank_pattern) || !isEmptyish(c.alpha_pattern)) throw new PeftFileError(file, 'per-module rank_pattern / alpha_pattern are not supported');
    if (!isEmptyish(c.layers_to_transform)) throw new PeftFileError(file, 'layers_to_transform is not supported');
    return {
      method: 'lora',
      ...common,
      r: numberField(file, c, 'r', undefined, positiveInt, 'a positive integer'),
      alpha: numberField(file, c, 'lora_alpha', undefined, (x) => x > 0, 'a positive number'),
      rslora: c.use_rslora === true,
      targetModules: stringList(file, c, 'target_modules', true),
      dropout: dropout('lora_dropout'),
    };
  }
  if (c.peft_type === BOTTLENECK_PEFT_TYPE) {
    const placement = c.placement;
    if (placement !== 'houlsby' && placement !== 'pfeiffer') throw new PeftFileError(file, `"placement" must be "houlsby" or "pfeiffer", got ${JSON.stringify(placement)}`);
    if ((c.non_linearity ?? 'gelu') !== 'gelu') throw new PeftFileError(file, `non_linearity ${JSON.stringify(c.non_linearity)} is not supported (only "gelu")`);
    return {
      method: 'bottleneck',
      ...common,
      bottleneck: numberField(file, c, 'bottleneck_size', undefined, positiveInt, 'a positive integer'),
      placement,
      nonLinearity: 'gelu',
      dropout: dropout('adapter_dropout'),
      targetModules: stringList(file, c, 'target_modules', false),
    };
  }
  throw new PeftFileError(file, `peft_type ${JSON.stringify(c.peft_type)} is not supported (expected "LORA" or "${BOTTLENECK_PEFT_TYPE}")`);
}

// ---------------------------------------------------------------- tensor checks

/** peft matches a target against a module key by equality or as a dotted suffix. */
function matchesModule(moduleKey: string, target: string): boolean {
  return moduleKey === target || moduleKey.endsWith(`.${target}`);
}

/** True when the parameter `name` lives in (a submodule of) one of the modules_to_save. */
function inSavedModule(spec: AdapterSpec, name: string): boolean {
  const segments = name.split('.').slice(0, -1);
  for (let k = 1; k <= segments.length; k++) {
    const module = segments.slice(0, k).join('.');
    if (spec.modulesToSave.some((m) => matchesModule(module, m))) return true;
  }
  return false;
}

/**
 * Checks that `tensors` are exactly what the spec describes: LoRA A/B pairs on target modules
 * with rank r (or bottleneck down/up projections of width `bottleneck`) plus modules_to_save
 * tensors, and nothing else (a base weight in an adapter file is a bug).
 */
export function checkAdapterTensors(spec: AdapterSpec, tensors: ReadonlyMap<string, { readonly shape: readonly number[] }>, file = ADAPTER_WEIGHTS_NAME): void {
  const bad = (what: string): never => {
    throw new PeftFileError(file, what);
  };
  const shapeOf = (s: readonly number[]): string => `[${s.join(', ')}]`;
  for (const [name, t] of tensors) {
    if (inSavedModule(spec, name)) continue;
    if (spec.method === 'lora') {
      const m = /^(.+)\.lora_([AB])\.weight$/.exec(name);
      if (!m) bad(`unexpected tensor "${name}": neither a LoRA factor nor part of modules_to_save [${spec.modulesToSave.join(', ')}]`);
      const [, module, which] = m!;
      if (!spec.targetModules.some((tm) => matchesModule(module!, tm))) bad(`tensor "${name}": module "${module}" is not in target_modules [${spec.targetModules.join(', ')}]`);
      const other = tensors.get(`${module}.lora_${which === 'A' ? 'B' : 'A'}.weight`);
      if (!other) bad(`tensor "${name}" has no matching lora_${which === 'A' ? 'B' : 'A'}`);
      if (t.shape.length !== 2) bad(`tensor "${name}": LoRA factors are matrices, got shape ${shapeOf(t.shape)}`);
      const rank = which === 'A' ? t.shape[0] : t.shape[1];
      if (rank !== spec.r) bad(`tensor "${name}" ${shapeOf(t.shape)} has rank ${rank}, config says r = ${spec.r}`);
    } else {
      const m = /\.(down|up)\.(weight|bias)$/.exec(name);
      if (!m) bad(`unexpected tensor "${name}": neither an adapter projection (.down/.up) nor part of modules_to_save [${spec.modulesToSave.join(', ')}]`);
      const [, proj, kind] = m!;
      const b = spec.bottleneck;
      const ok =
        kind === 'bias'
          ? t.shape.length === 1 && (proj === 'up' || t.shape[0] === b)
          : t.shape.length === 2 && (proj === 'down' ? t.shape[0] === b : t.shape[1] === b);
      if (!ok) bad(`tensor "${name}" ${shapeOf(t.shape)} does not fit bottleneck_size ${b} (down.weight [${b}, d], up.weight [d, ${b}])`);
    }
  }
}

// ---------------------------------------------------------------- directory I/O

export interface WriteAdapterOptions {
  /** Element type in the file (default F32, as PyTorch saves). */
  readonly dtype?: 'F32' | 'F64';
  /** Extra safetensors metadata (peft writes {"format": "pt"}, which is always set). */
  readonly metadata?: Readonly<Record<string, string>>;
}

function toMap<T>(t: Readonly<Record<string, T>> | ReadonlyMap<string, T>): Map<string, T> {
  return t instanceof Map ? new Map(t) : new Map(Object.entries(t as Record<string, T>));
}

/**
 * The two files of a peft adapter folder, `<dir>/adapter_model.safetensors` and
 * `<dir>/adapter_config.json`, as bytes (to be written with other files as one group).
 * `tensors` use plain state-dict names; they are checked against the spec first.
 */
export function peftAdapterFiles(
  dir: string,
  spec: AdapterSpec,
  tensors: Readonly<Record<string, AdapterTensor>> | ReadonlyMap<string, AdapterTensor>,
  opts: WriteAdapterOptions = {},
): GroupFile[] {
  const map = toMap(tensors);
  checkAdapterTensors(spec, map, join(dir, ADAPTER_WEIGHTS_NAME));
  parseAdapterConfig(adapterConfigJson(spec), join(dir, ADAPTER_CONFIG_NAME)); // the spec itself must round-trip
  const dtype = opts.dtype ?? 'F32';
  const prefixed = new Map<string, SafeTensor>();
  for (const [name, t] of map) prefixed.set(PEFT_KEY_PREFIX + name, { dtype, shape: t.shape, data: t.data });
  return [
    { path: join(dir, ADAPTER_WEIGHTS_NAME), data: serializeSafetensors(prefixed, { ...opts.metadata, format: 'pt' }) },
    { path: join(dir, ADAPTER_CONFIG_NAME), data: adapterConfigText(spec) },
  ];
}

/** Writes a peft adapter folder (created if needed); the two files are written as one group. */
export async function writePeftAdapter(
  dir: string,
  spec: AdapterSpec,
  tensors: Readonly<Record<string, AdapterTensor>> | ReadonlyMap<string, AdapterTensor>,
  opts: WriteAdapterOptions = {},
): Promise<void> {
  await writeFileGroupAtomic(peftAdapterFiles(dir, spec, tensors, opts));
}

export interface PeftAdapter {
  readonly spec: AdapterSpec;
  /** adapter_config.json as read (including fields this project ignores). */
  readonly config: Readonly<Record<string, unknown>>;
  /** Tensors under their plain state-dict names (peft prefix removed). */
  readonly tensors: ReadonlyMap<string, LoadedTensor>;
  readonly metadata: Readonly<Record<string, string>> | null;
}

/** Reads and validates a peft adapter directory. */
export async function readPeftAdapter(dir: string): Promise<PeftAdapter> {
  const cfgPath = join(dir, ADAPTER_CONFIG_NAME);
  let text: string;
  try {
    text = await readFile(cfgPath, 'utf8');
  } catch (e) {
    throw new PeftFileError(cfgPath, `cannot read the adapter config (${(e as Error).message})`);
  }
  const { spec, config } = adapterConfigOf(text, cfgPath);
  const weightsPath = join(dir, ADAPTER_WEIGHTS_NAME);
  const file = await loadSafetensors(weightsPath);
  return { spec, config, tensors: adapterTensorsOf(spec, file, weightsPath), metadata: file.metadata };
}

/** A peft adapter from the config's text and the parsed weights file (the browser app reads the bytes itself). */
export function peftAdapterOf(text: string, cfgPath: string, file: SafetensorsFile, weightsPath: string): PeftAdapter {
  const { spec, config } = adapterConfigOf(text, cfgPath);
  return { spec, config, tensors: adapterTensorsOf(spec, file, weightsPath), metadata: file.metadata };
}

function adapterConfigOf(text: string, cfgPath: string): { spec: AdapterSpec; config: Record<string, unknown> } {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new PeftFileError(cfgPath, `not valid JSON (${(e as Error).message})`);
  }
  return { spec: parseAdapterConfig(config, cfgPath), config: config as Record<string, unknown> };
}

/** The adapter's tensors under plain state-dict names (peft prefix removed), checked against the spec. */
function adapterTensorsOf(spec: AdapterSpec, file: SafetensorsFile, weightsPath: string): Map<string, LoadedTensor> {
  const tensors = new Map<string, LoadedTensor>();
  for (const [key, t] of file.tensors) {
    if (!key.startsWith(PEFT_KEY_PREFIX)) throw new PeftFileError(weightsPath, `tensor "${key}" lacks the peft prefix "${PEFT_KEY_PREFIX}"`);
    tensors.set(key.slice(PEFT_KEY_PREFIX.length), t);
  }
  checkAdapterTensors(spec, tensors, weightsPath);
  return tensors;
}
