/** Optimizers as graph sections, the learning-rate schedule and the training-graph assembler. */
export type { OptimEntry, ParamUpdate, StateUpdate } from './types.js';
export { ADAMW_DEFAULTS, type AdamWHyper, adamw } from './adamw.js';
export { SGD_DEFAULTS, type SgdHyper, sgd } from './sgd.js';
export { warmupCosine } from './schedule.js';
export { type OptimizerConfig, type TrainingGraph, type TrainingGraphOptions, buildTrainingGraph, nextName } from './train_graph.js';
