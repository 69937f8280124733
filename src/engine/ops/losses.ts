/**
 * Losses, composed from builder ops: their gradients come from autodiff, so there is no loss
 * gradient rule to get wrong. Shapes are checked here, at build time.
 */
import type { Value } from '../ir/graph.js';
import { GraphBuildError } from '../ir/errors.js';
import { sameShape } from '../ir/shape.js';
import { add, cast, div, equal, max2, mul, neg, sub } from './binary.js';
import { reduceMean, reduceSum } from './reduce.js';
import { reshape } from './shape_ops.js';
import { logSoftmax } from './softmax.js';
import { abs, exp, log } from './unary.js';

export interface CrossEntropyOptions {
  /** Per-class weights [C] (e.g. N / (C * n_c)); the loss becomes the weighted mean, as in PyTorch. */
  classWeights?: Value;
}

/** Float [N, C] one-hot rows of int64 class indices [N]; an index outside [0, C) gives a zero row. */
export function oneHot(labels: Value, numClasses: number): Value {
  if (labels.dtype !== 'int64' || labels.rank !== 1) {
    throw new GraphBuildError(`oneHot: labels must be int64 class indices of shape [N], got ${labels}`);
  }
  if (!Number.isInteger(numClasses) || numClasses < 1) {
    throw new GraphBuildError(`oneHot: the number of classes must be a positive integer, got ${numClasses}`);
  }
  const g = labels.graph;
  const classes = g.constant({ dtype: 'int64', shape: [numClasses], data: Float64Array.from({ length: numClasses }, (_, i) => i) }, 'classes');
  return cast(equal(reshape(labels, [0, 1]), classes), 'float');
}

/**
 * PyTorch's F.cross_entropy(logits, labels, weight): the mean over the batch of -log softmax(logits)[y],
 * or with class weights w the weighted mean sum_i w[y_i] nll_i / sum_i w[y_i].
 */
export function softmaxCrossEntropy(logits: Value, labels: Value, opts: CrossEntropyOptions = {}): Value {
  const op = 'softmaxCrossEntropy';
  if (logits.dtype !== 'float' || logits.rank !== 2) throw new GraphBuildError(`${op}: logits must be float [N, C], got ${logits}`);
  if (labels.dtype !== 'int64' || labels.rank !== 1) {
    throw new GraphBuildError(`${op}: labels must be int64 class indices of shape [N], got ${labels}`);
  }
  const [n, c] = logits.shape as [number | string, number | string];
  if (labels.shape[0] !== n) {
    throw new GraphBuildError(`${op}: labels ${labels} must have one entry per row of logits ${logits} (${n}), got ${labels.shape[0]}`);
  }
  if (typeof c !== 'number') throw new GraphBuildError(`${op}: the class dim of logits ${logits} must be static`);
  const lsm = logSoftmax(logits, 1);
  const hot = oneHot(labels, c);
  const w = opts.classWeights;
  if (!w) return neg(reduceMean(reduceSum(mul(hot, lsm), [1])));
  if (w.dtype !== 'float' || w.rank !== 1 || w.shape[0] !== c) {
    throw new GraphBuildError(`${op}: classWeights must be float [${c}] (one weight per class of logits ${logits}), got ${w}`);
  }
  const weighted = mul(hot, w); // w[y_i] at the label column, 0 elsewhere
  return neg(div(reduceSum(mul(weighted, lsm)), reduceSum(weighted)));
}

/**
 * Mean binary cross-entropy of sigmoid(logits) against float targets in [0, 1] (PyTorch's
 * BCEWithLogitsLoss), in the stable form max(x, 0) - x t + log(1 + exp(-|x|)). The kinks at x = 0
 * cancel given the gradient conventions of max (ties split evenly) and abs (sign(0) = 0), so the
 * gradient there is the exact sigmoid(0) - t.
 */
export function sigmoidBinaryCrossEntropy(logits: Value, targets: Value): Value {
  const op = 'sigmoidBinaryCrossEntropy';
  if (logits.dtype !== 'float' || targets.dtype !== 'float' || !sameShape(logits.shape, targets.shape)) {
    throw new GraphBuildError(`${op}: logits and targets must be float tensors of the same shape, got ${logits} and ${targets}`);
  }
  const softplusNegAbs = log(add(exp(neg(abs(logits))), 1));
  return reduceMean(add(sub(max2(logits, 0), mul(logits, targets)), softplusNegAbs));
}
