/**
 * Preprocessing as data: a pipeline is a list of named steps (MONAI-style) that is saved in the
 * imported `.npz` (key `preprocessing`, JSON) and replayed unchanged by `predict` and the browser,
 * so a file predicted is preprocessed exactly like a file imported.
 */
import { DataError } from '../errors.js';
import { centerCropImage, decodeImage, grayToRgb, padImage, rgbToGray, type Image8 } from './image2d.js';
import { resizeImageU8, resizeVolume } from './resample.js';
import { cropVolume, maskBoundingBox, minMaxIntensity, reorient, sameGrid, toUint8, windowIntensity, type Volume } from './volume.js';

export type FitMode = 'stretch' | 'crop' | 'pad';

export type Step2D =
  | { readonly op: 'color'; readonly mode: 'rgb' | 'gray' }
  | { readonly op: 'center-crop'; readonly size: number }
  | { readonly op: 'fit'; readonly mode: FitMode }
  | { readonly op: 'resize'; readonly size: number; readonly filter: 'pil-bicubic' };

export type Step3D =
  | { readonly op: 'reorient'; readonly axes: string }
  | { readonly op: 'crop-mask' }
  | { readonly op: 'window'; readonly lo: number; readonly hi: number }
  | { readonly op: 'minmax' }
  | { readonly op: 'resize'; readonly size: number; readonly filter: 'bilinear-antialias' };

export type Pipeline =
  | { readonly dim: 2; readonly steps: readonly Step2D[] }
  | { readonly dim: 3; readonly steps: readonly Step3D[] };

/**
 * The axis convention of the official organmnist3d.npz, in nibabel axis codes (see
 * docs/data-import.md for how it was worked out from the file's left/right organs).
 */
export const ORGANMNIST3D_AXES = 'LPS';

/** Default CT window (HU), followed by a per-crop min-max stretch; chosen by matching OrganMNIST3D's intensity histograms (docs/data-import.md). */
export const DEFAULT_HU_WINDOW: readonly [number, number] = [-200, 200];

export interface Options2D {
  readonly size?: number;
  readonly channels: 1 | 3;
  readonly fit?: FitMode;
  readonly centerCrop?: number;
}

export function pipeline2d(o: Options2D): Pipeline {
  const steps: Step2D[] = [{ op: 'color', mode: o.channels === 3 ? 'rgb' : 'gray' }];
  if (o.centerCrop !== undefined) steps.push({ op: 'center-crop', size: o.centerCrop });
  steps.push({ op: 'fit', mode: o.fit ?? 'stretch' });
  steps.push({ op: 'resize', size: o.size ?? 28, filter: 'pil-bicubic' });
  return { dim: 2, steps };
}

export interface Options3D {
  readonly size?: number;
  /** HU window; `null` scales each volume min..max (MR). */
  readonly window?: readonly [number, number] | null;
  /** Crop to the bounding box of a mask label (a mask is then required per sample). */
  readonly cropMask?: boolean;
  readonly axes?: string;
  /** After the window, stretch each volume's own min..max to 0..1 (default true: OrganMNIST3D's crops all reach ~255). */
  readonly stretch?: boolean;
}

export function pipeline3d(o: Options3D = {}): Pipeline {
  const steps: Step3D[] = [{ op: 'reorient', axes: o.axes ?? ORGANMNIST3D_AXES }];
  if (o.cropMask) steps.push({ op: 'crop-mask' });
  const w = o.window === undefined ? DEFAULT_HU_WINDOW : o.window;
  steps.push(w === null ? { op: 'minmax' } : { op: 'window', lo: w[0], hi: w[1] });
  if (w !== null && (o.stretch ?? true)) steps.push({ op: 'minmax' });
  steps.push({ op: 'resize', size: o.size ?? 28, filter: 'bilinear-antialias' });
  return { dim: 3, steps };
}

/** Output sample shape in the MedMNIST file layout. */
export function outputShape(p: Pipeline): number[] {
  const size = p.steps.find((s) => s.op === 'resize')?.size ?? 28;
  if (p.dim === 3) return [size, size, size];
  const color = (p.steps as readonly Step2D[]).find((s): s is Extract<Step2D, { op: 'color' }> => s.op === 'color');
  return color?.mode === 'gray' ? [size, size] : [size, size, 3];
}

