import { describe, expect, it } from 'vitest';
import { loadTaskFile } from '../../src/data/dataset.js';
import { encodeNpz } from '../../src/data/npz.js';
import { synthesize } from '../../src/data/synth.js';
import { synthDataFile } from '../helpers/synth.js';

/** Nearest-class-mean accuracy of `test` against class means of `train` (raw pixels). */
function nearestMeanAccuracy(
  train: { images: Uint8Array; labels: ArrayLike<number>; n: number },
  test: { images: Uint8Array; labels: ArrayLike<number>; n: number },
  c: number,
): { acc: number; means: Float64Array[] } {
  const d = train.images.length / train.n;
  const means = Array.from({ length: c }, () => new Float64Array(d));
  const counts = new Array<number>(c).fill(0);
  for (let i = 0; i < train.n; i++) {
    const y = train.labels[i]!;
    counts[y]!++;
    for (let j = 0; j < d; j++) means[y]![j]! += train.images[i * d + j]!;
  }
  means.forEach((m, y) => m.forEach((v, j) => (m[j] = v / Math.max(1, counts[y]!))));
  let correct = 0;
  for (let i = 0; i < test.n; i++) {
    let best = -1;
    let bestD = Infinity;
    for (let y = 0; y < c; y++) {
      let dist = 0;
      for (let j = 0; j < d; j++) dist += (test.images[i * d + j]! - means[y]![j]!) ** 2;
      if (dist < bestD) (bestD = dist), (best = y);
    }
    if (best === test.labels[i]) correct++;
  }
  return { acc: correct / test.n, means };
}

describe('synthetic data', () => {
  it('has the official layout for RGB, grayscale, 3D and multi-label tasks', () => {
    const cases = [
      ['bloodmnist', [28, 28, 3], 1],
      ['organamnist', [28, 28], 1],
      ['nodulemnist3d', [28, 28, 28], 1],
      ['chestmnist', [28, 28], 14],
    ] as const;
    for (const [task, per, width] of cases) {
      const r = synthesize(task, { sizes: { train: 12, val: 4, test: 5 }, seed: 1 });
      expect(Object.keys(r.arrays)).toEqual(['train_images', 'val_images', 'test_images', 'train_labels', 'val_labels', 'test_labels']);
      expect(r.arrays.test_images).toMatchObject({ dtype: 'uint8', shape: [5, ...per] });
      expect(r.arrays.train_labels).toMatchObject({ dtype: 'uint8', shape: [12, width] });
      // and it loads through the validating loader
      const { file } = synthDataFile(task, { sizes: { train: 12, val: 4, test: 5 }, seed: 1 });
      expect(loadTaskFile(task, file).val.n).toBe(4);
    }
  });

  it('is deterministic in the seed', () => {
    const a = encodeNpz(synthesize('pathmnist', { sizes: { train: 20, val: 5, test: 5 }, seed: 5 }).arrays);
    const b = encodeNpz(synthesize('pathmnist', { sizes: { train: 20, val: 5, test: 5 }, seed: 5 }).arrays);
    const c = encodeNpz(synthesize('pathmnist', { sizes: { train: 20, val: 5, test: 5 }, seed: 6 }).arrays);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);
    expect(Buffer.from(a).equals(Buffer.from(c))).toBe(false);
  });

  it('has every class in every split, balanced or with the requested imbalance', () => {
    const count = (l: ArrayLike<number>, c: number): number[] => {
      const k = new Array<number>(c).fill(0);
      for (let i = 0; i < l.length; i++) k[l[i]!]!++;
      return k;
    };
    const bal = synthesize('dermamnist', { sizes: { train: 70, val: 7, test: 14 } });
    expect(count(bal.arrays.train_labels!.data as Uint8Array, 7)).toEqual([10, 10, 10, 10, 10, 10, 10]);
    const imb = synthesize('dermamnist', { sizes: { train: 300, val: 7, test: 14 }, imbalance: 8 });
    const k = count(imb.arrays.train_labels!.data as Uint8Array, 7);
    expect(k.reduce((a, b) => a + b, 0)).toBe(300);
    expect(Math.min(...k)).toBeGreaterThan(0);
    expect(k[0]! / k[6]!).toBeGreaterThan(5);
  });

  it('is learnable: class means differ and a nearest-mean classifier beats chance by far', () => {
    const r = synthesize('pathmnist', { sizes: { train: 180, val: 0, test: 90 }, seed: 2 });
    const tr = { images: r.arrays.train_images!.data as Uint8Array, labels: r.arrays.train_labels!.data as Uint8Array, n: 180 };
    const te = { images: r.arrays.test_images!.data as Uint8Array, labels: r.arrays.test_labels!.data as Uint8Array, n: 90 };
    const { acc, means } = nearestMeanAccuracy(tr, te, 9);
    expect(acc).toBeGreaterThan(0.5); // chance is 1/9
    const avg = means.map((m) => m.reduce((a, b) => a + b, 0) / m.length);
    expect(Math.max(...avg) - Math.min(...avg)).toBeGreaterThan(5);
  });

  it('makes 3D classes 2j and 2j+1 mirror images, so flipping volumes would mix them up', () => {
    const r = synthesize('organmnist3d', { sizes: { train: 44, val: 0, test: 44 }, seed: 5 });
    const imgs = r.arrays.test_images!.data as Uint8Array;
    const ys = r.arrays.test_labels!.data as Uint8Array;
    const tr = { images: r.arrays.train_images!.data as Uint8Array, labels: r.arrays.train_labels!.data as Uint8Array, n: 44 };
    expect(nearestMeanAccuracy(tr, { images: imgs, labels: ys, n: 44 }, 11).acc).toBeGreaterThan(0.6); // chance 1/11
    // Flip the test volumes left-right (the last axis).
    const flipped = new Uint8Array(imgs.length);
    for (let i = 0; i < imgs.length; i += 28) for (let x = 0; x < 28; x++) flipped[i + x] = imgs[i + 27 - x]!;
    // A flipped volume no longer looks like its own class...
    expect(nearestMeanAccuracy(tr, { images: flipped, labels: ys, n: 44 }, 11).acc).toBeLessThan(0.25);
    // ...but like its mirror partner (class 10 has none, so it counts as a miss).
    const partner = Uint8Array.from(ys, (y) => (y === 10 ? 255 : y ^ 1));
    expect(nearestMeanAccuracy(tr, { images: flipped, labels: partner, n: 44 }, 11).acc).toBeGreaterThan(0.5);
  });

  it('refuses bad options', () => {
    expect(() => synthesize('pathmnist', { sizes: { train: -1 } })).toThrow(/train size must be a non-negative integer/);
    expect(() => synthesize('pathmnist', { imbalance: 0.5 })).toThrow(/imbalance must be >= 1/);
  });
});
