/** Node-side import: sources (folders, CSV), splits, the `.npz` writer with provenance keys. */
export * from './encode.js';
export * from './importer.js';
export * from './npy_unicode.js';
export * from './read.js';
export * from './sources.js';
export * from './splits.js';
