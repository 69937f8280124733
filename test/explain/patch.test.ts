/**
 * Saliency that means something: a model trained where a red patch decides the class must,
 * when the patch is pasted into an image of the other class, put the map's mass on the patch.
 */
import { describe, expect, it } from 'vitest';
import { getDataset, validateSplit } from '../../src/data/index.js';
import { GradCamExplainer, massOn } from '../../src/explain/saliency.js';
import { samplesToInput } from '../../src/inference/input.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { ParamStore } from '../../src/model/params.js';
import { train } from '../../src/training/trainer.js';
import { Rng } from '../../src/util/rng.js';
import { NARROW } from './helpers.js';

const S = 28;
const CELL = 4; // pixels per token: the 7x7 grid
const RED = [230, 30, 30];
const BLUE = [30, 30, 230];
const info = getDataset('bloodmnist'); // any 28x28 RGB task: only labels 0 and 1 are used

/** Top-left cell (row, col) of a 2x2-cell (8x8-pixel) patch. */
type Cell = [number, number];

function background(rng: Rng): Uint8Array {
  return Uint8Array.from({ length: S * S * 3 }, () => 80 + rng.int(97));
}

function paste(img: Uint8Array, [r, c]: Cell, colour: number[]): void {
  for (let y = r * CELL; y < (r + 2) * CELL; y++) for (let x = c * CELL; x < (c + 2) * CELL; x++) img.set(colour, (y * S + x) * 3);
}

/** The four tokens under a patch at `cell` (row-major over the 7x7 grid). */
const patchTokens = ([r, c]: Cell): number[] => [r * 7 + c, r * 7 + c + 1, (r + 1) * 7 + c, (r + 1) * 7 + c + 1];

const randomCell = (rng: Rng): Cell => [rng.int(6), rng.int(6)];
const overlaps = (a: Cell, b: Cell) => Math.abs(a[0] - b[0]) < 2 && Math.abs(a[1] - b[1]) < 2;

/** Class 0: a blue patch somewhere. Class 1: the same plus a red patch elsewhere. */
function makeSample(rng: Rng, label: number): { img: Uint8Array; blue: Cell; red?: Cell } {
  const img = background(rng);
  const blue = randomCell(rng);
  paste(img, blue, BLUE);
  if (label === 0) return { img, blue };
  let red = randomCell(rng);
  while (overlaps(red, blue)) red = randomCell(rng);
  paste(img, red, RED);
  return { img, blue, red };
}

describe('Grad-CAM follows the evidence', () => {
  it('a pasted patch that decides the class draws the map of that class onto itself', async () => {
    const rng = new Rng(42);
    const n = 384;
    const images = new Uint8Array(n * S * S * 3);
    const labels = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      labels[i] = i % 2;
      images.set(makeSample(rng, labels[i]!).img, i * S * S * 3);
    }
    const split = validateSplit(info, 'train', 'patch-task.npz', { dtype: 'uint8', shape: [n, S, S, 3], data: images }, { dtype: 'int32', shape: [n, 1], data: labels });
    const model = new STMedFM(NARROW, [{ name: 'bloodmnist', numClasses: 8, modality: '2d' }]);
    const store = ParamStore.init(model.specs(), 0);
    const trained = await train(model, store, model.trainableSpecs('bloodmnist', 'scratch'), [{ task: 'bloodmnist', batchSize: 32, split }], {
      steps: 150,
      seed: 0,
      optim: { lr: 3e-3, warmup: 10 },
    });

    const ex = await GradCamExplainer.create(model, trained.store, 'bloodmnist');
    const test = new Rng(7);
    const rows: { before: number; after: number; onBlue: number; predBefore: number; predAfter: number }[] = [];
    for (let k = 0; k < 12; k++) {
      const s = makeSample(test, 0);
      let red = randomCell(test);
      while (overlaps(red, s.blue)) red = randomCell(test);
      const before = await ex.explain(samplesToInput(info, s.img, 1).data, 1);
      paste(s.img, red, RED);
      const after = await ex.explain(samplesToInput(info, s.img, 1).data, 1);
      rows.push({
        before: massOn(before.cam, patchTokens(red)),
        after: massOn(after.cam, patchTokens(red)),
        onBlue: massOn(after.cam, patchTokens(s.blue)),
        predBefore: before.predicted,
        predAfter: after.predicted,
      });
    }
    await ex.release();
    const mean = (f: (r: (typeof rows)[number]) => number) => rows.reduce((a, r) => a + f(r), 0) / rows.length;
    // The model learned the rule: the red patch flips the prediction.
    expect(rows.every((r) => r.predBefore === 0 && r.predAfter === 1)).toBe(true);
    // The four patch tokens are 8% of the 49; after pasting they hold most of the class-1 map ...
    expect(mean((r) => r.after)).toBeGreaterThan(0.5);
    expect(Math.min(...rows.map((r) => r.after))).toBeGreaterThan(0.3);
    // ... which they did not before, and the blue distractor gets little of it.
    expect(mean((r) => r.before)).toBeLessThan(0.2);
    expect(mean((r) => r.onBlue)).toBeLessThan(0.1);
  }, 120_000);
});
