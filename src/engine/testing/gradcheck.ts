/**
 * Finite-difference gradient checking in float64 on the reference interpreter.
 *
 * A case builds a graph from some inputs; its (possibly non-scalar) output is contracted with a
 * fixed random tensor R into the scalar loss sum(out * R), so one check covers the whole
 * Jacobian-vector product. Analytic gradients come from `grad` (evaluated by the interpreter);
 * numeric ones from fourth-order central differences of the same interpreter.
 */
import { grad } from '../autodiff.js';
import { Graph, type Value } from '../ir/graph.js';
import type { DType } from '../ir/dtype.js';
import { numel, staticShape } from '../ir/shape.js';
import type { HostTensor } from '../ir/tensor.js';
import { interpret } from '../interp.js';
import { mul } from '../ops/binary.js';
import { reduceSum } from '../ops/reduce.js';
import { Rng } from '../../util/rng.js';

export type InitKind = 'normal' | 'positive' | 'awayFromZero' | 'unit' | { values: readonly number[] } | { int: number };

export interface CaseInput {
  name: string;
  shape: number[];
  dtype?: DType;
  init?: InitKind;
  /** Differentiate with respect to this input (default: true for float inputs). */
  grad?: boolean;
}

export interface GradCase {
  /** The op (or model) the case belongs to; the gradcheck table groups by it. */
  op: string;
  /** What this case varies (shapes, attributes). */
  name: string;
  inputs: CaseInput[];
  build(g: Graph, xs: Value[]): Value;
  /**
   * How ONNX Runtime's float32 results are compared with float64: elementwise (default), or per
   * tensor ||a - b|| / ||b|| for whole models, whose gradients hold entries that are ~0 by
   * cancellation of many float32 terms (elementwise error there measures rounding, not a bug).
   */
  ortMeasure?: 'elementwise' | 'normwise';
}

export interface GradCheckResult {
  op: string;
  name: string;
  maxRelErr: number;
  perInput: Record<string, number>;
  elements: number;
}

export function makeInput(spec: CaseInput, rng: Rng): HostTensor {
  const n = numel(spec.shape);
  const data = new Float64Array(n);
  const init = spec.init ?? 'normal';
  for (let i = 0; i < n; i++) {
    if (init === 'normal') data[i] = rng.normal();
    else if (init === 'positive') data[i] = 0.5 + rng.next() * 1.5;
    else if (init === 'unit') data[i] = rng.uniform(-1, 1);
    else if (init === 'awayFromZero') data[i] = (rng.next() < 0.5 ? -1 : 1) * (0.2 + rng.next());
    else if ('values' in init) data[i] = init.values[i % init.values.length]!;
    else data[i] = rng.int(init.int);
  }
  return { dtype: spec.dtype ?? 'float', shape: [...spec.shape], data };
}

/** Builds the case's graph with loss = sum(out * R) and returns everything needed to evaluate it. */
export function buildCase(c: GradCase, seed = 0) {
  const rng = new Rng(seed);
  const g = new Graph(`gradcheck:${c.op}:${c.name}`);
  const xs = c.inputs.map((s) => g.input(s.name, s.dtype ?? 'float', s.shape));
  const feeds = new Map<Value, HostTensor>(c.inputs.map((s, i) => [xs[i]!, makeInput(s, rng)]));
  const out = c.build(g, xs);
  const os = staticShape(out.shape, 'gradcheck output');
  const r: HostTensor = { dtype: 'float', shape: os, data: Float64Array.from({ length: numel(os) }, () => rng.normal()) };
  const loss = reduceSum(mul(out, g.constant(r, 'R')));
  const wrt = xs.filter((x, i) => (c.inputs[i]!.grad ?? (c.inputs[i]!.dtype ?? 'float') === 'float'));
  const grads = grad(loss, wrt);
  g.output('loss', loss);
  g.output('out', out);
  wrt.forEach((w, i) => g.output(`grad_${w.name}`, grads[i]!));
  return { graph: g, xs, feeds, out, loss, wrt, grads };
}

export function checkGradients(c: GradCase, opts: { seed?: number; h?: number } = {}): GradCheckResult {
  const h = opts.h ?? 3e-4;
  const { graph, feeds, loss, wrt, grads } = buildCase(c, opts.seed ?? 0);
  const analytic = interpret(graph, feeds, grads);
  const perInput: Record<string, number> = {};
  let elements = 0;
  wrt.forEach((w, k) => {
    const x = feeds.get(w)!;
    const a = analytic[k]!.data;
    const numeric = new Float64Array(x.data.length);
    for (let i = 0; i < x.data.length; i++) {
      const orig = x.data[i]!;
      const at = (d: number) => {
        x.data[i] = orig + d;
        return interpret(graph, feeds, [loss])[0]!.data[0]!;
      };
      // Fourth-order central difference: truncation O(h^4) lets h be large enough that float64
      // round-off in the loss (which grows with model size) stays far below the threshold.
      numeric[i] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
      x.data[i] = orig;
    }
    perInput[w.name] = relErr(a, numeric);
    elements += x.data.length;
  });
  const maxRelErr = Math.max(0, ...Object.values(perInput));
  return { op: c.op, name: c.name, maxRelErr, perInput, elements };
}

/**
 * Elementwise relative error max_i |a_i - n_i| / max(|a_i|, |n_i|, floor), with the floor at
 * 1e-3 of the tensor's largest entry so that entries that are ~0 by cancellation do not dominate.
 */
export function relErr(a: ArrayLike<number>, n: ArrayLike<number>): number {
  let scale = 0;
  for (let i = 0; i < n.length; i++) scale = Math.max(scale, Math.abs(n[i]!), Math.abs(a[i]!));
  const floor = Math.max(1e-3 * scale, 1e-12);
  let worst = 0;
  for (let i = 0; i < n.length; i++) {
    const e = Math.abs(a[i]! - n[i]!) / Math.max(Math.abs(a[i]!), Math.abs(n[i]!), floor);
    if (!(e <= worst)) worst = e; // NaN propagates as the worst
  }
  return worst;
}

/** Per-tensor relative error ||a - n||_2 / ||n||_2 (0 when both are zero). */
export function normRelErr(a: ArrayLike<number>, n: ArrayLike<number>): number {
  let num = 0;
  let den = 0;
  for (let i = 0; i < n.length; i++) {
    num += (a[i]! - n[i]!) ** 2;
    den += n[i]! ** 2;
  }
  if (num === 0) return 0;
  return Math.sqrt(num) / Math.max(Math.sqrt(den), 1e-30);
}
