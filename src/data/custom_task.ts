/**
 * Tasks of your own: `--data NAME=FILE` with a NAME that is not a MedMNIST task defines the task
 * from the file itself. Classes and their names come from `class_names` (written by `data import`),
 * else from the label values; 2D/3D and colour from the image shape; multi-label from the label
 * shape ((N, 1) = one class id per sample, (N, K > 1) = K independent 0/1 labels).
 *
 * A NAME that IS a registry task keeps the registry's definition, but a file whose own metadata
 * says otherwise (other class names or count, multi-label vs single-label) is refused: training a
 * `bloodmnist` head on five other classes would silently mislabel every prediction.
 */
import { basename } from 'node:path';
import { IMAGE_SIZES } from '../model/config.js';
import { DataError } from './errors.js';
import { decodeUnicodeNpy } from './import/npy_unicode.js';
import { formatShape, toIntArray } from './npy.js';
import { NpzFile } from './npz.js';
import { SPLITS, isMultiLabel, labelWidth, type DatasetInfo, type DatasetName, type SplitSizes, type TaskType } from './registry.js';

/** Custom task names end up in tensor names (`heads.<name>.weight`) and file names: keep them plain. */
const TASK_NAME = /^[a-z][a-z0-9_-]{0,39}$/;

export function checkCustomTaskName(name: string): void {
  if (!TASK_NAME.test(name)) {
    throw new DataError(`--data ${name}=...: a task name is 1-40 lowercase letters, digits, '_' or '-', starting with a letter (e.g. pbc, skin_lesions)`);
  }
}

export interface TaskFromFile {
  info: DatasetInfo;
  /** What was inferred rather than read (e.g. class names made up from label values). */
  notes: string[];
}

function strings(npz: NpzFile, key: string, file: string): string[] | undefined {
  return npz.has(key) ? decodeUnicodeNpy(npz.memberBytes(key), `${file}, ${key}`) : undefined;
}

function requireKey(npz: NpzFile, key: string, file: string): void {
  if (!npz.has(key)) {
    throw new DataError(`${file}: no array '${key}' (arrays in this file: ${npz.keys().join(', ') || 'none'}); expected the MedMNIST layout {train,val,test}_{images,labels}, as \`stmedfm data import\` writes it`);
  }
}

/** 2D gray, 2D RGB or 3D, from one sample's shape in the file (images 28, 64, 128 or 224 px a side; volumes 28^3). */
function layoutOf(per: readonly number[], file: string, dimKey: string | undefined): { dim: 2 | 3; channels: 1 | 3 } {
  const is = (...want: number[]) => per.length === want.length && want.every((d, i) => per[i] === d);
  const side = per[0]!;
  if (IMAGE_SIZES.includes(side)) {
    if (is(side, side) && dimKey !== '3D') return { dim: 2, channels: 1 };
    if (is(side, side, 3) && dimKey !== '3D') return { dim: 2, channels: 3 };
  }
  if (is(28, 28, 28) && dimKey !== '2D') return { dim: 3, channels: 1 };
  throw new DataError(
    `${file}: train_images has samples of shape ${formatShape(per)}${dimKey ? ` (dim ${dimKey})` : ''}; STMedFM takes (N, S, S) grayscale or (N, S, S, 3) RGB images ` +
      `with S = ${IMAGE_SIZES.join(', ')}, or (N, 28, 28, 28) volumes: re-import with \`stmedfm data import ... --size 28\``,
  );
}

function splitSizes(npz: NpzFile): SplitSizes {
  const n = (s: string) => (npz.has(`${s}_images`) ? (npz.header(`${s}_images`).shape[0] ?? 0) : 0);
  return { train: n('train'), val: n('val'), test: n('test') };
}

/** The width of a label row in the file: 1 (class ids) or K (multi-label). */
function labelColumns(npz: NpzFile, file: string): number {
  const ls = npz.header('train_labels').shape;
  if (ls.length !== 2 || !(ls[1]! >= 1)) {
    throw new DataError(`${file}: train_labels has shape ${formatShape(ls)}; expected (N, 1) class ids or (N, K) 0/1 labels (multi-label)`);
  }
  return ls[1]!;
}

