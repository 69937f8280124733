/**
 * Assembles a training step graph: gradients of the loss, an optimizer section, and outputs
 * declared so that `TrainingSession` can carry parameters and optimizer state between runs.
 */
import { grad } from '../autodiff.js';
import { GraphBuildError } from '../ir/errors.js';
import type { Graph, Value } from '../ir/graph.js';
import { staticShape } from '../ir/shape.js';
import type { CarriedSpec, TrainingSpec } from '../runtime/training.js';
import { type AdamWHyper, adamw } from './adamw.js';
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
  if (loss.graph !== graph) throw new GraphBuildError('buildTrainingGraph: the loss belongs to another graph');
  if (params.length === 0) throw new GraphBuildError('buildTrainingGraph: no trainable parameters');
  const decay = opts.decay ?? ((p: Value) => p.rank >= 2);
  const lr = graph.input(opts.lrName ?? 'lr', 'float', []);
  const step = graph.input(opts.stepName ?? 'step', 'float', []);
  const grads = graph.scope('backward', () => grad(loss, params));
  const entries = params.map((param, i) => ({ param, grad: grads[i]!, decay: decay(param) }));
  const optimizer = opts.optimizer ?? { kind: 'adamw' };
  const updates = optimizer.kind === 'adamw' ? adamw(graph, entries, optimizer.hp ?? {}, lr, step) : sgd(graph, entries, optimizer.hp ?? {}, lr, step);

  const lossName = opts.lossName ?? 'loss';
  graph.output(lossName, loss);
  const carried: CarriedSpec[] = [];
  for (const u of updates) {
    graph.output(nextName(u.param.name), u.next);
    carried.push({ input: u.param.name, output: nextName(u.param.name), shape: staticShape(u.param.shape, 'parameter'), kind: 'param' });
    for (const s of u.state) {
      graph.output(nextName(s.input.name), s.next);
      carried.push({ input: s.input.name, output: nextName(s.input.name), shape: staticShape(s.input.shape, 'optimizer state'), kind: 'state' });
    }
  }
  for (const [name, v] of Object.entries(opts.outputs ?? {})) graph.output(name, v);
  if (opts.outputGrads) params.forEach((p, i) => graph.output(`${p.name}.grad`, grads[i]!));
  return { graph, spec: { carried, loss: lossName, lr: lr.name, step: step.name }, lr, step, updates, grads };
}