/** Runs a 2D pipeline on a decoded image; returns uint8 pixels in the file layout (H, W[, 3]). */
export function apply2d(p: Pipeline, image: Image8): Uint8Array {
  if (p.dim !== 2) throw new DataError('a 3D pipeline cannot process a 2D image');
  let img = image;
  for (const s of p.steps) {
    switch (s.op) {
      case 'color':
        img = s.mode === 'rgb' ? grayToRgb(img) : rgbToGray(img);
        break;
      case 'center-crop':
        img = centerCropImage(img, s.size);
        break;
      case 'fit':
        if (s.mode === 'crop') img = centerCropImage(img, Math.min(img.width, img.height));
        else if (s.mode === 'pad') img = padImage(img, Math.max(img.width, img.height), Math.max(img.width, img.height));
        break;
      case 'resize':
        img = { width: s.size, height: s.size, channels: img.channels, data: resizeImageU8(img.data, img.height, img.width, img.channels, s.size, s.size) };
        break;
    }
  }
  return img.data;
}

/** Decodes PNG/JPEG bytes and runs a 2D pipeline; `note` carries what the user should be told. */
export function preprocessImageBytes(p: Pipeline, bytes: Uint8Array, name: string): { pixels: Uint8Array; note?: string; converted?: string } {
  const img = decodeImage(bytes, name);
  const color = p.steps.find((s) => s.op === 'color') as Extract<Step2D, { op: 'color' }> | undefined;
  const want = color?.mode === 'gray' ? 1 : 3;
  const converted = want !== img.channels ? `${name}: ${img.channels === 3 ? 'RGB' : 'grayscale'} image converted to ${want === 3 ? 'RGB' : 'grayscale'}` : undefined;
  return { pixels: apply2d(p, img), ...(img.note ? { note: img.note } : {}), ...(converted ? { converted } : {}) };
}

/**
 * Runs a 3D pipeline on a volume (and, for `crop-mask`, its label map and the label value).
 * Returns uint8 voxels size^3 in C order.
 */
export function apply3d(p: Pipeline, volume: Volume, mask?: { volume: Volume; value: number; name: string }): Uint8Array {
  if (p.dim !== 3) throw new DataError('a 2D pipeline cannot process a volume');
  let vol = volume;
  let m = mask?.volume;
  if (m && !sameGrid(vol, m)) {
    throw new DataError(`${mask!.name}: the mask's grid (${m.shape.join('x')}) differs from the image's (${vol.shape.join('x')}${m.shape.every((d, i) => d === vol.shape[i]) ? ', same shape but another affine' : ''}); resample the mask onto the image first`);
  }
  let floats: Float32Array | undefined;
  for (const s of p.steps) {
    switch (s.op) {
      case 'reorient':
        vol = reorient(vol, s.axes);
        if (m) m = reorient(m, s.axes);
        break;
      case 'crop-mask': {
        if (!m) throw new DataError('this pipeline crops to a mask label: give a mask and a label value for every volume');
        const box = maskBoundingBox(m, mask!.value);
        if (!box) throw new DataError(`${mask!.name}: no voxel has label ${mask!.value}`);
        vol = cropVolume(vol, box.lo, box.hi);
        break;
      }
      case 'window':
        floats = windowIntensity(vol.data, s.lo, s.hi);
        break;
      case 'minmax':
        floats = minMaxIntensity(floats ?? vol.data);
        break;
      case 'resize':
        floats = resizeVolume(floats ?? vol.data, vol.shape, [s.size, s.size, s.size], 'bilinear');
        break;
    }
  }
  return toUint8(floats ?? vol.data);
}

/** Parses and checks a pipeline saved in a file (JSON); the message says what is wrong. */
export function parsePipeline(json: string, where: string): Pipeline {
  let p: unknown;
  try {
    p = JSON.parse(json);
  } catch {
    throw new DataError(`${where}: the saved preprocessing is not valid JSON`);
  }
  const o = p as { dim?: unknown; steps?: unknown };
  if ((o.dim !== 2 && o.dim !== 3) || !Array.isArray(o.steps)) throw new DataError(`${where}: the saved preprocessing has no dim/steps`);
  const known = o.dim === 2 ? ['color', 'center-crop', 'fit', 'resize'] : ['reorient', 'crop-mask', 'window', 'minmax', 'resize'];
  for (const s of o.steps as { op?: unknown }[]) {
    if (!known.includes(String(s?.op))) throw new DataError(`${where}: unknown preprocessing step '${String(s?.op)}' (this file was written by a newer version?)`);
  }
  return p as Pipeline;
}
