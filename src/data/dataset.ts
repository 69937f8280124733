/**
 * Loading one task's splits from an official-layout `.npz`, validating them against the registry,
 * and turning samples into model input (float32 NCHW / NCDHW).
 *
 * Images stay uint8 in memory in the file's layout; batches are converted on the fly through a
 * 256-entry table, which is both exact and cheap (the float copy of a split would be 4x larger).
 */
import { existsSync, readdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { IMAGE_SIZES } from '../model/config.js';
import { DataError } from './errors.js';
import { defaultCacheDir } from './fetch.js';
import { formatShape, numelOf, toIntArray, type NpyArray } from './npy.js';
import { NpzFile } from './npz.js';
import {
  SPLITS,
  fileImageShape,
  getDataset,
  isMultiLabel,
  labelWidth,
  numClasses,
  type DatasetInfo,
  type DatasetName,
  type Split,
} from './registry.js';

export interface DataSourceOptions {
  /** Folder holding official file names `<name>.npz` (offline use). */
  readonly dataDir?: string;
  /** Explicit task -> file mapping (`--data NAME=FILE`); wins over folders. */
  readonly files?: Readonly<Record<string, string>>;
  /**
   * Tasks given one `--data NAME=FILE` per image size (`reproduce --image-size 28,64`): task ->
   * image size (read from each file) -> file. Wins over `files` and folders.
   */
  readonly sizedFiles?: Readonly<Record<string, Readonly<Record<number, string>>>>;
  /** Download cache searched after `dataDir`; default $STMEDFM_CACHE or ~/.cache/stmedfm. */
  readonly cacheDir?: string;
}

/** Parses `--data NAME=FILE` values into a task -> file map (names checked against the registry). */
export function parseDataOverrides(specs: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, files] of Object.entries(groupDataOverrides(specs))) {
    if (files.length > 1) throw new DataError(`--data: task '${name}' is given twice`);
    out[name] = files[0]!;
  }
  return out;
}

function groupDataOverrides(specs: readonly string[]): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const s of specs) {
    const eq = s.indexOf('=');
    if (eq <= 0 || eq === s.length - 1) {
      throw new DataError(`--data '${s}': expected NAME=FILE, e.g. bloodmnist=/path/to/bloodmnist-source28.npz`);
    }
    const name = getDataset(s.slice(0, eq).trim()).name;
    (out[name] ??= []).push(s.slice(eq + 1));
  }
  return out;
}

/** The image size of a data file, from its train_images header (no pixels read); undefined when unreadable. */
export function fileImageSize(task: string, file: string): number | undefined {
  try {
    const npz = NpzFile.open(file);
    return npz.has('train_images') ? imageSizeOf(getDataset(task), npz.header('train_images').shape) : undefined;
  } catch {
    return undefined; // the loader names what is wrong with the file
  }
}

/**
 * `--data NAME=FILE` values where a task may be given once per image size (`reproduce
 * --image-size`): a task given once goes to `files` as always; a task given several times goes to
 * `sizedFiles` by the image size read from each file's header (two files of one size are refused).
 */
export function parseSizedDataOverrides(specs: readonly string[]): Pick<DataSourceOptions, 'files' | 'sizedFiles'> {
  const files: Record<string, string> = {};
  const sizedFiles: Record<string, Record<number, string>> = {};
  for (const [name, given] of Object.entries(groupDataOverrides(specs))) {
    if (given.length === 1) {
      files[name] = given[0]!;
      continue;
    }
    const bySize: Record<number, string> = {};
    for (const f of given) {
      if (!existsSync(f)) throw new DataError(`${f}: no such file (given for task ${name} with --data)`);
      const size = fileImageSize(name, f);
      if (size === undefined) throw new DataError(`--data ${name}=${f}: cannot read its image size (train_images should be (N, S, S[, 3]) with S = ${IMAGE_SIZES.join(', ')})`);
      if (bySize[size] !== undefined) throw new DataError(`--data: task '${name}' is given twice at ${size} px (${bySize[size]} and ${f}); give one file per image size`);
      bySize[size] = f;
    }
    sizedFiles[name] = bySize;
  }
  return { files, ...(Object.keys(sizedFiles).length ? { sizedFiles } : {}) };
}

