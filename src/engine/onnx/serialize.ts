/**
 * Graph IR -> ONNX ModelProto bytes.
 *
 * Every node is lowered by its op (`op.lower`, or one node of `op.type` with `op.onnxAttrs`);
 * the serialiser only owns naming, initializers, value infos, opset and IR version. The graph's
 * precision-agnostic 'float' becomes FLOAT or DOUBLE here. Nodes that no declared output depends
 * on are left out (so are constants only they used); every declared input is kept, so the feeds
 * a session expects do not depend on which outputs happen to use them.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { DType, FloatPrecision } from '../ir/dtype.js';
import { GraphBuildError } from '../ir/errors.js';
import type { Graph, Node, Value } from '../ir/graph.js';
import type { Shape } from '../ir/shape.js';
import type { HostTensor } from '../ir/tensor.js';
import type { LowerContext, OnnxAttr } from '../ops/op.js';
import { AttrType, ElemType, int64Field, onnxType } from './proto.js';

/** The lowest opset emitted (Gelu, the exact-erf form the model uses, is opset 20). */
export const BASE_OPSET = 20;
/** The highest ai.onnx opset onnxruntime-node 1.30 loads (27 is rejected at session creation). */
export const MAX_OPSET = 26;

export interface OnnxExportOptions {
  /** How the graph's 'float' is stored: FLOAT for ONNX Runtime training/inference, DOUBLE for checks. */
  precision?: FloatPrecision;
  /** Force an opset; must be at least what the graph's ops need and at most MAX_OPSET. */
  opset?: number;
  /** ModelProto.metadata_props (shown by Netron; read back with `readOnnxMetadata`). */
  metadata?: Readonly<Record<string, string>>;
  docString?: string;
  producerVersion?: string;
  /**
   * ONNX Runtime intra-op threads the model will run with, when known: lowerings that are fastest
   * on one thread and slow on the thread pool (or the reverse) pick by it (LowerContext.intraOpThreads).
   */
  intraOpThreads?: number;
}

/**
 * The ModelProto.ir_version that goes with an opset, after onnx/docs/Versioning.md (opset 20 came
 * with IR 9, 21-22 with IR 10, 23 with IR 11, ...). ONNX Runtime 1.30 loads IR 8..13 (checked by
 * experiment: IR 14 is refused), so the table is capped at 13.
 */
export function irVersionFor(opset: number): number {
  if (opset <= 20) return 9;
  if (opset <= 22) return 10;
  if (opset === 23) return 11;
  if (opset === 24) return 12;
  return 13;
}

export function elemTypeOf(dtype: DType, precision: FloatPrecision): number {
  if (dtype === 'float') return precision === 'float64' ? ElemType.DOUBLE : ElemType.FLOAT;
  return dtype === 'int64' ? ElemType.INT64 : ElemType.BOOL;
}

const INT64_MAX = (1n << 63n) - 1n;
const INT64_MIN = -(1n << 63n);

/**
 * A JS number as an exact int64. Numbers at or beyond +-2^63 (including +-Infinity, as in
 * Slice ends "to the end") clamp to INT64_MAX / INT64_MIN; -2**63 itself is exact.
 */
