/**
 * STMedFM's library API. The operations users call are top-level; each layer is also available
 * as a namespace (engine, model, data, evaluation, io, report, explain).
 */
// The library runs on onnxruntime-node (the browser app registers onnxruntime-web itself).
import './engine/runtime/node.js';

export { pretrain, finetune, evaluate, trainingState, DEFAULT_LR } from './training/workflows.js';
export type { PretrainOptions, FinetuneOptions, EvaluateOptions, EvaluationResult, TrainedModel } from './training/workflows.js';
export { loadModel, saveModel, loadOptimizer, saveOptimizer, saveTrainingPair, loadResumePoint, partialPath, optimizerPath } from './training/checkpoint.js';
export type { LoadedModel, CheckpointConfig } from './training/checkpoint.js';
export { train } from './training/trainer.js';
export { UserError } from './training/errors.js';
export { Predictor } from './inference/predictor.js';
export { exportOnnx } from './inference/export.js';
export { readInput } from './inference/input.js';
export { reproduce } from './experiments/reproduce.js';
export { DEFAULT_PROTOCOL, type ProtocolConfig } from './experiments/protocol.js';
export type { ResultRow, RunDetail } from './experiments/types.js';
export { benchStmedfm } from './bench/bench.js';
export { STMedFM, STMEDFM_TINY, MODEL_CONFIGS, ParamStore, parameterCounts, mergeLora, METHODS } from './model/index.js';
export type { Method, ModelConfig, TaskHead, PeftConfig, LoraConfig, AdapterConfig } from './model/index.js';

export * as engine from './engine/index.js';
export * as model from './model/index.js';
export * as data from './data/index.js';
export * as evaluation from './evaluation/index.js';
export * as io from './io/index.js';
export * as report from './report/index.js';
export * as explain from './explain/index.js';
