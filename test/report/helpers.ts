import type { ResultRow } from '../../src/experiments/types.js';
import type { Method } from '../../src/model/stmedfm.js';

/** A result row with neutral values; tests override what they check. */
export function row(task: string, method: Method, seed: number, over: Partial<ResultRow> = {}): ResultRow {
  return {
    task,
    method,
    seed,
    shots: null,
    lora_rank: method === 'lora' ? 4 : null,
    lora_alpha: method === 'lora' ? 8 : null,
    adapter_width: method === 'adapter' ? 8 : null,
    trainable_params: method === 'lora' ? 3_657 : method === 'adapter' ? 4_969 : 137_673,
    steps: 120,
    train_seconds: 10,
    acc: 0.5,
    auroc: 0.8,
    ece: 0.1,
    classwise_ece: 0.03,
    brier: 0.6,
    nll: 1.2,
    temperature: 1.5,
    ece_ts: 0.05,
    brier_ts: 0.58,
    nll_ts: 1.1,
    val_acc: 0.5,
    val_auroc: 0.8,
    threads: 1,
    data_parallel_replicas: 1,
    run_key: `${task}-${method}-s${seed}`,
    ...over,
  };
}
