/**
 * Turns a user's file (PNG/JPEG image or `.npy` uint8 array, as in the MedMNIST files) into
 * model input for a task, with the same preprocessing as training.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { type DatasetInfo, NORMALIZE_LUT, fileImageShape, parseNpy } from '../data/index.js';
import { UserError } from '../training/errors.js';

export interface ModelInput {
  data: Float32Array;
  /** [N, C, ...spatial] */
  shape: number[];
  n: number;
}

/** uint8 samples in the file layout ([28,28], [28,28,3] or [28,28,28] each) -> normalised NC(D)HW float32. */
export function samplesToInput(info: DatasetInfo, pixels: Uint8Array, n: number): ModelInput {
  const per = fileImageShape(info);
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

function decodeImage(file: string, bytes: Uint8Array): { width: number; height: number; rgba: Uint8Array } {
  const ext = extname(file).toLowerCase();
  try {
    if (ext === '.png') {
      const png = PNG.sync.read(Buffer.from(bytes));
      return { width: png.width, height: png.height, rgba: new Uint8Array(png.data) };
    }
    const img = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { width: img.width, height: img.height, rgba: img.data };
  } catch (e) {
    throw new UserError(`${file}: cannot decode the image (${(e as Error).message})`);
  }
}

/** Bilinear resize of one RGBA image to size x size (MedMNIST images are 28 x 28). */
function resizeRgba(src: { width: number; height: number; rgba: Uint8Array }, size: number): Uint8Array {
  if (src.width === size && src.height === size) return src.rgba;
  const out = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    const fy = Math.min(src.height - 1, Math.max(0, ((y + 0.5) * src.height) / size - 0.5));
    const y0 = Math.floor(fy);
    const y1 = Math.min(src.height - 1, y0 + 1);
    const wy = fy - y0;
    for (let x = 0; x < size; x++) {
      const fx = Math.min(src.width - 1, Math.max(0, ((x + 0.5) * src.width) / size - 0.5));
      const x0 = Math.floor(fx);
      const x1 = Math.min(src.width - 1, x0 + 1);
      const wx = fx - x0;
      for (let c = 0; c < 4; c++) {
        const v =
          (1 - wy) * ((1 - wx) * src.rgba[(y0 * src.width + x0) * 4 + c]! + wx * src.rgba[(y0 * src.width + x1) * 4 + c]!) +
          wy * ((1 - wx) * src.rgba[(y1 * src.width + x0) * 4 + c]! + wx * src.rgba[(y1 * src.width + x1) * 4 + c]!);
        out[(y * size + x) * 4 + c] = Math.round(v);
      }
    }
  }
  return out;
}

/** Reads a PNG/JPEG image or a `.npy` array for `info`'s task. */
export function readInput(file: string, info: DatasetInfo): ModelInput & { warnings: string[] } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new UserError(`${file}: cannot read the input (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  return inputFromBytes(file, bytes, info);
}

/** The model input of a file's bytes (`file` names it and gives its type); the browser app calls this directly. */
export function inputFromBytes(file: string, bytes: Uint8Array, info: DatasetInfo): ModelInput & { warnings: string[] } {
  const per = fileImageShape(info);
  const ext = extname(file).toLowerCase();
  const warnings: string[] = [];
  if (ext === '.npy') {
    let arr;
    try {
      arr = parseNpy(bytes, file);
    } catch (e) {
      throw new UserError((e as Error).message);
    }
    if (arr.dtype !== 'uint8') throw new UserError(`${file}: dtype ${arr.dtype}; predict takes uint8 pixel arrays (0..255) in the MedMNIST layout`);
    const s = arr.shape;
    const single = s.length === per.length && per.every((d, i) => s[i] === d);
    const batch = s.length === per.length + 1 && per.every((d, i) => s[i + 1] === d);
    if (!single && !batch) {
      throw new UserError(`${file}: shape [${s.join(',')}] does not fit ${info.name}, which takes [${per.join(',')}] or [N,${per.join(',')}] uint8 arrays`);
    }
    const n = single ? 1 : s[0]!;
    return { ...samplesToInput(info, arr.data as Uint8Array, n), warnings };
  }
  if (!['.png', '.jpg', '.jpeg'].includes(ext)) throw new UserError(`${file}: unsupported input type '${ext}'; give a .png, .jpg or .npy file`);
  if (info.dim === 3) throw new UserError(`${file}: ${info.name} takes 3D volumes; give a .npy array of shape [28,28,28] or [N,28,28,28]`);
  const img = decodeImage(file, bytes);
  const size = per[0]!;
  if (img.width !== size || img.height !== size) warnings.push(`${file}: resized ${img.width}x${img.height} to ${size}x${size} (bilinear)`);
  const rgba = resizeRgba(img, size);
  const px = new Uint8Array(size * size * info.channels);
  for (let p = 0; p < size * size; p++) {
    if (info.channels === 3) for (let c = 0; c < 3; c++) px[p * 3 + c] = rgba[p * 4 + c]!;
    // ITU-R 601 luma, as PIL's convert('L') does
    else px[p] = Math.round((rgba[p * 4]! * 299 + rgba[p * 4 + 1]! * 587 + rgba[p * 4 + 2]! * 114) / 1000);
  }
  return { ...samplesToInput(info, px, 1), warnings };
}
