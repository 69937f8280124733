import type { GradCase } from '../../src/engine/testing/gradcheck.js';
import type { Value } from '../../src/engine/ir/graph.js';
import * as op from '../../src/engine/ops/index.js';
import type { ConvOptions, ConvTransposeOptions } from '../../src/engine/ops/conv.js';

/** A Conv case: x [N, C, ...spatial], w [O, C, ...kernel], optional bias [O]. */
function convCase(name: string, x: number[], w: number[], opts: ConvOptions, bias: boolean, xGrad = true): GradCase {
  const inputs = [
    { name: 'x', shape: x, grad: xGrad },
    { name: 'w', shape: w },
    ...(bias ? [{ name: 'b', shape: [w[0]!] }] : []),
  ];
  return { op: 'Conv', name, inputs, build: (_g, [xv, wv, bv]) => op.conv(xv!, wv!, bv, opts) };
}

function convTransposeCase(name: string, x: number[], w: number[], opts: ConvTransposeOptions, bias: boolean): GradCase {
  const inputs = [{ name: 'x', shape: x }, { name: 'w', shape: w }, ...(bias ? [{ name: 'b', shape: [w[1]!] }] : [])];
  return { op: 'ConvTranspose', name, inputs, build: (_g, [xv, wv, bv]) => op.convTranspose(xv!, wv!, bv, opts) };
}

/** Second order: the weight gradient is itself differentiated in both its inputs. */
function weightGradCase(name: string, x: number[], dy: number[], kernel: number[], opts: ConvOptions): GradCase {
  return {
    op: 'ConvWeightGrad',
    name,
    inputs: [{ name: 'x', shape: x }, { name: 'dy', shape: dy }],
    build: (_g, [xv, dyv]) => op.convWeightGrad(xv!, dyv!, kernel, opts),
  };
}

/** Second order through the fused weight + bias gradient (both outputs reach the loss). */
function paramGradsCase(name: string, x: number[], dy: number[], kernel: number[], opts: ConvOptions): GradCase {
  return {
    op: 'ConvWeightGrad',
    name: `${name}, with bias output`,
    inputs: [{ name: 'x', shape: x }, { name: 'dy', shape: dy }],
    build: (_g, [xv, dyv]) => {
      const [dw, db] = op.convParamGrads(xv!, dyv!, kernel, opts);
      return op.concat([op.reshape(dw, [-1]), op.mul(db, db)], 0);
    },
  };
}

/** Two convs with a square between them: the second conv's dX feeds the first conv's dW. */
function chainedCase(): GradCase {
  return {
    op: 'Conv',
    name: '2D chain conv(conv(x)) s2 then k=s=2',
    inputs: [
      { name: 'x', shape: [1, 2, 6, 6] },
      { name: 'w1', shape: [2, 2, 3, 3] },
      { name: 'w2', shape: [3, 2, 2, 2] },
      { name: 'b2', shape: [3] },
    ],
    build: (_g, [x, w1, w2, b2]: Value[]) => {
      const h = op.conv(x!, w1!, undefined, { pads: 1 });
      return op.conv(op.mul(h, h), w2!, b2, { strides: 2 });
    },
  };
}

