/**
 * Conv, ConvTranspose and ConvWeightGrad: shape rules, float64 semantics, gradient rules and
 * builders, for 1, 2 and 3 spatial dims with one implementation.
 *
 * The calculus (per spatial dim, i = p*s + k*d - pad):
 *   Conv           y[n,o,p]  = sum w[o,c,k] x[n,c,i]
 *   ConvTranspose  y[n,c,i] += sum x[n,o,p] w[o,c,k]       (the adjoint of Conv in x)
 *   ConvWeightGrad dW[o,c,k] = sum dy[n,o,p] x[n,c,i]      (the adjoint of Conv in w)
 * All three are bilinear, so each one's gradients are the other two with roles swapped.
 */
import { GraphBuildError } from '../../ir/errors.js';
import type { OutputSpec, Value } from '../../ir/graph.js';
import { type Dim, numel, staticShape } from '../../ir/shape.js';
import { add } from '../binary.js';
import { defineOp, type OpDef } from '../op.js';
import { reduceSum } from '../reduce.js';
import { expand, reshape } from '../shape_ops.js';
import {
  type ConvGeometry,
  type ConvOptions,
  type ConvTransposeOptions,
  checkGeometry,
  convOutputSpatial,
  convTransposeOutputSpatial,
  desc,
  inverseOutputPadding,
  normGeometry,
  normOutputPadding,
  spatialRank,
  staticSpatial,
} from './geometry.js';
import { biasGrad as biasGradKernel, convForward, convTransposeForward, convWeightGrad as convWeightGradKernel } from './kernels.js';
import { lowerConv, lowerConvTranspose, lowerConvWeightGrad } from './lower.js';

export type ConvAttrs = ConvGeometry;

export interface ConvTransposeAttrs extends ConvGeometry {
  readonly outputPadding: readonly number[];
}

export interface ConvWeightGradAttrs extends ConvGeometry {
  /** Spatial kernel size of the weight being differentiated. */
  readonly kernel: readonly number[];
  /**
   * Also output the bias gradient db [O] = sum of dy over batch and space. The im2col lowering
   * gets it from the weight gradient's own MatMul (a row of ones among the columns), which saves
   * a separate pass over dy (a feature-map-sized tensor for a stem's first conv).
   */
  readonly withBias?: boolean;
}

function checkFloat(op: string, inputs: readonly Value[]): void {
  for (const v of inputs) if (v.dtype !== 'float') throw new GraphBuildError(`${op}: ${desc(v)} must be float, got ${v.dtype}`);
}

function checkBias(op: string, b: Value | undefined, channels: number, w: Value): void {
  if (b && (b.rank !== 1 || b.shape[0] !== channels)) {
    throw new GraphBuildError(`${op}: bias ${desc(b)} must have shape [${channels}] to match weight ${desc(w)}`);
  }
}

function inputCount(op: string, inputs: readonly Value[], min: number, max: number): void {
  if (inputs.length < min || inputs.length > max) {
    throw new GraphBuildError(`${op}: expects ${min === max ? min : `${min} or ${max}`} inputs, got ${inputs.length}`);
  }
}

/** Spatial rank shared by input and weight, with static weight dims. */
function commonRank(op: string, x: Value, w: Value, layout: string): number {
  const S = spatialRank(op, x, 'input');
  if (w.rank !== x.rank) throw new GraphBuildError(`${op}: weight ${desc(w)} must have rank ${x.rank} (${layout}) like input ${desc(x)}`);
  staticSpatial(op, w, 'weight');
  if (typeof w.shape[0] !== 'number') throw new GraphBuildError(`${op}: weight ${desc(w)} must have static dims`);
  return S;
}

const spatialAxes = (rank: number): number[] => Array.from({ length: rank - 2 }, (_, i) => i + 2);

function inferConv(inputs: readonly Value[], a: ConvAttrs): OutputSpec[] {
  inputCount('Conv', inputs, 2, 3);
  checkFloat('Conv', inputs);
  const [x, w, b] = inputs as [Value, Value, Value | undefined];
  const S = commonRank('Conv', x, w, '[C_out, C_in, ...kernel]');
  checkGeometry('Conv', a, S);
  const inSp = staticSpatial('Conv', x, 'input');
  const kSp = w.shape.slice(2) as number[];
  const O = w.shape[0] as number;
  if (x.shape[1] !== w.shape[1]) {
    throw new GraphBuildError(`Conv: input ${desc(x)} has ${x.shape[1]} channels but weight ${desc(w)} expects ${w.shape[1]}`);
  }
  checkBias('Conv', b, O, w);
  const outSp = convOutputSpatial('Conv', inSp, kSp, a, () => `input ${desc(x)} and weight ${desc(w)}`);
  return [{ dtype: 'float', shape: [x.shape[0]!, O, ...outSp] }];
}

