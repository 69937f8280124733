/** A small helper for multi-node ONNX lowerings: fresh temporaries, Reshape/Transpose shortcuts. */
import type { Dim } from '../../ir/shape.js';
import type { LowerContext, OnnxAttr } from '../op.js';
import type { ConvGeometry } from './geometry.js';

export const ints = (name: string, value: readonly number[]): OnnxAttr => ({ name, type: 'ints', value });
export const int = (name: string, value: number): OnnxAttr => ({ name, type: 'int', value });

/** ONNX Conv / ConvTranspose attributes (group 1). */
export const convAttrs = (g: ConvGeometry, kernel: readonly number[]): OnnxAttr[] => [
  ints('kernel_shape', kernel),
  ints('strides', g.strides),
  ints('pads', g.pads),
  ints('dilations', g.dilations),
];

export class Emitter {
  constructor(
    readonly ctx: LowerContext,
    private readonly hint: string,
  ) {}

  /** One ONNX node writing a fresh temporary (or `out`); returns the output name. */
  op(type: string, inputs: readonly string[], attrs: readonly OnnxAttr[] = [], out?: string): string {
    const o = out ?? this.ctx.temp(`${this.hint}_${type}`);
    this.ctx.node(type, inputs, [o], attrs);
    return o;
  }

  /** ONNX Reshape semantics: 0 copies the input dim, one -1 is inferred. */
  reshape(x: string, shape: readonly number[], out?: string): string {
    return this.op('Reshape', [x, this.ctx.int64(shape)], [], out);
  }

  /**
   * A Transpose of a value of the given shape, or a Reshape when only size-1 dims move (then no
   * data moves at all). Symbolic dims must stay in place.
   */
  transpose(x: string, shape: readonly Dim[], perm: readonly number[], out?: string): string {
    const nonUnit = perm.filter((p) => shape[p] !== 1);
    if (nonUnit.every((p, i) => i === 0 || p > nonUnit[i - 1]!)) {
      const target = perm.map((p, i) => (typeof shape[p] === 'number' ? (shape[p] as number) : p === i ? 0 : NaN));
      if (!target.some(Number.isNaN)) return this.reshape(x, target, out);
    }
    return this.op('Transpose', [x], [ints('perm', perm)], out);
  }
}
