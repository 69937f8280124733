/** Elementwise binary arithmetic with numpy broadcasting; gradients are summed back to each input's shape. */
import type { Node, OutputSpec, Value } from '../ir/graph.js';
import type { DType } from '../ir/dtype.js';
import { GraphBuildError } from '../ir/errors.js';
import { broadcastShapes } from '../ir/shape.js';
import { mapN } from './kernels.js';
import { defineOp, type LowerContext, type OpDef } from './op.js';
import { sumTo } from './unbroadcast.js';
import { log } from './unary.js';

type NoAttrs = Record<string, never>;
export type Operand = Value | number;

function inferBinary(op: string) {
  return (inputs: readonly Value[]): OutputSpec[] => {
    const [a, b] = inputs as [Value, Value];
    if (a.dtype !== b.dtype) throw new GraphBuildError(`${op}: dtypes differ (${a} vs ${b}); insert a cast`);
    return [{ dtype: a.dtype, shape: broadcastShapes(op, [a.shape, b.shape]) }];
  };
}

/** Turns a JS number into a scalar constant of the other operand's dtype. */
export function operands(a: Operand, b: Operand, op: string): [Value, Value] {
  if (typeof a === 'number' && typeof b === 'number') throw new GraphBuildError(`${op}: at least one operand must be a graph value`);
  const av = typeof a === 'number' ? (b as Value).graph.scalar(a, (b as Value).dtype) : a;
  const bv = typeof b === 'number' ? av.graph.scalar(b, av.dtype) : b;
  return [av, bv];
}

export const AddOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Add',
  infer: inferBinary('Add'),
  evaluate: ([a, b]) => [mapN([a!, b!], (x, y) => x + y, a!.dtype)],
  vjp: ({ inputs: [a, b], grads: [g] }) => [() => sumTo(g!, a!.shape), () => sumTo(g!, b!.shape)],
});

export const SubOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Sub',
  infer: inferBinary('Sub'),
  evaluate: ([a, b]) => [mapN([a!, b!], (x, y) => x - y, a!.dtype)],
  vjp: ({ inputs: [a, b], grads: [g] }) => [() => sumTo(g!, a!.shape), () => sumTo(neg(g!), b!.shape)],
});

export const MulOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Mul',
  infer: inferBinary('Mul'),
  evaluate: ([a, b]) => [mapN([a!, b!], (x, y) => x * y, a!.dtype)],
  vjp: ({ inputs: [a, b], grads: [g] }) => [() => sumTo(mul(g!, b!), a!.shape), () => sumTo(mul(g!, a!), b!.shape)],
});

export const DivOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Div',
  infer: inferBinary('Div'),
  evaluate: ([a, b]) => [mapN([a!, b!], (x, y) => x / y, a!.dtype)],
  // d(a/b)/db = -a/b^2 = -(a/b)/b, reusing the forward output
  vjp: ({ inputs: [a, b], outputs: [y], grads: [g] }) => [
    () => sumTo(div(g!, b!), a!.shape),
    () => sumTo(neg(div(mul(g!, y!), b!)), b!.shape),
  ],
});

export const NegOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Neg',
  infer: ([x]) => [{ dtype: x!.dtype, shape: x!.shape }],
  evaluate: ([x]) => [mapN([x!], (v) => -v, x!.dtype)],
  vjp: ({ grads: [g] }) => [() => neg(g!)],
});

/**
 * Elementwise mean of two or more inputs with broadcasting (ONNX Mean): one pass over the data
 * where (a + b) * 0.5 takes two, which matters on feature-map-sized tensors.
 */
export const MeanOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Mean',
  minOpset: 13,
  infer: (inputs) => {
    if (inputs.length < 2) throw new GraphBuildError(`Mean: needs at least two inputs, got ${inputs.length}`);
    const dt = inputs[0]!.dtype;
    if (dt !== 'float' || inputs.some((x) => x.dtype !== dt)) throw new GraphBuildError(`Mean: inputs must all be float, got ${inputs.join(', ')}`);
    return [{ dtype: dt, shape: broadcastShapes('Mean', inputs.map((x) => x.shape)) }];
  },
  evaluate: (inputs) => [mapN(inputs, (...xs) => xs.reduce((a, b) => a + b, 0) / xs.length)],
  vjp: ({ inputs, grads: [g] }) => {
    let share: Value | undefined;
    return inputs.map((x) => () => sumTo((share ??= mul(g!, 1 / inputs.length)), x.shape));
  },
});

