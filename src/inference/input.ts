/**
 * Turns what a user gives `predict` — an image, a NIfTI file, a DICOM series folder, a folder of
 * files, a CSV manifest, an `.npy` array or an `.npz` data file — into model input. Images and
 * volumes go through the same recorded preprocessing pipeline as `data import` (the pure
 * `data/imaging` module), so a file predicted is preprocessed exactly like a file imported.
 */
import { readdirSync, statSync } from 'node:fs';
import { extname, join, relative } from 'node:path';
import { type DatasetInfo, NORMALIZE_LUT, NpzFile, SPLITS, type Split, fileImageShape, parseNpy } from '../data/index.js';
import { decodeImage } from '../data/imaging/image2d.js';
import { looksLikeDicom } from '../data/imaging/dicom.js';
import { decodeNifti } from '../data/imaging/nifti.js';
import { apply2d, apply3d, outputShape, parsePipeline, pipeline2d, pipeline3d, type Pipeline } from '../data/imaging/pipeline.js';
import { decodeUnicodeNpy, isJunkFile, readBytes, readManifest, readVolume } from '../data/import/index.js';
import { UserError } from '../training/errors.js';

export interface ModelInput {
  data: Float32Array;
  /** [N, C, ...spatial] */
  shape: number[];
  n: number;
}

/** uint8 samples in the file layout ([S,S], [S,S,3] or [28,28,28] each, S = `size`) -> normalised NC(D)HW float32. */
export function samplesToInput(info: DatasetInfo, pixels: Uint8Array, n: number, size = 28): ModelInput {
  const per = fileImageShape(info, size);
  const sampleIn = per.reduce((a, b) => a * b, 1);
  const spatial = info.dim === 3 ? per : per.slice(0, 2);
  const hw = spatial.reduce((a, b) => a * b, 1);
  const c = info.dim === 3 ? 1 : 3;
  const out = new Float32Array(n * c * hw);
  for (let k = 0; k < n; k++) {
    const src = k * sampleIn;
    const dst = k * c * hw;
    if (info.dim === 2 && info.channels === 3) {
      for (let p = 0; p < hw; p++) for (let ch = 0; ch < 3; ch++) out[dst + ch * hw + p] = NORMALIZE_LUT[pixels[src + 3 * p + ch]!]!;
    } else {
      for (let p = 0; p < hw; p++) out[dst + p] = NORMALIZE_LUT[pixels[src + p]!]!;
      for (let ch = 1; ch < c; ch++) out.copyWithin(dst + ch * hw, dst, dst + hw);
    }
  }
  return { data: out, shape: [n, c, ...spatial], n };
}

export interface PredictInputOptions {
  /** An imported `.npz` whose saved preprocessing to replay (default: the task's standard one). */
  readonly preprocessingFrom?: string;
  /** For `.npz` inputs: one split (default all, train then val then test). */
  readonly split?: Split;
  readonly root?: string;
  readonly pathCol?: string;
  readonly pathTemplate?: string;
  /** Side of the model's 2D input (its checkpoint's `stem2d.imageSize`; default 28): images are resized to it. */
  readonly imageSize?: number;
}

export interface PredictInputs extends ModelInput {
  /** One name per sample (file path, `file#i`, or the source recorded in an imported file). */
  inputs: string[];
  /** Things the user should know (resizing, colour conversion, a file's content not matching its name). */
  notes: string[];
}

const IMAGE_EXT = new Set(['.png', '.jpg', '.jpeg']);
const isVolumePath = (p: string): boolean => /\.nii(\.gz)?$/i.test(p);

/** The preprocessing used for files: replayed from an imported file, or the task's default. */
export function pipelineFor(info: DatasetInfo, from?: string, size = 28): Pipeline {
  if (!from) return info.dim === 3 ? pipeline3d({}) : pipeline2d({ channels: info.channels, size });
  const npz = NpzFile.open(from);
  if (!npz.has('preprocessing')) throw new UserError(`--preprocessing ${from}: no saved preprocessing in it (only files written by \`stmedfm data import\` have one)`);
  const p = parsePipeline(decodeUnicodeNpy(npz.memberBytes('preprocessing'), `${from}, preprocessing`)[0] ?? '', from);
  if (p.dim !== info.dim) throw new UserError(`--preprocessing ${from} is for ${p.dim}D data, but ${info.name} is ${info.dim}D`);
  return p;
}

