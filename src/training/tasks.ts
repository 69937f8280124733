/** From MedMNIST registry entries to model task heads (the model layer knows nothing of files). */
import { type DatasetInfo, customTask, getDataset, isMultiLabel, numClasses } from '../data/index.js';
import type { TaskHead } from '../model/config.js';
import { UserError } from './errors.js';

export function taskHead(name: string): TaskHead {
  let info: DatasetInfo;
  try {
    info = getDataset(name);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const modality = info.dim === 3 ? '3d' : '2d';
  // Multi-label (ChestMNIST): one sigmoid output per label, trained with binary cross-entropy.
  // A task defined by its own file carries its class names and colour into checkpoints.
  const own = customTask(info.name) ? { classNames: [...info.labels], ...(info.dim === 2 ? { channels: info.channels } : {}) } : {};
  if (isMultiLabel(info)) return { name: info.name, numClasses: info.labels.length, modality, multiLabel: true, ...own };
  return { name: info.name, numClasses: numClasses(info), modality, ...own };
}

/** The SPEC's defaults per modality. */
export const DEFAULT_BATCH = { '2d': 64, '3d': 16 } as const;
export const DEFAULT_FINETUNE_STEPS = { '2d': 120, '3d': 50 } as const;
