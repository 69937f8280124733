/**
 * The saliency graph: Grad-CAM on STMedFM's token map, built with the engine's own `grad`.
 *
 * Why Grad-CAM and not integrated gradients: STMedFM sees an image as the stem's token map
 * (7x7 tokens for 2D, 7x7x7 for 3D; each token is one 4-pixel patch), and every later layer
 * works on those tokens. Grad-CAM explains a class score on exactly that grid, with one forward
 * and one backward pass; integrated gradients needs 20-50 passes along a path from a baseline
 * image whose choice (black? blurred? mean?) changes the answer, and gives pixel-level maps that
 * are mostly the noise of the 3x3 conv. Grad-CAM is class-discriminative (the map of another
 * class is another map) and has no free parameter.
 *
 * With A the token map after the stem ([T, dim]: T tokens, dim channels) and y_c the logit of
 * class c (Selvaraju et al. 2017, with channels as feature maps and tokens as positions):
 *   alpha_k = (1/T) sum_t dy_c/dA[t,k]           (channel weights: the gradient averaged over tokens)
 *   cam[t]  = ReLU(sum_k alpha_k A[t,k])          (positive evidence for class c at token t)
 *
 * The class is chosen by a `target` input [B, classes] (a one-hot row per sample): the score
 * differentiated is sum(logits * target), so one graph serves every class. Samples of a batch are
 * independent, so its gradient with respect to A gives every sample's own dy_c/dA.
 */
import { grad } from '../engine/autodiff.js';
import { Graph, type Value } from '../engine/ir/graph.js';
import * as op from '../engine/ops/index.js';
import { ParamBinder } from '../model/binder.js';
import { type Modality, tokensPerSample } from '../model/config.js';
import type { ParamStore } from '../model/params.js';
import type { STMedFM } from '../model/stmedfm.js';
import { inputShape } from '../training/graphs.js';

export interface GradCamGraph {
  graph: Graph;
  /** The token grid: [7, 7] (rows, columns) for 2D, [7, 7, 7] (depth, rows, columns) for 3D. */
  grid: number[];
  modality: Modality;
  classes: number;
  batch: number;
  /** Graph input names. `x` is the image batch, or the token map when built `from: 'tokens'`. */
  inputs: { x: string; target: string };
}

export interface GradCamGraphOptions {
  /** Fixed batch (gradients need static shapes; default 1). */
  batch?: number;
  /**
   * 'input' (default): images/volumes in, the stem computes the token map. 'tokens': the token
   * map itself is the graph input, so a test can perturb it and check dy_c/dA by finite differences.
   */
  from?: 'input' | 'tokens';
}

/** Side of the token grid: the image (volume) side over the patch size. */
export function tokenGrid(model: STMedFM, m: Modality): number[] {
  const c = model.config;
  return m === '2d' ? Array<number>(2).fill(c.stem2d.imageSize / c.stem2d.patch) : Array<number>(3).fill(c.stem3d.volumeSize / c.stem3d.patch);
}

/**
 * Outputs: `logits` and `probabilities` [B, classes]; `cam` [B, T] (tokens in row-major grid
 * order, as the stem flattens them); `tokens` and `token_grad` [B, T, dim] (A and dy/dA);
 * `score` (the scalar differentiated).
 */
export function buildGradCamGraph(model: STMedFM, store: ParamStore, task: string, opts: GradCamGraphOptions = {}): GradCamGraph {
  const batch = opts.batch ?? 1;
  const m = model.head(task).modality;
  const classes = model.head(task).numClasses;
  const graph = new Graph(`gradcam_${task}`);
  const binder = new ParamBinder(graph, store);
  const T = tokensPerSample(model.config, m);
  let tokens: Value;
  if (opts.from === 'tokens') tokens = graph.input('x', 'float', [batch, T, model.config.dim]);
  else tokens = model.stem(binder, graph.input('x', 'float', [batch, ...inputShape(model, m)]), m);
  const target = graph.input('target', 'float', [batch, classes]);
  const logits = model.classify(binder, model.encode(binder, tokens), task);
  const score = op.reduceSum(op.mul(logits, target));
  const [dTokens] = grad(score, [tokens]) as [Value];
  const alpha = op.reduceMean(dTokens, [1], true); // [B, 1, dim]
  const cam = op.relu(op.reduceSum(op.mul(tokens, alpha), [2])); // [B, T]
  graph.output('logits', logits);
  graph.output('probabilities', op.softmax(logits, -1));
  graph.output('cam', cam);
  if (opts.from !== 'tokens') graph.output('tokens', tokens); // (an input cannot also be an ONNX output)
  graph.output('token_grad', dTokens);
  graph.output('score', score);
  return { graph, grid: tokenGrid(model, m), modality: m, classes, batch, inputs: { x: 'x', target: 'target' } };
}