function listFolder(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    for (const e of readdirSync(d, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      if (isJunkFile(e.name)) continue;
      const p = join(d, e.name);
      if (e.isDirectory()) {
        const first = readdirSync(p).find((n) => !isJunkFile(n));
        if (first && statSync(join(p, first)).isFile() && looksLikeDicom(readBytes(join(p, first)).subarray(0, 132))) out.push(p);
        else walk(p);
      } else if (IMAGE_EXT.has(extname(e.name).toLowerCase()) || isVolumePath(e.name)) out.push(p);
    }
  };
  walk(dir);
  return out;
}

function readArrayFile(file: string, info: DatasetInfo, opts: PredictInputOptions): { pixels: Uint8Array; n: number; inputs: string[] } {
  const per = fileImageShape(info, opts.imageSize);
  if (extname(file).toLowerCase() === '.npz') {
    const npz = NpzFile.open(file);
    const chunks: Uint8Array[] = [];
    const inputs: string[] = [];
    for (const split of opts.split ? [opts.split] : SPLITS) {
      const key = `${split}_images`;
      if (!npz.has(key)) throw new UserError(`${file}: no ${key} array (arrays: ${npz.keys().join(', ')})`);
      const a = npz.read(key);
      if (a.dtype !== 'uint8' || a.shape.length !== per.length + 1 || per.some((d, i) => a.shape[i + 1] !== d)) {
        throw new UserError(`${file}: ${key} has shape [${a.shape.join(',')}] ${a.dtype}; ${info.name} takes [N,${per.join(',')}] uint8${sizeHint(a.shape[1], opts.imageSize)}`);
      }
      const n = a.shape[0]!;
      const src = npz.has(`${split}_sources`) ? decodeUnicodeNpy(npz.memberBytes(`${split}_sources`), `${file}, ${split}_sources`) : undefined;
      for (let i = 0; i < n; i++) inputs.push(src?.[i] ?? `${file}#${split}[${i}]`);
      chunks.push(a.data as Uint8Array);
    }
    const total = chunks.reduce((s, c) => s + c.length, 0);
    const pixels = new Uint8Array(total);
    let o = 0;
    for (const c of chunks) {
      pixels.set(c, o);
      o += c.length;
    }
    return { pixels, n: inputs.length, inputs };
  }
  return npySamples(file, readBytes(file), info, opts.imageSize);
}

/** Why an array of side `side` does not fit a model of `size` px, when it is another supported image size. */
function sizeHint(side: number | undefined, size = 28): string {
  return side !== undefined && side !== size && [28, 64, 128, 224].includes(side)
    ? ` (the model takes ${size}-px images and this array is ${side} px; arrays are not resized: give PNG/JPEG files, which are, or an array at ${size} px)`
    : '';
}