function inferConvTranspose(inputs: readonly Value[], a: ConvTransposeAttrs): OutputSpec[] {
  inputCount('ConvTranspose', inputs, 2, 3);
  checkFloat('ConvTranspose', inputs);
  const [x, w, b] = inputs as [Value, Value, Value | undefined];
  const S = commonRank('ConvTranspose', x, w, '[C_in, C_out, ...kernel]');
  checkGeometry('ConvTranspose', a, S);
  const inSp = staticSpatial('ConvTranspose', x, 'input');
  const kSp = w.shape.slice(2) as number[];
  if (x.shape[1] !== w.shape[0]) {
    throw new GraphBuildError(
      `ConvTranspose: input ${desc(x)} has ${x.shape[1]} channels but weight ${desc(w)} expects ${w.shape[0]} (weight layout [C_in, C_out, ...kernel])`,
    );
  }
  const Cout = w.shape[1] as number;
  checkBias('ConvTranspose', b, Cout, w);
  if (a.outputPadding.length !== S) {
    throw new GraphBuildError(`ConvTranspose: outputPadding [${a.outputPadding}] needs ${S} entries for input ${desc(x)}`);
  }
  // Padding beyond one stride would add outputs no input position reaches (and break the Conv adjoint).
  a.outputPadding.forEach((op, d) => {
    if (!Number.isInteger(op) || op < 0 || op >= a.strides[d]!) {
      throw new GraphBuildError(`ConvTranspose: outputPadding [${a.outputPadding}] must be integers in [0, stride) for strides [${a.strides}]`);
    }
  });
  const outSp = convTransposeOutputSpatial(inSp, kSp, a, a.outputPadding);
  if (outSp.some((d) => d < 1)) {
    throw new GraphBuildError(`ConvTranspose: output spatial size [${outSp}] is empty for input ${desc(x)}, weight ${desc(w)} and pads [${a.pads}]`);
  }
  return [{ dtype: 'float', shape: [x.shape[0]!, Cout, ...outSp] }];
}

function inferConvWeightGrad(inputs: readonly Value[], a: ConvWeightGradAttrs): OutputSpec[] {
  inputCount('ConvWeightGrad', inputs, 2, 2);
  checkFloat('ConvWeightGrad', inputs);
  const [x, dy] = inputs as [Value, Value];
  const S = spatialRank('ConvWeightGrad', x, 'input');
  if (dy.rank !== x.rank) throw new GraphBuildError(`ConvWeightGrad: output gradient ${desc(dy)} must have rank ${x.rank} like input ${desc(x)}`);
  checkGeometry('ConvWeightGrad', a, S);
  if (a.kernel.length !== S || a.kernel.some((k) => !Number.isInteger(k) || k < 1)) {
    throw new GraphBuildError(`ConvWeightGrad: kernel [${a.kernel}] needs ${S} positive sizes for input ${desc(x)}`);
  }
  const inSp = staticSpatial('ConvWeightGrad', x, 'input');
  const outSp = staticSpatial('ConvWeightGrad', dy, 'output gradient');
  if (x.shape[0] !== dy.shape[0]) {
    throw new GraphBuildError(`ConvWeightGrad: input ${desc(x)} and output gradient ${desc(dy)} have different batch sizes`);
  }
  const want = convOutputSpatial('ConvWeightGrad', inSp, a.kernel, a, () => `input ${desc(x)} and kernel [${a.kernel}]`);
  if (want.some((d, i) => d !== outSp[i])) {
    throw new GraphBuildError(
      `ConvWeightGrad: output gradient ${desc(dy)} must have spatial size [${want}] for input ${desc(x)}, kernel [${a.kernel}], strides [${a.strides}], pads [${a.pads}], dilations [${a.dilations}]`,
    );
  }
  const dw: OutputSpec = { dtype: 'float', shape: [dy.shape[1]!, x.shape[1]!, ...a.kernel] as Dim[] };
  return a.withBias ? [dw, { dtype: 'float', shape: [dy.shape[1]!] }] : [dw];
}

const geometryOf = (a: ConvGeometry): ConvGeometry => ({ strides: a.strides, pads: a.pads, dilations: a.dilations });

export const ConvOp: OpDef<ConvAttrs> = defineOp<ConvAttrs>({
  type: 'Conv',
  infer: inferConv,
  evaluate: ([x, w, b], a) => [convForward(x!, w!, b, a)],
  vjp: ({ inputs: [x, w, b], outputs: [y], attrs, grads: [g] }) => {
    // dW and db come from one node when both are wanted (autodiff asks for dW first).
    let params: Value[] | undefined;
    let weightAsked = false;
    const kernel = w!.shape.slice(2) as number[];
    return [
      // Only built when x needs a gradient: never for a network's first conv, whose input is data.
      () => {
        const inSp = staticSpatial('gradient of Conv', x!, 'input');
        const outSp = y!.shape.slice(2) as number[];
        const outputPadding = inverseOutputPadding(inSp, outSp, kernel, attrs);
        return x!.graph.apply(ConvTransposeOp, [g!, w!], { ...geometryOf(attrs), outputPadding })[0]!;
      },
      () => {
        weightAsked = true;
        params = b ? convParamGrads(x!, g!, kernel, attrs) : [convWeightGrad(x!, g!, kernel, attrs)];
        return params[0]!;
      },
      b ? () => (weightAsked ? params![1]! : reduceSum(g!, [0, ...spatialAxes(g!.rank)])) : undefined,
    ];
  },
  lower: lowerConv,
});

