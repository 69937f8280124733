export * from './config.js';
export * from './params.js';
export * from './peft.js';
export * from './layers.js';
export * from './binder.js';
export * from './stmedfm.js';
export * from './merge.js';
export * from './counts.js';
