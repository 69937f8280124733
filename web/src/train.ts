/**
 * Fine-tuning in the tab: the library's own `finetune` and `evaluate` (graph builder, autodiff,
 * AdamW step graph, Predictor) on a dropped MedMNIST-style .npz or a dropped folder with one
 * subfolder per class (made into the same .npz `stmedfm data import` writes), run by onnxruntime-web.
 */
import { type TaskData, NpzFile, datasetFromFileName, taskDataOf } from '../../src/data/index.js';
import { adapterFiles } from '../../src/inference/adapter.js';
import type { LoadedModel } from '../../src/training/checkpoint.js';
import type { StepLog } from '../../src/training/trainer.js';
import { type EvaluationResult, type TrainedModel, evaluate, finetune } from '../../src/training/workflows.js';
import { type Dropped, readClassFolders } from './folder.js';
import { PageError } from './model.js';

export interface TrainRequest {
  base: LoadedModel;
  /** One .npz, or the files of one class folder tree (paths `root/class/file`). */
  files: readonly Dropped[];
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
  /** What the data needed to say (class folders: mapping, missing classes, split sizes). */
  notes: string[];
  /** Class folders: the .npz `stmedfm data import` writes for them. */
  npz?: Uint8Array;
  eval: EvaluationResult;
  stepsPerSecond: number;
  files: { weights: Uint8Array; config: string };
}

export async function readTrainingData(files: readonly Dropped[], fallbackTask: string): Promise<{ task: string; data: TaskData; notes: string[]; npz?: Uint8Array }> {
  if (!files.length) throw new PageError('the drop holds no files');
  if (files.some((f) => f.path.includes('/'))) {
    const d = await readClassFolders(files, fallbackTask);
    return { task: d.task, data: d.data, notes: [...d.notes, `train/val/test ${d.counts.train}/${d.counts.val}/${d.counts.test} images (stratified 70/10/20, seed 0, as stmedfm data import)`], npz: d.npz };
  }
  const fileName = files[0]!.file.name;
  if (files.length > 1 || !fileName.toLowerCase().endsWith('.npz')) {
    throw new PageError(`${fileName}: training data is a MedMNIST-style .npz ({train,val,test}_{images,labels}) or a folder with one subfolder of PNG/JPEG images per class`);
  }
  const bytes = new Uint8Array(await files[0]!.file.arrayBuffer());
  const task = datasetFromFileName(fileName) ?? fallbackTask;
  try {
    return { task, data: taskDataOf(task, NpzFile.parse(bytes, fileName), fileName), notes: [] };
  } catch (e) {
    throw new PageError((e as Error).message);
  }
}

export async function fineTuneInTab(r: TrainRequest): Promise<TrainOutcome> {
  const { task, data, notes, npz } = await readTrainingData(r.files, r.fallbackTask);
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
  return { trained, task, notes, ...(npz ? { npz } : {}), eval: ev, stepsPerSecond: trained.result.stepsDone / trained.result.seconds, files: adapterFiles(trained, task) };
}
