import { describe, expect, it } from 'vitest';
import { interpret } from '../../src/engine/interp.js';
import { normRelErr, relErr } from '../../src/engine/testing/gradcheck.js';
import { buildGradCamGraph } from '../../src/explain/gradcam.js';
import { GradCamExplainer, explainInterpreted } from '../../src/explain/saliency.js';
import { inputShape } from '../../src/training/graphs.js';
import { Rng } from '../../src/util/rng.js';
import { MICRO, NARROW, randomModel } from './helpers.js';

const normal = (n: number, rng: Rng) => Float64Array.from({ length: n }, () => rng.normal());

describe('the Grad-CAM graph: gradient check (float64 interpreter, fourth-order central differences)', () => {
  for (const task of ['bloodmnist', 'organmnist3d'] as const) {
    it(`dy_c/dA of the token map equals finite differences of the class score (${task})`, () => {
      const { model, store } = randomModel(MICRO, 1);
      const spec = buildGradCamGraph(model, store, task, { from: 'tokens' });
      const xv = spec.graph.findInput('x')!;
      const shape = xv.shape as number[];
      const rng = new Rng(5);
      const tokens = { dtype: 'float' as const, shape, data: normal(shape.reduce((a, b) => a * b, 1), rng) };
      const target = { dtype: 'float' as const, shape: [1, spec.classes], data: new Float64Array(spec.classes) };
      target.data[3] = 1;
      const feeds = { x: tokens, target };
      const [score, analytic] = interpret(spec.graph, feeds, [spec.graph.outputs.get('score')!, spec.graph.outputs.get('token_grad')!]);
      expect(Math.abs(score!.data[0]!)).toBeGreaterThan(0);
      const h = 3e-4;
      const numeric = new Float64Array(tokens.data.length);
      for (let i = 0; i < tokens.data.length; i++) {
        const orig = tokens.data[i]!;
        const at = (d: number) => {
          tokens.data[i] = orig + d;
          return interpret(spec.graph, feeds, [spec.graph.outputs.get('score')!])[0]!.data[0]!;
        };
        numeric[i] = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
        tokens.data[i] = orig;
      }
      expect(relErr(analytic!.data, numeric)).toBeLessThan(1e-6);
    });
  }

  it('the map is ReLU(sum_k mean_t(dy/dA)[k] A[t,k]) of the graph\'s own token map and gradient, and depends on the class', () => {
    const { model, store } = randomModel(MICRO, 2);
    const spec = buildGradCamGraph(model, store, 'bloodmnist');
    const rng = new Rng(9);
    const xShape = [1, ...inputShape(model, '2d')];
    const x = { dtype: 'float' as const, shape: xShape, data: normal(xShape.reduce((a, b) => a * b, 1), rng) };
    const outs = ['cam', 'tokens', 'token_grad'].map((n) => spec.graph.outputs.get(n)!);
    const camOf = (c: number) => {
      const target = { dtype: 'float' as const, shape: [1, 8], data: new Float64Array(8) };
      target.data[c] = 1;
      return interpret(spec.graph, { x, target }, outs);
    };
    const [cam, A, G] = camOf(1);
    const [T, K] = [A!.shape[1]!, A!.shape[2]!];
    const alpha = new Float64Array(K);
    for (let t = 0; t < T; t++) for (let k = 0; k < K; k++) alpha[k]! += G!.data[t * K + k]! / T;
    const want = Float64Array.from({ length: T }, (_, t) => Math.max(0, alpha.reduce((s, a, k) => s + a * A!.data[t * K + k]!, 0)));
    expect(cam!.shape).toEqual([1, 9]);
    expect(relErr(cam!.data, want)).toBeLessThan(1e-12);
    expect(Math.max(...want)).toBeGreaterThan(0);
    expect(normRelErr(camOf(6)[0]!.data, cam!.data)).toBeGreaterThan(0.1);
    // The graph checked by finite differences above (token map as input) is the product graph's
    // computation from the token map on: same token map in, same gradient and map out.
    const fromTokens = buildGradCamGraph(model, store, 'bloodmnist', { from: 'tokens' });
    const target = { dtype: 'float' as const, shape: [1, 8], data: Float64Array.from({ length: 8 }, (_, c) => (c === 1 ? 1 : 0)) };
    const [g2, cam2] = interpret(fromTokens.graph, { x: A!, target }, ['token_grad', 'cam'].map((n) => fromTokens.graph.outputs.get(n)!));
    expect(relErr(g2!.data, G!.data)).toBeLessThan(1e-12);
    expect(relErr(cam2!.data, cam!.data)).toBeLessThan(1e-12);
  });
});

describe('Grad-CAM on ONNX Runtime (float32) against the float64 interpreter', () => {
  for (const task of ['bloodmnist', 'organmnist3d'] as const) {
    it(`${task}: same probabilities, predicted class and map`, async () => {
      const { model, store } = randomModel(NARROW, 3);
      const rng = new Rng(11);
      const n = inputShape(model, model.head(task).modality).reduce((a, b) => a * b, 1);
      const x = Float32Array.from(normal(n, rng));
      const ex = await GradCamExplainer.create(model, store, task);
      const got = await ex.explain(x);
      const other = await ex.explain(x, (got.predicted + 1) % got.probabilities.length);
      await ex.release();
      const want = explainInterpreted(model, store, task, x);
      expect(got.grid).toEqual(task === 'bloodmnist' ? [7, 7] : [7, 7, 7]);
      expect(got.cam.length).toBe(task === 'bloodmnist' ? 49 : 343);
      expect(got.predicted).toBe(want.predicted);
      expect(got.classIndex).toBe(want.predicted);
      expect(relErr(got.probabilities, want.probabilities)).toBeLessThan(1e-4);
      expect(Math.max(...want.cam)).toBeGreaterThan(0);
      expect(normRelErr(got.cam, want.cam)).toBeLessThan(1e-3);
      expect(other.classIndex).not.toBe(got.classIndex);
      expect(normRelErr(other.cam, got.cam)).toBeGreaterThan(0.05);
    });
  }
});
