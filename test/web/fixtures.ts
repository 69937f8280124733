/**
 * Small models and inputs for the browser tests, made in the test: an untrained STMedFM-Tiny
 * checkpoint with a 2D (bloodmnist) and a 3D (organmnist3d) head, its ONNX export, an
 * stmedfm-small checkpoint (for an adapter that does not fit), a PNG, a JPEG, a .npy volume and
 * a learnable synthetic bloodmnist.npz for fine-tuning.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import jpeg from 'jpeg-js';
import { PNG } from 'pngjs';
import { loadTaskFile, npyArray, writeNpy, writeSynth } from '../../src/data/index.js';
import { exportOnnx } from '../../src/inference/export.js';
import { MODEL_CONFIGS, STMEDFM_TINY } from '../../src/model/config.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { saveModel } from '../../src/training/checkpoint.js';
import { taskHead } from '../../src/training/tasks.js';
import { Rng } from '../../src/util/rng.js';

export interface WebFixtures {
  dir: string;
  checkpoint: string;
  smallCheckpoint: string;
  onnx: string;
  png: string;
  jpeg: string;
  volume: string;
  /** A 2D array given to the 3D task: the wrong shape. */
  flatNpy: string;
  notAnImage: string;
  trainNpz: string;
  /** A CT-like int16 NIfTI-1 volume (40x36x32, 1.5 mm voxels, RAS sform). */
  nifti: string;
  /** A 4D NIfTI: the wrong shape for a 3D task. */
  nifti4d: string;
  /** `bloodmnist-folders/<class>/*.png|jpg`: one subfolder per BloodMNIST class, learnable. */
  classFolders: string;
}

/** A class-folder tree from the synthetic bloodmnist train split: `perClass` images per class, PNG and JPEG alternating. */
export function writeClassFolders(dir: string, npz: string, perClass: number): void {
  const train = loadTaskFile('bloodmnist', npz).train;
  const seen = new Map<number, number>();
  for (let i = 0; i < train.n; i++) {
    const c = train.labels[i]!;
    const k = seen.get(c) ?? 0;
    if (k >= perClass) continue;
    seen.set(c, k + 1);
    const folder = join(dir, train.info.labels[c]!);
    mkdirSync(folder, { recursive: true });
    const rgba = new Uint8Array(28 * 28 * 4);
    for (let p = 0; p < 784; p++) {
      rgba.set(train.images.subarray(p * 3, p * 3 + 3).map((_, j) => train.images[i * 2352 + p * 3 + j]!), p * 4);
      rgba[p * 4 + 3] = 255;
    }
    if (k % 2 === 0) {
      const png = new PNG({ width: 28, height: 28 });
      png.data = Buffer.from(rgba);
      writeFileSync(join(folder, `img${String(i).padStart(3, '0')}.png`), PNG.sync.write(png));
    } else {
      writeFileSync(join(folder, `img${String(i).padStart(3, '0')}.jpg`), jpeg.encode({ data: rgba, width: 28, height: 28 }, 95).data);
    }
  }
  // what file managers leave behind: never a sample (the import's own rule)
  writeFileSync(join(dir, train.info.labels[0]!, '.DS_Store'), 'junk');
}

/** A minimal NIfTI-1 file (int16 voxels, sform from the voxel size): enough for the shared reader. */
export function niftiBytes(shape: readonly number[], voxels: Int16Array, spacing = 1.5): Uint8Array {
  const out = new Uint8Array(352 + voxels.length * 2);
  const v = new DataView(out.buffer);
  v.setInt32(0, 348, true);
  v.setInt16(40, shape.length, true);
  shape.forEach((d, i) => v.setInt16(42 + 2 * i, d, true));
  for (let i = shape.length; i < 7; i++) v.setInt16(42 + 2 * i, 1, true);
  v.setInt16(70, 4, true); // DT_INT16
  v.setInt16(72, 16, true);
  v.setFloat32(76, 1, true);
  for (let i = 1; i <= 3; i++) v.setFloat32(76 + 4 * i, spacing, true);
  v.setFloat32(108, 352, true);
  v.setFloat32(112, 1, true);
  v.setInt16(254, 1, true); // sform_code: scanner
  for (let r = 0; r < 3; r++) v.setFloat32(280 + (r * 4 + r) * 4, spacing, true);
  out.set([0x6e, 0x2b, 0x31, 0], 344); // "n+1\0"
  new Int16Array(out.buffer, 352).set(voxels);
  return out;
}

