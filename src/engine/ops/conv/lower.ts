/**
 * ONNX lowerings of the conv family. Each has alternatives; the defaults are the fastest measured
 * on ONNX Runtime's CPU provider (1 thread) on STMedFM's stem shapes, see bench/conv_grad.ts:
 * - Conv: one ONNX Conv (MLAS); patch rows + MatMul was no faster for patchify convs.
 * - ConvTranspose: one ONNX ConvTranspose, except 3-D patchify ones (a patchify Conv's input
 *   gradient), where patch rows + MatMul is ~2.5x faster than ONNX Runtime's 3-D ConvTranspose.
 * - ConvWeightGrad: im2col + batched MatMul (~1.8x faster than a Conv with the feature-map-sized
 *   output gradient as its kernel). For patchify convs that Conv is the fastest (its kernel is
 *   only the patch grid, dilated by the stride): ~20% ahead of patch rows + MatMul.
 */
import type { Node, Value } from '../../ir/graph.js';
import type { LowerContext } from '../op.js';
import { Emitter, convAttrs, ints } from './emit.js';
import { type ConvGeometry, isPatchify } from './geometry.js';
import { convKernelWeightGrad, im2colWeightGrad } from './im2col.js';
import { patchConv, patchConvTranspose, patchWeightGrad } from './patch.js';

/** General weight gradient: im2col layouts, or a Conv with the output gradient as its kernel. */
export type WeightGradLowering = 'batched' | 'gemm' | 'conv';
/** Patchify weight gradient: patch rows + MatMul, the Conv formulation, or whatever `weightGrad` says. */
export type PatchWeightGradLowering = 'rows' | 'conv' | 'general';
/** Patchify Conv / ConvTranspose: patch rows + MatMul, the ONNX op, or by spatial rank ('auto'). */
export type PatchForwardLowering = 'rows' | 'onnx' | 'auto';

/** Which formulation each lowering emits. Benchmarks and tests switch these; models need not. */
export const convLowering: {
  weightGrad: WeightGradLowering;
  patchWeightGrad: PatchWeightGradLowering;
  patchConv: PatchForwardLowering;
  patchConvTranspose: PatchForwardLowering;
} = { weightGrad: 'batched', patchWeightGrad: 'conv', patchConv: 'onnx', patchConvTranspose: 'auto' };

/** 'auto' picks patch rows only where the ONNX op was measured slower: 3-D ConvTranspose. */
const useRows = (choice: PatchForwardLowering, spatial: number, autoRows: boolean): boolean =>
  choice === 'rows' || (choice === 'auto' && autoRows && spatial === 3);

export function lowerConv(node: Node<ConvGeometry>, ctx: LowerContext): void {
  const [x, w] = node.inputs as [Value, Value];
  const kernel = w.shape.slice(2) as number[];
  if (isPatchify(kernel, node.attrs) && useRows(convLowering.patchConv, kernel.length, false)) {
    patchConv(new Emitter(ctx, node.name), x, w, ctx.inputs[2]);
    return;
  }
  ctx.node('Conv', ctx.inputs, ctx.outputs, convAttrs(node.attrs, kernel));
}

export function lowerConvTranspose(node: Node<ConvGeometry & { outputPadding: readonly number[] }>, ctx: LowerContext): void {
  const [x, w] = node.inputs as [Value, Value];
  const kernel = w.shape.slice(2) as number[];
  if (isPatchify(kernel, node.attrs) && useRows(convLowering.patchConvTranspose, kernel.length, true)) {
    patchConvTranspose(new Emitter(ctx, node.name), x, w, node.attrs.outputPadding, ctx.inputs[2]);
    return;
  }
  ctx.node('ConvTranspose', ctx.inputs, ctx.outputs, [...convAttrs(node.attrs, kernel), ints('output_padding', node.attrs.outputPadding)]);
}

export function lowerConvWeightGrad(node: Node<ConvGeometry & { kernel: readonly number[] }>, ctx: LowerContext): void {
  const [x, dy] = node.inputs as [Value, Value];
  const { kernel } = node.attrs;
  const e = new Emitter(ctx, node.name);
  const choice = isPatchify(kernel, node.attrs) && convLowering.patchWeightGrad !== 'general' ? convLowering.patchWeightGrad : convLowering.weightGrad;
  if (choice === 'rows') patchWeightGrad(e, x, dy, kernel);
  else if (choice === 'conv') convKernelWeightGrad(e, x, dy, kernel, node.attrs);
  else im2colWeightGrad(e, x, dy, kernel, node.attrs, choice);
}