/** How to get data at an image size: `data import` writes 28 and 64 px; 128 and 224 px come from MedMNIST+ itself. */
export function howToGetSize(size: number, name?: string): string {
  return size === 28 || size === 64
    ? `\`stmedfm data import ... --size ${size}${name ? ` --out ${dataFileName(name, size)}` : ''}\``
    : `MedMNIST+'s ${name ? dataFileName(name, size) : `_${size}.npz file`}`;
}

/** The file name of a task at an image size in a data folder: MedMNIST's `<name>.npz` at 28 px, MedMNIST+'s `<name>_<size>.npz` otherwise. */
export function dataFileName(name: string, size = 28): string {
  return size === 28 ? `${name}.npz` : `${name}_${size}.npz`;
}

/**
 * Where a task's file is: an explicit override, else `<dataDir>/<name>.npz`, else the cache.
 * With `size` (reproduce's image-size axis), the file of that image size: `--data` files are
 * checked by their header, folder files are `<name>_<size>.npz` (`<name>.npz` at 28 px); volumes
 * are 28^3 whatever `size`.
 */
export function resolveDataFile(task: string, opts: DataSourceOptions = {}, size?: number): string {
  const info = getDataset(task);
  const want = size === undefined || info.dim === 3 ? undefined : size;
  const sized = opts.sizedFiles?.[info.name];
  if (sized) {
    const found = Object.entries(sized).map(([s, f]) => `${f} (${s} px)`).join(', ');
    if (want === undefined) throw new DataError(`--data gives ${info.name} once per image size (${found}); only \`reproduce --image-size\` takes several files for a task`);
    const f = sized[want];
    if (f === undefined) throw new DataError(`no ${want}-px data file for ${info.name}: --data gave ${found}; add --data ${info.name}=FILE with ${want}-px images (${howToGetSize(want)})`);
    return f;
  }
  const override = opts.files?.[info.name] ?? opts.files?.[task];
  if (override !== undefined) {
    if (!existsSync(override)) throw new DataError(`${override}: no such file (given for task ${info.name} with --data)`);
    const has = want === undefined ? undefined : fileImageSize(info.name, override);
    if (has !== undefined && want !== undefined && has !== want) {
      throw new DataError(`no ${want}-px data file for ${info.name}: --data gave ${override} (${has} px); give --data ${info.name}=FILE once per image size`);
    }
    return override;
  }
  const tried: string[] = [];
  const dirs = [...new Set([opts.dataDir, opts.cacheDir ?? defaultCacheDir()].filter((d): d is string => d !== undefined))];
  for (const dir of dirs) {
    const p = join(dir, dataFileName(info.name, want));
    if (existsSync(p)) return p;
    tried.push(p);
  }
  if (want !== undefined && want !== 28) {
    const found = dirs.flatMap((d) => {
      try {
        return readdirSync(d)
          .filter((f) => f.startsWith(info.name) && f.endsWith('.npz'))
          .map((f) => `${join(d, f)} (${fileImageSize(info.name, join(d, f)) ?? '?'} px)`);
      } catch {
        return [];
      }
    });
    throw new DataError(
      `no ${want}-px data file for ${info.name} (looked for ${tried.join(', ')}; found ${found.length ? found.join(', ') : 'no file of this task'}); ` +
        `get ${want}-px images (${howToGetSize(want, info.name)}) into the folder, or give --data ${info.name}=FILE`,
    );
  }
  throw new DataError(
    `no data file for ${info.name} (looked for ${tried.join(', ')}); download it with ` +
      `\`stmedfm data fetch ${info.name}\`, or map the task to a file with --data ${info.name}=FILE`,
  );
}

/** One validated split, images still uint8 in the file's layout (sample-major). */
export interface TaskSplit {
  readonly info: DatasetInfo;
  readonly task: DatasetName;
  readonly split: Split;
  readonly file: string;
  readonly n: number;
  readonly images: Uint8Array;
  /** Per-sample shape in the file: [S,S] or [S,S,3] (S = imageSize), or [28,28,28]. */
  readonly imageShape: readonly number[];
  /** Side of the images in pixels, read from the file: 28 (MedMNIST) or 64/128/224 (MedMNIST+); 28 for volumes. */
  readonly imageSize: number;
  /** n * labelWidth label values (class ids, or 0/1 per label for multi-label). */
  readonly labels: Int32Array;
  readonly labelWidth: number;
}

