import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  NORMALIZE_LUT,
  classIds,
  imagesToInput,
  inputShape,
  loadSplit,
  loadTask,
  loadTaskFile,
  multiLabelTargets,
  parseDataOverrides,
  resolveDataFile,
  toInput,
} from '../../src/data/dataset.js';
import { npyArray, type NpyArray } from '../../src/data/npy.js';
import { writeNpz } from '../../src/data/npz.js';
import { getDataset } from '../../src/data/registry.js';
import { errorOf } from '../helpers/errors.js';
import { makeTmpDir, synthDataFile } from '../helpers/synth.js';


/** An official-layout file with the same (given) arrays for all three splits. */
function layoutFile(name: string, images: NpyArray, labels: NpyArray): string {
  const file = join(makeTmpDir().dir, name);
  const arrays: Record<string, NpyArray> = {};
  for (const s of ['train', 'val', 'test']) {
    arrays[`${s}_images`] = images;
    arrays[`${s}_labels`] = labels;
  }
  writeNpz(file, arrays);
  return file;
}

const u8 = (shape: number[], fill = (i: number) => i % 256): NpyArray =>
  npyArray('uint8', shape, Uint8Array.from({ length: shape.reduce((a, b) => a * b, 1) }, (_, i) => fill(i)));

describe('locating data files', () => {
  it('prefers --data overrides, then the data folder, then the cache', () => {
    const { dir, file } = synthDataFile('bloodmnist');
    const other = synthDataFile('bloodmnist', { fileName: 'bloodmnist-source28.npz' }).file;
    const empty = makeTmpDir().dir;
    expect(resolveDataFile('bloodmnist', { dataDir: dir, cacheDir: empty })).toBe(file);
    expect(resolveDataFile('bloodmnist', { dataDir: empty, cacheDir: dir })).toBe(file);
    expect(resolveDataFile('bloodmnist', { dataDir: dir, files: { bloodmnist: other } })).toBe(other);
    const e = errorOf(() => resolveDataFile('pathmnist', { dataDir: empty, cacheDir: empty }));
    expect(e.message).toContain(`looked for ${join(empty, 'pathmnist.npz')}`);
    expect(e.message).toContain('stmedfm data fetch pathmnist');
    expect(e.message).toContain('--data pathmnist=FILE');
  });

  it('parses --data NAME=FILE', () => {
    expect(parseDataOverrides(['BloodMNIST=/a/b.npz', 'organmnist3d=c.npz'])).toEqual({ bloodmnist: '/a/b.npz', organmnist3d: 'c.npz' });
    expect(errorOf(() => parseDataOverrides(['bloodmnist'])).message).toMatch(/expected NAME=FILE/);
    expect(errorOf(() => parseDataOverrides(['bloodmnst=x.npz'])).message).toMatch(/Did you mean 'bloodmnist'/);
    expect(errorOf(() => parseDataOverrides(['pathmnist=a', 'pathmnist=b'])).message).toMatch(/given twice/);
  });
});

