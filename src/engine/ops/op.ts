import type { Graph, Node, OutputSpec, Value } from '../ir/graph.js';
import type { HostTensor } from '../ir/tensor.js';

/** An ONNX attribute as the serialiser writes it. */
export type OnnxAttr =
  | { name: string; type: 'int'; value: number }
  | { name: string; type: 'ints'; value: readonly number[] }
  | { name: string; type: 'float'; value: number }
  | { name: string; type: 'floats'; value: readonly number[] }
  | { name: string; type: 'string'; value: string }
  | { name: string; type: 'strings'; value: readonly string[] };

/**
 * What a lowering may emit. Implemented by the ONNX serialiser; ops only describe themselves.
 * Names are ONNX tensor names.
 */
export interface LowerContext {
  /** ONNX names of the node's inputs and outputs, in order. */
  readonly inputs: readonly string[];
  readonly outputs: readonly string[];
  /** Adds one ONNX node (standard ai.onnx domain). */
  node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs?: readonly OnnxAttr[]): void;
  /** Adds (or reuses) an int64 initializer and returns its name; used for shape/axes inputs. */
  int64(values: readonly number[], dims?: readonly number[]): string;
  /** Adds (or reuses) a float initializer in the graph's float precision and returns its name. */
  float(values: readonly number[], dims?: readonly number[]): string;
  /** A fresh tensor name for intermediate results. */
  temp(hint: string): string;
  /**
   * ONNX TensorProto element type the graph's 'float' is serialised as (1 FLOAT, 11 DOUBLE), for
   * lowerings that name a type in an attribute (Cast `to`, LayerNormalization `stash_type`).
   * Undefined means FLOAT.
   */
  readonly floatElemType?: number;
  /** ONNX Runtime intra-op threads the model will run with, if the exporter was told (else assume 1). */
  readonly intraOpThreads?: number;
}

/** Whether the model runs on more than one intra-op thread (lowerings that pay off only on ORT's thread pool pick by it). */
export const onThreadPool = (ctx: LowerContext): boolean => (ctx.intraOpThreads ?? 1) > 1;

/** Everything a vector-Jacobian rule sees of the forward node. */
export interface VjpContext<A extends object> {
  readonly graph: Graph;
  readonly node: Node<A>;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly attrs: A;
  /**
   * Upstream gradient per output; undefined means "zero" (that output does not reach the loss).
   * Rules for single-output ops can use `grads[0]!`: autodiff never calls a rule with no gradient.
   */
  readonly grads: readonly (Value | undefined)[];
}

/** Per input: a thunk building that input's gradient (called only if that gradient is needed), or undefined if not differentiable. */
export type VjpRule<A extends object> = (ctx: VjpContext<A>) => readonly ((() => Value) | undefined)[];

/**
 * One primitive: shape inference, float64 reference semantics, its gradient rule and its ONNX
 * lowering, side by side. `type` is the ONNX op_type; attributes are typed per op.
 */
export interface OpDef<A extends object = object> {
  readonly type: string;
  /** Checks inputs and attributes and returns the outputs' dtypes and shapes, or throws a GraphBuildError. */
  infer(inputs: readonly Value[], attrs: A): OutputSpec[];
  /** Float64 reference semantics, used by the interpreter (the gradient-check oracle). */
  evaluate(inputs: readonly HostTensor[], attrs: A): HostTensor[];
  /** Vector-Jacobian product; absent for ops that are not differentiable (comparisons, casts to int). */
  readonly vjp?: VjpRule<A>;
  /** ONNX attributes for the default one-node lowering. */
  onnxAttrs?(attrs: A): OnnxAttr[];
  /** Custom lowering (ops whose static attributes become ONNX inputs, or that emit several nodes). */
  lower?(node: Node<A>, ctx: LowerContext): void;
  /** Minimum opset the lowering needs (the serialiser takes the max over the graph, <= 26). */
  readonly minOpset?: number;
}

const registry = new Map<string, OpDef<any>>();

/** Declares an op and registers it by name (names are unique). */
export function defineOp<A extends object>(def: OpDef<A>): OpDef<A> {
  if (registry.has(def.type)) throw new Error(`op '${def.type}' is defined twice`);
  registry.set(def.type, def);
  return def;
}

export function registeredOps(): ReadonlyMap<string, OpDef<any>> {
  return registry;
}
