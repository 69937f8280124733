/**
 * The whole model's gradient at a MedMNIST+ size (64 px: patch 8 from patchForImageSize, 64
 * tokens), in float64 on the reference interpreter, against fourth-order central differences.
 *
 * The element-by-element check of test/engine/gradcheck.test.ts would take four forward passes
 * of a 64x64 image per parameter (about 4,000 here, minutes); instead every parameter tensor is
 * checked along its own random direction d: analytic <grad, d> against (L(x + h d) - ...) / h,
 * which a wrong entry anywhere in that tensor's gradient changes (with probability 1).
 */
import { describe, expect, it } from 'vitest';
import { buildCase, type GradCase } from '../../src/engine/testing/gradcheck.js';
import { interpret } from '../../src/engine/interp.js';
import * as op from '../../src/engine/ops/index.js';
import { type BuildContext, type ModelConfig, STMedFM, patchForImageSize } from '../../src/model/index.js';
import { Rng } from '../../src/util/rng.js';

const S = 64;
const TINY_64: ModelConfig = {
  name: 'tiny-64',
  dim: 4,
  heads: 2,
  depth: 1,
  mlpHidden: 4,
  lnEps: 1e-5,
  stem2d: { inChannels: 3, hidden: 2, imageSize: S, patch: patchForImageSize(S) },
  stem3d: { inChannels: 1, hidden: 2, volumeSize: 4, patch: 2 },
};

function wholeModelCase(): GradCase {
  const model = new STMedFM(TINY_64, [{ name: 'img', numClasses: 3, modality: '2d' }]);
  const trainable = model.trainableSpecs('img', 'full');
  return {
    op: 'STMedFM',
    name: `2D full at ${S} px`,
    inputs: [
      { name: 'x', shape: [2, 3, S, S], grad: false },
      { name: 'y', shape: [2], dtype: 'int64', init: { values: [2, 0] } },
      ...trainable.map((s) => ({ name: s.name, shape: s.shape, init: 'unit' as const })),
    ],
    build: (g, xs) => {
      const byName = new Map(xs.map((v) => [v.name, v]));
      const ctx: BuildContext = { graph: g, param: (n) => byName.get(n)!, has: (n) => byName.has(n) };
      return op.softmaxCrossEntropy(model.logits(ctx, byName.get('x')!, 'img'), byName.get('y')!);
    },
  };
}

describe(`whole-model gradient at ${S} px (float64, finite differences)`, () => {
  it('every parameter tensor, along a random direction', () => {
    const c = wholeModelCase();
    const { graph, feeds, loss, wrt, grads } = buildCase(c, 3);
    expect(TINY_64.stem2d.patch).toBe(8);
    expect(wrt.map((w) => w.name)).toContain('stem2d.pos');
    const analytic = interpret(graph, feeds, grads);
    const rng = new Rng(11);
    const h = 1e-3;
    const errors: Record<string, number> = {};
    wrt.forEach((w, k) => {
      const x = feeds.get(w)!;
      const orig = Float64Array.from(x.data);
      const d = Float64Array.from({ length: orig.length }, () => rng.normal());
      const at = (t: number) => {
        for (let i = 0; i < orig.length; i++) x.data[i] = orig[i]! + t * d[i]!;
        return interpret(graph, feeds, [loss])[0]!.data[0]!;
      };
      const numeric = (8 * (at(h) - at(-h)) - (at(2 * h) - at(-2 * h))) / (12 * h);
      x.data.set(orig);
      let dot = 0;
      for (let i = 0; i < orig.length; i++) dot += analytic[k]!.data[i]! * d[i]!;
      errors[w.name] = Math.abs(dot - numeric) / Math.max(Math.abs(dot), Math.abs(numeric), 1e-9);
    });
    for (const [name, e] of Object.entries(errors)) expect(e, name).toBeLessThan(1e-6);
  });
});
