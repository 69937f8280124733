/**
 * Layers as functions of a build context: each reads its parameters by state-dict name, so the
 * same code builds training graphs (trainable names become graph inputs) and inference graphs
 * (everything an initializer). Spatial rank is a parameter wherever 2D and 3D share the math.
 */
import type { Graph, Value } from '../engine/ir/graph.js';
import * as op from '../engine/ops/index.js';
import type { ParamSpec } from './params.js';

export interface BuildContext {
  readonly graph: Graph;
  /** The parameter's value in this graph: a graph input if trainable, else a constant. */
  param(name: string): Value;
  has(name: string): boolean;
}

// ---- parameter specs (PyTorch layouts and default initialisers) ----

export function linearSpecs(name: string, inF: number, outF: number, opts: { zero?: boolean; bias?: boolean } = {}): ParamSpec[] {
  const init = opts.zero ? ({ kind: 'const', value: 0 } as const) : ({ kind: 'fanInUniform', fanIn: inF } as const);
  const specs: ParamSpec[] = [{ name: `${name}.weight`, shape: [outF, inF], init, decay: true }];
  if (opts.bias ?? true) specs.push({ name: `${name}.bias`, shape: [outF], init, decay: false });
  return specs;
}

export function convSpecs(name: string, inC: number, outC: number, kernel: number, rank: number): ParamSpec[] {
  const k = Array<number>(rank).fill(kernel);
  const fanIn = inC * kernel ** rank;
  return [
    { name: `${name}.weight`, shape: [outC, inC, ...k], init: { kind: 'fanInUniform', fanIn }, decay: true },
    { name: `${name}.bias`, shape: [outC], init: { kind: 'fanInUniform', fanIn }, decay: false },
  ];
}

export function layerNormSpecs(name: string, dim: number): ParamSpec[] {
  return [
    { name: `${name}.weight`, shape: [dim], init: { kind: 'const', value: 1 }, decay: false },
    { name: `${name}.bias`, shape: [dim], init: { kind: 'const', value: 0 }, decay: false },
  ];
}

// ---- forward ----

/** y = x W^T + b over the last axis (x: [..., in]). */
export function linear(ctx: BuildContext, name: string, x: Value): Value {
  const w = ctx.param(`${name}.weight`);
  const y = op.matmul(x, op.transpose(w, [1, 0]));
  return ctx.has(`${name}.bias`) ? op.add(y, ctx.param(`${name}.bias`)) : y;
}

export function conv(ctx: BuildContext, name: string, x: Value, opts: { stride: number; pad: number }): Value {
  const w = ctx.param(`${name}.weight`);
  const rank = w.rank - 2;
  return op.conv(x, w, ctx.param(`${name}.bias`), {
    strides: Array<number>(rank).fill(opts.stride),
    pads: Array<number>(2 * rank).fill(opts.pad),
  });
}

export function layerNorm(ctx: BuildContext, name: string, x: Value, eps: number): Value {
  return op.layerNorm(x, ctx.param(`${name}.weight`), ctx.param(`${name}.bias`), { axis: -1, epsilon: eps });
}

// ---- execution ----

/**
 * Activation budget (in values) of one chunk of the per-sample parts of the forward pass, per
 * site. ONNX Runtime runs one op at a time over whole tensors, so a chain of memory-bound ops over
 * a large activation streams it through DRAM once per op; the same chain over a chunk of samples
 * that fits in cache runs much faster. Measured on a whole training step (bench/ab.ts, 1 thread,
 * against no chunking): 3-D (batch 16, 1-sample chunks) ~17% faster, 2-D (batch 64, chunks of 16)
 * ~5%. Only static batch dims are chunked (training graphs; an inference graph's batch is
 * symbolic); the math, and every gradient, is unchanged. Weight gradients are summed over the
 * chunks by autodiff (one Sum node per weight).
 */
export const chunkBudget: Record<ChunkSite, number> = { stem: 2 ** 19, block: 2 ** 18 };

/** Where the forward pass is chunked: the conv stem, or whole transformer blocks. */
export type ChunkSite = 'stem' | 'block';

/**
 * fn over chunks of the batch (dim 0 of every input) sized so that `perSample` values per sample
 * fit `chunkBudget`, results concatenated on dim 0. fn must treat samples independently.
 */
export function inChunks(site: ChunkSite, xs: readonly Value[], perSample: number, fn: (xs: Value[]) => Value): Value {
  const n = xs[0]!.shape[0];
  const size = Math.max(1, Math.floor(chunkBudget[site] / perSample));
  if (typeof n !== 'number' || size >= n) return fn([...xs]);
  // As few chunks as the budget allows, of equal sizes (up to one sample).
  const count = Math.ceil(n / size);
  const sizes = Array.from({ length: count }, (_, i) => Math.floor((n * (i + 1)) / count) - Math.floor((n * i) / count));
  const parts = xs.map((x) => op.split(x, sizes, 0));
  return op.concat(sizes.map((_, i) => fn(parts.map((p) => p[i]!))), 0);
}
