/** The data layer: MedMNIST files, registry, loading, batching, synthesis and download. */
export * from './errors.js';
export * from './npy.js';
export * from './npz.js';
export * from './registry.js';
export * from './dataset.js';
export * from './batches.js';
export * from './synth.js';
export * from './fetch.js';
export * from './info.js';
export * from './label_checks.js';
export * from './custom_task.js';
export * from './fingerprint.js';
