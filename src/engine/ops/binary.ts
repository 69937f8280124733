/** Elementwise binary arithmetic with numpy broadcasting; gradients are summed back to each input's shape. */
import type { OutputSpec, Value } from '../ir/graph.js';
import { GraphBuildError } from '../ir/errors.js';
import { broadcastShapes } from '../ir/shape.js';
import { mapN } from './kernels.js';
import { defineOp, type OpDef } from './op.js';
import { sumTo } from './unbroadcast.js';

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

const apply2 = (op: OpDef<NoAttrs>, a: Operand, b: Operand): Value => {
  const [x, y] = operands(a, b, op.type);
  return x.graph.apply(op, [x, y], {})[0]!;
};

export const add = (a: Operand, b: Operand): Value => apply2(AddOp, a, b);
export const sub = (a: Operand, b: Operand): Value => apply2(SubOp, a, b);
export const mul = (a: Operand, b: Operand): Value => apply2(MulOp, a, b);
export const div = (a: Operand, b: Operand): Value => apply2(DivOp, a, b);
export const neg = (x: Value): Value => x.graph.apply(NegOp, [x], {})[0]!;
