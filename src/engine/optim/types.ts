import type { Value } from '../ir/graph.js';

/** One trainable parameter handed to an optimizer section. */
export interface OptimEntry {
  /** The parameter (a graph input). */
  readonly param: Value;
  /** Its gradient, same shape. */
  readonly grad: Value;
  /** Whether weight decay applies (PyTorch: which param group it is in). */
  readonly decay: boolean;
}

/** An optimizer state tensor: the graph input holding its value and the value after this step. */
export interface StateUpdate {
  readonly input: Value;
  readonly next: Value;
}

/** What an optimizer section returns per parameter. */
export interface ParamUpdate {
  readonly param: Value;
  readonly next: Value;
  readonly state: readonly StateUpdate[];
}
