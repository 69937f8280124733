import { describe, expect, it } from 'vitest';
import { grad } from '../../src/engine/autodiff.js';
import { interpret } from '../../src/engine/interp.js';
import { Graph, type Value } from '../../src/engine/ir/graph.js';
import { numel } from '../../src/engine/ir/shape.js';
import { type HostTensor, tensor } from '../../src/engine/ir/tensor.js';
import {
  type ConvOptions,
  ConvTransposeOp,
  ConvWeightGradOp,
  conv,
  convLowering,
  convTranspose,
  convWeightGrad,
} from '../../src/engine/ops/conv.js';
import { readOnnxModel } from '../../src/engine/onnx/inspect.js';
import { toOnnxModel } from '../../src/engine/onnx/serialize.js';
import { reduceSum } from '../../src/engine/ops/reduce.js';
import { ForwardSession } from '../../src/engine/runtime/session.js';
import { ORT_F32_TOLERANCE, checkOnOrt } from '../../src/engine/testing/ortcheck.js';
import { Rng } from '../../src/util/rng.js';
import { convCases } from '../cases/conv.js';

const iota = (n: number, from = 1): number[] => Array.from({ length: n }, (_, i) => i + from);

/** Builds y = f(inputs) and evaluates it with the float64 interpreter. */
function run(inputs: HostTensor[], f: (g: Graph, xs: Value[]) => Value): HostTensor {
  const g = new Graph('t');
  const xs = inputs.map((t, i) => g.input(`in${i}`, 'float', t.shape));
  const y = f(g, xs);
  return interpret(g, new Map(xs.map((x, i) => [x, inputs[i]!])), [y])[0]!;
}

function random(shape: number[], rng: Rng): HostTensor {
  return tensor(shape, Array.from({ length: numel(shape) }, () => rng.normal()));
}

const dot = (a: HostTensor, b: HostTensor): number => a.data.reduce((s, v, i) => s + v * b.data[i]!, 0);

describe('Conv forward (float64 interpreter)', () => {
  it('1D: a difference kernel with zero padding', () => {
    const y = run([tensor([1, 1, 5], iota(5)), tensor([1, 1, 3], [1, 0, -1])], (_g, [x, w]) => conv(x!, w!, undefined, { pads: 1 }));
    expect(y.shape).toEqual([1, 1, 5]);
    expect([...y.data]).toEqual([-2, -2, -2, -2, 4]);
  });

  it('2D: two channels in, two out, with bias', () => {
    // channel 0 = 1..9, channel 1 = ones; kernel o0 = [[1,2],[3,4]] on c0 and ones on c1, o1 = -(that).
    const x = tensor([1, 2, 3, 3], [...iota(9), ...new Array(9).fill(1)]);
    const k0 = [1, 2, 3, 4, 1, 1, 1, 1];
    const w = tensor([2, 2, 2, 2], [...k0, ...k0.map((v) => -v)]);
    const b = tensor([2], [0.5, 10]);
    const y = run([x, w, b], (_g, [xv, wv, bv]) => conv(xv!, wv!, bv, {}));
    expect(y.shape).toEqual([1, 2, 2, 2]);
    // 1*1+2*2+4*3+5*4 = 37 etc., +4 from the ones channel
    expect([...y.data]).toEqual([41.5, 51.5, 71.5, 81.5, 10 - 41, 10 - 51, 10 - 71, 10 - 81]);
  });

  it('2D: stride 2, pads 1, dilation 2', () => {
    const y = run([tensor([1, 1, 4, 4], iota(16)), tensor([1, 1, 2, 2], [1, 1, 1, 1])], (_g, [x, w]) =>
      conv(x!, w!, undefined, { strides: 2, pads: 1, dilations: 2 }),
    );
    expect(y.shape).toEqual([1, 1, 2, 2]);
    // taps at padded rows/cols {0,2} and {2,4} -> input rows/cols {-1,1} and {1,3}
    expect([...y.data]).toEqual([6, 6 + 8, 6 + 14, 6 + 8 + 14 + 16]);
  });

  it('2D: uneven pads and a non-square kernel', () => {
    // pads [top=1, left=0, bottom=0, right=1]; kernel 1x2 of [1, 10]
    const y = run([tensor([1, 1, 2, 2], [1, 2, 3, 4]), tensor([1, 1, 1, 2], [1, 10])], (_g, [x, w]) =>
      conv(x!, w!, undefined, { pads: [1, 0, 0, 1] }),
    );
    expect(y.shape).toEqual([1, 1, 3, 2]);
    expect([...y.data]).toEqual([0, 0, 1 + 20, 2, 3 + 40, 4]);
  });

  it('3D: a 2x2x2 box filter with padding 1', () => {
    const y = run([tensor([1, 1, 2, 2, 2], iota(8)), tensor([1, 1, 2, 2, 2], new Array(8).fill(1))], (_g, [x, w]) =>
      conv(x!, w!, undefined, { pads: 1 }),
    );
    expect(y.shape).toEqual([1, 1, 3, 3, 3]);
    expect(y.data[0]).toBe(1); // only x[0,0,0] under the kernel
    expect(y.data[13]).toBe(36); // centre: the whole volume
    expect(y.data[26]).toBe(8);
    expect(y.data[1]).toBe(1 + 2); // x[0,0,0] + x[0,0,1]
  });

  it('patchify k=s=2 reads non-overlapping patches and drops the unread border', () => {
    const y = run([tensor([1, 1, 5, 5], iota(25)), tensor([1, 1, 2, 2], [1, 1, 1, 1])], (_g, [x, w]) =>
      conv(x!, w!, undefined, { strides: 2 }),
    );
    expect(y.shape).toEqual([1, 1, 2, 2]);
    expect([...y.data]).toEqual([1 + 2 + 6 + 7, 3 + 4 + 8 + 9, 11 + 12 + 16 + 17, 13 + 14 + 18 + 19]);
  });
});

