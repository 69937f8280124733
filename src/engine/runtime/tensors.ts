/**
 * Conversions between host data and ONNX Runtime tensors at the session boundary.
 *
 * The graph IR's 'float' becomes float32 or float64 depending on how the model was serialised,
 * so a HostTensor is converted by the element type the session declares for that input.
 */
import type { DType } from '../ir/dtype.js';
import { numel } from '../ir/shape.js';
import type { HostTensor } from '../ir/tensor.js';
import { type OrtTensor, ortModule } from './ort.js';

export type FloatArray = Float32Array | Float64Array;
/** ONNX Runtime tensor element types this project exchanges. */
export type OrtType = 'float32' | 'float64' | 'int64' | 'bool';
/** What a session accepts as a feed: a host tensor (converted by the input's declared type) or a ready ONNX Runtime tensor. */
export type Feed = HostTensor | OrtTensor;

export const isOrtTensor = (x: unknown): x is OrtTensor => x instanceof ortModule().Tensor;

function checkSize(n: number, shape: readonly number[], what: string): void {
  if (n !== numel(shape)) throw new Error(`${what}: ${n} values do not fill shape [${shape.join(',')}]`);
}

/** A float tensor over `data` without copying (float32 or float64 by the array type). */
export function floatTensor(data: FloatArray, shape: readonly number[]): OrtTensor {
  checkSize(data.length, shape, 'floatTensor');
  return data instanceof Float64Array ? new (ortModule().Tensor)('float64', data, shape) : new (ortModule().Tensor)('float32', data, shape);
}

/** An int64 tensor (labels, indices). Numbers must be integers. */
export function int64Tensor(values: ArrayLike<number> | BigInt64Array, shape: readonly number[]): OrtTensor {
  checkSize(values.length, shape, 'int64Tensor');
  if (values instanceof BigInt64Array) return new (ortModule().Tensor)('int64', values, shape);
  const out = new BigInt64Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (!Number.isSafeInteger(v)) throw new Error(`int64Tensor: value ${v} at ${i} is not a safe integer`);
    out[i] = BigInt(v);
  }
  return new (ortModule().Tensor)('int64', out, shape);
}

export function boolTensor(values: ArrayLike<number | boolean>, shape: readonly number[]): OrtTensor {
  checkSize(values.length, shape, 'boolTensor');
  return new (ortModule().Tensor)('bool', Uint8Array.from(values as ArrayLike<number>, (v) => (v ? 1 : 0)), shape);
}

/** A scalar feed (learning rate, step) of the given float type. */
export function scalarTensor(v: number, type: 'float32' | 'float64' = 'float32'): OrtTensor {
  return type === 'float64' ? new (ortModule().Tensor)('float64', Float64Array.of(v), []) : new (ortModule().Tensor)('float32', Float32Array.of(v), []);
}

/** The ONNX Runtime type a graph dtype is fed as, for a given float precision. */
export function ortTypeOf(dtype: DType, precision: 'float32' | 'float64'): OrtType {
  return dtype === 'float' ? precision : dtype;
}

/** HostTensor -> OrtTensor of the requested element type (copies; checks that the dtypes agree). */
export function toOrt(t: HostTensor, type: OrtType, what = 'tensor'): OrtTensor {
  const expected: DType = type === 'float32' || type === 'float64' ? 'float' : type;
  if (t.dtype !== expected) throw new Error(`${what}: expected a ${expected} tensor (${type}), got ${t.dtype}`);
  checkSize(t.data.length, t.shape, what);
  switch (type) {
    case 'float32':
      return new (ortModule().Tensor)('float32', Float32Array.from(t.data), t.shape);
    case 'float64':
      return new (ortModule().Tensor)('float64', Float64Array.from(t.data), t.shape);
    case 'int64':
      return int64Tensor(t.data, t.shape);
    case 'bool':
      return boolTensor(t.data, t.shape);
  }
}

/** OrtTensor -> HostTensor (values widened to float64, as the interpreter holds them). */
export function fromOrt(t: OrtTensor): HostTensor {
  const shape = [...t.dims];
  switch (t.type) {
    case 'float32':
    case 'float64':
      return { dtype: 'float', shape, data: Float64Array.from(t.data as FloatArray) };
    case 'int64': {
      const src = t.data as BigInt64Array;
      const data = new Float64Array(src.length);
      for (let i = 0; i < src.length; i++) data[i] = Number(src[i]!);
      return { dtype: 'int64', shape, data };
    }
    case 'bool':
      return { dtype: 'bool', shape, data: Float64Array.from(t.data as Uint8Array, (v) => (v ? 1 : 0)) };
    default:
      throw new Error(`fromOrt: unsupported tensor type ${t.type}`);
  }
}

/** The float data of an output as a Float32Array (no copy when it already is one). */
export function toFloat32(t: OrtTensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float64') return Float32Array.from(t.data as Float64Array);
  throw new Error(`toFloat32: tensor of type ${t.type} is not float`);
}

/** The single value of a one-element float tensor (the loss). */
export function scalarOf(t: OrtTensor): number {
  if (t.size !== 1) throw new Error(`scalarOf: tensor of shape [${t.dims.join(',')}] is not a scalar`);
  if (t.type === 'float32' || t.type === 'float64') return (t.data as FloatArray)[0]!;
  if (t.type === 'int64') return Number((t.data as BigInt64Array)[0]!);
  throw new Error(`scalarOf: unsupported tensor type ${t.type}`);
}