/** Elementwise sum of two or more inputs with broadcasting (ONNX Sum): one node for a whole fan-in. */
export const SumOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Sum',
  minOpset: 13,
  infer: (inputs) => {
    if (inputs.length < 2) throw new GraphBuildError(`Sum: needs at least two inputs, got ${inputs.length}`);
    const dt = inputs[0]!.dtype;
    if (dt !== 'float' || inputs.some((x) => x.dtype !== dt)) throw new GraphBuildError(`Sum: inputs must all be float, got ${inputs.join(', ')}`);
    return [{ dtype: dt, shape: broadcastShapes('Sum', inputs.map((x) => x.shape)) }];
  },
  evaluate: (inputs) => [mapN(inputs, (...xs) => xs.reduce((a, b) => a + b, 0))],
  vjp: ({ inputs, grads: [g] }) => inputs.map((x) => () => sumTo(g!, x.shape)),
});

const apply2 = (op: OpDef<NoAttrs>, a: Operand, b: Operand): Value => {
  const [x, y] = operands(a, b, op.type);
  return x.graph.apply(op, [x, y], {})[0]!;
};

export const add = (a: Operand, b: Operand): Value => apply2(AddOp, a, b);
export const sub = (a: Operand, b: Operand): Value => apply2(SubOp, a, b);
export const mul = (a: Operand, b: Operand): Value => apply2(MulOp, a, b);
export const div = (a: Operand, b: Operand): Value => apply2(DivOp, a, b);
export const neg = (x: Value): Value => x.graph.apply(NegOp, [x], {})[0]!;
/** Elementwise a + b + ... of graph values: Add for two, one Sum node for more. */
export function sum(xs: readonly Value[]): Value {
  if (xs.length === 0) throw new GraphBuildError('Sum: needs at least one operand');
  if (xs.length === 1) return xs[0]!;
  if (xs.length === 2) return add(xs[0]!, xs[1]!);
  return xs[0]!.graph.apply(SumOp, xs, {})[0]!;
}

/** Elementwise mean (a + b + ...) / n of graph values (JS numbers become scalars). */
export function mean(...xs: Operand[]): Value {
  const v = xs.find((x): x is Value => typeof x !== 'number');
  if (!v || xs.length < 2) throw new GraphBuildError('Mean: needs at least two operands, one of them a graph value');
  return v.graph.apply(MeanOp, xs.map((x) => (typeof x === 'number' ? v.graph.scalar(x, v.dtype) : x)), {})[0]!;
}

// ---------------------------------------------------------------------------------------------
// Power, selection, comparisons, casts, elementwise max/min.

export const PowOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Pow',
  infer: inferBinary('Pow'),
  evaluate: ([a, b]) => [mapN([a!, b!], Math.pow, a!.dtype)],
  // d(a^b)/da = b a^(b-1); d(a^b)/db = a^b log(a), which is only real for a > 0.
  vjp: ({ inputs: [a, b], outputs: [y], grads: [g] }) => [
    () => sumTo(mul(g!, mul(b!, pow(a!, sub(b!, 1)))), a!.shape),
    () => sumTo(mul(g!, mul(y!, log(a!))), b!.shape),
  ],
});

export const WhereOp: OpDef<NoAttrs> = defineOp<NoAttrs>({
  type: 'Where',
  infer: ([c, a, b]) => {
    if (c!.dtype !== 'bool') throw new GraphBuildError(`Where: the condition must be bool, got ${c}`);
    if (a!.dtype !== b!.dtype) throw new GraphBuildError(`Where: branch dtypes differ (${a} vs ${b}); insert a cast`);
    return [{ dtype: a!.dtype, shape: broadcastShapes('Where', [c!.shape, a!.shape, b!.shape]) }];
  },
  evaluate: ([c, a, b]) => [mapN([c!, a!, b!], (k, x, y) => (k ? x : y), a!.dtype)],
  vjp: ({ inputs: [c, a, b], grads: [g] }) => [
    undefined,
    () => sumTo(where(c!, g!, 0), a!.shape),
    () => sumTo(where(c!, 0, g!), b!.shape),
  ],
});

function comparisonOp(type: string, f: (x: number, y: number) => boolean): OpDef<NoAttrs> {
  return defineOp<NoAttrs>({
    type,
    infer: ([a, b]) => {
      if (a!.dtype !== b!.dtype) throw new GraphBuildError(`${type}: dtypes differ (${a} vs ${b}); insert a cast`);
      return [{ dtype: 'bool', shape: broadcastShapes(type, [a!.shape, b!.shape]) }];
    },
    evaluate: ([a, b]) => [mapN([a!, b!], (x, y) => (f(x, y) ? 1 : 0), 'bool')],
    // no vjp: piecewise constant, and the output is not a float
  });
}

