/**
 * Reads ONNX model bytes back into a plain summary (names, types, shapes, initializer values,
 * metadata). Used by tests and by tools that show what a saved model contains.
 */
import { ElemType, onnxType } from './proto.js';

export interface OnnxTensorInfo {
  name: string;
  elemType: number;
  /** Static dims as numbers, symbolic dims by their dim_param name. */
  shape: (number | string)[];
}

export interface OnnxInitializer {
  name: string;
  dataType: number;
  dims: number[];
  /** Values widened to numbers (int64 beyond 2^53 lose precision; use `int64Values` for those). */
  values: number[];
  int64Values?: bigint[];
}

export interface OnnxNodeInfo {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: string[];
}

export interface OnnxModelInfo {
  irVersion: number;
  opsets: { domain: string; version: number }[];
  producerName: string;
  graphName: string;
  inputs: OnnxTensorInfo[];
  outputs: OnnxTensorInfo[];
  initializers: OnnxInitializer[];
  nodes: OnnxNodeInfo[];
  metadata: Record<string, string>;
}

// Decoded protobuf objects are untyped.
function tensorInfo(vi: any): OnnxTensorInfo {
  const tt = vi.type?.tensor_type ?? {};
  return {
    name: vi.name,
    elemType: tt.elem_type ?? 0,
    shape: (tt.shape?.dim ?? []).map((d: any) => (d.dim_param !== undefined && d.dim_param !== '' ? d.dim_param : Number(d.dim_value ?? 0))),
  };
}

function initializerInfo(t: any): OnnxInitializer {
  const raw: Uint8Array = t.raw_data ?? new Uint8Array(0);
  // Copy: the decoded raw_data may be a Buffer view into a shared pool at an unaligned offset.
  const buf = new Uint8Array(raw).buffer;
  const out: OnnxInitializer = { name: t.name, dataType: t.data_type, dims: (t.dims ?? []).map(Number), values: [] };
  switch (t.data_type) {
    case ElemType.FLOAT:
      out.values = raw.length ? [...new Float32Array(buf)] : (t.float_data ?? []);
      break;
    case ElemType.DOUBLE:
      out.values = raw.length ? [...new Float64Array(buf)] : (t.double_data ?? []);
      break;
    case ElemType.INT64:
      out.int64Values = raw.length ? [...new BigInt64Array(buf)] : (t.int64_data ?? []).map((v: string) => BigInt(v));
      out.values = out.int64Values!.map(Number);
      break;
    case ElemType.BOOL:
    case ElemType.UINT8:
      out.values = [...raw];
      break;
    default:
      break;
  }
  return out;
}

export function readOnnxModel(bytes: Uint8Array): OnnxModelInfo {
  const Model = onnxType('ModelProto');
  const m: any = Model.toObject(Model.decode(bytes), { longs: String, defaults: false, arrays: true });
  const g = m.graph ?? {};
  return {
    irVersion: Number(m.ir_version ?? 0),
    opsets: (m.opset_import ?? []).map((o: any) => ({ domain: o.domain ?? '', version: Number(o.version) })),
    producerName: m.producer_name ?? '',
    graphName: g.name ?? '',
    inputs: (g.input ?? []).map(tensorInfo),
    outputs: (g.output ?? []).map(tensorInfo),
    initializers: (g.initializer ?? []).map(initializerInfo),
    nodes: (g.node ?? []).map((n: any) => ({
      name: n.name ?? '',
      opType: n.op_type,
      domain: n.domain ?? '',
      inputs: n.input ?? [],
      outputs: n.output ?? [],
      attributes: (n.attribute ?? []).map((a: any) => a.name),
    })),
    metadata: Object.fromEntries((m.metadata_props ?? []).map((p: any) => [p.key, p.value ?? ''])),
  };
}

/** Just the metadata_props of a model. */
export function readOnnxMetadata(bytes: Uint8Array): Record<string, string> {
  return readOnnxModel(bytes).metadata;
}
