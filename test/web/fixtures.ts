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
import { npyArray, writeNpy, writeSynth } from '../../src/data/index.js';
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
  return { dir, checkpoint, smallCheckpoint, onnx, png: pngPath, jpeg: jpegPath, volume, flatNpy, notAnImage, trainNpz };
}
