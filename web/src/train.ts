/**
 * Fine-tuning in the tab: the library's own `finetune` and `evaluate` (graph builder, autodiff,
 * AdamW step graph, Predictor) on a dropped MedMNIST-style .npz, run by onnxruntime-web.
 */
import { type TaskData, NpzFile, datasetFromFileName, taskDataOf } from '../../src/data/index.js';
import { adapterFiles } from '../../src/inference/adapter.js';
import type { LoadedModel } from '../../src/training/checkpoint.js';
import type { StepLog } from '../../src/training/trainer.js';
import { type EvaluationResult, type TrainedModel, evaluate, finetune } from '../../src/training/workflows.js';
import { PageError } from './model.js';

export interface TrainRequest {
  base: LoadedModel;
  fileName: string;
  bytes: Uint8Array;
  /** Task when the file name does not say (the loaded model's task). */
  fallbackTask: string;
  method: 'lora' | 'adapter';
  steps: number;
  batch: number;
  lr: number;
  threads: number;
  onStep: (log: StepLog) => void;
}

export interface TrainOutcome {
  trained: TrainedModel;
  task: string;
  eval: EvaluationResult;
  stepsPerSecond: number;
  files: { weights: Uint8Array; config: string };
}

export function readTrainingData(fileName: string, bytes: Uint8Array, fallbackTask: string): { task: string; data: TaskData } {
  if (!fileName.toLowerCase().endsWith('.npz')) {
    throw new PageError(`${fileName}: training data must be a MedMNIST-style .npz ({train,val,test}_{images,labels}); class folders need the import module, which this build does not have yet`);
  }
  const task = datasetFromFileName(fileName) ?? fallbackTask;
  try {
    return { task, data: taskDataOf(task, NpzFile.parse(bytes, fileName), fileName) };
  } catch (e) {
    throw new PageError((e as Error).message);
  }
}

export async function fineTuneInTab(r: TrainRequest): Promise<TrainOutcome> {
  const { task, data } = readTrainingData(r.fileName, r.bytes, r.fallbackTask);
  if (r.base.model.peft) throw new PageError('fine-tuning starts from a plain checkpoint; this one already carries an adapter');
  const loaded = new Map([[task, data]]);
  const trained = await finetune({
    task,
    method: r.method,
    from: r.base,
    loaded,
    steps: r.steps,
    batch2d: r.batch,
    batch3d: r.batch,
    threads: r.threads,
    optim: { lr: r.lr, warmup: Math.min(5, r.steps) },
    onStep: r.onStep,
  });
  const ev = await evaluate(trained, { task, split: 'test', loaded, threads: r.threads });
  return { trained, task, eval: ev, stepsPerSecond: trained.result.stepsDone / trained.result.seconds, files: adapterFiles(trained, task) };
}
