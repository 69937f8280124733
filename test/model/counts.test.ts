import { describe, expect, it } from 'vitest';
import { STMEDFM_TINY, parameterCounts, STMedFM, countParams, DEFAULT_LORA, type TaskHead } from '../../src/model/index.js';

const heads: TaskHead[] = [
  { name: 'pathmnist', numClasses: 9, modality: '2d' },
  { name: 'bloodmnist', numClasses: 8, modality: '2d' },
  { name: 'dermamnist', numClasses: 7, modality: '2d' },
  { name: 'organmnist3d', numClasses: 11, modality: '3d' },
];

describe('STMedFM-Tiny parameter counts (SPEC section 3)', () => {
  const c = parameterCounts(STMEDFM_TINY, heads);
  it('parts', () => {
    expect(c.stem2d).toBe(36_992);
    expect(c.stem3d).toBe(88_128);
    expect(c.encoder).toBe(100_096);
  });
  it('full fine-tuning', () => {
    expect(c.trainable.pathmnist!.full).toBe(137_673);
    expect(c.trainable.organmnist3d!.full).toBe(188_939);
    expect(c.trainable.pathmnist!.scratch).toBe(137_673);
  });
  it('PEFT trainable counts', () => {
    expect(c.trainable.pathmnist!.lora).toBe(3_657);
    expect(c.trainable.pathmnist!.adapter).toBe(4_969);
  });
  it('options change the counts as expected', () => {
    const m = new STMedFM(STMEDFM_TINY, heads, { ...DEFAULT_LORA, targets: ['qkv', 'proj', 'fc1', 'fc2'] });
    // fc1: A [4,64] + B [256,4]; fc2: A [4,256] + B [64,4] = 1280 + 1280 per block
    expect(countParams(m.trainableSpecs('pathmnist', 'lora'))).toBe(3_657 + 2 * 2_560);
    const p = new STMedFM(STMEDFM_TINY, heads, { kind: 'adapter', placement: 'pfeiffer', bottleneck: 8 });
    expect(countParams(p.trainableSpecs('pathmnist', 'adapter'))).toBe(585 + 2 * 1_096);
  });
  it('state-dict names follow the PyTorch layout', () => {
    const names = new STMedFM(STMEDFM_TINY, heads, DEFAULT_LORA).specs().map((s) => s.name);
    for (const n of ['stem2d.c1.weight', 'stem2d.pos', 'stem3d.c2.bias', 'blocks.1.qkv.weight', 'blocks.0.qkv.lora_A.weight', 'blocks.0.proj.lora_B.weight', 'norm.weight', 'heads.organmnist3d.bias']) {
      expect(names).toContain(n);
    }
    expect(new Set(names).size).toBe(names.length);
  });
});
