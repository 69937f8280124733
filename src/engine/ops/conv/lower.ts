/**
 * ONNX lowerings of the conv family. Each has alternatives; the defaults are the fastest measured
 * on ONNX Runtime's CPU provider (1 thread) in STMedFM's whole training step and inference graph
 * (bench/ab.ts; per-layer numbers in bench/conv_grad.ts):
 * - Conv: one ONNX Conv (MLAS; NCHWc for 2-D when the weight is a constant). When the weight is
 *   trained, the forward pass shares work with the weight gradient instead (ONNX Runtime's
 *   common-subexpression elimination merges the identical nodes): a patchify Conv is patch rows
 *   + MatMul (~4% of a whole 2-D or 3-D step), another Conv with a bias is im2col + MatMul with
 *   the bias as a row of ones (~3% of a 3-D step). With a constant weight (inference, frozen
 *   stems) the ONNX Conv wins (patch rows made the whole 2-D inference graph ~20% slower), and a
 *   3-D patchify Conv is rewritten as a 2-D one: ONNX Runtime's 2-D NCHWc kernel instead of its
 *   3-D im2col path, ~16% faster on STMedFM's 3-D stem (transposes and reorders included).
 * - ConvTranspose: one ONNX ConvTranspose, except for patchify ones (a patchify Conv's input
 *   gradient): patch rows + MatMul, ~2.5x faster than ONNX Runtime's 3-D ConvTranspose.
 * - ConvWeightGrad: im2col + batched MatMul (~1.8x faster than a Conv with the feature-map-sized
 *   output gradient as its kernel); for patchify convs patch rows + MatMul.
 */
import type { Node, Value } from '../../ir/graph.js';
import { numel } from '../../ir/shape.js';
import { type LowerContext, onThreadPool } from '../op.js';
import { Emitter, convAttrs, int, ints } from './emit.js';
import { type ConvGeometry, isPatchify } from './geometry.js';
import { convKernelWeightGrad, im2colConv, im2colWeightGrad } from './im2col.js';
import { patchConv, patchConvTranspose, patchWeightGrad } from './patch.js';

/** General weight gradient: im2col layouts, or a Conv with the output gradient as its kernel. */
export type WeightGradLowering = 'batched' | 'gemm' | 'conv';
/** Patchify weight gradient: patch rows + MatMul, the Conv formulation, or whatever `weightGrad` says. */
export type PatchWeightGradLowering = 'rows' | 'conv' | 'general';
/** A non-patchify Conv with bias: the ONNX Conv, im2col + MatMul, or 'auto' (see the defaults above). */
export type ForwardLowering = 'onnx' | 'im2col' | 'auto';
/** Patchify Conv / ConvTranspose: patch rows + MatMul, the ONNX op, or 'auto' (see the defaults above). */
export type PatchForwardLowering = 'rows' | 'onnx' | 'auto';

/** Which formulation each lowering emits. Benchmarks and tests switch these; models need not. */
export const convLowering: {
  conv: ForwardLowering;
  weightGrad: WeightGradLowering;
  patchWeightGrad: PatchWeightGradLowering;
  patchConv: PatchForwardLowering;
  patchConvTranspose: PatchForwardLowering;
  patch3dAs2d: boolean;
  /** Bias gradient of a patch-rows weight gradient: dy^T . ones (MatMul), the ONNX ReduceSum, or 'auto' (MatMul above 1 thread). */
  patchBiasGrad: 'matmul' | 'reduce' | 'auto';
} = { conv: 'auto', weightGrad: 'batched', patchWeightGrad: 'rows', patchConv: 'auto', patchConvTranspose: 'auto', patch3dAs2d: true, patchBiasGrad: 'auto' };

/** 'auto' picks patch rows unless the op's weight is a constant (which ONNX Runtime pre-packs for its Conv). */
const useRows = (choice: PatchForwardLowering, weight: Value): boolean => choice === 'rows' || (choice === 'auto' && weight.kind !== 'constant');

export function lowerConv(node: Node<ConvGeometry>, ctx: LowerContext): void {
  const [x, w, b] = node.inputs as [Value, Value, Value | undefined];
  const kernel = w.shape.slice(2) as number[];
  if (isPatchify(kernel, node.attrs)) {
    if (useRows(convLowering.patchConv, w)) {
      patchConv(new Emitter(ctx, node.name), x, w, ctx.inputs[2]);
      return;
    }
    if (kernel.length === 3 && convLowering.patch3dAs2d && w.kind === 'constant' && divides(x, kernel)) {
      patchConv3dAs2d(new Emitter(ctx, node.name), x, w);
      return;
    }
  } else if (useIm2col(convLowering.conv, x, w, b)) {
    im2colConv(new Emitter(ctx, node.name), x, w, node.outputs[0]!, node.attrs);
    return;
  }
  ctx.node('Conv', ctx.inputs, ctx.outputs, convAttrs(node.attrs, kernel));
}

