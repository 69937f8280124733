/**
 * PEFT semantics: a fresh LoRA/adapter model equals its base model (B and up are zero), LoRA
 * merges into the base weights with unchanged outputs, and the exported ONNX model gives the
 * evaluation session's probabilities.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { interpret } from '../../src/engine/interp.js';
import { Graph } from '../../src/engine/ir/graph.js';
import { ForwardSession } from '../../src/engine/runtime/session.js';
import { floatTensor } from '../../src/engine/runtime/tensors.js';
import { exportOnnx } from '../../src/inference/export.js';
import { Predictor } from '../../src/inference/predictor.js';
import { ParamBinder } from '../../src/model/binder.js';
import { STMEDFM_TINY, type TaskHead } from '../../src/model/config.js';
import { mergeLora, unmergeLora } from '../../src/model/merge.js';
import { ParamStore } from '../../src/model/params.js';
import { DEFAULT_ADAPTER, DEFAULT_LORA } from '../../src/model/peft.js';
import { STMedFM } from '../../src/model/stmedfm.js';
import { Rng } from '../../src/util/rng.js';
import { MINI } from '../cases/models.js';

const heads: TaskHead[] = [
  { name: 'pathmnist', numClasses: 9, modality: '2d' },
  { name: 'organmnist3d', numClasses: 11, modality: '3d' },
];
const miniHeads: TaskHead[] = [
  { name: 'img', numClasses: 3, modality: '2d' },
  { name: 'vol', numClasses: 4, modality: '3d' },
];

function randomInput(shape: number[], seed: number) {
  const rng = new Rng(seed);
  const n = shape.reduce((a, b) => a * b, 1);
  return { dtype: 'float' as const, shape, data: Float64Array.from({ length: n }, () => rng.uniform(-1, 1)) };
}

/** float64 logits of `model` with `store` on input x (reference interpreter). */
function logits64(model: STMedFM, store: ParamStore, task: string, x: ReturnType<typeof randomInput>): Float64Array {
  const g = new Graph('t');
  const xin = g.input('x', 'float', x.shape);
  const out = model.logits(new ParamBinder(g, store), xin, task);
  return interpret(g, { x }, [out])[0]!.data;
}

/** Base store extended with randomised PEFT tensors (B and up non-zero, so merging is tested for real). */
function withRandomPeft(model: STMedFM, base: ParamStore, seed: number): ParamStore {
  const s = base.clone();
  const rng = new Rng(seed);
  for (const spec of model.peftSpecs()) {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    s.set(spec.name, { dtype: 'float', shape: spec.shape, data: Float64Array.from({ length: n }, () => 0.1 * rng.normal()) });
  }
  return s;
}

describe('PEFT', () => {
  for (const peft of [DEFAULT_LORA, DEFAULT_ADAPTER, { ...DEFAULT_ADAPTER, placement: 'pfeiffer' as const }]) {
    it(`a fresh ${peft.kind} (${'placement' in peft ? peft.placement : 'qkv,proj'}) model equals the base model at step 0`, () => {
      const base = new STMedFM(MINI, miniHeads);
      const store = ParamStore.init(base.specs(), 1);
      const peftModel = new STMedFM(MINI, miniHeads, peft);
      const peftStore = ParamStore.init(peftModel.specs(), 2);
      for (const n of store.names()) peftStore.set(n, store.get(n));
      for (const [task, shape] of [['img', [2, 3, 6, 6]], ['vol', [2, 1, 4, 4, 4]]] as const) {
        const x = randomInput([...shape], 3);
        expect(Array.from(logits64(peftModel, peftStore, task, x))).toEqual(Array.from(logits64(base, store, task, x)));
      }
    });
  }

  it('LoRA merged and unmerged outputs agree (float64 and ONNX Runtime), and unmerge restores the base', async () => {
    const lora = { ...DEFAULT_LORA, targets: ['qkv', 'proj', 'fc1', 'fc2'] as ('qkv' | 'proj' | 'fc1' | 'fc2')[] };
    const model = new STMedFM(STMEDFM_TINY, heads, lora);
    const base = ParamStore.init(new STMedFM(STMEDFM_TINY, heads).specs(), 4);
    const store = withRandomPeft(model, base, 5);
    const merged = mergeLora(model, store);
    const plain = new STMedFM(STMEDFM_TINY, heads);
    const x = randomInput([2, 3, 28, 28], 6);
    const a = logits64(model, store, 'pathmnist', x);
    const b = logits64(plain, merged, 'pathmnist', x);
    const scale = Math.max(...Array.from(a, Math.abs));
    a.forEach((v, i) => expect(Math.abs(v - b[i]!)).toBeLessThan(1e-5 * Math.max(1, scale)));
    // The merge really changed the weights (the LoRA update is not a no-op here).
    expect(merged.get('blocks.0.qkv.weight').data[0]).not.toBe(base.get('blocks.0.qkv.weight').data[0]);
    const restored = unmergeLora(model, merged, store);
    const w0 = base.get('blocks.1.fc2.weight').data;
    restored.get('blocks.1.fc2.weight').data.forEach((v, i) => expect(v).toBeCloseTo(w0[i]!, 12));

    // float32 on ONNX Runtime: the LoRA model's evaluation session vs the merged export.
    const p = await Predictor.create(model, store, 'pathmnist');
    const r = await p.run(Float32Array.from(x.data), 2);
    await p.release();
    const dir = mkdtempSync(join(tmpdir(), 'export-'));
    await exportOnnx(model, store, 'pathmnist', join(dir, 'm.onnx'));
    const s = await ForwardSession.create(join(dir, 'm.onnx'));
    const out = await s.run({ x: floatTensor(Float32Array.from(x.data), [2, 3, 28, 28]) });
    const probs = out.probabilities!.data as Float32Array;
    probs.forEach((v, i) => expect(Math.abs(v - r.probs[i]!)).toBeLessThan(1e-5));
    await s.release();
  });

  it('the exported 3D adapter model gives the evaluation session probabilities at another batch size', async () => {
    const model = new STMedFM(STMEDFM_TINY, heads, DEFAULT_ADAPTER);
    const store = withRandomPeft(model, ParamStore.init(model.specs(), 7), 8);
    const x = Float32Array.from(randomInput([3, 1, 28, 28, 28], 9).data);
    const p = await Predictor.create(model, store, 'organmnist3d');
    const r = await p.run(x, 3);
    await p.release();
    const dir = mkdtempSync(join(tmpdir(), 'export-'));
    await exportOnnx(model, store, 'organmnist3d', join(dir, 'm.onnx'));
    const s = await ForwardSession.create(join(dir, 'm.onnx'));
    const out = await s.run({ x: floatTensor(x, [3, 1, 28, 28, 28]) });
    (out.probabilities!.data as Float32Array).forEach((v, i) => expect(Math.abs(v - r.probs[i]!)).toBeLessThan(1e-5));
    await s.release();
  });
});
