/** File formats of SPEC 7: atomic writes, safetensors, full checkpoints, peft adapter directories. */
export * from './atomic.js';
export * from './safetensors.js';
export * from './checkpoint.js';
export * from './peft_files.js';
