import type { Value } from '../ir/graph.js';
import { type Shape, sameShape, staticShape } from '../ir/shape.js';
import { reduceSum } from './reduce.js';
import { reshape } from './shape_ops.js';

/**
 * Sums a gradient of a broadcast result back to an input's shape: the adjoint of numpy
 * broadcasting. Axes that were added on the left or were 1 in the input are summed.
 */
export function sumTo(g: Value, target: Shape): Value {
  if (sameShape(g.shape, target)) return g;
  const gs = staticShape(g.shape, 'gradient of a broadcast op');
  const ts = staticShape(target, 'gradient of a broadcast op');
  const pad = gs.length - ts.length;
  const axes: number[] = [];
  for (let i = 0; i < gs.length; i++) {
    if (i < pad || (ts[i - pad] === 1 && gs[i] !== 1)) axes.push(i);
  }
  // Only leading axes summed (a bias): the reduction already has the target shape, so no
  // Reshape node follows it (each node costs dispatch time in ONNX Runtime).
  if (axes.length === pad && axes.length > 0) return reduceSum(g, axes, false);
  const summed = axes.length ? reduceSum(g, axes, true) : g;
  return reshape(summed, ts);
}
