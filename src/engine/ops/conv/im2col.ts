/**
 * General conv weight gradients: im2col + MatMul, and the Conv-based baseline kept for the
 * benchmark. dW[o, c, k] = sum_{n,p} dy[n, o, p] x[n, c, p*s + k*d - pad].
 */
import type { Value } from '../../ir/graph.js';
import { numel } from '../../ir/shape.js';
import { Emitter, convAttrs, int } from './emit.js';
import { type ConvGeometry, convOutputSpatial, kernelExtent } from './geometry.js';

/** Row-major coordinates of flat kernel offset `kf`. */
function kernelCoords(kf: number, kernel: readonly number[]): number[] {
  const kk: number[] = [];
  for (let d = kernel.length - 1, r = kf; d >= 0; d--) {
    kk[d] = r % kernel[d]!;
    r = Math.floor(r / kernel[d]!);
  }
  return kk;
}

/** Puts [O, (k, c)] (kernel-major columns) into the ONNX weight layout [O, C, ...kernel]. */
function fromKernelMajor(e: Emitter, src: string, O: number, C: number, kernel: readonly number[]): void {
  const K = numel(kernel);
  const ock = e.transpose(e.reshape(src, [O, K, C]), [O, K, C], [0, 2, 1]);
  e.reshape(ock, [O, C, ...kernel], e.ctx.outputs[0]);
}

/**
 * im2col: pads x once, takes one strided Slice per kernel offset and concatenates them on `axis`
 * (x's channel axis, or 0 when x was transposed to [C, N, ...]): columns in kernel-major order
 * (k, c), plus a plane of ones last when `ones` (a bias row for the MatMul that consumes them).
 * The forward im2col Conv and the weight gradient emit exactly the same nodes for the same x, so
 * ONNX Runtime's common-subexpression elimination builds the columns once for both.
 */
function columns(e: Emitter, src: string, inSp: readonly number[], outSp: readonly number[], kernel: readonly number[], g: ConvGeometry, axis: number, ones?: number): string {
  const S = kernel.length;
  const ctx = e.ctx;
  // End padding only as far as the last window reaches.
  const ends = inSp.map((n, d) =>
    Math.max(0, Math.min(g.pads[S + d]!, (outSp[d]! - 1) * g.strides[d]! + kernelExtent(kernel[d]!, g.dilations[d]!) - g.pads[d]! - n)),
  );
  let padded = src;
  if (g.pads.slice(0, S).some((p) => p > 0) || ends.some((p) => p > 0)) {
    padded = e.op('Pad', [src, ctx.int64([0, 0, ...g.pads.slice(0, S), 0, 0, ...ends])]);
  }
  const axes = ctx.int64(Array.from({ length: S }, (_, d) => d + 2));
  const steps = ctx.int64(g.strides);
  const slices: string[] = [];
  for (let kf = 0; kf < numel(kernel); kf++) {
    const starts = kernelCoords(kf, kernel).map((k, d) => k * g.dilations[d]!);
    const stops = starts.map((s, d) => s + (outSp[d]! - 1) * g.strides[d]! + 1);
    slices.push(e.op('Slice', [padded, ctx.int64(starts), ctx.int64(stops), axes, steps]));
  }
  if (ones !== undefined) slices.push(e.op('Expand', [ctx.float([1], []), ctx.int64([ones, 1, ...outSp])]));
  return slices.length === 1 ? slices[0]! : e.op('Concat', slices, [int('axis', axis)]);
}

/**
 * General weight gradient by im2col + MatMul.
 * 'batched' keeps the batch: cols [N, (k,c), P] . dy^T [N, P, O], summed over N; with `biasOut`
 * the columns get a row of ones and the same product yields the bias gradient sum_p dy.
 * 'gemm' folds the batch into the contraction: dy [O, N*P] . cols [(k,c), N*P]^T (x transposed first).
 */
