import type { DType } from './dtype.js';
import { numel } from './shape.js';

/**
 * A host tensor as the reference interpreter and the runtime exchange it. Every dtype is held in
 * a Float64Array (int64 values used here are small indices and labels; bool is 0/1), which keeps
 * the float64 oracle simple; conversion to ONNX Runtime's typed arrays happens at the boundary.
 */
export interface HostTensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly data: Float64Array;
}

export function tensor(shape: readonly number[], data: ArrayLike<number> | Float64Array, dtype: DType = 'float'): HostTensor {
  const n = numel(shape);
  if (data.length !== n) throw new Error(`tensor: data has ${data.length} elements but shape [${shape.join(',')}] needs ${n}`);
  return { dtype, shape: [...shape], data: data instanceof Float64Array ? data : Float64Array.from(data) };
}

export function zeros(shape: readonly number[], dtype: DType = 'float'): HostTensor {
  return { dtype, shape: [...shape], data: new Float64Array(numel(shape)) };
}

export function scalar(v: number, dtype: DType = 'float'): HostTensor {
  return { dtype, shape: [], data: Float64Array.of(v) };
}
