/**
 * Lowerings for patchify convs (kernel == stride, no padding, dilation 1): every one is a MatMul
 * between the weight and the input cut into patch rows.
 *
 * The patch rows are made with cheap transposes only. ONNX Runtime's CPU Transpose is fast when a
 * single axis moves and either the block that moves with it is large (memcpy) or is one element
 * (MLAS's 2-D transpose); a general N-d transpose, or a single-axis move of 16-byte blocks, is
 * several times slower. A one-element move runs one MLAS 2-D transpose per index of the axes in
 * front of it, each handed to the thread pool, so those must have few outer indices too (see
 * rowStepsChannelsLast). The column order this gives is absorbed by transposing the (small)
 * weight instead.
 */
import type { Value } from '../../ir/graph.js';
import { type Dim, numel } from '../../ir/shape.js';
import { Emitter } from './emit.js';

/** One step of the rows layout: the view it acts on and the swap of views axes 2 and 3 (or 2 and 3 of 4). */
interface Step {
  view: Dim[];
  perm: number[];
}

/** The transposes turning [N, C, o0,k0, ...] into [N, P, (k_last, C, k0..k_{S-2})]. */
function rowSteps(N: Dim, C: number, outSp: readonly number[], kernel: readonly number[]): Step[] {
  const S = kernel.length;
  const steps: Step[] = [];
  for (let d = 0; d < S - 1; d++) {
    const A = numel(outSp.slice(0, d));
    const B = C * numel(kernel.slice(0, d));
    const R = kernel[d]! * numel(outSp.slice(d + 1).map((o, e) => o * kernel[d + 1 + e]!));
    steps.push({ view: [N, A, B, outSp[d]!, R], perm: [0, 1, 3, 2, 4] });
  }
  const A = numel(outSp.slice(0, S - 1));
  const B = C * numel(kernel.slice(0, S - 1));
  steps.push({ view: [N, A, B, outSp[S - 1]! * kernel[S - 1]!], perm: [0, 1, 3, 2] });
  return steps;
}

/**
 * Channels-last rows [N, P, (k0..k_{S-1}, C)]: first x [N, C, spatial] -> [N, spatial, C] (one
 * 2-D transpose per sample), then each o_d (d >= 1) moved out next to o_{d-1}, in blocks of at
 * least k_last * C values. ONNX Runtime runs a single-axis transpose of single elements as one
 * MLAS 2-D transpose per outer index, each handed to the thread pool: the steps above make
 * N * prod(o[:-1]) small ones (784 per 2-D training step; measured ~10x slower at 2 threads than
 * at 1), this order N large ones, and the same number of passes over the data.
 */
function rowStepsChannelsLast(N: Dim, C: number, outSp: readonly number[], kernel: readonly number[]): Step[] {
  const S = kernel.length;
  const inSp = outSp.map((o, d) => o * kernel[d]!);
  const steps: Step[] = [{ view: [N, C, numel(inSp)], perm: [0, 2, 1] }];
  for (let d = 1; d < S; d++) {
    const A = numel(outSp.slice(0, d));
    const B = numel(kernel.slice(0, d));
    const R = kernel[d]! * numel(inSp.slice(d + 1)) * C;
    steps.push({ view: [N, A, B, outSp[d]!, R], perm: [0, 1, 3, 2, 4] });
  }
  return steps;
}

/** Column order of the patch rows (benchmarks switch it; both are exact). */
export const patchRows: { layout: 'channelsLast' | 'kernelLastFirst' } = { layout: 'channelsLast' };

const stepsFor = (N: Dim, C: number, outSp: readonly number[], kernel: readonly number[]): Step[] =>
  (patchRows.layout === 'channelsLast' ? rowStepsChannelsLast : rowSteps)(N, C, outSp, kernel);

const after = (s: Step): Dim[] => s.perm.map((p) => s.view[p]!);
const asReshape = (shape: readonly Dim[]): number[] => shape.map((d, i) => (typeof d === 'number' ? d : i === 0 ? 0 : NaN));

export interface PatchGeometry {
  N: Dim;
  C: number;
  outSp: number[];
  kernel: number[];
}

/** x [N, C, ...spatial] -> rows [N, P, K*C] (columns in the order of `weightColumns`). */
export function toRows(e: Emitter, x: string, xShape: readonly Dim[], kernel: readonly number[]): { rows: string; geo: PatchGeometry } {
  const S = kernel.length;
  const inSp = xShape.slice(2) as number[];
  const outSp = inSp.map((n, d) => Math.floor(n / kernel[d]!));
  const C = xShape[1] as number;
  let src = x;
  if (inSp.some((n, d) => n !== outSp[d]! * kernel[d]!)) {
    // Rows and columns past the last whole patch are never read.
    const axes = Array.from({ length: S }, (_, d) => d + 2);
    src = e.op('Slice', [x, e.ctx.int64(new Array<number>(S).fill(0)), e.ctx.int64(outSp.map((o, d) => o * kernel[d]!)), e.ctx.int64(axes)]);
  }
  for (const step of stepsFor(xShape[0]!, C, outSp, kernel)) {
    src = e.transpose(e.reshape(src, asReshape(step.view)), step.view, step.perm);
  }
  return { rows: e.reshape(src, [0, numel(outSp), C * numel(kernel)]), geo: { N: xShape[0]!, C, outSp, kernel: [...kernel] } };
}