/** A `.npy` uint8 array's samples for `info`'s task ([S,S,...] one sample, [N,S,S,...] a batch; S = `size`). */
function npySamples(file: string, bytes: Uint8Array, info: DatasetInfo, size = 28): { pixels: Uint8Array; n: number; inputs: string[] } {
  const per = fileImageShape(info, size);
  let arr;
  try {
    arr = parseNpy(bytes, file);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  if (arr.dtype !== 'uint8') throw new UserError(`${file}: dtype ${arr.dtype}; predict takes uint8 pixel arrays (0..255) in the MedMNIST layout`);
  const s = arr.shape;
  // a [28,28,28] array is a volume: for a 2D task it would otherwise read as 28 images
  if (info.dim === 2 && s.length === 3 && s.every((d) => d === s[0]) && s[0] === per[0]) {
    throw new UserError(`${file}: shape [${s.join(',')}] is a 3D volume, but ${info.name} is a 2D task taking [${per.join(',')}] images or [N,${per.join(',')}] batches (N != ${per[0]})`);
  }
  const single = s.length === per.length && per.every((d, i) => s[i] === d);
  const batch = s.length === per.length + 1 && per.every((d, i) => s[i + 1] === d);
  if (!single && !batch) {
    const side = s.length === per.length ? s[0] : s[1];
    throw new UserError(`${file}: shape [${s.join(',')}] does not fit ${info.name}, which takes [${per.join(',')}] or [N,${per.join(',')}] uint8 arrays${info.dim === 2 ? sizeHint(side, size) : ''}`);
  }
  const n = single ? 1 : s[0]!;
  return { pixels: arr.data as Uint8Array, n, inputs: single ? [file] : Array.from({ length: n }, (_, i) => `${file}#${i}`) };
}

/** Reads every input `predict` was given, preprocessed for `info`'s task. */
export async function readPredictInputs(input: string, info: DatasetInfo, opts: PredictInputOptions = {}): Promise<PredictInputs> {
  let st;
  try {
    st = statSync(input);
  } catch {
    throw new UserError(`--input ${input}: no such file or folder`);
  }
  const ext = extname(input).toLowerCase();
  if (st.isFile() && (ext === '.npy' || ext === '.npz')) {
    const r = readArrayFile(input, info, opts);
    if (r.n === 0) throw new UserError(`--input ${input}: no samples to predict${opts.split ? ` in its ${opts.split} split` : ''}`);
    return { ...samplesToInput(info, r.pixels, r.n, opts.imageSize), inputs: r.inputs, notes: [] };
  }
  let files: string[];
  let base = '';
  if (st.isDirectory()) {
    const first = readdirSync(input).find((n) => !isJunkFile(n));
    const isSeries = first !== undefined && statSync(join(input, first)).isFile() && looksLikeDicom(readBytes(join(input, first)).subarray(0, 132));
    files = isSeries ? [input] : listFolder(input);
    base = isSeries ? '' : input;
    if (!files.length) throw new UserError(`--input ${input}: no images found (looked for .png, .jpg, .jpeg, .nii, .nii.gz files and DICOM series folders)`);
  } else if (ext === '.csv') {
    if (!opts.pathCol && !opts.pathTemplate) throw new UserError(`--input ${input} is a manifest: give --path-col C or --path-template T (and --root DIR)`);
    files = readManifest({ manifest: input, ...(opts.root ? { root: opts.root } : {}), ...(opts.pathCol ? { pathCol: opts.pathCol } : {}), ...(opts.pathTemplate ? { pathTemplate: opts.pathTemplate } : {}) }).samples.map((s) => s.path);
  } else if (IMAGE_EXT.has(ext) || isVolumePath(input)) {
    files = [input];
  } else {
    throw new UserError(`--input ${input}: unsupported input '${ext || 'no extension'}'; give an image (.png, .jpg), a volume (.nii, .nii.gz), a DICOM series folder, a folder, a .csv manifest, or a .npy/.npz array file`);
  }
  const pipeline = pipelineFor(info, opts.preprocessingFrom, opts.imageSize);
  const per = outputShape(pipeline);
  const want = fileImageShape(info, opts.imageSize);
  if (per.length !== want.length || per.some((d, i) => d !== want[i])) throw new UserError(`the preprocessing gives [${per.join(',')}] samples, but the model's ${info.name} head takes [${want.join(',')}]`);
  const perBytes = per.reduce((a, b) => a * b, 1);
  const pixels = new Uint8Array(files.length * perBytes);
  const notes: string[] = [];
  let converted = 0;
  let resized = 0;
  let convertedFrom = '';
  for (let i = 0; i < files.length; i++) {
    const f = files[i]!;
    const is3d = isVolumePath(f) || statSync(f).isDirectory();
    if (is3d !== (info.dim === 3)) throw new UserError(`${f}: a ${is3d ? '3D volume' : '2D image'}, but ${info.name} is a ${info.dim}D task`);
    try {
      if (is3d) pixels.set(apply3d(pipeline, await readVolume(f)), i * perBytes);
      else {
        const img = decodeImage(readBytes(f), f);
        if (img.note) notes.push(img.note);
        if (img.channels !== info.channels) {
          converted++;
          convertedFrom = img.channels === 3 ? 'RGB' : 'grayscale';
        }
        if (img.width !== per[0] || img.height !== per[1]) resized++;
        pixels.set(apply2d(pipeline, img), i * perBytes);
      }
    } catch (e) {
      if ((e as Error).name === 'DataError') throw new UserError((e as Error).message);
      throw e;
    }
  }
  if (converted) notes.push(`${converted} ${convertedFrom} image(s) converted to ${info.channels === 3 ? 'RGB' : 'grayscale'} (${info.name} takes ${info.channels === 3 ? 'RGB' : 'grayscale'})`);
  if (resized) notes.push(`${resized} image(s) resized to ${per[0]}x${per[1]} (antialiased bicubic, as PIL's resize)`);
  if (info.dim === 3) notes.push(`volumes reoriented, windowed and resized as recorded: ${JSON.stringify(pipeline.steps)}`);
  return { ...samplesToInput(info, pixels, files.length, opts.imageSize), inputs: files.map((f) => (base ? relative(base, f) : f)), notes };
}

/**
 * One image (.png, .jpg), NIfTI file or `.npy`/`.npz` array, synchronously (the library's
 * single-file entry point); images are resized to `imageSize` (the model's 2D input side).
 */
export function readInput(file: string, info: DatasetInfo, imageSize = 28): ModelInput & { warnings: string[] } {
  if (extname(file).toLowerCase() === '.npz') {
    const r = readArrayFile(file, info, { imageSize });
    return { ...samplesToInput(info, r.pixels, r.n, imageSize), warnings: [] };
  }
  return inputFromBytes(file, readBytes(file), info, imageSize);
}

/**
 * One image (.png, .jpg), NIfTI volume or `.npy` array from its bytes (`file` names it and gives
 * its type), preprocessed like `predict` and `data import` do: the browser app's entry point.
 */
export function inputFromBytes(file: string, bytes: Uint8Array, info: DatasetInfo, imageSize = 28): ModelInput & { warnings: string[] } {
  const ext = extname(file).toLowerCase();
  if (ext === '.npy') {
    const r = npySamples(file, bytes, info, imageSize);
    return { ...samplesToInput(info, r.pixels, r.n, imageSize), warnings: [] };
  }
  if (isVolumePath(file)) {
    if (info.dim !== 3) throw new UserError(`${file}: a 3D volume, but ${info.name} is a 2D task`);
    const p = pipelineFor(info);
    try {
      return { ...samplesToInput(info, apply3d(p, decodeNifti(bytes, file)), 1), warnings: [`volume reoriented, windowed and resized as recorded: ${JSON.stringify(p.steps)}`] };
    } catch (e) {
      if ((e as Error).name === 'DataError') throw new UserError((e as Error).message);
      throw e;
    }
  }
  if (!IMAGE_EXT.has(ext)) throw new UserError(`${file}: unsupported input type '${ext}'; give a .png, .jpg or .npy file`);
  if (info.dim === 3) throw new UserError(`${file}: ${info.name} takes 3D volumes; give a NIfTI file, a DICOM series or a .npy array of shape [28,28,28]`);
  let img;
  try {
    img = decodeImage(bytes, file);
  } catch (e) {
    throw new UserError((e as Error).message);
  }
  const p = pipelineFor(info, undefined, imageSize);
  const warnings = img.note ? [img.note] : [];
  const size = outputShape(p)[0]!;
  if (img.width !== size || img.height !== size) warnings.push(`${file}: resized ${img.width}x${img.height} to ${size}x${size} (antialiased bicubic, as PIL's resize)`);
  if (img.channels !== info.channels) warnings.push(`${file}: ${img.channels === 3 ? 'RGB' : 'grayscale'} image converted to ${info.channels === 3 ? 'RGB' : 'grayscale'}`);
  return { ...samplesToInput(info, apply2d(p, img), 1, imageSize), warnings };
}