export const ConvTransposeOp: OpDef<ConvTransposeAttrs> = defineOp<ConvTransposeAttrs>({
  type: 'ConvTranspose',
  infer: inferConvTranspose,
  evaluate: ([x, w, b], a) => [convTransposeForward(x!, w!, b, a, a.outputPadding)],
  // outputPadding < stride makes the Conv of the output gradient land exactly on x's shape.
  vjp: ({ inputs: [x, w, b], attrs, grads: [g] }) => [
    () => conv(g!, w!, undefined, geometryOf(attrs)),
    () => convWeightGrad(g!, x!, w!.shape.slice(2) as number[], attrs),
    b ? () => reduceSum(g!, [0, ...spatialAxes(g!.rank)]) : undefined,
  ],
  lower: lowerConvTranspose,
});

/** Not an ONNX op: lowered to im2col + MatMul (or Reshape + MatMul for patchify convs). */
export const ConvWeightGradOp: OpDef<ConvWeightGradAttrs> = defineOp<ConvWeightGradAttrs>({
  type: 'ConvWeightGrad',
  minOpset: 13,
  infer: inferConvWeightGrad,
  evaluate: ([x, dy], a) => {
    const dw = convWeightGradKernel(x!, dy!, a.kernel, a);
    return a.withBias ? [dw, biasGradKernel(dy!)] : [dw];
  },
  vjp: ({ inputs: [x, dy], attrs, grads: [g, gb] }) => [
    () => {
      if (!g) return zerosLike(x!);
      const inSp = staticSpatial('gradient of ConvWeightGrad', x!, 'input');
      const outSp = dy!.shape.slice(2) as number[];
      const outputPadding = inverseOutputPadding(inSp, outSp, attrs.kernel, attrs);
      return x!.graph.apply(ConvTransposeOp, [dy!, g!], { ...geometryOf(attrs), outputPadding })[0]!;
    },
    () => {
      // d<db, gb>/d dy = gb broadcast over batch and space.
      const fromBias = gb ? expand(reshape(gb, [dy!.shape[1] as number, ...spatialAxes(dy!.rank).map(() => 1)]), staticShape(dy!.shape, 'gradient of ConvWeightGrad')) : undefined;
      if (!g) return fromBias!;
      const fromWeight = conv(x!, g, undefined, geometryOf(attrs));
      return fromBias ? add(fromWeight, fromBias) : fromWeight;
    },
  ],
  lower: lowerConvWeightGrad,
});

/**
 * ONNX Conv with group 1: x [N, C, ...spatial] (1-3 spatial dims, the batch may be symbolic),
 * w [O, C, ...kernel], optional bias [O].
 */
export function conv(x: Value, w: Value, b: Value | undefined, opts: ConvOptions = {}): Value {
  const S = spatialRank('Conv', x, 'input');
  return x.graph.apply(ConvOp, b ? [x, w, b] : [x, w], normGeometry('Conv', opts, S))[0]!;
}

/** ONNX ConvTranspose with group 1: x [N, C_in, ...], w [C_in, C_out, ...kernel], optional bias [C_out]. */
export function convTranspose(x: Value, w: Value, b: Value | undefined, opts: ConvTransposeOptions = {}): Value {
  const S = spatialRank('ConvTranspose', x, 'input');
  const attrs: ConvTransposeAttrs = { ...normGeometry('ConvTranspose', opts, S), outputPadding: normOutputPadding('ConvTranspose', opts, S) };
  return x.graph.apply(ConvTransposeOp, b ? [x, w, b] : [x, w], attrs)[0]!;
}

/**
 * The gradient of a Conv's weight: dW [O, C, ...kernel] from its input x [N, C, ...] and output
 * gradient dy [N, O, ...] (the geometry is the forward Conv's).
 */
export function convWeightGrad(x: Value, dy: Value, kernel: readonly number[], opts: ConvOptions = {}): Value {
  const S = spatialRank('ConvWeightGrad', x, 'input');
  return x.graph.apply(ConvWeightGradOp, [x, dy], { ...normGeometry('ConvWeightGrad', opts, S), kernel: [...kernel] })[0]!;
}

/** Weight and bias gradients of a Conv together: [dW [O, C, ...kernel], db [O]] (one node). */
export function convParamGrads(x: Value, dy: Value, kernel: readonly number[], opts: ConvOptions = {}): [Value, Value] {
  const S = spatialRank('ConvWeightGrad', x, 'input');
  const [dw, db] = x.graph.apply(ConvWeightGradOp, [x, dy], { ...normGeometry('ConvWeightGrad', opts, S), kernel: [...kernel], withBias: true });
  return [dw!, db!];
}

function zerosLike(x: Value): Value {
  const s = staticShape(x.shape, 'gradient of ConvWeightGrad');
  return x.graph.constant({ dtype: 'float', shape: s, data: new Float64Array(numel(s)) }, 'zeros');
}