const divides = (x: Value, kernel: readonly number[]): boolean => kernel.every((k, d) => (x.shape[d + 2] as number) % k === 0);

/**
 * A 3-D patchify Conv as a 2-D one: the depth patches go to the batch, the depth offsets to the
 * channels (x [N, C, D, H, W] -> [N * D/kd, C * kd, H, W]), so ONNX Runtime runs its 2-D NCHWc
 * Conv kernel (with a constant weight) instead of its 3-D im2col path. The moves are of whole
 * kd * H * W blocks (input) and (H/kh) * (W/kw) planes (output).
 */
function patchConv3dAs2d(e: Emitter, x: Value, w: Value): void {
  const ctx = e.ctx;
  const [, C, D, H, W] = x.shape as [unknown, number, number, number, number];
  const [O, , kd, kh, kw] = w.shape as [number, number, number, number, number];
  const [pd, ph, pw] = [D / kd, H / kh, W / kw];
  const swap = [ints('perm', [0, 2, 1, 3])];
  const xt = e.op('Transpose', [e.reshape(ctx.inputs[0]!, [0, C, pd, kd * H * W])], swap);
  const x2 = e.reshape(xt, [-1, C * kd, H, W]);
  const w2 = e.reshape(ctx.inputs[1]!, [O, C * kd, kh, kw]);
  const attrs = [ints('kernel_shape', [kh, kw]), ints('strides', [kh, kw])];
  const y2 = e.op('Conv', [x2, w2, ...ctx.inputs.slice(2)], attrs);
  const yt = e.op('Transpose', [e.reshape(y2, [-1, pd, O, ph * pw])], swap);
  e.reshape(yt, [0, O, pd, ph, pw], ctx.outputs[0]);
}

/**
 * 'auto' takes im2col + MatMul for a trained conv with a bias whose weight gradient is the
 * batched im2col (the columns are then shared); the ONNX Conv otherwise.
 */
function useIm2col(choice: ForwardLowering, x: Value, w: Value, b: Value | undefined): boolean {
  if (choice === 'onnx' || !b || typeof x.shape[0] !== 'number') return false;
  return choice === 'im2col' || (w.kind !== 'constant' && convLowering.weightGrad === 'batched');
}

export function lowerConvTranspose(node: Node<ConvGeometry & { outputPadding: readonly number[] }>, ctx: LowerContext): void {
  const [x, w] = node.inputs as [Value, Value];
  const kernel = w.shape.slice(2) as number[];
  if (isPatchify(kernel, node.attrs) && useRows(convLowering.patchConvTranspose, w)) {
    patchConvTranspose(new Emitter(ctx, node.name), x, w, node.attrs.outputPadding, ctx.inputs[2]);
    return;
  }
  ctx.node('ConvTranspose', ctx.inputs, ctx.outputs, [...convAttrs(node.attrs, kernel), ints('output_padding', node.attrs.outputPadding)]);
}

export function lowerConvWeightGrad(node: Node<ConvGeometry & { kernel: readonly number[]; withBias?: boolean }>, ctx: LowerContext): void {
  const [x, dy] = node.inputs as [Value, Value];
  const { kernel, withBias } = node.attrs;
  const e = new Emitter(ctx, node.name);
  const choice = isPatchify(kernel, node.attrs) && convLowering.patchWeightGrad !== 'general' ? convLowering.patchWeightGrad : convLowering.weightGrad;
  // The batched im2col MatMul yields the bias gradient too (a row of ones among the columns).
  if (choice === 'batched' && withBias && typeof x.shape[0] === 'number') {
    im2colWeightGrad(e, x, dy, kernel, node.attrs, choice, ctx.outputs[1]);
    return;
  }
  if (choice === 'rows') {
    const dyT = patchWeightGrad(e, x, dy, kernel);
    const np = dy.shape.filter((_, i) => i !== 1);
    const pick = convLowering.patchBiasGrad;
    const matmul = pick === 'matmul' || (pick === 'auto' && onThreadPool(ctx));
    if (withBias && matmul && np.every((d): d is number => typeof d === 'number')) {
      // db = dy^T . ones: MLAS runs this small product on the calling thread, whereas ONNX
      // Runtime's ReduceSum over axes (0, 2, ..) hands it to the pool (0.015 -> 0.07 ms at 2
      // threads); at 1 thread the ReduceSum is the faster one (0.02 against 0.07 ms in 3-D).
      e.op('MatMul', [dyT, ctx.float(new Array<number>(numel(np)).fill(1), [numel(np)])], [], ctx.outputs[1]);
      return;
    }
  } else if (choice === 'conv') convKernelWeightGrad(e, x, dy, kernel, node.attrs);
  else im2colWeightGrad(e, x, dy, kernel, node.attrs, choice);
  if (withBias) {
    const axes = [0, ...Array.from({ length: kernel.length }, (_, d) => d + 2)];
    e.op('ReduceSum', [ctx.inputs[1]!, ctx.int64(axes)], [int('keepdims', 0)], ctx.outputs[1]);
  }
}