/** The inverse of toRows (rows [N, P, K*C] -> [N, C, ...o*k]), without the cropped border. */
export function fromRows(e: Emitter, rows: string, geo: PatchGeometry, out?: string): string {
  const steps = stepsFor(geo.N, geo.C, geo.outSp, geo.kernel).reverse();
  let src = rows;
  for (const step of steps) {
    const from = after(step);
    // perm is its own inverse (a swap of two axes)
    src = e.transpose(e.reshape(src, asReshape(from)), from, step.perm);
  }
  return e.reshape(src, [0, geo.C, ...geo.outSp.map((o, d) => o * geo.kernel[d]!)], out);
}

/**
 * Permutation of a weight [O, C, k0..k_{S-1}] into the rows' column order: [O, k0..k_{S-1}, C]
 * (channels last), or [O, k_last, C, k0..k_{S-2}].
 */
export const weightColumns = (S: number): number[] =>
  patchRows.layout === 'channelsLast'
    ? [0, ...Array.from({ length: S }, (_, d) => d + 2), 1]
    : [0, S + 1, ...Array.from({ length: S }, (_, d) => d + 1)];
/** Its inverse. */
export const weightFromColumns = (S: number): number[] => {
  const inv: number[] = [];
  weightColumns(S).forEach((p, i) => (inv[p] = i));
  return inv;
};

/** Conv: y[n, p, o] = rows[n, p, :] . W'[o, :], then channels first. */
export function patchConv(e: Emitter, x: Value, w: Value, bias: string | undefined): void {
  const ctx = e.ctx;
  const kernel = w.shape.slice(2) as number[];
  const S = kernel.length;
  const [O, C] = w.shape as [number, number];
  const CK = C * numel(kernel);
  const { rows, geo } = toRows(e, ctx.inputs[0]!, x.shape, kernel);
  // W [O, C, k..] -> [(k_last, C, k..), O]
  const wt = e.op('Transpose', [ctx.inputs[1]!], [{ name: 'perm', type: 'ints', value: [...weightColumns(S).slice(1), 0] }]);
  let y = e.op('MatMul', [rows, e.reshape(wt, [CK, O])]);
  if (bias) y = e.op('Add', [y, bias]);
  const P = numel(geo.outSp);
  e.reshape(e.transpose(y, [x.shape[0]!, P, O], [0, 2, 1]), [0, O, ...geo.outSp], ctx.outputs[0]);
}

/** ConvTranspose (a patchify Conv's input gradient): rows = x^T . W', then the patches back in place. */
export function patchConvTranspose(e: Emitter, x: Value, w: Value, outputPadding: readonly number[], bias: string | undefined): void {
  const ctx = e.ctx;
  const kernel = w.shape.slice(2) as number[];
  const S = kernel.length;
  const [Cin, Cout] = w.shape as [number, number];
  const inSp = x.shape.slice(2) as number[];
  const P = numel(inSp);
  const xt = e.transpose(e.reshape(ctx.inputs[0]!, [0, Cin, P]), [x.shape[0]!, Cin, P], [0, 2, 1]);
  const wc = e.op('Transpose', [ctx.inputs[1]!], [{ name: 'perm', type: 'ints', value: weightColumns(S) }]);
  const rows = e.op('MatMul', [xt, e.reshape(wc, [Cin, Cout * numel(kernel)])]);
  const geo: PatchGeometry = { N: x.shape[0]!, C: Cout, outSp: inSp, kernel };
  const padded = outputPadding.some((p) => p > 0);
  let y = fromRows(e, rows, geo, padded || bias ? undefined : ctx.outputs[0]);
  if (padded) {
    // Output rows past the last patch receive no contribution: zeros (plus the bias below).
    y = e.op('Pad', [y, ctx.int64([0, 0, ...new Array<number>(S).fill(0), 0, 0, ...outputPadding])], [], bias ? undefined : ctx.outputs[0]);
  }
  if (bias) e.op('Add', [y, e.reshape(bias, [Cout, ...new Array<number>(S).fill(1)])], [], ctx.outputs[0]);
}

/**
 * Weight gradient: dW'[o, :] = dy^T[o, (n,p)] . rows[(n,p), :], the batch folded into the
 * contraction. Returns dy^T [O, N*P], from which the bias gradient is one more MatMul.
 */
export function patchWeightGrad(e: Emitter, x: Value, dy: Value, kernel: readonly number[]): string {
  const ctx = e.ctx;
  const S = kernel.length;
  const C = x.shape[1] as number;
  const O = dy.shape[1] as number;
  const { rows } = toRows(e, ctx.inputs[0]!, x.shape, kernel);
  const swap = [1, 0, ...Array.from({ length: S }, (_, d) => d + 2)];
  const dyT = e.reshape(e.transpose(ctx.inputs[1]!, dy.shape, swap), [O, -1]);
  const dw = e.op('MatMul', [dyT, e.reshape(rows, [-1, C * numel(kernel)])]);
  const full = [O, C, ...kernel];
  const colShape = weightColumns(S).map((p) => full[p]!);
  e.transpose(e.reshape(dw, colShape), colShape, weightFromColumns(S), ctx.outputs[0]);
  return dyT;
}
