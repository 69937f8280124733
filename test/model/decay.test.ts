/**
 * AdamW's decay group, read from the model's own parameter specs (not a fixture): weight matrices,
 * conv kernels and LoRA factors decay; biases, LayerNorm scales/shifts and position embeddings
 * do not (the usual transformer recipe, and PyTorch's reference in scripts/torch_reference).
 */
import { describe, expect, it } from 'vitest';
import { STMEDFM_TINY, type TaskHead } from '../../src/model/config.js';
import { DEFAULT_ADAPTER, DEFAULT_LORA, type PeftConfig } from '../../src/model/peft.js';
import { STMedFM } from '../../src/model/stmedfm.js';

const heads: TaskHead[] = [
  { name: 'pathmnist', numClasses: 9, modality: '2d' },
  { name: 'organmnist3d', numClasses: 11, modality: '3d' },
];

/** What the decay flag must be, from the name alone. */
function shouldDecay(name: string): boolean {
  if (name.endsWith('.bias')) return false;
  if (/(^|\.)(ln\d?|norm)\.weight$/.test(name)) return false; // LayerNorm scale
  if (name.endsWith('.pos')) return false;
  if (name.endsWith('.weight')) return true;
  throw new Error(`no decay rule for parameter '${name}'`);
}

describe('weight-decay flags', () => {
  const configs: (PeftConfig | undefined)[] = [undefined, { ...DEFAULT_LORA, targets: ['qkv', 'proj', 'fc1', 'fc2'] }, DEFAULT_ADAPTER];
  for (const peft of configs) {
    it(`follow the parameter kind for every parameter (${peft?.kind ?? 'plain'} model)`, () => {
      const model = new STMedFM(STMEDFM_TINY, heads, peft);
      const specs = model.specs();
      const wrong = specs.filter((s) => s.decay !== shouldDecay(s.name)).map((s) => `${s.name}: decay ${s.decay}`);
      expect(wrong).toEqual([]);
      // Both groups are populated, and every bias is among the non-decayed.
      const biases = specs.filter((s) => s.name.endsWith('.bias'));
      expect(biases.length).toBeGreaterThan(10);
      expect(biases.every((s) => !s.decay)).toBe(true);
      expect(specs.some((s) => s.decay)).toBe(true);
      // The trainable subsets carry the same flags (they are the same spec objects' values).
      for (const method of peft ? [peft.kind] : (['scratch', 'full'] as const)) {
        for (const s of model.trainableSpecs('pathmnist', method)) expect(s.decay).toBe(shouldDecay(s.name));
      }
    });
  }
});