/** Defines task `name` from the file's own metadata (see the module comment). */
export function taskInfoFromNpz(name: string, npz: NpzFile, file: string): TaskFromFile {
  checkCustomTaskName(name);
  requireKey(npz, 'train_images', file);
  requireKey(npz, 'train_labels', file);
  const notes: string[] = [];
  const { dim, channels } = layoutOf(npz.header('train_images').shape.slice(1), file, strings(npz, 'dim', file)?.[0]);
  const width = labelColumns(npz, file);
  const multiLabel = width > 1;
  let labels = strings(npz, 'class_names', file);
  if (labels) {
    if (labels.length === 0) throw new DataError(`${file}: class_names is empty; a task needs at least two classes`);
    if (new Set(labels).size !== labels.length) throw new DataError(`${file}: class_names has duplicates (${labels.join(', ')}); every class needs its own name`);
    if (multiLabel && labels.length !== width) {
      throw new DataError(`${file}: class_names has ${labels.length} names but train_labels has ${width} columns (one 0/1 column per label); they must match`);
    }
  } else if (multiLabel) {
    labels = Array.from({ length: width }, (_, i) => `label ${i}`);
    notes.push(`${basename(file)} has no class_names: its ${width} labels are called ${labels[0]} .. ${labels.at(-1)} (\`stmedfm data import\` records the real names)`);
  } else {
    let hi = -1;
    for (const s of SPLITS) {
      if (!npz.has(`${s}_labels`)) continue;
      const v = toIntArray(npz.read(`${s}_labels`), `${file}, ${s}_labels`);
      for (let i = 0; i < v.length; i++) if (v[i]! > hi) hi = v[i]!;
    }
    labels = Array.from({ length: hi + 1 }, (_, i) => `class ${i}`);
    notes.push(`${basename(file)} has no class_names: ${labels.length} classes from the label values 0..${hi}, called 'class 0' .. 'class ${hi}' (\`stmedfm data import\` records the real names)`);
  }
  if (!multiLabel && labels.length < 2) throw new DataError(`${file}: only ${labels.length} class (${labels.join(', ')}); a classification task needs at least two`);
  const task: TaskType = multiLabel ? 'multi-label, binary-class' : labels.length === 2 ? 'binary-class' : 'multi-class';
  const info: DatasetInfo = {
    // A run-time task: the registry's literal name type does not list it (see registerCustomTask).
    name: name as DatasetName,
    pythonClass: '',
    dim,
    task,
    channels,
    labels,
    nSamples: splitSizes(npz),
    license: 'your own data (see the file\'s source)',
    url: '',
    md5: '',
  };
  return { info, notes };
}

/** Refuses a file given for registry task `info` whose own metadata describes other classes. */
export function checkRegistryTaskFile(info: DatasetInfo, npz: NpzFile, file: string): void {
  if (!npz.has('train_labels')) return; // the loader names the missing array
  const rename = `give your own task another name, e.g. --data mytask=${file}`;
  const width = labelColumns(npz, file);
  if (width !== labelWidth(info)) {
    const fileKind = width > 1 ? `multi-label (${width} 0/1 labels per sample)` : 'single-label (one class id per sample)';
    const taskKind = isMultiLabel(info) ? `multi-label (${info.labels.length} labels)` : `single-label (${info.labels.length} classes)`;
    throw new DataError(`${file}: the file is ${fileKind}, but ${info.name} is a MedMNIST task that is ${taskKind}; ${rename}`);
  }
  const names = strings(npz, 'class_names', file);
  if (names && (names.length !== info.labels.length || names.some((n, i) => n !== info.labels[i]))) {
    throw new DataError(
      `${file}: its classes (${names.length}: ${names.join(', ')}) are not those of the MedMNIST task ${info.name} ` +
        `(${info.labels.length}: ${info.labels.join(', ')}); ${rename}`,
    );
  }
}

/** The task a checkpoint's head describes, for commands given no data file (e.g. `predict`). */
export function taskInfoFromHead(head: { name: string; numClasses: number; modality: '2d' | '3d'; multiLabel?: boolean; classNames?: readonly string[]; channels?: 1 | 3 }): DatasetInfo {
  const labels = head.classNames ? [...head.classNames] : Array.from({ length: head.numClasses }, (_, i) => `class ${i}`);
  return {
    name: head.name as DatasetName,
    pythonClass: '',
    dim: head.modality === '3d' ? 3 : 2,
    task: head.multiLabel ? 'multi-label, binary-class' : labels.length === 2 ? 'binary-class' : 'multi-class',
    channels: head.modality === '3d' ? 1 : (head.channels ?? 3),
    labels,
    nSamples: { train: 0, val: 0, test: 0 },
    license: 'your own data (see the file\'s source)',
    url: '',
    md5: '',
  };
}
