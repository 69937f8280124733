/** ONNX Runtime execution: sessions, the training step session and tensor conversions. */
export * from './tensors.js';
export * from './session.js';
export * from './training.js';
export * from './ort.js';
export * from './data_parallel.js';