const INT_DTYPES = new Set(['uint8', 'int8', 'uint16', 'int16', 'uint32', 'int32', 'int64', 'uint64', 'bool']);

function describeLayout(info: DatasetInfo, size?: number): string {
  if (info.dim === 3) return '(N, 28, 28, 28) grayscale volumes';
  const s = size ?? 'S';
  const sides = size === undefined ? ` with S = ${IMAGE_SIZES.join(', ')}` : '';
  return info.channels === 3 ? `(N, ${s}, ${s}, 3) RGB images${sides}` : `(N, ${s}, ${s}) grayscale images${sides}`;
}

/**
 * The side of the samples in a 2D images array of `info`'s layout, when it is square and one of
 * the supported sizes (MedMNIST 28, MedMNIST+ 64/128/224); undefined otherwise. Volumes: 28 only.
 */
export function imageSizeOf(info: DatasetInfo, shape: readonly number[]): number | undefined {
  if (info.dim === 3) return shape[1] === 28 ? 28 : undefined;
  const side = shape[1];
  return side !== undefined && shape[2] === side && IMAGE_SIZES.includes(side) ? side : undefined;
}

/** Checks one split's arrays against the registry entry; returns the split or throws. */
export function validateSplit(
  info: DatasetInfo,
  split: Split,
  file: string,
  images: NpyArray,
  labels: NpyArray,
): TaskSplit {
  const where = `${basename(file)}, ${split}`;
  if (images.dtype !== 'uint8') {
    throw new DataError(`${where}_images: dtype is ${images.dtype}, expected uint8 (MedMNIST stores pixel values 0..255)`);
  }
  const shape = images.shape;
  const found = imageSizeOf(info, shape);
  const size = found ?? 28;
  const per = fileImageShape(info, size);
  const okShape = shape.length === per.length + 1 && per.every((d, i) => shape[i + 1] === d);
  if (!okShape) {
    let why = '';
    const side = shape[1];
    if (info.dim === 3 && side !== undefined && side !== 28 && shape.length === 4 && [64, 128, 224].includes(side)) {
      why = ` (this looks like a ${side}^3 MedMNIST+ file; STMedFM's 3D stem takes 28^3 volumes: use the 28-px file)`;
    } else if (info.dim === 2 && shape.length === 4 && shape[3] === 3 && info.channels === 1) {
      why = ' (RGB images, but this task is grayscale: is the file for another task?)';
    } else if (info.dim === 2 && shape.length === 3 && info.channels === 3) {
      why = ' (grayscale images, but this task is RGB: is the file for another task?)';
    } else if (info.dim === 2 && shape.length === 4 && shape[3] === 28) {
      why = ' (3D volumes, but this task is 2D: is the file for another task?)';
    } else if (info.dim === 3 && shape.length === 3) {
      why = ' (2D images, but this task is 3D: is the file for another task?)';
    }
    throw new DataError(
      `${where}_images: shape ${formatShape(shape)} does not fit ${info.name}, which expects ${describeLayout(info, found)}${why}`,
    );
  }
  const n = shape[0]!;
  if (!INT_DTYPES.has(labels.dtype)) {
    throw new DataError(`${where}_labels: dtype is ${labels.dtype}, expected integer labels`);
  }
  const width = labelWidth(info);
  const ls = labels.shape;
  if (ls.length !== 2 || ls[1] !== width) {
    throw new DataError(
      `${where}_labels: shape ${formatShape(ls)}, expected (N, ${width})` +
        (isMultiLabel(info) ? ` (one 0/1 column per label of ${info.name})` : ' (one class id per sample)'),
    );
  }
  if (ls[0] !== n) {
    throw new DataError(`${where}: ${n} images but ${ls[0]} labels (${split}_images ${formatShape(shape)}, ${split}_labels ${formatShape(ls)})`);
  }
  const values = toIntArray(labels, `${where}_labels`);
  const hi = isMultiLabel(info) ? 1 : numClasses(info) - 1;
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v < 0 || v > hi) {
      const idx = width === 1 ? `[${i}]` : `[${Math.floor(i / width)}, ${i % width}]`;
      const range = isMultiLabel(info) ? 'expected 0 or 1' : `${info.name} has ${numClasses(info)} classes, labels 0..${hi}`;
      throw new DataError(`${basename(file)}: ${split}_labels${idx} = ${v} is out of range (${range}); file ${file}`);
    }
  }
  return {
    info,
    task: info.name,
    split,
    file,
    n,
    images: images.data as Uint8Array,
    imageShape: per,
    imageSize: size,
    labels: values,
    labelWidth: width,
  };
}

