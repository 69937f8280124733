/**
 * Graph construction for training and evaluation. A training graph holds one batch per task;
 * tasks of the same modality share one pass through the stem and encoder (their batches are
 * concatenated, the features split again per head), which is the same math as separate passes
 * (every op is per-sample) with fewer, larger kernels.
 */
import { Graph, type Value } from '../engine/ir/graph.js';
import * as op from '../engine/ops/index.js';
import type { Modality } from '../model/config.js';
import { ParamBinder } from '../model/binder.js';
import type { ParamStore } from '../model/params.js';
import type { STMedFM } from '../model/stmedfm.js';

export interface TaskBatch {
  task: string;
  batchSize: number;
  /**
   * Class weights w_c for a weighted cross-entropy (scratch-weighted). They are fed per step
   * through the graph input `class_weights_<task>` (all ones when absent), so they do not change
   * the graph: scratch, scratch-weighted and full fine-tuning of a task compile to the same bytes.
   */
  classWeights?: readonly number[];
}

export interface LossGraph {
  graph: Graph;
  binder: ParamBinder;
  loss: Value;
  taskLosses: Map<string, Value>;
  logits: Map<string, Value>;
  /**
   * Graph input names of each task's images, labels, (single-label tasks) class weights [K] and
   * (with `lossScales`) the scalar factor of its loss.
   */
  inputNames: Map<string, { x: string; y: string; w?: string; scale?: string }>;
}

export function inputShape(model: STMedFM, modality: Modality): number[] {
  const c = model.config;
  return modality === '2d'
    ? [c.stem2d.inChannels, c.stem2d.imageSize, c.stem2d.imageSize]
    : [c.stem3d.inChannels, c.stem3d.volumeSize, c.stem3d.volumeSize, c.stem3d.volumeSize];
}

export interface LossGraphOptions {
  /**
   * Each task's loss times a scalar input `loss_scale_<task>`. A data-parallel step runs the
   * graph on shards of the batch; a shard's (weighted) mean times (its normaliser / the whole
   * batch's) makes the shards' losses, and so their gradients, sum to the whole batch's.
   */
  lossScales?: boolean;
}

/**
 * Sum over tasks of the per-task mean cross-entropy (softmax heads) or mean binary cross-entropy
 * over all labels (multi-label heads); `trainable` names become graph inputs. Single-label tasks
 * take their class weights as an input (the weighted mean of PyTorch's cross_entropy; with all
 * ones it is the plain mean).
 */
export function buildLossGraph(
  model: STMedFM,
  store: ParamStore,
  trainable: ReadonlySet<string>,
  batches: readonly TaskBatch[],
  name = 'train',
  opts: LossGraphOptions = {},
): LossGraph {
  const graph = new Graph(name);
  const binder = new ParamBinder(graph, store, trainable);
  const inputNames = new Map<string, { x: string; y: string; w?: string; scale?: string }>();
  const xs = new Map<string, Value>();
  const ys = new Map<string, Value>();
  const ws = new Map<string, Value>();
  for (const b of batches) {
    const m = model.head(b.task).modality;
    if (!Number.isInteger(b.batchSize) || b.batchSize < 1) throw new Error(`batch size for ${b.task} must be a positive integer, got ${b.batchSize}`);
    const head = model.head(b.task);
    if (b.classWeights && head.multiLabel) throw new Error(`class weights are for single-label tasks; ${b.task} is multi-label`);
    const names = {
      x: `x_${b.task}`,
      y: `y_${b.task}`,
      ...(head.multiLabel ? {} : { w: `class_weights_${b.task}` }),
      ...(opts.lossScales ? { scale: `loss_scale_${b.task}` } : {}),
    };
    xs.set(b.task, graph.input(names.x, 'float', [b.batchSize, ...inputShape(model, m)]));
    // Class ids for a softmax head; 0/1 targets [B, labels] for a multi-label head.
    ys.set(b.task, head.multiLabel ? graph.input(names.y, 'float', [b.batchSize, head.numClasses]) : graph.input(names.y, 'int64', [b.batchSize]));
    // An input, not a constant: the weights (ones for an unweighted run) are data, the graph stays the same.
    if (names.w) ws.set(b.task, graph.input(names.w, 'float', [head.numClasses]));
    inputNames.set(b.task, names);
  }
  const logits = new Map<string, Value>();
  for (const m of ['2d', '3d'] as const) {
    const group = batches.filter((b) => model.head(b.task).modality === m);
    if (!group.length) continue;
    const x = group.length === 1 ? xs.get(group[0]!.task)! : op.concat(group.map((b) => xs.get(b.task)!), 0);
    const feats = model.encode(binder, model.stem(binder, x, m));
    let start = 0;
    for (const b of group) {
      const f = group.length === 1 ? feats : op.slice(feats, { starts: [start], ends: [start + b.batchSize], axes: [0] });
      start += b.batchSize;
      logits.set(b.task, model.classify(binder, f, b.task));
    }
  }
  const taskLosses = new Map<string, Value>();
  let loss: Value | undefined;
  for (const b of batches) {
    const mean = model.head(b.task).multiLabel
      ? op.sigmoidBinaryCrossEntropy(logits.get(b.task)!, ys.get(b.task)!)
      : op.softmaxCrossEntropy(logits.get(b.task)!, ys.get(b.task)!, { classWeights: ws.get(b.task)! });
    const scale = inputNames.get(b.task)!.scale;
    const l = scale ? op.mul(mean, graph.input(scale, 'float', [])) : mean;
    taskLosses.set(b.task, l);
    loss = loss ? op.add(loss, l) : l;
  }
  if (!loss) throw new Error('a training graph needs at least one task');
  return { graph, binder, loss, taskLosses, logits, inputNames };
}

/**
 * What a task's `class_weights_<task>` input is fed: its class weights, or all ones (the plain
 * mean) when it has none; undefined for a multi-label task, which has no such input.
 */
export function classWeightsFeed(model: STMedFM, b: TaskBatch): Float32Array | undefined {
  const head = model.head(b.task);
  if (head.multiLabel) return undefined;
  if (!b.classWeights) return new Float32Array(head.numClasses).fill(1);
  if (b.classWeights.length !== head.numClasses) throw new Error(`class weights of ${b.task}: ${b.classWeights.length} values for ${head.numClasses} classes`);
  return Float32Array.from(b.classWeights);
}

/**
 * Inference graph of one task: x [batch, ...] -> logits and probabilities (softmax, or sigmoid per
 * label for a multi-label head), all weights as initializers. With a `temperature` T the
 * probabilities are those of logits / T (calibrated); the logits output stays raw.
 */
export function buildForwardGraph(model: STMedFM, store: ParamStore, task: string, batch: number | string = 'batch', temperature?: number): { graph: Graph; input: string } {
  if (temperature !== undefined && !(temperature > 0 && Number.isFinite(temperature))) throw new Error(`buildForwardGraph: temperature must be a positive number, got ${temperature}`);
  const graph = new Graph(`stmedfm_${task}`);
  const binder = new ParamBinder(graph, store);
  const m = model.head(task).modality;
  const x = graph.input('x', 'float', [batch, ...inputShape(model, m)]);
  const logits = model.logits(binder, x, task);
  graph.output('logits', logits);
  const scaled = temperature === undefined ? logits : op.div(logits, temperature);
  graph.output('probabilities', model.head(task).multiLabel ? op.sigmoid(scaled) : op.softmax(scaled, -1));
  return { graph, input: 'x' };
}
