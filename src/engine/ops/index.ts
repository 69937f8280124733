/** The builder API: every op a model or a gradient rule may call. */
export * from './binary.js';
export * from './unary.js';
export * from './reduce.js';
export * from './shape_ops.js';
export * from './matmul.js';
export * from './softmax.js';
export * from './attention.js';
export * from './layernorm.js';
export * from './losses.js';
export * from './conv.js';
export { sumTo } from './unbroadcast.js';
export type { OpDef, OnnxAttr, LowerContext, VjpContext, VjpRule } from './op.js';
export { defineOp, registeredOps } from './op.js';
