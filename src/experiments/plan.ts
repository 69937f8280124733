/**
 * The runs of a protocol grid in a fixed order, each with its index: first one multi-task
 * pretraining per image size and seed, then every fine-tuning run (image size, seed, task, method,
 * shots, LoRA rank/alpha, adapter width), each starting from the pretraining of its size and seed.
 * Without an image-size axis (28 px only) runs carry no size, so the plan is what it always was. The index is stable for a given config, so any scheduler can drive one run by
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
  /** 2D image size of this pretraining (only in protocols with an image-size axis). */
  imageSize?: number;
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
  /** 2D image size of its data and model (only in protocols with an image-size axis). */
  imageSize?: number;
}

export type PlannedRun = PretrainRun | FinetuneRun;

export const pretrainId = (seed: number, imageSize?: number) => (imageSize === undefined ? `pretrain-s${seed}` : `pretrain-${imageSize}px-s${seed}`);

/** A run's 2D image size: 28 unless the protocol has an image-size axis. */
export const runImageSize = (run: PlannedRun): number => run.imageSize ?? 28;

export const needsPretrain = (m: Method) => m !== 'scratch' && m !== 'scratch-weighted';

export function planRuns(p: ProtocolConfig): PlannedRun[] {
  const runs: PlannedRun[] = [];
  // undefined: no image-size axis (the run records and ids stay as they were before it existed)
  const sizes: (number | undefined)[] = p.imageSizes ?? [undefined];
  const sized = (s: number | undefined) => (s === undefined ? {} : { imageSize: s });
  if (p.methods.some(needsPretrain)) {
    for (const size of sizes) {
      for (const seed of p.seeds) runs.push({ kind: 'pretrain', index: runs.length, id: pretrainId(seed, size), seed, steps: p.pretrainSteps, ...sized(size) });
    }
  }
  for (const size of sizes) for (const seed of p.seeds) {
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
              id: runId(p, head.name, method, seed, point, size),
              seed,
              task: head.name,
              method,
              steps,
              pretrainId: needsPretrain(method) ? pretrainId(seed, size) : null,
              ...point,
              ...sized(size),
            });
          }
        }
      }
    }
  }
  return runs;
}
