/**
 * Element types of graph values.
 *
 * `float` is deliberately precision-agnostic: the same graph is evaluated in float64 by the
 * reference interpreter (the gradient-check oracle) and serialised as float32 for ONNX Runtime.
 */
export type DType = 'float' | 'int64' | 'bool';

/** Floating precision a graph is serialised or evaluated with. */
export type FloatPrecision = 'float32' | 'float64';

export const isFloat = (d: DType): boolean => d === 'float';