function openFor(info: DatasetInfo, file: string): NpzFile {
  return NpzFile.open(file, { hint: `re-download it with \`stmedfm data fetch ${info.name}\`` });
}

function readSplit(info: DatasetInfo, npz: NpzFile, file: string, split: Split): TaskSplit {
  for (const k of [`${split}_images`, `${split}_labels`]) {
    if (!npz.has(k)) {
      throw new DataError(`${file}: no array '${k}' (arrays in this file: ${npz.keys().join(', ') || 'none'}); expected the MedMNIST layout {train,val,test}_{images,labels}`);
    }
  }
  return validateSplit(info, split, file, npz.read(`${split}_images`), npz.read(`${split}_labels`));
}

/** Loads and validates one split of a task. */
export function loadSplit(task: string, split: Split, opts: DataSourceOptions = {}): TaskSplit {
  const info = getDataset(task);
  const file = resolveDataFile(info.name, opts);
  return readSplit(info, openFor(info, file), file, split);
}

export type TaskData = Readonly<Record<Split, TaskSplit>>;

/** Loads and validates the train, val and test splits of a task from one file. */
export function loadTask(task: string, opts: DataSourceOptions = {}): TaskData {
  const info = getDataset(task);
  const file = resolveDataFile(info.name, opts);
  return loadTaskFile(info.name, file);
}

/** Like loadTask, from an explicit file. */
export function loadTaskFile(task: string, file: string): TaskData {
  return taskDataOf(task, openFor(getDataset(task), file), file);
}

/** The validated splits of a task from a parsed `.npz` (the browser app parses the dropped file's bytes). */
export function taskDataOf(task: string, npz: NpzFile, file: string): TaskData {
  const info = getDataset(task);
  const out = {} as Record<Split, TaskSplit>;
  for (const s of SPLITS) out[s] = readSplit(info, npz, file, s);
  const sizes = new Set(SPLITS.map((s) => out[s].imageSize));
  if (sizes.size > 1) {
    throw new DataError(`${file}: its splits have images of different sizes (${SPLITS.map((s) => `${s} ${out[s].imageSize} px`).join(', ')}); a data file holds one image size`);
  }
  return out;
}

// ---- preprocessing ----

/**
 * uint8 -> float32 as torchvision does it, ToTensor then Normalize(0.5, 0.5): each step rounded
 * to float32 (fround of the float64 result equals the float32 operation for these operands).
 */
export const NORMALIZE_LUT: Float32Array = (() => {
  const t = new Float32Array(256);
  for (let v = 0; v < 256; v++) t[v] = Math.fround(Math.fround(Math.fround(v / 255) - 0.5) / 0.5);
  return t;
})();

export interface PreprocessOptions {
  /** Repeat grayscale 2D images to 3 channels (the 2D stem takes 3). Default true. */
  readonly grayTo3?: boolean;
}

/** Per-sample model input shape: [C,S,S] for 2D images of side S (default 28), [1,28,28,28] for 3D. */
export function inputShape(info: DatasetInfo, opts: PreprocessOptions = {}, size = 28): number[] {
  const s = fileImageShape(info, size);
  if (info.dim === 3) return [1, ...s];
  const c = info.channels === 3 || opts.grayTo3 !== false ? 3 : 1;
  return [c, s[0]!, s[1]!];
}

export interface InputBatch {
  readonly data: Float32Array;
  /** [B, C, H, W] or [B, 1, D, H, W]. */
  readonly shape: number[];
}