function pixels(n: number, seed: number): Uint8Array {
  const r = new Rng(seed);
  // Smooth structure plus noise, so that images differ in what the model sees.
  return Uint8Array.from({ length: n }, (_, i) => Math.max(0, Math.min(255, Math.round(128 + 90 * Math.sin(i / 7) + 30 * r.normal()))));
}

export async function makeFixtures(dir: string): Promise<WebFixtures> {
  mkdirSync(dir, { recursive: true });
  const heads = ['bloodmnist', 'organmnist3d'].map(taskHead);
  const model = new STMedFM(STMEDFM_TINY, heads);
  const checkpoint = join(dir, 'tiny.safetensors');
  await saveModel(checkpoint, model, ParamStore.init(model.specs(), 3));
  const small = new STMedFM(MODEL_CONFIGS['stmedfm-small']!, heads);
  const smallCheckpoint = join(dir, 'small.safetensors');
  await saveModel(smallCheckpoint, small, ParamStore.init(small.specs(), 4));
  const onnx = join(dir, 'bloodmnist.onnx');
  await exportOnnx(model, ParamStore.init(model.specs(), 3), 'bloodmnist', onnx);

  const png = new PNG({ width: 28, height: 28 });
  const rgb = pixels(28 * 28 * 4, 1);
  for (let i = 0; i < 28 * 28; i++) rgb[i * 4 + 3] = 255;
  png.data = Buffer.from(rgb);
  const pngPath = join(dir, 'cell.png');
  writeFileSync(pngPath, PNG.sync.write(png));
  const jpegPath = join(dir, 'cell.jpg');
  const big = pixels(40 * 36 * 4, 2);
  writeFileSync(jpegPath, jpeg.encode({ data: big, width: 40, height: 36 }, 90).data);

  const volume = join(dir, 'organ.npy');
  writeFileSync(volume, writeNpy(npyArray('uint8', [28, 28, 28], pixels(28 ** 3, 5))));
  const flatNpy = join(dir, 'slice.npy');
  writeFileSync(flatNpy, writeNpy(npyArray('uint8', [28, 28], pixels(28 * 28, 6))));
  const notAnImage = join(dir, 'notes.txt');
  writeFileSync(notAnImage, 'not an image\n');
  const trainNpz = join(dir, 'bloodmnist.npz');
  writeSynth(trainNpz, 'bloodmnist', { sizes: { train: 256, val: 64, test: 64 }, seed: 7, noise: 16 });
  const ctShape = [40, 36, 32];
  const r = new Rng(9);
  const ct = Int16Array.from({ length: 40 * 36 * 32 }, (_, i) => Math.round(-600 + 900 * Math.exp(-(((i % 40) - 20) ** 2) / 90) + 80 * r.normal()));
  const nifti = join(dir, 'ct.nii');
  writeFileSync(nifti, niftiBytes(ctShape, ct));
  const nifti4d = join(dir, 'series.nii');
  writeFileSync(nifti4d, niftiBytes([8, 8, 8, 3], new Int16Array(8 * 8 * 8 * 3)));
  const classFolders = join(dir, 'bloodmnist-folders');
  writeClassFolders(classFolders, trainNpz, 12);
  return { classFolders, nifti, nifti4d, dir, checkpoint, smallCheckpoint, onnx, png: pngPath, jpeg: jpegPath, volume, flatNpy, notAnImage, trainNpz };
}