export const EqualOp = comparisonOp('Equal', (x, y) => x === y);
export const LessOp = comparisonOp('Less', (x, y) => x < y);
export const GreaterOp = comparisonOp('Greater', (x, y) => x > y);

export interface CastAttrs {
  readonly to: DType;
}

/** ONNX TensorProto element types of the non-float dtypes; 'float' is resolved by the serialiser. */
const ONNX_ELEM_TYPE = { int64: 7, bool: 9 } as const;
const ONNX_FLOAT = 1;

function castNumber(v: number, from: DType, to: DType): number {
  if (to === 'bool') return v !== 0 ? 1 : 0;
  if (to === 'int64' && from === 'float') return Math.trunc(v); // ONNX/C conversion truncates toward zero
  return v;
}

export const CastOp: OpDef<CastAttrs> = defineOp<CastAttrs>({
  type: 'Cast',
  infer: ([x], { to }) => [{ dtype: to, shape: x!.shape }],
  evaluate: ([x], { to }) => {
    const from = x!.dtype;
    return [{ dtype: to, shape: [...x!.shape], data: x!.data.map((v) => castNumber(v, from, to)) }];
  },
  // Only float -> float (an identity in the IR) carries a gradient; casts to or from integers do not.
  vjp: ({ inputs: [x], attrs: { to }, grads: [g] }) => [x!.dtype === 'float' && to === 'float' ? () => g! : undefined],
  lower: (node: Node<CastAttrs>, ctx: LowerContext) => {
    const to = node.attrs.to === 'float' ? (ctx.floatElemType ?? ONNX_FLOAT) : ONNX_ELEM_TYPE[node.attrs.to];
    ctx.node('Cast', ctx.inputs, ctx.outputs, [{ name: 'to', type: 'int', value: to }]);
  },
});

/** Elementwise max/min; at ties the gradient is split evenly between the two inputs. */
function extremumOp(type: 'Max' | 'Min', pick: (x: number, y: number) => number, wins: (a: Value, b: Value) => Value): OpDef<NoAttrs> {
  return defineOp<NoAttrs>({
    type,
    minOpset: 13,
    infer: inferBinary(type),
    evaluate: ([a, b]) => [mapN([a!, b!], pick, a!.dtype)],
    vjp: ({ inputs: [a, b], grads: [g] }) => {
      let share: Value | undefined;
      // share of a: 1 where a wins, 1/2 at ties, 0 where b wins
      const shareA = () => (share ??= add(cast(wins(a!, b!), 'float'), mul(cast(equal(a!, b!), 'float'), 0.5)));
      return [() => sumTo(mul(g!, shareA()), a!.shape), () => sumTo(mul(g!, sub(1, shareA())), b!.shape)];
    },
  });
}

export const MaxOp = extremumOp('Max', Math.max, (a, b) => greater(a, b));
export const MinOp = extremumOp('Min', Math.min, (a, b) => less(a, b));

export const pow = (a: Operand, b: Operand): Value => apply2(PowOp, a, b);
export const equal = (a: Operand, b: Operand): Value => apply2(EqualOp, a, b);
export const less = (a: Operand, b: Operand): Value => apply2(LessOp, a, b);
export const greater = (a: Operand, b: Operand): Value => apply2(GreaterOp, a, b);
export const max2 = (a: Operand, b: Operand): Value => apply2(MaxOp, a, b);
export const min2 = (a: Operand, b: Operand): Value => apply2(MinOp, a, b);

/** Elementwise cond ? a : b with broadcasting; a JS number branch takes the other branch's dtype (float if both are numbers). */
export function where(cond: Value, a: Operand, b: Operand): Value {
  const g = cond.graph;
  const dtype = typeof a !== 'number' ? a.dtype : typeof b !== 'number' ? b.dtype : 'float';
  const av = typeof a === 'number' ? g.scalar(a, dtype) : a;
  const bv = typeof b === 'number' ? g.scalar(b, dtype) : b;
  return g.apply(WhereOp, [cond, av, bv], {})[0]!;
}

/** Converts dtypes (float -> int64 truncates toward zero; -> bool is "!= 0"). Casting to the same dtype returns x itself. */
export function cast(x: Value, to: DType): Value {
  if (x.dtype === to) return x;
  return x.graph.apply(CastOp, [x], { to })[0]!;
}
