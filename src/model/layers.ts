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
