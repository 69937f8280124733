/**
 * Whole-model gradient cases: STMedFM's loss (conv stem -> patchify -> transformer blocks ->
 * pooled head -> cross-entropy) on a miniature config, 2D and 3D, plain, with LoRA and with
 * bottleneck adapters. Every parameter is a differentiated input.
 */
import type { Value } from '../../src/engine/ir/graph.js';
import * as op from '../../src/engine/ops/index.js';
import type { GradCase } from '../../src/engine/testing/gradcheck.js';
import type { ModelConfig, TaskHead } from '../../src/model/config.js';
import { type BuildContext, chunkBudget } from '../../src/model/layers.js';
import type { PeftConfig } from '../../src/model/peft.js';
import { STMedFM, type Method } from '../../src/model/stmedfm.js';

export const MINI: ModelConfig = {
  name: 'mini',
  dim: 8,
  heads: 2,
  depth: 1,
  mlpHidden: 12,
  lnEps: 1e-5,
  stem2d: { inChannels: 3, hidden: 3, imageSize: 6, patch: 3 },
  stem3d: { inChannels: 1, hidden: 2, volumeSize: 4, patch: 2 },
};

const HEADS: TaskHead[] = [
  { name: 'img', numClasses: 3, modality: '2d' },
  { name: 'vol', numClasses: 3, modality: '3d' },
];

function modelCase(name: string, task: 'img' | 'vol', method: Method, peft?: PeftConfig, weights?: number[], chunks?: Partial<typeof chunkBudget>, batch = 2): GradCase {
  const model = new STMedFM(MINI, HEADS, peft);
  const trainable = method === 'full' ? model.specs().filter((s) => !s.name.startsWith(task === 'img' ? 'stem3d' : 'stem2d') && !s.name.startsWith(`heads.${task === 'img' ? 'vol' : 'img'}`)) : model.trainableSpecs(task, method);
  const trainableNames = new Set(trainable.map((s) => s.name));
  const frozen = model.specs().filter((s) => !trainableNames.has(s.name));
  const xShape = task === 'img' ? [batch, 3, 6, 6] : [batch, 1, 4, 4, 4];
  return {
    op: 'STMedFM',
    name,
    ortMeasure: 'normwise',
    inputs: [
      { name: 'x', shape: xShape, grad: false },
      { name: 'y', shape: [batch], dtype: 'int64', init: { values: Array.from({ length: batch }, (_, i) => [0, 2, 1][i % 3]!) } },
      ...trainable.map((s) => ({ name: s.name, shape: s.shape, init: 'unit' as const })),
      // Frozen parameters enter as non-differentiated inputs (in training they are initializers).
      ...frozen.map((s) => ({ name: s.name, shape: s.shape, init: 'unit' as const, grad: false })),
    ],
    build: (g, xs) => {
      const byName = new Map(xs.map((v) => [v.name, v]));
      const ctx: BuildContext = { graph: g, param: (n) => byName.get(n)!, has: (n) => byName.has(n) };
      // Chunk budgets (values per chunk) as given, e.g. to run the forward pass in 1-sample chunks.
      const saved = { ...chunkBudget };
      Object.assign(chunkBudget, chunks ?? {});
      let logits: Value;
      try {
        logits = model.logits(ctx, byName.get('x')!, task);
      } finally {
        Object.assign(chunkBudget, saved);
      }
      const w = weights ? g.constant({ dtype: 'float', shape: [3], data: Float64Array.from(weights) }) : undefined;
      return op.softmaxCrossEntropy(logits, byName.get('y')! as Value, w ? { classWeights: w } : {});
    },
  };
}

export const modelCases: GradCase[] = [
  modelCase('2D full', 'img', 'full'),
  modelCase('3D full', 'vol', 'full'),
  modelCase('2D class-weighted', 'img', 'full', undefined, [0.5, 1, 2]),
  modelCase('2D LoRA (qkv, proj, fc1, fc2)', 'img', 'lora', { kind: 'lora', r: 2, alpha: 4, rslora: false, targets: ['qkv', 'proj', 'fc1', 'fc2'], dropout: 0 }),
  modelCase('3D LoRA rsLoRA', 'vol', 'lora', { kind: 'lora', r: 2, alpha: 4, rslora: true, targets: ['qkv', 'proj'], dropout: 0 }),
  modelCase('2D Houlsby adapters', 'img', 'adapter', { kind: 'adapter', placement: 'houlsby', bottleneck: 3 }),
  modelCase('3D Pfeiffer adapters', 'vol', 'adapter', { kind: 'adapter', placement: 'pfeiffer', bottleneck: 3 }),
  // Chunked forward passes (as in training graphs at full size): uneven stem chunks, 1-sample blocks.
  modelCase('2D full, batch 4 in chunks (stem 2+2, blocks 1+1+1+1)', 'img', 'full', undefined, undefined, { stem: 2 * 3 * 36, block: 1 }, 4),
  modelCase('3D LoRA, batch 3 in 1-sample chunks', 'vol', 'lora', { kind: 'lora', r: 2, alpha: 4, rslora: false, targets: ['qkv', 'proj'], dropout: 0 }, undefined, { stem: 1, block: 1 }, 3),
];