export function im2colWeightGrad(e: Emitter, x: Value, dy: Value, kernel: readonly number[], g: ConvGeometry, layout: 'gemm' | 'batched', biasOut?: string): void {
  const S = kernel.length;
  const C = x.shape[1] as number;
  const O = dy.shape[1] as number;
  const inSp = x.shape.slice(2) as number[];
  const outSp = dy.shape.slice(2) as number[];
  const P = numel(outSp);
  const K = numel(kernel);
  const ctx = e.ctx;
  const swap = [1, 0, ...Array.from({ length: S }, (_, d) => d + 2)];
  if (layout === 'gemm') {
    if (biasOut !== undefined) throw new Error('im2colWeightGrad: the bias row needs the batched layout');
    const cols = e.reshape(columns(e, e.transpose(ctx.inputs[0]!, x.shape, swap), inSp, outSp, kernel, g, 0), [K * C, -1]);
    const dyT = e.reshape(e.transpose(ctx.inputs[1]!, dy.shape, swap), [O, -1]);
    fromKernelMajor(e, e.op('Gemm', [dyT, cols], [int('transB', 1)]), O, C, kernel);
    return;
  }
  const N = x.shape[0];
  if (biasOut !== undefined && typeof N !== 'number') throw new Error('im2colWeightGrad: the bias row needs a static batch');
  const rows = K * C + (biasOut !== undefined ? 1 : 0);
  const cols = e.reshape(columns(e, ctx.inputs[0]!, inSp, outSp, kernel, g, 1, biasOut !== undefined ? (N as number) : undefined), [0, rows, P]);
  const dyT = e.transpose(e.reshape(ctx.inputs[1]!, [0, O, P]), [dy.shape[0]!, O, P], [0, 2, 1]);
  let kco = e.op('ReduceSum', [e.op('MatMul', [cols, dyT]), ctx.int64([0])], [int('keepdims', 0)]);
  if (biasOut !== undefined) {
    const [w, b] = [ctx.temp('dw_rows'), ctx.temp('db_row')];
    ctx.node('Split', [kco, ctx.int64([K * C, 1])], [w, b], [int('axis', 0)]);
    e.reshape(b, [O], biasOut);
    kco = w;
  }
  fromKernelMajor(e, e.transpose(kco, [K * C, O], [1, 0]), O, C, kernel);
}

/**
 * Conv with bias as im2col + MatMul: y[n] = [W | b] [O, (k,c)+1] . cols[n] [(k,c)+1, P], with the
 * same columns (ones row included) as the batched weight gradient, so a trained conv builds them
 * once for its forward pass and its weight and bias gradients.
 */
export function im2colConv(e: Emitter, x: Value, w: Value, y: Value, g: ConvGeometry): void {
  const ctx = e.ctx;
  const [O, C] = w.shape as [number, number];
  const kernel = w.shape.slice(2) as number[];
  const K = numel(kernel);
  const inSp = x.shape.slice(2) as number[];
  const outSp = y.shape.slice(2) as number[];
  const cols = e.reshape(columns(e, ctx.inputs[0]!, inSp, outSp, kernel, g, 1, x.shape[0] as number), [0, K * C + 1, numel(outSp)]);
  // W [O, C, ...kernel] -> [O, (k, c)], then the bias as the last column.
  const wk = e.reshape(e.transpose(e.reshape(ctx.inputs[1]!, [O, C, K]), [O, C, K], [0, 2, 1]), [O, K * C]);
  const wb = e.op('Concat', [wk, e.reshape(ctx.inputs[2]!, [O, 1])], [int('axis', 1)]);
  e.reshape(e.op('MatMul', [wb, cols]), [0, O, ...outSp], ctx.outputs[0]);
}

/**
 * The slow baseline: dW^T[c, o, k] = Conv(x^T [C, N, ...], dy^T [O, N, ...]) with strides and
 * dilations swapped (the output gradient is a feature-map-sized kernel).
 */
export function convKernelWeightGrad(e: Emitter, x: Value, dy: Value, kernel: readonly number[], g: ConvGeometry): void {
  const S = kernel.length;
  const swap = [1, 0, ...Array.from({ length: S }, (_, d) => d + 2)];
  const inSp = x.shape.slice(2) as number[];
  const outSp = dy.shape.slice(2) as number[];
  const xt = e.transpose(e.ctx.inputs[0]!, x.shape, swap);
  const dyt = e.transpose(e.ctx.inputs[1]!, dy.shape, swap);
  const swapped: ConvGeometry = { strides: g.dilations, dilations: g.strides, pads: g.pads };
  const reach = convOutputSpatial('ConvWeightGrad', inSp, outSp, swapped, () => '');
  let co = e.op('Conv', [xt, dyt], convAttrs(swapped, outSp));
  if (reach.some((n, d) => n !== kernel[d])) {
    // Padding can let the swapped conv reach offsets beyond the kernel.
    const axes = Array.from({ length: S }, (_, d) => d + 2);
    co = e.op('Slice', [co, e.ctx.int64(new Array<number>(S).fill(0)), e.ctx.int64(kernel), e.ctx.int64(axes)]);
  }
  e.transpose(co, [x.shape[1]!, dy.shape[1]!, ...kernel], swap, e.ctx.outputs[0]);
}
