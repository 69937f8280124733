/**
 * PEFT semantics: a LoRA Linear is x W^T + b + (alpha/r) x A^T B^T (alpha/sqrt(r) with rsLoRA),
 * checked against a plain-TypeScript computation with non-zero A and B; adapters sit where their
 * placement says (Pfeiffer: after the MLP only); a fresh LoRA/adapter model equals its base model
 * because B and up start at zero (and only because of that: a non-zero B changes the output);
 * LoRA merges into the base weights with unchanged outputs; the exported ONNX model gives the
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
import { DEFAULT_ADAPTER, DEFAULT_LORA, type LoraTarget, loraScale } from '../../src/model/peft.js';
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
    it(`a fresh ${peft.kind} (${'placement' in peft ? peft.placement : 'qkv,proj'}) model equals the base model at step 0, and only because B/up start at zero`, () => {
      const base = new STMedFM(MINI, miniHeads);
      const store = ParamStore.init(base.specs(), 1);
      const peftModel = new STMedFM(MINI, miniHeads, peft);
      const peftStore = ParamStore.init(peftModel.specs(), 2);
      for (const n of store.names()) peftStore.set(n, store.get(n));
      // The zero-initialised factor of every PEFT pair: this is what makes a fresh model the base.
      const zeroed = peftModel.peftSpecs().filter((sp) => /lora_B|\.up\./.test(sp.name));
      expect(zeroed.length).toBeGreaterThan(0);
      for (const sp of zeroed) expect(peftStore.get(sp.name).data.every((v) => v === 0)).toBe(true);
      const perturbed = peftStore.clone();
      const rng = new Rng(11);
      for (const sp of zeroed) perturbed.set(sp.name, { ...perturbed.get(sp.name), data: Float64Array.from(perturbed.get(sp.name).data, () => 0.2 * rng.normal()) });
      for (const [task, shape] of [['img', [2, 3, 6, 6]], ['vol', [2, 1, 4, 4, 4]]] as const) {
        const x = randomInput([...shape], 3);
        const want = Array.from(logits64(base, store, task, x));
        expect(Array.from(logits64(peftModel, peftStore, task, x))).toEqual(want);
        // The PEFT path is live: with non-zero B/up the same input gives other logits. (The
        // scale itself is pinned by the LoRA-linear test below, not here.)
        const moved = Array.from(logits64(peftModel, perturbed, task, x));
        expect(Math.max(...moved.map((v, i) => Math.abs(v - want[i]!)))).toBeGreaterThan(1e-6);
      }
    });
  }

  for (const lora of [
    { ...DEFAULT_LORA, r: 4, alpha: 8 },
    { ...DEFAULT_LORA, r: 2, alpha: 3, rslora: true },
    { ...DEFAULT_LORA, r: 3, alpha: 5, targets: ['fc1', 'fc2'] as LoraTarget[] },
  ]) {
    const scale = lora.rslora ? lora.alpha / Math.sqrt(lora.r) : lora.alpha / lora.r;
    it(`LoRA (r ${lora.r}, alpha ${lora.alpha}${lora.rslora ? ', rsLoRA' : ''}): every target Linear is x W^T + b + ${scale.toFixed(3)} x A^T B^T`, () => {
      const model = new STMedFM(MINI, miniHeads, lora);
      const store = withRandomPeft(model, ParamStore.init(model.specs(), 21), 22);
      expect(loraScale(lora)).toBe(scale);
      for (const t of lora.targets) {
        const name = `blocks.0.${t}`;
        const W = store.get(`${name}.weight`);
        const [outF, inF] = W.shape as [number, number];
        const x = randomInput([3, inF], 23);
        const g = new Graph('lora');
        const y = model.peftLinear(new ParamBinder(g, store), name, g.input('x', 'float', x.shape));
        const got = interpret(g, { x }, [y])[0]!.data;
        const b = store.get(`${name}.bias`).data;
        const A = store.get(`${name}.lora_A.weight`).data; // [r, in]
        const B = store.get(`${name}.lora_B.weight`).data; // [out, r]
        for (let i = 0; i < 3; i++) {
          for (let o = 0; o < outF; o++) {
            let base = b[o]!;
            for (let k = 0; k < inF; k++) base += x.data[i * inF + k]! * W.data[o * inF + k]!;
            let upd = 0;
            for (let j = 0; j < lora.r; j++) {
              let ax = 0;
              for (let k = 0; k < inF; k++) ax += x.data[i * inF + k]! * A[j * inF + k]!;
              upd += ax * B[o * lora.r + j]!;
            }
            expect(upd).not.toBe(0);
            expect(got[i * outF + o]).toBeCloseTo(base + scale * upd, 12);
          }
        }
      }
      // The whole model applies the same scale: its logits are the plain model's with
      // W + scale * B A folded in (computed here, not by mergeLora).
      const plain = new STMedFM(MINI, miniHeads);
      const folded = store.clone();
      for (const t of lora.targets) {
        const name = `blocks.0.${t}`;
        const W = store.get(`${name}.weight`);
        const [outF, inF] = W.shape as [number, number];
        const A = store.get(`${name}.lora_A.weight`).data;
        const B = store.get(`${name}.lora_B.weight`).data;
        const data = Float64Array.from(W.data);
        for (let o = 0; o < outF; o++) for (let k = 0; k < inF; k++) for (let j = 0; j < lora.r; j++) data[o * inF + k] += scale * B[o * lora.r + j]! * A[j * inF + k]!;
        folded.set(`${name}.weight`, { ...W, data });
      }
      const x = randomInput([2, 3, 6, 6], 24);
      const want = logits64(plain, folded, 'img', x);
      logits64(model, store, 'img', x).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 10));
    });
  }

  /**
   * Where adapters sit, without re-implementing the block: with the sublayer before a slot made
   * to output exactly 0 (its output Linear zeroed) and the adapter's down bias 0, the adapter sees
   * 0 and adds its up bias u. So a model with an adapter at that slot equals the plain model with
   * that sublayer's output bias set to u, whatever the adapter's other weights are. An adapter at
   * the other slot would see a non-zero input and break the equality.
   */
  for (const [placement, slots] of [['pfeiffer', ['ad2']], ['houlsby', ['ad1', 'ad2']]] as const) {
    it(`${placement} adapters sit at ${slots.map((s) => (s === 'ad1' ? 'after the attention' : 'after the MLP')).join(' and ')}`, () => {
      const model = new STMedFM(MINI, miniHeads, { ...DEFAULT_ADAPTER, placement });
      expect([...new Set(model.peftSpecs().map((sp) => sp.name.split('.')[2]))]).toEqual([...slots]);
      const store = withRandomPeft(model, ParamStore.init(model.specs(), 31), 32);
      const sublayerOut = { ad1: 'blocks.0.proj', ad2: 'blocks.0.fc2' } as const;
      const plain = new STMedFM(MINI, miniHeads);
      // Only the base tensors: an adapter tensor in the store would be applied by any model.
      const plainStore = new ParamStore();
      for (const sp of plain.specs()) plainStore.set(sp.name, store.get(sp.name));
      for (const slot of slots) {
        const out = sublayerOut[slot];
        const w = store.get(`${out}.weight`);
        store.set(`${out}.weight`, { ...w, data: new Float64Array(w.data.length) });
        store.set(`${out}.bias`, { ...store.get(`${out}.bias`), data: new Float64Array(store.get(`${out}.bias`).data.length) });
        const db = store.get(`blocks.0.${slot}.down.bias`);
        store.set(`blocks.0.${slot}.down.bias`, { ...db, data: new Float64Array(db.data.length) });
        plainStore.set(`${out}.weight`, store.get(`${out}.weight`));
        plainStore.set(`${out}.bias`, store.get(`blocks.0.${slot}.up.bias`));
      }
      for (const [task, shape] of [['img', [2, 3, 6, 6]], ['vol', [2, 1, 4, 4, 4]]] as const) {
        const x = randomInput([...shape], 33);
        const want = logits64(plain, plainStore, task, x);
        logits64(model, store, task, x).forEach((v, i) => expect(v).toBeCloseTo(want[i]!, 10));
      }
      // The adapters are live: with the sublayers restored, their down weights matter.
      const live = withRandomPeft(model, ParamStore.init(model.specs(), 31), 32);
      const other = withRandomPeft(model, ParamStore.init(model.specs(), 31), 34);
      const x = randomInput([2, 3, 6, 6], 35);
      const a = logits64(model, live, 'img', x);
      const b = logits64(model, other, 'img', x);
      expect(Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i]!)))).toBeGreaterThan(1e-6);
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
