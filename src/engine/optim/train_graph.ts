/**
 * Assembles a training step graph: gradients of the loss, an optimizer section, and outputs
 * declared so that `TrainingSession` can carry parameters and optimizer state between runs.
 */
import { grad } from '../autodiff.js';
import { GraphBuildError } from '../ir/errors.js';
import { Graph, type Value } from '../ir/graph.js';
import { numel, staticShape } from '../ir/shape.js';
import { sum } from '../ops/binary.js';
import { reshape, split } from '../ops/shape_ops.js';
import type { CarriedSpec, TrainingSpec } from '../runtime/training.js';
import { type AdamWHyper, adamw, adamwFlat, flatten } from './adamw.js';
import { type SgdHyper, sgd } from './sgd.js';
import type { ParamUpdate } from './types.js';

export type OptimizerConfig = { kind: 'adamw'; hp?: AdamWHyper } | { kind: 'sgd'; hp?: SgdHyper };

export interface TrainingGraphOptions {
  /** Scalar loss of the graph. */
  loss: Value;
  /** Trainable parameters (graph inputs); everything frozen should be a constant. */
  params: readonly Value[];
  /** Which parameters get weight decay (default: rank >= 2, i.e. weight matrices and conv kernels). */
  decay?: (param: Value) => boolean;
  /** Default AdamW with PyTorch's defaults except weight decay 0.05. */
  optimizer?: OptimizerConfig;
  /** Extra outputs (e.g. logits) returned on request by `TrainingSession.step`. */
  outputs?: Readonly<Record<string, Value>>;
  /** Also output each gradient as `<param>.grad` (for checks; ONNX Runtime computes them anyway). */
  outputGrads?: boolean;
  /** Names of the scalar inputs created here (default 'lr' and 'step'). */
  lrName?: string;
  stepName?: string;
  /** Name of the loss output (default 'loss'). */
  lossName?: string;
}

export interface TrainingGraph {
  graph: Graph;
  spec: TrainingSpec;
  lr: Value;
  step: Value;
  updates: ParamUpdate[];
  grads: Value[];
}

/** Output name of a carried tensor's next value. */
export const nextName = (input: string): string => `${input}.next`;

export function buildTrainingGraph(graph: Graph, opts: TrainingGraphOptions): TrainingGraph {
  const { loss, params } = opts;
  checkLoss(graph, loss, params, 'buildTrainingGraph');
  const lr = graph.input(opts.lrName ?? 'lr', 'float', []);
  const step = graph.input(opts.stepName ?? 'step', 'float', []);
  const grads = graph.scope('backward', () => grad(loss, params));
  const lossName = opts.lossName ?? 'loss';
  graph.output(lossName, loss);
  const { updates, carried } = optimizerSection(graph, params, grads, opts, lr, step);
  for (const [name, v] of Object.entries(opts.outputs ?? {})) graph.output(name, v);
  if (opts.outputGrads) params.forEach((p, i) => graph.output(gradName(p.name), grads[i]!));
  return { graph, spec: { carried, loss: lossName, lr: lr.name, step: step.name }, lr, step, updates, grads };
}

function checkLoss(graph: Graph, loss: Value, params: readonly Value[], what: string): void {
  if (loss.graph !== graph) throw new GraphBuildError(`${what}: the loss belongs to another graph`);
  if (params.length === 0) throw new GraphBuildError(`${what}: no trainable parameters`);
}

/** The optimizer over `params` with gradients `grads`, its next values declared as outputs. */
function optimizerSection(
  graph: Graph,
  params: readonly Value[],
  grads: readonly Value[],
  opts: Pick<TrainingGraphOptions, 'decay' | 'optimizer'>,
  lr: Value,
  step: Value,
): { updates: ParamUpdate[]; carried: CarriedSpec[] } {
  const decay = opts.decay ?? ((p: Value) => p.rank >= 2);
  const entries = params.map((param, i) => ({ param, grad: grads[i]!, decay: decay(param) }));
  const optimizer = opts.optimizer ?? { kind: 'adamw' };
  const updates = optimizer.kind === 'adamw' ? adamw(graph, entries, optimizer.hp ?? {}, lr, step) : sgd(graph, entries, optimizer.hp ?? {}, lr, step);
  return { updates, carried: declareCarried(graph, updates) };
}

/** Declares the next parameters and optimizer state as outputs; what `TrainingSession` carries. */
function declareCarried(graph: Graph, updates: readonly ParamUpdate[]): CarriedSpec[] {
  const carried: CarriedSpec[] = [];
  for (const u of updates) {
    graph.output(nextName(u.param.name), u.next);
    carried.push({ input: u.param.name, output: nextName(u.param.name), shape: staticShape(u.param.shape, 'parameter'), kind: 'param' });
    for (const s of u.state) {
      graph.output(nextName(s.input.name), s.next);
      carried.push({ input: s.input.name, output: nextName(s.input.name), shape: staticShape(s.input.shape, 'optimizer state'), kind: 'state' });
    }
  }
  return carried;
}

/** Output name of a parameter's gradient. */
export const gradName = (param: string): string => `${param}.grad`;