export const convCases: GradCase[] = [
  // 1-D
  convCase('1D k3 s1 p1 bias', [2, 2, 7], [3, 2, 3], { pads: 1 }, true),
  convCase('1D patchify k=s=3 on 7 (last element unread)', [2, 2, 7], [2, 2, 3], { strides: 3 }, true),
  convCase('1D k3 s2 pads [1,0] dilation 2', [2, 3, 8], [2, 3, 3], { strides: 2, pads: [1, 0], dilations: 2 }, false),
  // 2-D
  convCase('2D k3 s1 p1 bias', [2, 2, 5, 5], [3, 2, 3, 3], { pads: 1 }, true),
  convCase('2D k3 s2 uneven pads [1,0,0,1] (stride leaves a remainder)', [2, 2, 6, 5], [2, 2, 3, 3], { strides: 2, pads: [1, 0, 0, 1] }, false),
  convCase('2D k2 dilation 2 p1 bias', [1, 2, 6, 6], [2, 2, 2, 2], { pads: 1, dilations: 2 }, true),
  convCase('2D patchify k=s=2 bias', [2, 2, 4, 4], [3, 2, 2, 2], { strides: 2 }, true),
  convCase('2D patchify k=s=2 on 5x5 (last row/col unread)', [2, 2, 5, 5], [2, 2, 2, 2], { strides: 2 }, false),
  convCase('2D patchify k=s=[2,3] on 6x7 (patch grid 3x2 differs from the kernel)', [2, 2, 6, 7], [3, 2, 2, 3], { strides: [2, 3] }, true),
  convCase('2D non-square k[2,3] s[1,2] pads [1,0,0,1] dilations [2,1]', [2, 2, 5, 6], [2, 2, 2, 3], { strides: [1, 2], pads: [1, 0, 0, 1], dilations: [2, 1] }, true),
  convCase('2D first conv (x is data, no dX)', [2, 3, 5, 5], [2, 3, 3, 3], { pads: 1 }, true, false),
  chainedCase(),
  // 3-D
  convCase('3D k3 s1 p1 bias', [1, 2, 4, 4, 4], [2, 2, 3, 3, 3], { pads: 1 }, true),
  convCase('3D patchify k=s=2 bias', [2, 2, 4, 4, 4], [3, 2, 2, 2, 2], { strides: 2 }, true),
  convCase('3D patchify k=s=[2,1,3] on 4x3x7', [1, 2, 4, 3, 7], [3, 2, 2, 1, 3], { strides: [2, 1, 3] }, true),
  convCase('3D non-cube k[3,2,2] s[2,1,2] pads [1,0,1,0,1,0]', [1, 2, 5, 4, 4], [2, 2, 3, 2, 2], { strides: [2, 1, 2], pads: [1, 0, 1, 0, 1, 0] }, false),
  // ConvTranspose
  convTransposeCase('1D k3 s2 p1 outputPadding 1 bias', [2, 2, 4], [2, 3, 3], { strides: 2, pads: 1, outputPadding: 1 }, true),
  convTransposeCase('2D k3 s2 pads [1,0,0,1] outputPadding [1,0]', [1, 2, 3, 3], [2, 2, 3, 3], { strides: 2, pads: [1, 0, 0, 1], outputPadding: [1, 0] }, false),
  convTransposeCase('2D patchify k=s=2 outputPadding 1 bias', [2, 3, 2, 2], [3, 2, 2, 2], { strides: 2, outputPadding: 1 }, true),
  convTransposeCase('3D patchify k=s=[3,1,2] outputPadding [2,0,1]', [1, 2, 2, 3, 2], [2, 3, 3, 1, 2], { strides: [3, 1, 2], outputPadding: [2, 0, 1] }, true),
  convTransposeCase('3D k2 dilation 2 bias', [1, 2, 3, 3, 3], [2, 2, 2, 2, 2], { dilations: 2 }, true),
  // ConvWeightGrad (second order)
  weightGradCase('2D k3 s2 p1', [1, 2, 5, 5], [1, 2, 3, 3], [3, 3], { strides: 2, pads: 1 }),
  weightGradCase('2D patchify k=s=2', [2, 2, 4, 4], [2, 3, 2, 2], [2, 2], { strides: 2 }),
  weightGradCase('3D patchify k=s=[1,2,3]', [2, 2, 3, 4, 6], [2, 2, 3, 2, 2], [1, 2, 3], { strides: [1, 2, 3] }),
  weightGradCase('1D k2 dilation 2 pads [0,1]', [2, 2, 6], [2, 2, 5], [2], { dilations: 2, pads: [0, 1] }),
  paramGradsCase('2D k3 s1 p1', [2, 2, 4, 4], [2, 3, 4, 4], [3, 3], { pads: 1 }),
  paramGradsCase('3D patchify k=s=2', [1, 2, 4, 2, 2], [1, 2, 2, 1, 1], [2, 2, 2], { strides: 2 }),
];
