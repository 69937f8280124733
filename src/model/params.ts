/**
 * Parameters by PyTorch state-dict name, with their shapes, initialisers and weight-decay flag.
 * Initialisers follow PyTorch's defaults so that training behaves like the reference.
 */
import type { HostTensor } from '../engine/ir/tensor.js';
import { Rng } from '../util/rng.js';

export type Init =
  /** PyTorch's Linear/Conv default: kaiming_uniform(a=sqrt(5)) = U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
  | { kind: 'fanInUniform'; fanIn: number }
  | { kind: 'normal'; std: number }
  | { kind: 'const'; value: number };

export interface ParamSpec {
  name: string;
  shape: number[];
  init: Init;
  /** AdamW weight decay applies (weight matrices and conv kernels only). */
  decay: boolean;
}

export function numelOf(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function initTensor(spec: ParamSpec, rng: Rng): HostTensor {
  const n = numelOf(spec.shape);
  const data = new Float64Array(n);
  const init = spec.init;
  if (init.kind === 'fanInUniform') {
    const bound = 1 / Math.sqrt(init.fanIn);
    for (let i = 0; i < n; i++) data[i] = rng.uniform(-bound, bound);
  } else if (init.kind === 'normal') {
    for (let i = 0; i < n; i++) data[i] = init.std * rng.normal();
  } else {
    data.fill(init.value);
  }
  // Rounded to float32 once, so the float64 oracle and ONNX Runtime start from identical values.
  return { dtype: 'float', shape: [...spec.shape], data: Float64Array.from(Float32Array.from(data)) };
}

/** Named parameter tensors (a state dict). */
export class ParamStore {
  readonly tensors = new Map<string, HostTensor>();

  static init(specs: readonly ParamSpec[], seed: number): ParamStore {
    const store = new ParamStore();
    // One stream per (seed, name) keeps a tensor's init independent of which other parameters exist.
    for (const s of specs) store.tensors.set(s.name, initTensor(s, new Rng((hashName(s.name) ^ Math.imul(seed + 1, 0x9e3779b1)) >>> 0)));
    return store;
  }

  get(name: string): HostTensor {
    const t = this.tensors.get(name);
    if (!t) throw new Error(`parameter '${name}' is not in the state dict`);
    return t;
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  set(name: string, t: HostTensor): void {
    this.tensors.set(name, t);
  }

  names(): string[] {
    return [...this.tensors.keys()];
  }

  clone(): ParamStore {
    const s = new ParamStore();
    for (const [k, v] of this.tensors) s.tensors.set(k, { ...v, shape: [...v.shape], data: Float64Array.from(v.data) });
    return s;
  }
}

export function hashName(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}
