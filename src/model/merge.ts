/** LoRA merging: W <- W + scale * B A, so the exported model is a plain STMedFM. */
import type { HostTensor } from '../engine/ir/tensor.js';
import { ParamStore } from './params.js';
import { loraScale } from './peft.js';
import type { STMedFM } from './stmedfm.js';

function addLowRank(w: HostTensor, a: HostTensor, b: HostTensor, scale: number, sign: 1 | -1): HostTensor {
  const [outF, inF] = w.shape as [number, number];
  const r = a.shape[0]!;
  if (a.shape[1] !== inF || b.shape[0] !== outF || b.shape[1] !== r) {
    throw new Error(`LoRA shapes do not fit: W [${w.shape}], A [${a.shape}], B [${b.shape}]`);
  }
  const out = Float64Array.from(w.data);
  for (let o = 0; o < outF; o++) {
    for (let i = 0; i < inF; i++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += b.data[o * r + k]! * a.data[k * inF + i]!;
      out[o * inF + i] += sign * scale * s;
    }
  }
  return { dtype: 'float', shape: [...w.shape], data: out };
}

/** A state dict with every LoRA update folded into its base weight and the lora_* tensors removed. */
export function mergeLora(model: STMedFM, store: ParamStore): ParamStore {
  const p = model.peft;
  if (p?.kind !== 'lora') return store.clone();
  const merged = new ParamStore();
  const scale = loraScale(p);
  for (const name of store.names()) {
    if (name.includes('.lora_')) continue;
    const base = name.replace(/\.weight$/, '');
    const a = store.tensors.get(`${base}.lora_A.weight`);
    const t = store.get(name);
    merged.set(name, a ? addLowRank(t, a, store.get(`${base}.lora_B.weight`), scale, 1) : { ...t, data: Float64Array.from(t.data) });
  }
  return merged;
}

/** Inverse of mergeLora given the adapter tensors: recovers the base weights. */
export function unmergeLora(model: STMedFM, merged: ParamStore, adapters: ParamStore): ParamStore {
  const p = model.peft;
  if (p?.kind !== 'lora') return merged.clone();
  const out = merged.clone();
  const scale = loraScale(p);
  for (const name of adapters.names()) {
    if (!name.endsWith('.lora_A.weight')) continue;
    const base = name.replace(/\.lora_A\.weight$/, '');
    out.set(`${base}.weight`, addLowRank(merged.get(`${base}.weight`), adapters.get(name), adapters.get(`${base}.lora_B.weight`), scale, -1));
    out.set(name, adapters.get(name));
    out.set(`${base}.lora_B.weight`, adapters.get(`${base}.lora_B.weight`));
  }
  return out;
}
