/**
 * Elementwise float functions. Every gradient is written with builder ops, so gradients are
 * themselves differentiable and read as ordinary calculus.
 */
import type { OutputSpec, Value } from '../ir/graph.js';
import { GraphBuildError } from '../ir/errors.js';
import { add, div, greater, mean, mul, neg, sub, where } from './binary.js';
import { map1 } from './kernels.js';
import { defineOp, type OpDef } from './op.js';

type NoAttrs = Record<string, never>;

const SQRT1_2 = Math.SQRT1_2;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const INV_SQRT_PI = 1 / Math.sqrt(Math.PI);
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

// ---------------------------------------------------------------------------------------------
// Float64 erf / erfc. Math has neither, and the gradient checks (1e-6 relative) of Erf and Gelu
// go through them, so both are accurate to a few ulp rather than the usual 1e-7 approximations.

/** Below this |x| erf uses the power series (fast and exact there), above it 1 - erfc. */
const SERIES_LIMIT = 2.5;

/**
 * erf(x) = 2/sqrt(pi) * exp(-x^2) * sum_n (2x^2)^n x / (2n+1)!!  — every term is positive, so
 * there is no cancellation (unlike the Maclaurin series, whose terms alternate).
 */
function erfSeries(x: number): number {
  const x2 = 2 * x * x;
  let term = x;
  let sum = x;
  for (let n = 1; n < 200; n++) {
    term *= x2 / (2 * n + 1);
    sum += term;
    if (Math.abs(term) <= 1e-17 * Math.abs(sum)) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-x * x) * sum;
}

/**
 * erfc(x) for x >= 1: exp(-x^2)/sqrt(pi) / (x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))),
 * evaluated with the modified Lentz algorithm.
 */
