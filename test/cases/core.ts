import type { GradCase } from '../../src/engine/testing/gradcheck.js';
import * as op from '../../src/engine/ops/index.js';

export const coreCases: GradCase[] = [
  { op: 'Add', name: 'broadcast [2,3,4]+[3,1]', inputs: [{ name: 'a', shape: [2, 3, 4] }, { name: 'b', shape: [3, 1] }], build: (_g, [a, b]) => op.add(a!, b!) },
  { op: 'Sub', name: 'broadcast [4]-[2,4]', inputs: [{ name: 'a', shape: [4] }, { name: 'b', shape: [2, 4] }], build: (_g, [a, b]) => op.sub(a!, b!) },
  { op: 'Mul', name: 'broadcast [2,1,4]*[3,1]', inputs: [{ name: 'a', shape: [2, 1, 4] }, { name: 'b', shape: [3, 1] }], build: (_g, [a, b]) => op.mul(a!, b!) },
  { op: 'Mul', name: 'fan-out x*x', inputs: [{ name: 'a', shape: [5] }], build: (_g, [a]) => op.mul(a!, a!) },
  { op: 'Div', name: 'broadcast [2,3]/[3]', inputs: [{ name: 'a', shape: [2, 3] }, { name: 'b', shape: [3], init: 'positive' }], build: (_g, [a, b]) => op.div(a!, b!) },
  { op: 'Neg', name: '[3,2]', inputs: [{ name: 'a', shape: [3, 2] }], build: (_g, [a]) => op.neg(a!) },
  { op: 'ReduceSum', name: 'axes [0,2] keepdims', inputs: [{ name: 'a', shape: [2, 3, 4] }], build: (_g, [a]) => op.reduceSum(a!, [0, 2], true) },
  // Leading axes lower to ones . x (a MatMul); the case above keeps the ONNX ReduceSum.
  { op: 'ReduceSum', name: 'leading axes [0,1] (MatMul with ones)', inputs: [{ name: 'a', shape: [2, 3, 4] }], build: (_g, [a]) => op.reduceSum(a!, [0, 1]) },
  { op: 'ReduceSum', name: 'leading axis 0 keepdims (MatMul with ones)', inputs: [{ name: 'a', shape: [3, 2, 2] }], build: (_g, [a]) => op.reduceSum(a!, [0], true) },
  { op: 'ReduceSum', name: 'axis -1', inputs: [{ name: 'a', shape: [2, 3, 4] }], build: (_g, [a]) => op.reduceSum(a!, [-1]) },
  { op: 'ReduceMean', name: 'axis 1', inputs: [{ name: 'a', shape: [2, 3, 4] }], build: (_g, [a]) => op.reduceMean(a!, [1]) },
  { op: 'Reshape', name: '[2,3,4]->[0,-1]', inputs: [{ name: 'a', shape: [2, 3, 4] }], build: (_g, [a]) => op.mul(op.reshape(a!, [0, -1]), op.reshape(a!, [2, 12])) },
  { op: 'Expand', name: '[3,1]->[2,3,4]', inputs: [{ name: 'a', shape: [3, 1] }], build: (_g, [a]) => op.expand(a!, [2, 3, 4]) },
];
