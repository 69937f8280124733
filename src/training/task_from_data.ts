/**
 * Tasks of your own, as the commands see them: defined from `--data NAME=FILE` (the file's own
 * metadata) or from a checkpoint's head (its class names travel with it), and checked against
 * each other, so a head is never used for data with other classes or another output kind.
 */
import { existsSync, statSync } from 'node:fs';
import {
  NpzFile,
  checkRegistryTaskFile,
  customTask,
  getDataset,
  isDatasetName,
  registerCustomTask,
  taskInfoFromHead,
  taskInfoFromNpz,
} from '../data/index.js';
import type { TaskHead } from '../model/config.js';
import type { LoadedModel } from './checkpoint.js';
import { UserError } from './errors.js';
import { taskHead } from './tasks.js';

/** `NAME=FILE` pairs already looked at in this process (commands call this from several places). */
const seen = new Map<string, string>();
/** Tasks whose file has no class_names (names made up from label values: not compared). */
const namesInferred = new Set<string>();

/** The file a task was defined from in this process, if any. */
export function taskFile(name: string): string | undefined {
  return seen.get(name.toLowerCase());
}

/**
 * Defines the tasks of `--data NAME=FILE` entries whose NAME is not a MedMNIST task, and checks
 * that files given under a registry name fit that task. Returns notes on anything inferred.
 * Malformed entries and missing files are left to the data loader, which names them.
 */
export function defineTasksFromData(specs: readonly string[]): string[] {
  const notes: string[] = [];
  for (const s of specs) {
    const eq = s.indexOf('=');
    if (eq <= 0 || eq === s.length - 1) continue;
    const name = s.slice(0, eq).trim().toLowerCase();
    const file = s.slice(eq + 1);
    if (seen.get(name) === file) continue;
    if (!existsSync(file) || !statSync(file).isFile()) {
      if (isDatasetName(name)) continue; // the loader says "no such file" for registry tasks
      throw new UserError(`--data ${name}=${file}: no such file (a task of your own is defined by its .npz, e.g. from \`stmedfm data import\`)`);
    }
    const npz = NpzFile.open(file);
    if (isDatasetName(name)) {
      checkRegistryTaskFile(getDataset(name), npz, file);
    } else {
      // (A name given twice in one command is refused by parseDataOverrides.)
      const t = taskInfoFromNpz(name, npz, file);
      registerCustomTask(t.info);
      if (t.notes.length) namesInferred.add(name);
      else namesInferred.delete(name);
      notes.push(...t.notes);
    }
    seen.set(name, file);
  }
  return notes;
}

const describe = (h: TaskHead): string =>
  h.multiLabel ? `multi-label (${h.numClasses} labels${h.classNames ? `: ${h.classNames.join(', ')}` : ''})` : `${h.numClasses} classes${h.classNames ? ` (${h.classNames.join(', ')})` : ''}`;

/**
 * Refuses a checkpoint head that does not fit the task's data: another output kind (multi-label
 * vs single-label), another number of classes, or other class names. `where` names the checkpoint.
 */
export function checkHeadFits(ckptHead: TaskHead, dataHead: TaskHead, where: string): void {
  const file = taskFile(dataHead.name);
  const data = file ? `${file} (--data ${dataHead.name})` : `task ${dataHead.name}`;
  const fix = `use the checkpoint trained on this data, or fine-tune a fresh head under a new task name (--data NEWNAME=FILE)`;
  if (!!ckptHead.multiLabel !== !!dataHead.multiLabel) {
    const kind = (h: TaskHead) => (h.multiLabel ? `multi-label (${h.numClasses} 0/1 labels per sample)` : `single-label (${h.numClasses} classes, one per sample)`);
    throw new UserError(`${where}: its ${ckptHead.name} head is ${kind(ckptHead)}, but ${data} is ${kind(dataHead)}; ${fix}`);
  }
  const namesDiffer = ckptHead.classNames && dataHead.classNames && !namesInferred.has(dataHead.name) && ckptHead.classNames.join('\u0000') !== dataHead.classNames.join('\u0000');
  if (ckptHead.numClasses !== dataHead.numClasses || namesDiffer || ckptHead.modality !== dataHead.modality) {
    const mod = ckptHead.modality !== dataHead.modality ? ` (${ckptHead.modality.toUpperCase()} head, ${dataHead.modality.toUpperCase()} data)` : '';
    throw new UserError(`${where}: its ${ckptHead.name} head has ${describe(ckptHead)}, but ${data} has ${describe(dataHead)}${mod}; ${fix}`);
  }
}

/**
 * Makes the checkpoint's own tasks known (a head with class names defines its task when no file
 * did) and checks `task`'s head against the task's data when both exist.
 */
export function useCheckpointTasks(m: LoadedModel, where: string, task?: string): void {
  for (const h of m.model.heads) {
    if (h.classNames && !isDatasetName(h.name) && !customTask(h.name)) registerCustomTask(taskInfoFromHead(h));
  }
  if (task === undefined) return;
  let dataHead: TaskHead;
  try {
    dataHead = taskHead(task);
  } catch {
    return; // an unknown task is reported by the caller, with its own suggestions
  }
  const own = m.model.headsByName.get(dataHead.name);
  if (own) checkHeadFits(own, dataHead, where);
}