describe('loading and validation', () => {
  it('loads all splits of a synthetic file in the official layout', () => {
    const { file, result } = synthDataFile('dermamnist', { sizes: { train: 40, val: 10, test: 12 } });
    const d = loadTask('dermamnist', { files: { dermamnist: file } });
    expect([d.train.n, d.val.n, d.test.n]).toEqual([40, 10, 12]);
    expect(d.train.imageShape).toEqual([28, 28, 3]);
    expect(Array.from(d.test.labels)).toEqual(Array.from(result.arrays.test_labels!.data as Uint8Array));
    expect(loadSplit('dermamnist', 'val', { files: { dermamnist: file } }).n).toBe(10);
  });

  it('reports a label out of range with file, split, index and value', () => {
    const labels = npyArray('uint8', [3, 1], Uint8Array.of(0, 8, 1));
    const file = layoutFile('bloodmnist-bad.npz', u8([3, 28, 28, 3]), labels);
    const e = errorOf(() => loadTaskFile('bloodmnist', file));
    expect(e.message).toBe(`bloodmnist-bad.npz: train_labels[1] = 8 is out of range (bloodmnist has 8 classes, labels 0..7); file ${file}`);
    const multi = layoutFile('chest.npz', u8([2, 28, 28]), npyArray('uint8', [2, 14], Uint8Array.from({ length: 28 }, (_, i) => (i === 17 ? 2 : 0))));
    expect(errorOf(() => loadTaskFile('chestmnist', multi)).message).toMatch(/train_labels\[1, 3\] = 2 is out of range \(expected 0 or 1\)/);
  });

  it('refuses image shapes that do not fit the task, with the likely cause', () => {
    const labels = npyArray('uint8', [2, 1], Uint8Array.of(0, 1));
    const rgbForGray = layoutFile('pneu.npz', u8([2, 28, 28, 3]), labels);
    expect(errorOf(() => loadTaskFile('pneumoniamnist', rgbForGray)).message).toBe(
      'pneu.npz, train_images: shape (2, 28, 28, 3) does not fit pneumoniamnist, which expects (N, 28, 28) ' +
        'grayscale images (RGB images, but this task is grayscale: is the file for another task?)',
    );
    const big = layoutFile('organ64.npz', u8([2, 64, 64, 64]), labels);
    expect(errorOf(() => loadTaskFile('organmnist3d', big)).message).toMatch(/64\^3 MedMNIST\+ file; STMedFM's 3D stem takes 28\^3 volumes: use the 28-px file/);
    const odd = layoutFile('path48.npz', u8([2, 48, 48, 3]), labels);
    expect(errorOf(() => loadTaskFile('pathmnist', odd)).message).toBe(
      'path48.npz, train_images: shape (2, 48, 48, 3) does not fit pathmnist, which expects (N, S, S, 3) RGB images with S = 28, 64, 128, 224',
    );
    const flat = layoutFile('vessel.npz', u8([2, 28, 28]), labels);
    expect(errorOf(() => loadTaskFile('vesselmnist3d', flat)).message).toMatch(/expects \(N, 28, 28, 28\) grayscale volumes \(2D images, but this task is 3D/);
  });

  it('refuses wrong dtypes, label shapes and inconsistent N', () => {
    const labels = npyArray('uint8', [2, 1], Uint8Array.of(0, 1));
    const floats = layoutFile('f.npz', npyArray('float32', [2, 28, 28], new Float32Array(2 * 784)), labels);
    expect(errorOf(() => loadTaskFile('breastmnist', floats)).message).toMatch(/f\.npz, train_images: dtype is float32, expected uint8/);
    const flatLabels = layoutFile('l.npz', u8([2, 28, 28]), npyArray('uint8', [2], Uint8Array.of(0, 1)));
    expect(errorOf(() => loadTaskFile('breastmnist', flatLabels)).message).toMatch(/train_labels: shape \(2,\), expected \(N, 1\)/);
    const floatLabels = layoutFile('fl.npz', u8([2, 28, 28]), npyArray('float32', [2, 1], Float32Array.of(0, 1)));
    expect(errorOf(() => loadTaskFile('breastmnist', floatLabels)).message).toMatch(/train_labels: dtype is float32, expected integer labels/);
    const mismatch = layoutFile('n.npz', u8([3, 28, 28]), labels);
    expect(errorOf(() => loadTaskFile('breastmnist', mismatch)).message).toMatch(/n\.npz, train: 3 images but 2 labels/);
  });

  it('refuses a file without the official keys', () => {
    const file = join(makeTmpDir().dir, 'x.npz');
    writeNpz(file, { x_train: u8([1, 28, 28]) });
    expect(errorOf(() => loadTaskFile('breastmnist', file)).message).toMatch(/no array 'train_images' \(arrays in this file: x_train\)/);
  });

  it('accepts other integer label dtypes (int64)', () => {
    const file = layoutFile('i64.npz', u8([2, 28, 28]), npyArray('int64', [2, 1], BigInt64Array.of(1n, 0n)));
    expect(Array.from(loadTaskFile('breastmnist', file).train.labels)).toEqual([1, 0]);
  });
});

describe('preprocessing', () => {
  it('normalises x/255 then (x-0.5)/0.5 in float32', () => {
    expect(NORMALIZE_LUT[0]).toBe(-1);
    expect(NORMALIZE_LUT[255]).toBe(1);
    for (const v of [1, 37, 128, 200]) expect(Math.abs(NORMALIZE_LUT[v]! - (v / 255 - 0.5) / 0.5)).toBeLessThan(1e-7);
  });

  it('turns RGB HWC into CHW', () => {
    // Pixel (h, w) channel c holds (h * 28 + w) % 250 + c.
    const img = u8([2, 28, 28, 3], (i) => (Math.floor((i % 2352) / 3) % 250) + (i % 3));
    const file = layoutFile('rgb.npz', img, npyArray('uint8', [2, 1], Uint8Array.of(0, 1)));
    const split = loadTaskFile('pathmnist', file).train;
    const b = toInput(split, [1, 0]);
    expect(b.shape).toEqual([2, 3, 28, 28]);
    for (const [c, h, w] of [
      [0, 0, 0],
      [1, 3, 5],
      [2, 27, 27],
    ] as const) {
      const expected = NORMALIZE_LUT[((h * 28 + w) % 250) + c]!;
      expect(b.data[1 * 2352 + c * 784 + h * 28 + w]).toBe(expected);
    }
  });

  it('repeats grayscale to 3 channels, or keeps 1 when asked', () => {
    const file = layoutFile('g.npz', u8([2, 28, 28], (i) => i % 199), npyArray('uint8', [2, 1], Uint8Array.of(0, 1)));
    const split = loadTaskFile('pneumoniamnist', file).train;
    const three = toInput(split, [0, 1]);
    expect(three.shape).toEqual([2, 3, 28, 28]);
    expect(inputShape(getDataset('pneumoniamnist'))).toEqual([3, 28, 28]);
    const one = toInput(split, [0, 1], { grayTo3: false });
    expect(one.shape).toEqual([2, 1, 28, 28]);
    for (let c = 0; c < 3; c++) {
      expect(Array.from(three.data.subarray(2352 + c * 784, 2352 + (c + 1) * 784))).toEqual(Array.from(one.data.subarray(784, 1568)));
    }
    expect(one.data[784 + 5]).toBe(NORMALIZE_LUT[(784 + 5) % 199]);
  });

  it('keeps 3D volumes as [N, 1, D, H, W] without flipping', () => {
    const vol = u8([1, 28, 28, 28], (i) => (i % 28 < 14 ? 0 : 255)); // left half dark, right half bright
    const file = layoutFile('v.npz', vol, npyArray('uint8', [1, 1], Uint8Array.of(0)));
    const b = toInput(loadTaskFile('organmnist3d', file).train, [0]);
    expect(b.shape).toEqual([1, 1, 28, 28, 28]);
    expect(b.data[0]).toBe(-1);
    expect(b.data[27]).toBe(1);
    expect(b.data[28 * 28 * 28 - 1]).toBe(1);
  });

  it('preprocesses loose images (one sample or a stack) like a split', () => {
    const info = getDataset('pathmnist');
    const one = u8([28, 28, 3], (i) => (i * 7) % 256);
    const file = layoutFile('p.npz', u8([1, 28, 28, 3], (i) => (i * 7) % 256), npyArray('uint8', [1, 1], Uint8Array.of(0)));
    const fromSplit = toInput(loadTaskFile('pathmnist', file).train, [0]);
    const loose = imagesToInput(info, one);
    expect(loose.shape).toEqual([1, 3, 28, 28]);
    expect(Array.from(loose.data)).toEqual(Array.from(fromSplit.data));
    expect(imagesToInput(info, u8([2, 28, 28, 3])).shape).toEqual([2, 3, 28, 28]);
    expect(errorOf(() => imagesToInput(info, u8([28, 28]), {}, 'x.npy')).message).toMatch(/x\.npy: shape \(28, 28\) does not fit pathmnist/);
    const vol = imagesToInput(getDataset('organmnist3d'), u8([28, 28, 28]));
    expect(vol.shape).toEqual([1, 1, 28, 28, 28]);
  });

  it('gathers class ids and multi-label targets', () => {
    const { file } = synthDataFile('chestmnist', { sizes: { train: 6, val: 2, test: 2 } });
    const d = loadTaskFile('chestmnist', file);
    const t = multiLabelTargets(d.train, [2, 0]);
    expect(t.length).toBe(28);
    expect(Array.from(t.subarray(0, 14))).toEqual(Array.from(d.train.labels.subarray(28, 42)));
    expect(errorOf(() => classIds(d.train, [0])).message).toMatch(/multi-label/);
    const p = synthDataFile('pathmnist', { sizes: { train: 9, val: 1, test: 1 } });
    const s = loadTaskFile('pathmnist', p.file).train;
    expect(Array.from(classIds(s, [3, 1]))).toEqual([s.labels[3], s.labels[1]]);
    expect(errorOf(() => toInput(s, [9])).message).toMatch(/index 9 out of range/);
  });
});