/**
 * Gathers samples `indices` of a split into normalised float32 model input. RGB HWC becomes CHW;
 * grayscale is repeated to 3 channels unless `grayTo3: false`; volumes keep their (D, H, W) order
 * and are never flipped (left and right organs are different classes).
 */
export function toInput(split: TaskSplit, indices: ArrayLike<number>, opts: PreprocessOptions = {}): InputBatch {
  return gather(split.info, split.images, split.n, indices, opts, `${split.task} ${split.split}`, split.imageSize);
}

/**
 * Model input from images outside a split (e.g. `predict` on a `.npy`): uint8 in the file layout
 * of the task at side `size`, either one sample ([S,S,3], [S,S], [28,28,28]) or a stack with a leading N.
 */
export function imagesToInput(info: DatasetInfo, images: NpyArray, opts: PreprocessOptions = {}, name = 'input', size = 28): InputBatch {
  if (images.dtype !== 'uint8') throw new DataError(`${name}: dtype is ${images.dtype}, expected uint8 pixel values 0..255`);
  const per = fileImageShape(info, size);
  const s = images.shape;
  const single = s.length === per.length && per.every((d, i) => s[i] === d);
  const stack = s.length === per.length + 1 && per.every((d, i) => s[i + 1] === d);
  if (!single && !stack) {
    throw new DataError(`${name}: shape ${formatShape(s)} does not fit ${info.name}, which expects ${describeLayout(info, size)} or one such sample`);
  }
  const n = single ? 1 : s[0]!;
  return gather(info, images.data as Uint8Array, n, Int32Array.from({ length: n }, (_, i) => i), opts, name, size);
}

function gather(
  info: DatasetInfo,
  img: Uint8Array,
  n: number,
  indices: ArrayLike<number>,
  opts: PreprocessOptions,
  where: string,
  size: number,
): InputBatch {
  const per = inputShape(info, opts, size);
  const b = indices.length;
  const sampleIn = numelOf(fileImageShape(info, size));
  const sampleOut = numelOf(per);
  const out = new Float32Array(b * sampleOut);
  const lut = NORMALIZE_LUT;
  for (let k = 0; k < b; k++) {
    const idx = indices[k]!;
    if (!Number.isInteger(idx) || idx < 0 || idx >= n) {
      throw new DataError(`toInput: index ${idx} out of range for ${where} (n = ${n})`);
    }
    const src = idx * sampleIn;
    const dst = k * sampleOut;
    if (info.dim === 2 && info.channels === 3) {
      const hw = sampleIn / 3;
      for (let p = 0; p < hw; p++) {
        out[dst + p] = lut[img[src + 3 * p]!]!;
        out[dst + hw + p] = lut[img[src + 3 * p + 1]!]!;
        out[dst + 2 * hw + p] = lut[img[src + 3 * p + 2]!]!;
      }
    } else {
      for (let p = 0; p < sampleIn; p++) out[dst + p] = lut[img[src + p]!]!;
      for (let c = 1; c < per[0]!; c++) out.copyWithin(dst + c * sampleIn, dst, dst + sampleIn);
    }
  }
  return { data: out, shape: [b, ...per] };
}

/** Class ids of samples `indices` (single-label tasks). */
export function classIds(split: TaskSplit, indices: ArrayLike<number>): Int32Array {
  if (split.labelWidth !== 1) {
    throw new DataError(`${split.task} is a multi-label task (${split.labelWidth} labels per sample); use multiLabelTargets`);
  }
  const out = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) out[k] = split.labels[indices[k]!]!;
  return out;
}

/** 0/1 targets [B, L] of samples `indices` (multi-label tasks). */
export function multiLabelTargets(split: TaskSplit, indices: ArrayLike<number>): Float32Array {
  const w = split.labelWidth;
  const out = new Float32Array(indices.length * w);
  for (let k = 0; k < indices.length; k++) {
    const base = indices[k]! * w;
    for (let j = 0; j < w; j++) out[k * w + j] = split.labels[base + j]!;
  }
  return out;
}

/** All class ids of a single-label split, as a plain view (for shots and class weights). */
export function splitClassIds(split: TaskSplit): Int32Array {
  if (split.labelWidth !== 1) throw new DataError(`${split.task} is a multi-label task; it has no single class id per sample`);
  return split.labels;
}
