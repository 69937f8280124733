/** Float64 reference loops for Conv, ConvTranspose and the conv weight gradient (any spatial rank). */
import { numel } from '../../ir/shape.js';
import type { HostTensor } from '../../ir/tensor.js';
import { type ConvGeometry, convOutputSpatial, convPairs, convTransposeOutputSpatial } from './geometry.js';

const noCheck = (): string => '';

function addBias(y: Float64Array, b: HostTensor | undefined, batch: number, channels: number, plane: number): void {
  if (!b) return;
  for (let n = 0; n < batch; n++) {
    for (let c = 0; c < channels; c++) {
      const v = b.data[c]!;
      const base = (n * channels + c) * plane;
      for (let q = 0; q < plane; q++) y[base + q]! += v;
    }
  }
}

/** y[n,o,p] = b[o] + sum_{c,k} w[o,c,k] x[n,c,p*s + k*d - pad]. */
export function convForward(x: HostTensor, w: HostTensor, b: HostTensor | undefined, g: ConvGeometry): HostTensor {
  const [N, C] = x.shape as [number, number];
  const O = w.shape[0]!;
  const inSp = x.shape.slice(2);
  const kSp = w.shape.slice(2);
  const outSp = convOutputSpatial('Conv', inSp, kSp, g, noCheck);
  const Pin = numel(inSp);
  const P = numel(outSp);
  const K = numel(kSp);
  const { p, k, i } = convPairs(inSp, outSp, kSp, g);
  const y = new Float64Array(N * O * P);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const yb = (n * O + o) * P;
      for (let c = 0; c < C; c++) {
        const xb = (n * C + c) * Pin;
        const wb = (o * C + c) * K;
        for (let t = 0; t < p.length; t++) y[yb + p[t]!]! += w.data[wb + k[t]!]! * x.data[xb + i[t]!]!;
      }
    }
  }
  addBias(y, b, N, O, P);
  return { dtype: 'float', shape: [N, O, ...outSp], data: y };
}

/** The adjoint of convForward in x: y[n,co,p*s + k*d - pad] += x[n,ci,p] w[ci,co,k]. */
export function convTransposeForward(
  x: HostTensor,
  w: HostTensor,
  b: HostTensor | undefined,
  g: ConvGeometry,
  outputPadding: readonly number[],
): HostTensor {
  const [N, Cin] = x.shape as [number, number];
  const Cout = w.shape[1]!;
  const inSp = x.shape.slice(2);
  const kSp = w.shape.slice(2);
  const outSp = convTransposeOutputSpatial(inSp, kSp, g, outputPadding);
  const P = numel(inSp);
  const Pout = numel(outSp);
  const K = numel(kSp);
  // The pairing is the one of the Conv this transposes: its input is our output.
  const { p, k, i } = convPairs(outSp, inSp, kSp, g);
  const y = new Float64Array(N * Cout * Pout);
  for (let n = 0; n < N; n++) {
    for (let co = 0; co < Cout; co++) {
      const yb = (n * Cout + co) * Pout;
      for (let ci = 0; ci < Cin; ci++) {
        const xb = (n * Cin + ci) * P;
        const wb = (ci * Cout + co) * K;
        for (let t = 0; t < p.length; t++) y[yb + i[t]!]! += x.data[xb + p[t]!]! * w.data[wb + k[t]!]!;
      }
    }
  }
  addBias(y, b, N, Cout, Pout);
  return { dtype: 'float', shape: [N, Cout, ...outSp], data: y };
}

/** dW[o,c,k] = sum_{n,p} dy[n,o,p] x[n,c,p*s + k*d - pad]. */
export function convWeightGrad(x: HostTensor, dy: HostTensor, kernel: readonly number[], g: ConvGeometry): HostTensor {
  const [N, C] = x.shape as [number, number];
  const O = dy.shape[1]!;
  const inSp = x.shape.slice(2);
  const outSp = dy.shape.slice(2);
  const Pin = numel(inSp);
  const P = numel(outSp);
  const K = numel(kernel);
  const { p, k, i } = convPairs(inSp, outSp, kernel, g);
  const dw = new Float64Array(O * C * K);
  for (let n = 0; n < N; n++) {
    for (let o = 0; o < O; o++) {
      const yb = (n * O + o) * P;
      for (let c = 0; c < C; c++) {
        const xb = (n * C + c) * Pin;
        const wb = (o * C + c) * K;
        for (let t = 0; t < p.length; t++) dw[wb + k[t]!]! += dy.data[yb + p[t]!]! * x.data[xb + i[t]!]!;
      }
    }
  }
  return { dtype: 'float', shape: [O, C, ...kernel], data: dw };
}

/** db[o] = sum_{n,p} dy[n,o,p]. */
export function biasGrad(dy: HostTensor): HostTensor {
  const [N, O] = dy.shape as [number, number];
  const P = numel(dy.shape.slice(2));
  const db = new Float64Array(O);
  for (let n = 0; n < N; n++) for (let o = 0; o < O; o++) for (let q = 0; q < P; q++) db[o]! += dy.data[(n * O + o) * P + q]!;
  return { dtype: 'float', shape: [O], data: db };
}
