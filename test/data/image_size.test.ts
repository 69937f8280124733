/**
 * Data at MedMNIST+ sizes: files are read at their own image size (from the file), models train at
 * the data's size, and a checkpoint of another size is refused in one line naming both sizes.
 * Predict resizes images to the checkpoint's size and refuses arrays of another size.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { describe, expect, it } from 'vitest';
import { loadTaskFile, toInput } from '../../src/data/dataset.js';
import { npyArray, writeNpyFile } from '../../src/data/npy.js';
import { writeNpz } from '../../src/data/npz.js';
import { getDataset } from '../../src/data/registry.js';
import { synthesize } from '../../src/data/synth.js';
import { exportOnnx } from '../../src/inference/export.js';
import { readPredictInputs } from '../../src/inference/input.js';
import { withImageSize } from '../../src/model/config.js';
import { ParamStore } from '../../src/model/params.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { finetune, evaluate } from '../../src/training/workflows.js';
import { taskHead } from '../../src/training/tasks.js';
import { errorOf } from '../helpers/errors.js';
import { SMALL_28 } from '../helpers/models.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';

const tiny = { train: 16, val: 8, test: 8 };

describe('2D data at MedMNIST+ sizes', () => {
  it('reads 64-px RGB and grayscale files at their own size', () => {
    for (const task of ['bloodmnist', 'pneumoniamnist']) {
      const { file } = synthDataFile(task, { size: 64, sizes: tiny });
      const d = loadTaskFile(task, file);
      expect(d.train.imageSize).toBe(64);
      expect(d.train.imageShape).toEqual(getDataset(task).channels === 3 ? [64, 64, 3] : [64, 64]);
      expect(toInput(d.train, [0, 1]).shape).toEqual([2, 3, 64, 64]);
    }
    const { file } = synthDataFile('bloodmnist', { sizes: tiny });
    expect(loadTaskFile('bloodmnist', file).test.imageSize).toBe(28);
  });

  it('draws the same patterns at 64 px as at 28 (synth is resolution-independent)', () => {
    const a = synthesize('bloodmnist', { sizes: { train: 1, val: 0, test: 0 }, noise: 0 }).arrays.train_images!.data as Uint8Array;
    const b = synthesize('bloodmnist', { sizes: { train: 1, val: 0, test: 0 }, noise: 0, size: 224 }).arrays.train_images!.data as Uint8Array;
    // pixel (x, y) at 28 px is pixel (8x, 8y) at 224 px: the same pattern coordinate
    for (const [x, y] of [[0, 0], [5, 17], [27, 27]] as const) {
      for (let c = 0; c < 3; c++) expect(b[(8 * y * 224 + 8 * x) * 3 + c]).toBe(a[(y * 28 + x) * 3 + c]);
    }
  });

  it('refuses a file whose splits have different sizes', () => {
    const s28 = synthesize('bloodmnist', { sizes: tiny });
    const s64 = synthesize('bloodmnist', { sizes: tiny, size: 64 });
    const file = join(makeTmpDir().dir, 'mixed.npz');
    writeNpz(file, { ...s28.arrays, test_images: s64.arrays.test_images!, test_labels: s64.arrays.test_labels! });
    expect(errorOf(() => loadTaskFile('bloodmnist', file)).message).toBe(
      `${file}: its splits have images of different sizes (train 28 px, val 28 px, test 64 px); a data file holds one image size`,
    );
  });
});

describe('the model takes the data\'s size', () => {
  it('scratch fine-tuning at 64 px builds a 64-px model', async () => {
    const { file } = synthDataFile('bloodmnist', { size: 64, sizes: tiny });
    const loaded = new Map([['bloodmnist', loadTaskFile('bloodmnist', file)]]);
    const t = await finetune({ task: 'bloodmnist', method: 'scratch', config: SMALL_28, loaded, steps: 1, batch2d: 4, threads: 1 });
    expect(t.model.config.stem2d).toEqual({ inChannels: 3, hidden: 4, imageSize: 64, patch: 8 });
    expect(t.store.get('stem2d.pos').shape).toEqual([1, 64, SMALL_28.dim]);
    expect((await evaluate(t, { task: 'bloodmnist', split: 'test', loaded, threads: 1 })).n).toBe(8);
  });

  it('refuses a checkpoint of another size, naming both sizes and the fixes', async () => {
    const { file } = synthDataFile('bloodmnist', { size: 64, sizes: tiny, fileName: 'bloodmnist_64.npz' });
    const loaded = new Map([['bloodmnist', loadTaskFile('bloodmnist', file)]]);
    const model = new STMedFM(SMALL_28, [taskHead('bloodmnist')]);
    const from = { model, store: ParamStore.init(model.specs(), 0), config: { format: 'stmedfm/1', model: SMALL_28, heads: [...model.heads] } };
    const e = await finetune({ task: 'bloodmnist', method: 'lora', from, loaded, steps: 1 }).catch((x: Error) => x);
    expect((e as Error).message).toBe(
      'the checkpoint to start from is a 28-px model, but bloodmnist_64.npz has 64-px images (bloodmnist); ' +
        'use 28-px data (`stmedfm data import ... --size 28`), or a model of 64 px (`stmedfm pretrain` on the 64-px files, then start from it)',
    );
    const ev = await evaluate(from, { task: 'bloodmnist', split: 'test', loaded }).catch((x: Error) => x);
    expect((ev as Error).message).toMatch(/^the checkpoint is a 28-px model, but bloodmnist_64\.npz has 64-px images/);
  });
});

describe('predict inputs at the checkpoint\'s size', () => {
  const info = getDataset('bloodmnist');
  it('resizes PNG images to 64 px', async () => {
    const dir = makeTmpDir().dir;
    const png = new PNG({ width: 40, height: 30 });
    png.data.fill(200);
    const f = join(dir, 'cell.png');
    writeFileSync(f, PNG.sync.write(png));
    const x = await readPredictInputs(f, info, { imageSize: 64 });
    expect(x.shape).toEqual([1, 3, 64, 64]);
    expect(x.notes.join(' ')).toMatch(/1 image\(s\) resized to 64x64/);
    expect((await readPredictInputs(f, info)).shape).toEqual([1, 3, 28, 28]);
  });

  it('refuses a .npy of another size with the reason', async () => {
    const f = join(makeTmpDir().dir, 'cells.npy');
    writeNpyFile(f, npyArray('uint8', [2, 28, 28, 3], new Uint8Array(2 * 28 * 28 * 3)));
    const e = await readPredictInputs(f, info, { imageSize: 64 }).catch((x: Error) => x);
    expect((e as Error).message).toBe(
      `${f}: shape [2,28,28,3] does not fit bloodmnist, which takes [64,64,3] or [N,64,64,3] uint8 arrays ` +
        '(the model takes 64-px images and this array is 28 px; arrays are not resized: give PNG/JPEG files, which are, or an array at 64 px)',
    );
  });
});

describe('export at the checkpoint\'s size', () => {
  it('a 64-px model exports with a [batch, 3, 64, 64] input that ONNX Runtime runs', async () => {
    const model = new STMedFM(withImageSize(SMALL_28, 64), [taskHead('bloodmnist')]);
    const out = join(makeTmpDir().dir, 'blood64.onnx');
    const info = await exportOnnx(model, ParamStore.init(model.specs(), 0), 'bloodmnist', out);
    expect(info.inputShape).toEqual(['batch', 3, 64, 64]);
    const ort = (await import('onnxruntime-node')).default;
    const session = await ort.InferenceSession.create(out);
    const r = await session.run({ x: new ort.Tensor('float32', new Float32Array(2 * 3 * 64 * 64), [2, 3, 64, 64]) });
    expect(r.probabilities!.dims).toEqual([2, 8]);
    await session.release();
  });
});