function erfcContinuedFraction(x: number): number {
  const tiny = 1e-300;
  let f = x;
  let c = x;
  let d = 0;
  for (let n = 1; n < 500; n++) {
    const a = n / 2;
    d = x + a * d;
    d = d === 0 ? 1 / tiny : 1 / d;
    c = x + a / c;
    if (c === 0) c = tiny;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return (INV_SQRT_PI * Math.exp(-x * x)) / f;
}

/** The error function in float64 (relative error < 1e-15 against C's erf). */
export function erfNumber(x: number): number {
  if (Number.isNaN(x)) return NaN;
  const a = Math.abs(x);
  if (a < SERIES_LIMIT) return erfSeries(x);
  if (a > 27) return Math.sign(x);
  const r = 1 - erfcContinuedFraction(a);
  return x < 0 ? -r : r;
}

/** The complementary error function 1 - erf(x), with full relative precision in the right tail. */
export function erfcNumber(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfcNumber(-x);
  // erfc(1) ~ 0.16, so below 1 the subtraction costs under one digit; from 1 on the continued
  // fraction converges in < 200 steps and keeps full relative precision.
  if (x < 1) return 1 - erfSeries(x);
  if (x > 27) return 0;
  return erfcContinuedFraction(x);
}

/** Standard normal CDF, through erfc so the left tail keeps its relative precision. */
const normalCdf = (x: number): number => 0.5 * erfcNumber(-x * SQRT1_2);

function sigmoidNumber(v: number): number {
  if (v >= 0) return 1 / (1 + Math.exp(-v));
  const e = Math.exp(v);
  return e / (1 + e);
}

// ---------------------------------------------------------------------------------------------

function inferFloat(op: string) {
  return ([x]: readonly Value[]): OutputSpec[] => {
    if (x!.dtype !== 'float') throw new GraphBuildError(`${op}: expects a float input, got ${x}; insert a cast`);
    return [{ dtype: 'float', shape: x!.shape }];
  };
}

interface UnaryGrad {
  (g: Value, x: Value, y: Value): Value;
}

/** A float -> float elementwise op: its pointwise function and the rule dx = f(g, x, y). */
function unaryOp(type: string, f: (v: number) => number, dx: UnaryGrad, extra: Partial<OpDef<NoAttrs>> = {}): OpDef<NoAttrs> {
  return defineOp<NoAttrs>({
    type,
    infer: inferFloat(type),
    evaluate: ([x]) => [map1(x!, f)],
    vjp: ({ inputs: [x], outputs: [y], grads: [g] }) => [() => dx(g!, x!, y!)],
    ...extra,
  });
}

export const ExpOp = unaryOp('Exp', Math.exp, (g, _x, y) => mul(g, y));

export const LogOp = unaryOp('Log', Math.log, (g, x) => div(g, x));

export const SqrtOp = unaryOp('Sqrt', Math.sqrt, (g, _x, y) => div(g, mul(y, 2)));

export const ErfOp = unaryOp('Erf', erfNumber, (g, x) => mul(g, mul(exp(neg(mul(x, x))), TWO_OVER_SQRT_PI)));

// d relu / dx at 0 is taken as 0, as in PyTorch.
export const ReluOp = unaryOp('Relu', (v) => (v > 0 ? v : 0), (g, x) => where(greater(x, 0), g, 0));

export const TanhOp = unaryOp('Tanh', Math.tanh, (g, _x, y) => mul(g, sub(1, mul(y, y))));

export const SigmoidOp = unaryOp('Sigmoid', sigmoidNumber, (g, _x, y) => mul(g, mul(y, sub(1, y))));

// d|x|/dx = sign(x) with sign(0) = 0 (PyTorch's convention). The stable BCE form relies on it.
export const AbsOp = unaryOp('Abs', Math.abs, (g, x) => mul(g, sign(x)));

/** Piecewise constant: its gradient is zero everywhere it exists. */
export const SignOp = unaryOp('Sign', (v) => (v > 0 ? 1 : v < 0 ? -1 : v), (g) => mul(g, 0));

export const ReciprocalOp = unaryOp('Reciprocal', (v) => 1 / v, (g, _x, y) => neg(mul(g, mul(y, y))));

/**
 * Exact GELU x * Phi(x) (ONNX Gelu, opset 20, approximate = 'none'):
 * d/dx = Phi(x) + x * phi(x), with Phi the standard normal CDF and phi its density.
 *
 * Written in 7 elementwise passes besides the multiplication by g (a plain transcription takes
 * 10): with t = x / sqrt(2), Phi = (1 + erf(t)) / 2 and 2 x phi(x) = x sqrt(2/pi) / exp(t^2),
 * so d/dx = mean(erf(t), 1 + x sqrt(2/pi) / exp(t^2)). Dividing by exp(t^2) instead of
 * multiplying by exp(-t^2) saves the negation; exp overflows to +inf only where x phi(x) is 0.
 */
export const GeluOp = unaryOp(
  'Gelu',
  (v) => v * normalCdf(v),
  (g, x) => {
    const t = mul(x, SQRT1_2);
    const twoXPdf = div(mul(x, SQRT_2_OVER_PI), exp(mul(t, t)));
    return mul(g, mean(erf(t), add(twoXPdf, 1)));
  },
  { minOpset: 20, onnxAttrs: () => [{ name: 'approximate', type: 'string', value: 'none' }] },
);

const apply1 = (op: OpDef<NoAttrs>, x: Value): Value => x.graph.apply(op, [x], {})[0]!;

export const exp = (x: Value): Value => apply1(ExpOp, x);
export const log = (x: Value): Value => apply1(LogOp, x);
export const sqrt = (x: Value): Value => apply1(SqrtOp, x);
export const erf = (x: Value): Value => apply1(ErfOp, x);
export const relu = (x: Value): Value => apply1(ReluOp, x);
export const tanh = (x: Value): Value => apply1(TanhOp, x);
export const sigmoid = (x: Value): Value => apply1(SigmoidOp, x);
export const abs = (x: Value): Value => apply1(AbsOp, x);
export const sign = (x: Value): Value => apply1(SignOp, x);
export const reciprocal = (x: Value): Value => apply1(ReciprocalOp, x);
/** Exact (erf) GELU, as PyTorch's nn.GELU() default. */
export const gelu = (x: Value): Value => apply1(GeluOp, x);