describe('ConvTranspose forward', () => {
  const x = tensor([1, 1, 2], [1, 2]);
  const w = tensor([1, 1, 3], [1, 10, 100]);
  it('scatters each input through the kernel at stride 2', () => {
    const y = run([x, w], (_g, [a, b]) => convTranspose(a!, b!, undefined, { strides: 2 }));
    expect([...y.data]).toEqual([1, 10, 102, 20, 200]);
  });
  it('crops pads and appends outputPadding', () => {
    const y = run([x, w], (_g, [a, b]) => convTranspose(a!, b!, undefined, { strides: 2, pads: [1, 0], outputPadding: 1 }));
    expect([...y.data]).toEqual([10, 102, 20, 200, 0]);
  });
  it('adds the bias per output channel', () => {
    const y = run([x, tensor([1, 2, 1], [1, -1]), tensor([2], [5, 7])], (_g, [a, b, c]) => convTranspose(a!, b!, c, {}));
    expect(y.shape).toEqual([1, 2, 2]);
    expect([...y.data]).toEqual([6, 7, 6, 5]);
  });
});

describe('adjoint identities (independent of autodiff)', () => {
  const cases: [string, number[], number[], ConvOptions][] = [
    ['1D s2 pads [1,0] d2', [2, 2, 9], [3, 2, 3], { strides: 2, pads: [1, 0], dilations: 2 }],
    ['2D s2 pads [1,0,0,1]', [2, 2, 6, 5], [3, 2, 3, 2], { strides: 2, pads: [1, 0, 0, 1] }],
    ['2D patchify on 5x5', [1, 3, 5, 5], [2, 3, 2, 2], { strides: 2 }],
    ['3D s[1,2,2] p1', [1, 2, 4, 5, 4], [2, 2, 3, 3, 2], { strides: [1, 2, 2], pads: 1 }],
  ];
  for (const [name, xs, ws, opts] of cases) {
    it(`<conv(x,w), y> = <x, convTranspose(y,w)> = <w, convWeightGrad(x,y)>: ${name}`, () => {
      const rng = new Rng(7);
      const x = random(xs, rng);
      const w = random(ws, rng);
      const y0 = run([x, w], (_g, [a, b]) => conv(a!, b!, undefined, opts));
      const y = random([...y0.shape], rng);
      const g = new Graph('adj');
      const [xv, wv, yv] = [g.input('x', 'float', xs), g.input('w', 'float', ws), g.input('y', 'float', y.shape)];
      const kernel = ws.slice(2);
      const outputPad = outputPadding(xs.slice(2), y.shape.slice(2), kernel, normalised(xs.length - 2, opts));
      const ct = convTranspose(yv, wv, undefined, { ...opts, outputPadding: outputPad });
      const wg = convWeightGrad(xv, yv, kernel, opts);
      const [ctv, wgv] = interpret(g, new Map([[xv, x], [wv, w], [yv, y]]), [ct, wg]);
      expect(ctv!.shape).toEqual(xs);
      expect(wgv!.shape).toEqual(ws);
      const ref = dot(y0, y);
      expect(dot(x, ctv!)).toBeCloseTo(ref, 9);
      expect(dot(w, wgv!)).toBeCloseTo(ref, 9);
    });
  }
});

