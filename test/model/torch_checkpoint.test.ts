/**
 * A checkpoint written by STMedFM loads into the independent PyTorch reference
 * (scripts/torch_reference/stmedfm.py, load_state_dict strict=True) and gives the same
 * probabilities. The PyTorch side ran once, when the fixture was made:
 *   npx tsx scripts/fixtures/make_torch_checkpoint_fixture.ts
 *   cd test/fixtures/torch_checkpoint && /usr/bin/python3 ../../../scripts/torch_reference/check_checkpoint.py \
 *     model.safetensors --task pathmnist --input x2d.npy > torch_pathmnist.json   (and organmnist3d / x3d.npy)
 * This test reloads the same file with our loader and checks that `predict` agrees with PyTorch.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { getDataset } from '../../src/data/index.js';
import { readInput } from '../../src/inference/input.js';
import { Predictor } from '../../src/inference/predictor.js';
import { loadModel } from '../../src/training/checkpoint.js';

const dir = join(import.meta.dirname, '..', 'fixtures', 'torch_checkpoint');

describe('checkpoints against PyTorch', () => {
  for (const [task, input] of [['pathmnist', 'x2d.npy'], ['organmnist3d', 'x3d.npy']] as const) {
    it(`${task}: probabilities match the PyTorch reference within 1e-4`, async () => {
      const want = JSON.parse(readFileSync(join(dir, `torch_${task}.json`), 'utf8')) as { probs: number[][] };
      const m = await loadModel(join(dir, 'model.safetensors'));
      const x = readInput(join(dir, input), getDataset(task));
      const p = await Predictor.create(m.model, m.store, task);
      const r = await p.run(x.data, x.n);
      await p.release();
      expect(r.n).toBe(want.probs.length);
      want.probs.forEach((row, i) => row.forEach((v, c) => expect(Math.abs(r.probs[i * r.classes + c]! - v)).toBeLessThan(1e-4)));
      // The inputs are random, so the model's outputs are not uniform: the comparison has teeth.
      expect(Math.max(...want.probs[0]!) - Math.min(...want.probs[0]!)).toBeGreaterThan(0.01);
    });
  }
});
