/**
 * The packaged pretrained backbone (data/pretrained): it loads as STMedFM-Tiny with the four
 * pretraining heads, and its bytes are exactly those whose hash the model card records, so the
 * file cannot change without the card (and its transfer results) being redone.
 */
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadSafetensors } from '../../src/io/safetensors.js';
import { STMEDFM_TINY } from '../../src/model/config.js';
import { countParams } from '../../src/model/stmedfm.js';
import { loadModel } from '../../src/training/checkpoint.js';

const DIR = resolve(import.meta.dirname, '..', '..', 'data', 'pretrained');
const FILE = join(DIR, 'stmedfm-tiny.safetensors');
const CARD = readFileSync(join(DIR, 'MODEL_CARD.md'), 'utf8');

describe('the packaged pretrained backbone', () => {
  it('loads as STMedFM-Tiny with both stems, the encoder and the four pretraining heads', async () => {
    const m = await loadModel(FILE);
    expect(m.model.config).toEqual(STMEDFM_TINY);
    expect(m.model.peft).toBeUndefined();
    expect(m.model.heads).toEqual([
      { name: 'pathmnist', numClasses: 9, modality: '2d' },
      { name: 'bloodmnist', numClasses: 8, modality: '2d' },
      { name: 'dermamnist', numClasses: 7, modality: '2d' },
      { name: 'organmnist3d', numClasses: 11, modality: '3d' },
    ]);
    const specs = m.model.specs();
    const file = await loadSafetensors(FILE);
    expect([...file.tensors.keys()].sort()).toEqual(specs.map((s) => s.name).sort());
    expect(specs).toHaveLength(48);
    expect(countParams(specs)).toBe(227_491); // 36,992 stem2d + 88,128 stem3d + 100,096 encoder + 2,275 heads
    for (const [name, t] of file.tensors) {
      expect(t.dtype, name).toBe('F32');
      expect(t.data.every(Number.isFinite), name).toBe(true);
    }
    expect(m.config.training).toMatchObject({ kind: 'pretrain', tasks: ['pathmnist', 'bloodmnist', 'dermamnist', 'organmnist3d'], seed: 0 });
  });

  it('is the file the model card describes: same sha256, same steps, under 1 MB', async () => {
    const bytes = readFileSync(FILE);
    const hash = /sha256 `([0-9a-f]{64})`/.exec(CARD)?.[1];
    expect(hash, 'the model card records the sha256 of the file').toBeDefined();
    expect(createHash('sha256').update(bytes).digest('hex')).toBe(hash);
    expect(statSync(FILE).size).toBeLessThan(1_000_000);
    const steps = /--steps (\d+)/.exec(CARD)?.[1];
    const m = await loadModel(FILE);
    expect(m.config.training?.steps).toBe(Number(steps));
    expect(m.config.training?.stepsDone).toBe(Number(steps));
  });
});