function normalised(S: number, o: ConvOptions) {
  const arr = (v: number | readonly number[] | undefined, n: number, d: number) =>
    v === undefined ? new Array<number>(n).fill(d) : typeof v === 'number' ? new Array<number>(n).fill(v) : [...v];
  return { strides: arr(o.strides, S, 1), pads: arr(o.pads, 2 * S, 0), dilations: arr(o.dilations, S, 1) };
}

function outputPadding(inSp: number[], outSp: readonly number[], k: number[], g: ReturnType<typeof normalised>): number[] {
  const S = inSp.length;
  return inSp.map((n, d) => n + g.pads[d]! + g.pads[S + d]! - ((k[d]! - 1) * g.dilations[d]! + 1) - g.strides[d]! * (outSp[d]! - 1));
}

describe('shapes and gradient structure', () => {
  it('keeps a symbolic batch dim', () => {
    const g = new Graph('sym');
    const y = conv(g.input('x', 'float', ['batch', 3, 28, 28]), g.input('w', 'float', [32, 3, 3, 3]), g.input('b', 'float', [32]), { pads: 1 });
    expect(y.shape).toEqual(['batch', 32, 28, 28]);
    const z = conv(y, g.input('w2', 'float', [64, 32, 4, 4]), undefined, { strides: 4 });
    expect(z.shape).toEqual(['batch', 64, 7, 7]);
    const t = convTranspose(z, g.input('wt', 'float', [64, 8, 4, 4]), undefined, { strides: 4, outputPadding: [1, 2] });
    expect(t.shape).toEqual(['batch', 8, 29, 30]);
  });

  it('builds no input gradient for a conv whose input is data', () => {
    const g = new Graph('first');
    const x = g.input('x', 'float', [2, 3, 8, 8]);
    const w = g.input('w', 'float', [4, 3, 3, 3]);
    const b = g.input('b', 'float', [4]);
    grad(reduceSum(conv(x, w, b, { pads: 1 })), [w, b]);
    expect(g.nodes.some((n) => n.op === ConvTransposeOp)).toBe(false);
    expect(g.nodes.filter((n) => n.op === ConvWeightGradOp)).toHaveLength(1);
  });

  it('input gradient of a strided conv has exactly the input shape', () => {
    const g = new Graph('dx');
    const x = g.input('x', 'float', [1, 2, 7, 6]);
    const [dx] = grad(reduceSum(conv(x, g.input('w', 'float', [3, 2, 3, 3]), undefined, { strides: [2, 3], pads: [0, 1, 1, 0] })), [x]);
    expect(dx!.shape).toEqual([1, 2, 7, 6]);
  });
});

