/**
 * Binds parameters into a graph: trainable names become graph inputs (fed and updated by the
 * training session), all others become initializers, so ONNX Runtime can pre-pack frozen weights.
 */
import type { Graph, Value } from '../engine/ir/graph.js';
import type { BuildContext } from './layers.js';
import type { ParamStore } from './params.js';

export class ParamBinder implements BuildContext {
  /** Trainable parameters that the graph actually uses, in first-use order. */
  readonly trainableInputs = new Map<string, Value>();
  private readonly constants = new Map<string, Value>();

  constructor(
    readonly graph: Graph,
    readonly store: ParamStore,
    readonly trainable: ReadonlySet<string> = new Set(),
  ) {}

  has(name: string): boolean {
    return this.store.has(name);
  }

  param(name: string): Value {
    const t = this.store.get(name);
    if (this.trainable.has(name)) {
      let v = this.trainableInputs.get(name);
      if (!v) {
        v = this.graph.input(name, 'float', t.shape);
        this.trainableInputs.set(name, v);
      }
      return v;
    }
    let c = this.constants.get(name);
    if (!c) {
      c = this.graph.constant(t, name);
      this.constants.set(name, c);
    }
    return c;
  }
}
