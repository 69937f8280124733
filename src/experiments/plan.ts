/**
 * The runs of a protocol grid in a fixed order, each with its index: first one multi-task
 * pretraining per seed, then every fine-tuning run (seed, task, method, shots, LoRA rank/alpha,
 * adapter width). The index is stable for a given config, so any scheduler can drive one run by
 * index (`stmedfm reproduce --run-index I`).
 */
import type { Method } from '../model/stmedfm.js';
import { taskHead } from '../training/tasks.js';
import { type GridPoint, type ProtocolConfig, runId } from './protocol.js';

export interface PretrainRun {
  kind: 'pretrain';
  index: number;
  id: string;
  seed: number;
  steps: number;
}

export interface FinetuneRun extends GridPoint {
  kind: 'finetune';
  index: number;
  id: string;
  seed: number;
  task: string;
  method: Method;
  steps: number;
  /** The pretraining run it starts from (full, lora, adapter). */
  pretrainId: string | null;
}

export type PlannedRun = PretrainRun | FinetuneRun;

export const pretrainId = (seed: number) => `pretrain-s${seed}`;

export const needsPretrain = (m: Method) => m !== 'scratch' && m !== 'scratch-weighted';

export function planRuns(p: ProtocolConfig): PlannedRun[] {
  const runs: PlannedRun[] = [];
  if (p.methods.some(needsPretrain)) {
    for (const seed of p.seeds) runs.push({ kind: 'pretrain', index: runs.length, id: pretrainId(seed), seed, steps: p.pretrainSteps });
  }
  for (const seed of p.seeds) {
    for (const task of p.tasks) {
      const head = taskHead(task);
      const steps = head.modality === '2d' ? p.finetuneSteps2d : p.finetuneSteps3d;
      for (const method of p.methods) {
        for (const shots of p.shots) {
          const peft: Omit<GridPoint, 'shots'>[] =
            method === 'lora'
              ? p.loraRank.flatMap((r) => p.loraAlpha.map((a) => ({ loraRank: r, loraAlpha: a, adapterWidth: null })))
              : method === 'adapter'
                ? p.adapterWidth.map((w) => ({ loraRank: null, loraAlpha: null, adapterWidth: w }))
                : [{ loraRank: null, loraAlpha: null, adapterWidth: null }];
          for (const g of peft) {
            const point = { shots, ...g };
            runs.push({
              kind: 'finetune',
              index: runs.length,
              id: runId(p, head.name, method, seed, point),
              seed,
              task: head.name,
              method,
              steps,
              pretrainId: needsPretrain(method) ? pretrainId(seed) : null,
              ...point,
            });
          }
        }
      }
    }
  }
  return runs;
}