describe('build-time errors', () => {
  const g = new Graph('err');
  const x = g.input('x', 'float', [2, 3, 8, 8]);
  it('channel mismatch names both shapes', () => {
    expect(() => conv(x, g.input('w', 'float', [4, 5, 3, 3]), undefined)).toThrow(
      'Conv: input x[2,3,8,8] has 3 channels but weight w[4,5,3,3] expects 5',
    );
  });
  it('rank mismatch and unsupported ranks', () => {
    expect(() => conv(x, g.input('w1', 'float', [4, 3, 3]), undefined)).toThrow(/Conv: weight w1\[4,3,3\] must have rank 4/);
    expect(() => conv(g.input('x2', 'float', [2, 3]), g.input('w2', 'float', [4, 3]), undefined)).toThrow(/rank 3, 4 or 5/);
  });
  it('kernel larger than the padded input', () => {
    expect(() => conv(x, g.input('w3', 'float', [4, 3, 5, 5]), undefined, { dilations: 2 })).toThrow(
      /Conv: kernel extent 9 \(kernel 5, dilation 2\) exceeds the padded input size 8/,
    );
    expect(() => conv(x, g.input('w4', 'float', [4, 3, 10, 3]), undefined, { pads: [0, 0, 1, 0] })).toThrow(/padded input size 9 .* on spatial dim 0/);
    expect(() => conv(x, g.input('w4b', 'float', [4, 3, 10, 3]), undefined, { pads: [1, 0, 1, 0] })).not.toThrow();
  });
  it('bias and attribute shapes', () => {
    const w = g.input('w5', 'float', [4, 3, 3, 3]);
    expect(() => conv(x, w, g.input('b5', 'float', [3]))).toThrow('Conv: bias b5[3] must have shape [4] to match weight w5[4,3,3,3]');
    expect(() => conv(x, w, undefined, { strides: [1, 1, 1] })).toThrow(/strides \[1,1,1\] needs 2 entries/);
    expect(() => conv(x, w, undefined, { pads: [1, 1] })).toThrow(/pads \[1,1\] needs 4 entries/);
    expect(() => conv(x, w, undefined, { strides: 0 })).toThrow(/strides \[0,0\] must be integers >= 1/);
  });
  it('a symbolic channel dim is refused', () => {
    expect(() => conv(g.input('x6', 'float', [2, 'c', 8, 8]), g.input('w6', 'float', [4, 3, 3, 3]), undefined)).toThrow(/only the batch dim may be symbolic/);
  });
  it('ConvTranspose channel layout and output padding', () => {
    const w = g.input('wt', 'float', [4, 3, 3, 3]);
    expect(() => convTranspose(x, w, undefined)).toThrow(/ConvTranspose: input x\[2,3,8,8\] has 3 channels but weight wt\[4,3,3,3\] expects 4 \(weight layout \[C_in, C_out/);
    const w2 = g.input('wt2', 'float', [3, 4, 3, 3]);
    expect(() => convTranspose(x, w2, undefined, { strides: 2, outputPadding: 2 })).toThrow(/outputPadding \[2,2\] must be integers in \[0, stride\)/);
    expect(convTranspose(x, w2, undefined, { strides: 2, outputPadding: 1 }).shape).toEqual([2, 4, 18, 18]);
  });
  it('ConvWeightGrad checks the output gradient against the geometry', () => {
    expect(() => convWeightGrad(x, g.input('dy', 'float', [2, 4, 7, 7]), [3, 3], { pads: 1 })).toThrow(
      /ConvWeightGrad: output gradient dy\[2,4,7,7\] must have spatial size \[8,8\]/,
    );
    expect(() => convWeightGrad(x, g.input('dy2', 'float', [1, 4, 8, 8]), [3, 3], { pads: 1 })).toThrow(/different batch sizes/);
    expect(convWeightGrad(x, g.input('dy3', 'float', [2, 4, 8, 8]), [3, 3], { pads: 1 }).shape).toEqual([4, 3, 3, 3]);
  });
});

describe('every ONNX lowering formulation agrees with the interpreter on ONNX Runtime', () => {
  // The default formulations run in ortcheck.test.ts; these are the alternatives the benchmark compares.
  const variants: Partial<typeof convLowering>[] = [
    { conv: 'onnx', weightGrad: 'gemm', patchWeightGrad: 'rows', patchConv: 'rows', patchConvTranspose: 'onnx' },
    { conv: 'im2col', weightGrad: 'conv', patchWeightGrad: 'general', patchConv: 'onnx', patchConvTranspose: 'rows' },
    { conv: 'onnx', weightGrad: 'batched', patchWeightGrad: 'conv', patchConv: 'rows', patchConvTranspose: 'rows' },
  ];
  for (const v of variants) {
    it(JSON.stringify(v), async () => {
      const saved = { ...convLowering };
      Object.assign(convLowering, v);
      try {
        for (const c of convCases) {
          const r = await checkOnOrt(c);
          expect(r.maxRelErr, `${c.op}: ${c.name}`).toBeLessThan(ORT_F32_TOLERANCE);
        }
      } finally {
        Object.assign(convLowering, saved);
      }
    });
  }

  it('frozen weights: a 3-D patchify Conv runs as a 2-D Conv, the 3x3x3 Conv as the ONNX op, with a symbolic batch', async () => {
    const rng = new Rng(7);
    const g = new Graph('frozen');
    const x = g.input('x', 'float', ['batch', 2, 4, 6, 4]);
    const w1 = g.constant(random([3, 2, 3, 3, 3], rng), 'w1');
    const b1 = g.constant(random([3], rng), 'b1');
    const w2 = g.constant(random([5, 3, 2, 3, 2], rng), 'w2');
    const b2 = g.constant(random([5], rng), 'b2');
    const y = conv(conv(x, w1, b1, { pads: 1 }), w2, b2, { strides: [2, 3, 2] });
    g.output('y', y);
    // Two Conv nodes; the 3-D patchify one is wrapped in the two block moves of its 2-D form.
    const types = readOnnxModel(toOnnxModel(g)).nodes.map((n) => n.opType);
    expect(types.filter((t) => t === 'Conv')).toHaveLength(2);
    expect(types.filter((t) => t === 'Transpose')).toHaveLength(2);
    const feeds = { x: random([3, 2, 4, 6, 4], rng) };
    const want = interpret(g, feeds, [y])[0]!;
    const session = await ForwardSession.create(g);
    const got = await session.runHost(feeds);
    await session.release();
    expect(got.y!.shape).toEqual([3, 5, 2, 2, 2]);
    got.y!.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i]!, 4));
  });

  it('a symbolic batch dim survives every patchify lowering', async () => {
    const saved = { ...convLowering };
    Object.assign(convLowering, { patchConv: 'rows', patchConvTranspose: 'rows' });
    try {
      const g = new Graph('sym');
      const x = g.input('x', 'float', ['batch', 2, 5, 4]);
      const w = g.input('w', 'float', [3, 2, 2, 2]);
      const wt = g.input('wt', 'float', [3, 2, 2, 2]);
      const y = conv(x, w, undefined, { strides: 2 });
      g.output('y', y);
      g.output('t', convTranspose(y, wt, undefined, { strides: 2, outputPadding: [1, 0] }));
      const rng = new Rng(3);
      const feeds = { x: random([3, 2, 5, 4], rng), w: random([3, 2, 2, 2], rng), wt: random([3, 2, 2, 2], rng) };
      const session = await ForwardSession.create(g);
      const got = await session.runHost(feeds);
      await session.release();
      const want = run([feeds.x, feeds.w, feeds.wt], (_g, [a, b, c]) => convTranspose(conv(a!, b!, undefined, { strides: 2 }), c!, undefined, { strides: 2, outputPadding: [1, 0] }));
      expect(got.t!.shape).toEqual([3, 2, 5, 4]);
      got.t!.data.forEach((v, i) => expect(v).toBeCloseTo(want.data[i]!, 4));
    } finally {
      Object.assign(convLowering, saved);
    }
  });
});
