/** Exact parameter counts per part, task and method (what `stmedfm info` prints). */
import type { ModelConfig, TaskHead } from './config.js';
import { DEFAULT_ADAPTER, DEFAULT_LORA, type AdapterConfig, type LoraConfig } from './peft.js';
import { type Method, METHODS, STMedFM, countParams } from './stmedfm.js';

export interface ParamCounts {
  stem2d: number;
  stem3d: number;
  encoder: number;
  heads: Record<string, number>;
  /** Trainable parameters per task and method. */
  trainable: Record<string, Record<Method, number>>;
}

export function parameterCounts(
  config: ModelConfig,
  heads: readonly TaskHead[],
  lora: LoraConfig = DEFAULT_LORA,
  adapter: AdapterConfig = DEFAULT_ADAPTER,
): ParamCounts {
  const base = new STMedFM(config, heads);
  const withLora = new STMedFM(config, heads, lora);
  const withAdapter = new STMedFM(config, heads, adapter);
  const trainable: ParamCounts['trainable'] = {};
  for (const h of heads) {
    const row = {} as Record<Method, number>;
    for (const m of METHODS) {
      const model = m === 'lora' ? withLora : m === 'adapter' ? withAdapter : base;
      row[m] = countParams(model.trainableSpecs(h.name, m));
    }
    trainable[h.name] = row;
  }
  return {
    stem2d: countParams(base.stemSpecs('2d')),
    stem3d: countParams(base.stemSpecs('3d')),
    encoder: countParams(base.encoderSpecs()),
    heads: Object.fromEntries(heads.map((h) => [h.name, countParams(base.headSpecs(h.name))])),
    trainable,
  };
}
