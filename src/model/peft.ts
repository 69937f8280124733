/**
 * Parameter-efficient fine-tuning as wrappers selected by target names (peft-style): the base
 * layers stay as they are; LoRA adds a scaled low-rank update to chosen Linear layers, bottleneck
 * adapters add a residual MLP after the attention and/or the MLP of each block. Configs are plain
 * data and are saved beside the adapter weights.
 */
import { ModelError } from './errors.js';
export type LoraTarget = 'qkv' | 'proj' | 'fc1' | 'fc2';

export interface LoraConfig {
  kind: 'lora';
  r: number;
  alpha: number;
  /** rsLoRA: scale alpha / sqrt(r) instead of alpha / r. */
  rslora: boolean;
  targets: LoraTarget[];
  dropout: number;
}

export interface AdapterConfig {
  kind: 'adapter';
  /** houlsby: after the attention projection and after the MLP; pfeiffer: after the MLP only. */
  placement: 'houlsby' | 'pfeiffer';
  bottleneck: number;
}

export type PeftConfig = LoraConfig | AdapterConfig;

export const DEFAULT_LORA: LoraConfig = { kind: 'lora', r: 4, alpha: 8, rslora: false, targets: ['qkv', 'proj'], dropout: 0 };
export const DEFAULT_ADAPTER: AdapterConfig = { kind: 'adapter', placement: 'houlsby', bottleneck: 8 };

/** The scale applied to B(A x): alpha / r, or alpha / sqrt(r) with rsLoRA (peft's `scaling`). The only definition. */
export function loraScale(c: Pick<LoraConfig, 'r' | 'alpha' | 'rslora'>): number {
  return c.rslora ? c.alpha / Math.sqrt(c.r) : c.alpha / c.r;
}

/** Adapter slots of one block: ad1 after the attention projection, ad2 after the MLP. */
export function adapterSlots(c: AdapterConfig): ('ad1' | 'ad2')[] {
  return c.placement === 'houlsby' ? ['ad1', 'ad2'] : ['ad2'];
}

export function validatePeft(c: PeftConfig): void {
  const bad = (m: string) => {
    throw new ModelError(`invalid ${c.kind} config: ${m}`);
  };
  if (c.kind === 'lora') {
    if (!Number.isInteger(c.r) || c.r <= 0) bad(`r must be a positive integer, got ${c.r}`);
    if (!(c.alpha > 0)) bad(`alpha must be positive, got ${c.alpha}`);
    if (c.dropout !== 0) bad(`dropout ${c.dropout} is not supported (training graphs are deterministic); use 0`);
    if (c.targets.length === 0) bad('targets is empty; choose from qkv, proj, fc1, fc2');
    for (const t of c.targets) if (!['qkv', 'proj', 'fc1', 'fc2'].includes(t)) bad(`unknown target '${t}'; choose from qkv, proj, fc1, fc2`);
  } else {
    if (!Number.isInteger(c.bottleneck) || c.bottleneck <= 0) bad(`bottleneck must be a positive integer, got ${c.bottleneck}`);
    if (!['houlsby', 'pfeiffer'].includes(c.placement)) bad(`placement must be houlsby or pfeiffer, got '${c.placement}'`);
  }
}