export function toInt64(v: number, what = 'int64 value'): bigint {
  if (v === Infinity || v >= 2 ** 63) return INT64_MAX;
  if (v === -Infinity || v <= -(2 ** 63)) return INT64_MIN;
  if (!Number.isInteger(v)) throw new GraphBuildError(`ONNX export: ${what} must be an integer, got ${v}`);
  return BigInt(v);
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/** Little-endian raw_data, as TensorProto requires (typed arrays are little-endian on every platform Node ships for). */
function rawData(dtype: DType, precision: FloatPrecision, data: ArrayLike<number>, what: string): Uint8Array {
  if (dtype === 'float') return bytesOf(precision === 'float64' ? Float64Array.from(data) : Float32Array.from(data));
  if (dtype === 'int64') {
    const out = new BigInt64Array(data.length);
    for (let i = 0; i < data.length; i++) out[i] = toInt64(data[i]!, what);
    return bytesOf(out);
  }
  return Uint8Array.from(data, (x) => (x ? 1 : 0));
}

function tensorProto(name: string, dtype: DType, precision: FloatPrecision, dims: readonly number[], data: ArrayLike<number>) {
  return {
    name,
    dims: dims.map((d) => int64Field(d)),
    data_type: elemTypeOf(dtype, precision),
    raw_data: rawData(dtype, precision, data, `initializer ${name}`),
  };
}

function valueInfo(name: string, dtype: DType, shape: Shape, precision: FloatPrecision) {
  return {
    name,
    type: {
      tensor_type: {
        elem_type: elemTypeOf(dtype, precision),
        shape: { dim: shape.map((d) => (typeof d === 'number' ? { dim_value: int64Field(d) } : { dim_param: d })) },
      },
    },
  };
}

const utf8 = new TextEncoder();

function attrProto(a: OnnxAttr) {
  switch (a.type) {
    case 'int':
      return { name: a.name, type: AttrType.INT, i: int64Field(toInt64(a.value, `attribute ${a.name}`)) };
    case 'ints':
      return { name: a.name, type: AttrType.INTS, ints: a.value.map((v) => int64Field(toInt64(v, `attribute ${a.name}`))) };
    case 'float':
      return { name: a.name, type: AttrType.FLOAT, f: a.value };
    case 'floats':
      return { name: a.name, type: AttrType.FLOATS, floats: [...a.value] };
    case 'string':
      return { name: a.name, type: AttrType.STRING, s: utf8.encode(a.value) };
    case 'strings':
      return { name: a.name, type: AttrType.STRINGS, strings: a.value.map((s) => utf8.encode(s)) };
  }
}

type NodeMsg = { name: string; op_type: string; domain: string; input: string[]; output: string[]; attribute: ReturnType<typeof attrProto>[] };
type TensorMsg = ReturnType<typeof tensorProto>;

/** Shared state of one export: tensor names, initializers (with dedup of literal ones) and nodes. */
class ModelBuilder {
  readonly nodes: NodeMsg[] = [];
  readonly initializers: TensorMsg[] = [];
  private readonly literals = new Map<string, string>();

  constructor(
    readonly precision: FloatPrecision,
    private readonly used: Set<string>,
    readonly intraOpThreads?: number,
  ) {}

  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }

  node(name: string, opType: string, inputs: readonly string[], outputs: readonly string[], attrs: readonly OnnxAttr[]): void {
    this.nodes.push({ name, op_type: opType, domain: '', input: [...inputs], output: [...outputs], attribute: attrs.map(attrProto) });
  }

  initializer(name: string, dtype: DType, dims: readonly number[], data: ArrayLike<number>): void {
    this.initializers.push(tensorProto(name, dtype, this.precision, dims, data));
  }

  /** A literal initializer, shared by every lowering that asks for the same dtype, dims and values. */
  literal(dtype: 'int64' | 'float', values: readonly number[], dims: readonly number[] | undefined): string {
    const shape = dims ?? [values.length];
    const count = shape.reduce((a, b) => a * b, 1);
    if (count !== values.length) {
      throw new GraphBuildError(`ONNX export: ${dtype} literal of shape [${shape}] needs ${count} values, got ${values.length}`);
    }
    const key = `${dtype}|${shape.join(',')}|${values.map((v) => (Object.is(v, -0) ? '-0' : String(v))).join(',')}`;
    let name = this.literals.get(key);
    if (!name) {
      name = this.fresh(dtype === 'int64' ? `int64_${this.literals.size}` : `float_${this.literals.size}`);
      this.initializer(name, dtype, shape, values);
      this.literals.set(key, name);
    }
    return name;
  }
}

/** The LowerContext one IR node sees. */
class NodeLowering implements LowerContext {
  readonly floatElemType: number;
  readonly intraOpThreads?: number;
  private emitted = 0;

  constructor(
    private readonly model: ModelBuilder,
    private readonly irNode: Node<any>,
    readonly inputs: readonly string[],
    readonly outputs: readonly string[],
  ) {
    this.floatElemType = elemTypeOf('float', model.precision);
    if (model.intraOpThreads !== undefined) this.intraOpThreads = model.intraOpThreads;
  }

  node(opType: string, inputs: readonly string[], outputs: readonly string[], attrs: readonly OnnxAttr[] = []): void {
    // The first ONNX node keeps the IR node's name, so Netron and ORT profiles show the builder's scopes.
    const name = this.emitted === 0 ? this.irNode.name : `${this.irNode.name}/${opType}_${this.emitted}`;
    this.emitted++;
    this.model.node(name, opType, inputs, outputs, attrs);
  }

  int64(values: readonly number[], dims?: readonly number[]): string {
    return this.model.literal('int64', values, dims);
  }

  float(values: readonly number[], dims?: readonly number[]): string {
    return this.model.literal('float', values, dims);
  }

  temp(hint: string): string {
    return this.model.fresh(`${this.irNode.name}/${hint}`);
  }
}

/** Nodes the declared outputs depend on, in graph (topological) order. */
function liveNodes(graph: Graph): Node<any>[] {
  const need = new Set<Value>(graph.outputs.values());
  const live: Node<any>[] = [];
  for (let i = graph.nodes.length - 1; i >= 0; i--) {
    const n = graph.nodes[i]!;
    if (!n.outputs.some((o) => need.has(o))) continue;
    live.push(n);
    for (const x of n.inputs) need.add(x);
  }
  return live.reverse();
}

/** The opset a graph needs: the highest `minOpset` of its live ops, at least BASE_OPSET. */
export function requiredOpset(graph: Graph): number {
  return liveNodes(graph).reduce((m, n) => Math.max(m, n.op.minOpset ?? 1), BASE_OPSET);
}