/**
 * A data-parallel training step is two graphs: a gradient graph run by every replica on its
 * shard of the batch (forward and backward, no optimizer), and an update graph run once on the
 * gradients summed over the replicas (the same optimizer as `buildTrainingGraph`'s). The
 * gradients travel as one flat vector (every parameter's gradient flattened, concatenated in
 * `params` order): one tensor to move and one Add per replica instead of one per parameter.
 */
export interface GradientGraphSpec {
  /** The trainable parameters (graph inputs) and their shapes, in the order of the flat gradient. */
  readonly params: readonly { readonly name: string; readonly shape: readonly number[] }[];
  /** Output name of the loss. */
  readonly loss: string;
  /** Output name of the flat gradient. */
  readonly grads: string;
  /** Output names of the extra scalar outputs that are summed over replicas (e.g. per-task losses). */
  readonly sums: readonly string[];
}

/** The loss and the flat gradient of the parameters (output `grads`), plus scalar extras summed over replicas. */
export function buildGradientGraph(
  graph: Graph,
  opts: Pick<TrainingGraphOptions, 'loss' | 'params' | 'lossName'> & { sums?: Readonly<Record<string, Value>> },
): { graph: Graph; spec: GradientGraphSpec } {
  const { loss, params } = opts;
  checkLoss(graph, loss, params, 'buildGradientGraph');
  const grads = graph.scope('backward', () => grad(loss, params));
  const lossName = opts.lossName ?? 'loss';
  graph.output(lossName, loss);
  graph.output('grads', graph.scope('backward', () => flatten(grads)));
  for (const [name, v] of Object.entries(opts.sums ?? {})) {
    if (v.rank !== 0) throw new GraphBuildError(`buildGradientGraph: summed output '${name}' must be a scalar, got ${v}`);
    graph.output(name, v);
  }
  return {
    graph,
    spec: { params: params.map((p) => ({ name: p.name, shape: staticShape(p.shape, 'parameter') })), loss: lossName, grads: 'grads', sums: Object.keys(opts.sums ?? {}) },
  };
}

/** Input name of replica k's value of a gradient-graph output in the update graph. */
export const replicaName = (output: string, k: number): string => `${output}@${k}`;

/**
 * The optimizer step over gradients summed from `replicas` gradient graphs: inputs are the
 * parameters, the optimizer state, `lr`, `step` and every replica's outputs (`<output>@k`);
 * outputs are the next parameters and state (carried, as in `buildTrainingGraph`) and the sums
 * over replicas of the loss and the extra sums. Driven by a `TrainingSession`, whose "batch" is
 * the replicas' outputs.
 */
export function buildUpdateGraph(
  grads: GradientGraphSpec,
  replicas: number,
  opts: Pick<TrainingGraphOptions, 'optimizer' | 'lrName' | 'stepName'> & { decay?: (param: string) => boolean; name?: string },
): TrainingGraph {
  if (!Number.isInteger(replicas) || replicas < 1) throw new GraphBuildError(`buildUpdateGraph: replicas must be a positive integer, got ${replicas}`);
  if (grads.params.length === 0) throw new GraphBuildError('buildUpdateGraph: no trainable parameters');
  const graph = new Graph(opts.name ?? 'update');
  const params = grads.params.map((p) => graph.input(p.name, 'float', p.shape));
  const lr = graph.input(opts.lrName ?? 'lr', 'float', []);
  const step = graph.input(opts.stepName ?? 'step', 'float', []);
  const summed = (output: string, shape: readonly number[]): Value =>
    sum(Array.from({ length: replicas }, (_, k) => graph.input(replicaName(output, k), 'float', shape)));
  const total = grads.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0);
  const g = graph.scope('allreduce', () => summed(grads.grads, [total]));
  const lossSum = summed(grads.loss, []);
  const decay = (p: Value) => (opts.decay ? opts.decay(p.name) : p.rank >= 2);
  const optimizer = opts.optimizer ?? { kind: 'adamw' };
  let updates: ParamUpdate[];
  let gs: Value[] = [];
  if (optimizer.kind === 'adamw') {
    // The gradient is flat already: AdamW's update over the concatenated parameters takes it as is.
    updates = adamwFlat(graph, params.map((param) => ({ param, decay: decay(param) })), () => g, optimizer.hp ?? {}, lr, step);
  } else {
    gs = unflatten(g, params);
    updates = sgd(graph, params.map((param, i) => ({ param, grad: gs[i]!, decay: decay(param) })), optimizer.hp ?? {}, lr, step);
  }
  graph.output(grads.loss, lossSum);
  const carried = declareCarried(graph, updates);
  for (const name of grads.sums) graph.output(name, summed(name, []));
  return { graph, spec: { carried, loss: grads.loss, lr: lr.name, step: step.name }, lr, step, updates, grads: gs };
}

/** A flat vector cut back into tensors shaped like `like`. */
function unflatten(x: Value, like: readonly Value[]): Value[] {
  if (like.length === 1) return [reshape(x, staticShape(like[0]!.shape, 'parameter'))];
  const sizes = like.map((p) => numel(staticShape(p.shape, 'parameter')));
  return split(x, sizes, 0).map((part, i) => reshape(part, staticShape(like[i]!.shape, 'parameter')));
}
