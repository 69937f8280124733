import type { DType } from './dtype.js';
import { GraphBuildError } from './errors.js';
import { type Dim, type Shape, formatShape } from './shape.js';
import type { HostTensor } from './tensor.js';
import type { OpDef } from '../ops/op.js';

export type ValueKind = 'input' | 'constant' | 'node';

/** A typed, shaped value of a graph: a fed input, a constant (ONNX initializer) or a node output. */
export class Value {
  constructor(
    readonly graph: Graph,
    readonly id: number,
    readonly name: string,
    readonly dtype: DType,
    readonly shape: Shape,
    readonly kind: ValueKind,
    readonly producer?: Node<any>,
    readonly outputIndex = 0,
  ) {}

  get rank(): number {
    return this.shape.length;
  }

  toString(): string {
    return `${this.name}:${this.dtype}${formatShape(this.shape)}`;
  }
}

export class Node<A extends object = object> {
  outputs: Value[] = [];
  constructor(
    readonly id: number,
    readonly op: OpDef<A>,
    readonly inputs: readonly Value[],
    readonly attrs: A,
    readonly name: string,
  ) {}
}

export interface OutputSpec {
  dtype: DType;
  shape: Shape;
}

/**
 * The graph IR. Nodes are appended in construction order, which is therefore a topological
 * order: builders can only reference values that already exist.
 */
export class Graph {
  readonly inputs: Value[] = [];
  readonly constants = new Map<Value, HostTensor>();
  readonly nodes: Node<any>[] = [];
  readonly outputs = new Map<string, Value>();
  private nextId = 0;
  private readonly names = new Set<string>();
  private readonly scalarCache = new Map<string, Value>();
  private scopeStack: string[] = [];

  constructor(readonly name = 'graph') {}

  private uniqueName(base: string): string {
    let name = base;
    for (let k = 1; this.names.has(name); k++) name = `${base}_${k}`;
    this.names.add(name);
    return name;
  }

  /** Prefixes the names of nodes built inside `fn` (shows up in Netron and in error messages). */
  scope<T>(prefix: string, fn: () => T): T {
    this.scopeStack.push(prefix);
    try {
      return fn();
    } finally {
      this.scopeStack.pop();
    }
  }

  private scoped(base: string): string {
    return this.scopeStack.length ? `${this.scopeStack.join('.')}.${base}` : base;
  }

  /** A value fed at run time (batch, trainable parameter, optimizer state, step scalars). */
  input(name: string, dtype: DType, shape: Shape): Value {
    if (this.names.has(name)) throw new GraphBuildError(`input name '${name}' is already used in graph '${this.name}'`);
    for (const d of shape) {
      if (typeof d === 'number' && (!Number.isInteger(d) || d < 0)) {
        throw new GraphBuildError(`input '${name}': dims must be non-negative integers or symbolic names, got ${formatShape(shape)}`);
      }
    }
    this.names.add(name);
    const v = new Value(this, this.nextId++, name, dtype, [...shape], 'input');
    this.inputs.push(v);
    return v;
  }

  /** A constant tensor, serialised as an ONNX initializer (frozen weights, literals). */
  constant(t: HostTensor, name?: string): Value {
    const v = new Value(this, this.nextId++, this.uniqueName(name ?? this.scoped('const')), t.dtype, [...t.shape], 'constant');
    this.constants.set(v, t);
    return v;
  }

  /** A cached scalar constant of the given dtype. */
  scalar(value: number, dtype: DType = 'float'): Value {
    const key = `${dtype}:${Object.is(value, -0) ? '-0' : String(value)}`;
    let v = this.scalarCache.get(key);
    if (!v) {
      v = this.constant({ dtype, shape: [], data: Float64Array.of(value) }, `scalar_${dtype}_${this.scalarCache.size}`);
      this.scalarCache.set(key, v);
    }
    return v;
  }

  /** Appends a node of `op`; shapes and dtypes are inferred (and checked) here, at build time. */
  apply<A extends object>(op: OpDef<A>, inputs: readonly Value[], attrs: A, nameHint?: string): Value[] {
    for (const x of inputs) {
      if (x.graph !== this) throw new GraphBuildError(`${op.type}: input ${x.name} belongs to graph '${x.graph.name}', not '${this.name}'`);
    }
    const specs = op.infer(inputs, attrs);
    const node = new Node<A>(this.nextId++, op, inputs, attrs, this.uniqueName(this.scoped(nameHint ?? op.type)));
    node.outputs = specs.map(
      (s, i) => new Value(this, this.nextId++, specs.length === 1 ? node.name : `${node.name}:${i}`, s.dtype, [...s.shape], 'node', node, i),
    );
    this.names.add(node.outputs.length === 1 ? node.name : '');
    for (const o of node.outputs) this.names.add(o.name);
    this.nodes.push(node);
    return node.outputs;
  }

  /** Marks a value as a named graph output. */
  output(name: string, v: Value): void {
    if (v.graph !== this) throw new GraphBuildError(`output '${name}': value belongs to another graph`);
    if (this.outputs.has(name)) throw new GraphBuildError(`output '${name}' is declared twice`);
    this.outputs.set(name, v);
  }

  findInput(name: string): Value | undefined {
    return this.inputs.find((v) => v.name === name);
  }
}

export type { Dim, Shape };
