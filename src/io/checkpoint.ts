/**
 * Full-model checkpoints (SPEC 7): one .safetensors file whose tensor names are the PyTorch
 * state-dict names and whose `__metadata__` carries {"format": "pt"} (what transformers and
 * safetensors.torch write, so `safetensors.torch.load_file` + `load_state_dict` just work) and the
 * model/run configuration as JSON under "stmedfm_config". Written atomically.
 */
import { writeFileAtomic } from './atomic.js';
import { loadSafetensors, serializeSafetensors, SafetensorsError, type LoadedTensor, type SafeTensor, type SafetensorsFile } from './safetensors.js';

export const CONFIG_METADATA_KEY = 'stmedfm_config';

/** A state-dict entry: shape plus row-major values (a HostTensor fits). */
export interface StateTensor {
  readonly shape: readonly number[];
  readonly data: ArrayLike<number>;
}

export interface CheckpointOptions {
  /** Element type in the file (default F32, as PyTorch saves). */
  readonly dtype?: 'F32' | 'F64';
  /** Further string metadata (must not use the reserved keys "format" and "stmedfm_config"). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** The bytes of a checkpoint file (for writing it together with other files). */
export function serializeCheckpoint(
  stateDict: Readonly<Record<string, StateTensor>> | ReadonlyMap<string, StateTensor>,
  config: unknown,
  opts: CheckpointOptions = {},
): Uint8Array {
  for (const k of ['format', CONFIG_METADATA_KEY]) {
    if (opts.metadata && k in opts.metadata) throw new Error(`saveCheckpoint: metadata key "${k}" is reserved`);
  }
  const dtype = opts.dtype ?? 'F32';
  const entries = stateDict instanceof Map ? [...stateDict.entries()] : Object.entries(stateDict as Record<string, StateTensor>);
  const tensors = new Map<string, SafeTensor>(entries.map(([name, t]) => [name, { dtype, shape: t.shape, data: t.data }]));
  return serializeSafetensors(tensors, { ...opts.metadata, format: 'pt', [CONFIG_METADATA_KEY]: JSON.stringify(config) });
}

/** Saves a state dict and a JSON-serialisable config to `path` (atomically). */
export async function saveCheckpoint(
  path: string,
  stateDict: Readonly<Record<string, StateTensor>> | ReadonlyMap<string, StateTensor>,
  config: unknown,
  opts: CheckpointOptions = {},
): Promise<void> {
  await writeFileAtomic(path, serializeCheckpoint(stateDict, config, opts));
}

export interface Checkpoint {
  readonly tensors: ReadonlyMap<string, LoadedTensor>;
  /** The parsed "stmedfm_config" metadata, or null for a safetensors file written elsewhere. */
  readonly config: unknown;
  readonly metadata: Readonly<Record<string, string>>;
}

/** Loads a checkpoint written by {@link saveCheckpoint} (or any safetensors state dict). */
export async function loadCheckpoint(path: string): Promise<Checkpoint> {
  return checkpointOf(await loadSafetensors(path), path);
}

/** A checkpoint from an already parsed safetensors file (the browser app reads the bytes itself). */
export function checkpointOf(file: SafetensorsFile, path: string): Checkpoint {
  const metadata = file.metadata ?? {};
  const raw = metadata[CONFIG_METADATA_KEY];
  let config: unknown = null;
  if (raw !== undefined) {
    try {
      config = JSON.parse(raw);
    } catch (e) {
      throw new SafetensorsError(path, `metadata "${CONFIG_METADATA_KEY}" is not valid JSON (${(e as Error).message})`);
    }
  }
  return { tensors: file.tensors, config, metadata };
}
