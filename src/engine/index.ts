/** The engine's public surface: graph IR, builder ops, autodiff, interpreter, ONNX export, runtime, optimizers. */
export * from './ir/dtype.js';
export * from './ir/errors.js';
export * from './ir/shape.js';
export * from './ir/tensor.js';
export * from './ir/graph.js';
export * as op from './ops/index.js';
export * from './ops/index.js';
export { grad } from './autodiff.js';
export { type Feeds, interpret } from './interp.js';
export * from './onnx/index.js';
export * from './runtime/index.js';
export * from './optim/index.js';
