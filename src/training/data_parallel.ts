/**
 * Data-parallel training steps (issue 11 item 6): the batch of every task is cut into equal
 * shards, one per replica; each replica computes the gradient of its shard's loss and the
 * leader applies AdamW once to their sum (engine/runtime/data_parallel.ts).
 *
 * For the sum to be the whole batch's gradient exactly, each shard's loss is its mean times
 * `loss_scale_<task>` = (the shard's normaliser) / (the whole batch's): for a class-weighted
 * cross-entropy the sum of w[y_i] over the shard's samples, for the plain mean (all weights one)
 * the shard's sample count, for the multi-label BCE (a mean over samples x labels) the shard's
 * element count. Then sum_k f_k mean_k = sum over the batch / batch normaliser = the batch loss.
 */
import { type GradientGraphSpec, buildGradientGraph, buildUpdateGraph, type OptimizerConfig, type TrainingGraph } from '../engine/optim/train_graph.js';
import type { Graph } from '../engine/ir/graph.js';
import type { HostTensor } from '../engine/ir/tensor.js';
import { type ShardFeeds, dataParallelAvailable } from '../engine/runtime/data_parallel.js';
import { ortModule } from '../engine/runtime/ort.js';
import { type Feed, isOrtTensor } from '../engine/runtime/tensors.js';
import type { ParamStore } from '../model/params.js';
import type { STMedFM } from '../model/stmedfm.js';
import { buildLossGraph, type TaskBatch } from './graphs.js';

/**
 * How many replicas a run uses: `threads` (each replica one intra-op thread) when every task's
 * batch splits evenly into that many shards, else the largest count below that does; 1 (one
 * session with `threads` intra-op threads) when off, when none does, or where the platform
 * has no replica threads (the browser) or turns them off (STMEDFM_DATA_PARALLEL=0).
 */
export function dataParallelReplicas(threads: number, batchSizes: readonly number[], enabled = true): number {
  if (!enabled || threads < 2 || !dataParallelAvailable()) return 1;
  for (let r = threads; r >= 2; r--) if (batchSizes.every((b) => b % r === 0)) return r;
  return 1;
}

export interface DataParallelStep {
  gradient: { graph: Graph; spec: GradientGraphSpec };
  update: TrainingGraph;
  shard: ShardFeeds;
  /** Graph input names per task, as `buildLossGraph` reports them. */
  inputNames: Map<string, { x: string; y: string; w?: string; scale?: string }>;
}

/**
 * The gradient graph of one shard (each task's batch divided by `replicas`) and the update
 * graph over `replicas` gradients, with the optimizer and decay mask of a single-session step.
 * The gradient graph's per-task losses (`loss_<task>`) are summed over shards like the loss.
 */
export function buildDataParallelStep(
  model: STMedFM,
  store: ParamStore,
  trainable: ReadonlySet<string>,
  batches: readonly TaskBatch[],
  replicas: number,
  opts: { decay: (param: string) => boolean; optimizer: OptimizerConfig },
): DataParallelStep {
  for (const b of batches) {
    if (b.batchSize % replicas !== 0) throw new Error(`data-parallel step: the batch of ${b.task} (${b.batchSize}) does not split into ${replicas} equal shards`);
  }
  const shardBatches = batches.map((b) => ({ ...b, batchSize: b.batchSize / replicas }));
  const lg = buildLossGraph(model, store, trainable, shardBatches, 'train_shard', { lossScales: true });
  const params = [...lg.binder.trainableInputs.values()];
  const sums = batches.length > 1 ? Object.fromEntries([...lg.taskLosses].map(([t, v]) => [`loss_${t}`, v])) : {};
  const gradient = buildGradientGraph(lg.graph, { loss: lg.loss, params, sums });
  const update = buildUpdateGraph(gradient.spec, replicas, { decay: opts.decay, optimizer: opts.optimizer });
  return { gradient, update, shard: shardTaskFeeds(model, batches, lg.inputNames), inputNames: lg.inputNames };
}

/** Rows [from, to) of a tensor along its first axis (a view where the data allows). */
function rows(t: Feed, from: number, to: number): Feed {
  if (isOrtTensor(t)) {
    const per = t.size / t.dims[0]!;
    const dims = [to - from, ...t.dims.slice(1)];
    const Tensor = ortModule().Tensor;
    switch (t.type) {
      case 'float32':
        return new Tensor('float32', (t.data as Float32Array).subarray(from * per, to * per), dims);
      case 'float64':
        return new Tensor('float64', (t.data as Float64Array).subarray(from * per, to * per), dims);
      case 'int64':
        return new Tensor('int64', (t.data as BigInt64Array).subarray(from * per, to * per), dims);
      default:
        throw new Error(`data-parallel step: cannot shard a ${t.type} tensor`);
    }
  }
  const per = t.data.length / t.shape[0]!;
  return { dtype: t.dtype, shape: [to - from, ...t.shape.slice(1)], data: t.data.subarray(from * per, to * per) };
}

const values = (t: Feed): ArrayLike<number | bigint> => (isOrtTensor(t) ? (t.data as ArrayLike<number | bigint>) : (t as HostTensor).data);

/** Cuts each task's images and labels into equal shards and computes each shard's loss factor. */
export function shardTaskFeeds(model: STMedFM, batches: readonly TaskBatch[], inputNames: ReadonlyMap<string, { x: string; y: string; w?: string; scale?: string }>): ShardFeeds {
  return (feeds, parts) => {
    const out: Record<string, Feed>[] = Array.from({ length: parts }, () => ({}));
    for (const b of batches) {
      const names = inputNames.get(b.task)!;
      const x = feeds[names.x];
      const y = feeds[names.y];
      if (!x || !y) throw new Error(`data-parallel step: no images or labels fed for ${b.task} ('${names.x}', '${names.y}')`);
      const per = b.batchSize / parts;
      // The normaliser of each sample: its class weight (single-label), or one (multi-label: every sample has the same number of labels).
      const w = names.w ? feeds[names.w] : undefined;
      if (names.w && !w) throw new Error(`data-parallel step: no class weights fed for ${b.task} ('${names.w}')`);
      const weightOf = (i: number): number => {
        if (!w) return 1;
        const label = Number(values(y)[i]!);
        return Number(values(w)[label]!);
      };
      const norms = Array.from({ length: parts }, (_, k) => {
        let s = 0;
        for (let i = k * per; i < (k + 1) * per; i++) s += weightOf(i);
        return s;
      });
      const total = norms.reduce((a, c) => a + c, 0);
      norms.forEach((n, k) => {
        if (n === 0 && total !== 0) {
          // A shard whose samples all weigh zero has a 0/0 mean; the whole batch's loss is defined, so refuse rather than feed NaN.
          throw new Error(`data-parallel step: a shard of ${b.task} has only zero-weight samples; turn data parallelism off (STMEDFM_DATA_PARALLEL=0) for zero class weights`);
        }
        const shard = out[k]!;
        shard[names.x] = rows(x, k * per, (k + 1) * per);
        shard[names.y] = rows(y, k * per, (k + 1) * per);
        if (names.w) shard[names.w] = w!;
        shard[names.scale!] = { dtype: 'float', shape: [], data: Float64Array.of(total === 0 ? 0 : n / total) };
      });
    }
    return out;
  };
}
