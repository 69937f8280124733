import { GraphBuildError } from './errors.js';

/** A dimension: a static size, or a symbolic name such as 'batch' that is fixed at run time. */
export type Dim = number | string;
export type Shape = readonly Dim[];

export const isStaticShape = (s: Shape): s is readonly number[] => s.every((d) => typeof d === 'number');

export function formatShape(s: Shape): string {
  return `[${s.join(',')}]`;
}

export function staticShape(s: Shape, what: string): number[] {
  if (!isStaticShape(s)) {
    throw new GraphBuildError(`${what} needs a static shape, got ${formatShape(s)}; symbolic dims are only allowed in forward-only graphs`);
  }
  return [...s];
}

export function numel(s: readonly number[]): number {
  let n = 1;
  for (const d of s) n *= d;
  return n;
}

export function normAxis(axis: number, rank: number, op: string): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) throw new GraphBuildError(`${op}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

/** numpy broadcasting of several shapes; throws a message naming the op and all shapes. */
export function broadcastShapes(op: string, shapes: Shape[]): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let d: Dim = 1;
    for (const s of shapes) {
      const k = i - (rank - s.length);
      if (k < 0) continue;
      const e = s[k]!;
      if (e === 1) continue;
      if (d === 1) d = e;
      else if (d !== e) {
        throw new GraphBuildError(
          `${op}: shapes ${shapes.map(formatShape).join(' and ')} cannot be broadcast (dim ${i} from the left: ${d} vs ${e})`,
        );
      }
    }
    out.push(d);
  }
  return out;
}

export function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Row-major strides of a static shape. */
export function strides(s: readonly number[]): number[] {
  const st = new Array<number>(s.length);
  let acc = 1;
  for (let i = s.length - 1; i >= 0; i--) {
    st[i] = acc;
    acc *= s[i]!;
  }
  return st;
}