/** Serialises a graph as an ONNX model (ModelProto bytes). */
export function toOnnxModel(graph: Graph, opts: OnnxExportOptions = {}): Uint8Array {
  const precision = opts.precision ?? 'float32';
  if (graph.outputs.size === 0) throw new GraphBuildError(`ONNX export of graph '${graph.name}': the graph declares no outputs`);
  const live = liveNodes(graph);
  const needed = live.reduce((m, n) => Math.max(m, n.op.minOpset ?? 1), BASE_OPSET);
  const opset = opts.opset ?? needed;
  if (!Number.isInteger(opset) || opset < needed || opset > MAX_OPSET) {
    throw new GraphBuildError(`ONNX export of graph '${graph.name}': opset ${opset} is outside [${needed}, ${MAX_OPSET}] (the graph's ops need ${needed}; ONNX Runtime 1.30 loads at most ${MAX_OPSET})`);
  }

  // Reserve every value name and every output name before any temp name is made.
  const used = new Set<string>();
  for (const v of graph.inputs) used.add(v.name);
  for (const v of graph.constants.keys()) used.add(v.name);
  for (const n of graph.nodes) for (const o of n.outputs) used.add(o.name);
  const valueByName = new Map<string, Value>();
  for (const v of graph.inputs) valueByName.set(v.name, v);
  for (const v of graph.constants.keys()) valueByName.set(v.name, v);
  for (const n of graph.nodes) for (const o of n.outputs) valueByName.set(o.name, o);
  for (const [name, v] of graph.outputs) {
    const other = valueByName.get(name);
    if (other && other !== v) {
      throw new GraphBuildError(`ONNX export of graph '${graph.name}': output '${name}' (${v}) has the name of another value (${other}); rename the output`);
    }
    if (other && v.kind !== 'node') {
      throw new GraphBuildError(`ONNX export of graph '${graph.name}': output '${name}' is the ${v.kind} of the same name; an ONNX name cannot be both, give the output another name`);
    }
    used.add(name);
  }

  const model = new ModelBuilder(precision, used, opts.intraOpThreads);

  // Constants: only those a live node or an output reads.
  const liveValues = new Set<Value>(graph.outputs.values());
  for (const n of live) for (const x of n.inputs) liveValues.add(x);
  for (const [v, t] of graph.constants) {
    if (!liveValues.has(v)) continue;
    checkConstant(v, t);
    model.initializer(v.name, v.dtype, t.shape, t.data);
  }

  // Outputs: a node output is declared directly under the output name (the producing node
  // writes it; every reader uses that name), once per value. Anything else (a value output under
  // a second name, an input or a constant) goes through an Identity node.
  const onnxName = new Map<Value, string>();
  for (const [name, v] of graph.outputs) if (name === v.name && v.kind === 'node') onnxName.set(v, name);
  for (const [name, v] of graph.outputs) if (v.kind === 'node' && !onnxName.has(v)) onnxName.set(v, name);
  const nameOf = (v: Value): string => onnxName.get(v) ?? v.name;

  for (const n of live) {
    const ctx = new NodeLowering(model, n, n.inputs.map(nameOf), n.outputs.map(nameOf));
    if (n.op.lower) n.op.lower(n, ctx);
    else ctx.node(n.op.type, ctx.inputs, ctx.outputs, n.op.onnxAttrs?.(n.attrs) ?? []);
  }

  const outputs = [...graph.outputs].map(([name, v]) => {
    if (nameOf(v) !== name) model.node(`output/${name}`, 'Identity', [nameOf(v)], [name], []);
    return valueInfo(name, v.dtype, v.shape, precision);
  });

  const msg = {
    ir_version: int64Field(irVersionFor(opset)),
    opset_import: [{ domain: '', version: int64Field(opset) }],
    producer_name: 'stmedfm',
    producer_version: opts.producerVersion ?? '',
    doc_string: opts.docString ?? '',
    graph: {
      name: graph.name,
      node: model.nodes,
      initializer: model.initializers,
      input: graph.inputs.map((v) => valueInfo(v.name, v.dtype, v.shape, precision)),
      output: outputs,
    },
    metadata_props: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  };
  return onnxType('ModelProto').encode(msg).finish();
}

function checkConstant(v: Value, t: HostTensor): void {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== n || t.shape.length !== v.rank || t.shape.some((d, i) => d !== v.shape[i])) {
    throw new GraphBuildError(`ONNX export: constant ${v} holds data of shape [${t.shape}] (${t.data.length} values)`);
  }
}

/** Writes the model atomically: a temp file in the same folder, then a rename over `path`. */
export function saveOnnx(graph: Graph, path: string, opts: OnnxExportOptions = {}): Uint8Array {
  const bytes = toOnnxModel(graph, opts);
  writeFileAtomic(path, bytes);
  return bytes;
}

export function writeFileAtomic(path: string, bytes: Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`;
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, path);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
