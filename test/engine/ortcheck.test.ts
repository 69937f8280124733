import { describe, expect, it } from 'vitest';
import { convLowering } from '../../src/engine/ops/conv/lower.js';
import { reduceLowering } from '../../src/engine/ops/reduce.js';
import { ORT_F32_TOLERANCE, checkOnOrt } from '../../src/engine/testing/ortcheck.js';
import { allCases } from '../cases/index.js';

describe('ONNX Runtime float32 against the float64 interpreter (outputs, loss, gradients)', () => {
  for (const c of allCases) {
    it(`${c.op}: ${c.name}`, async () => {
      const r = await checkOnOrt(c);
      expect(Object.keys(r.perOutput)).toContain('loss');
      expect(r.maxRelErr).toBeLessThan(ORT_F32_TOLERANCE);
    });
  }
});

// The lowerings chosen for more than one intra-op thread (sums as MatMuls with ones), forced on:
// every case whose graph (or gradient graph) has such a sum.
describe('ONNX Runtime float32 against the interpreter, multi-thread lowerings forced', () => {
  const ops = new Set(['Add', 'Sub', 'Mul', 'Div', 'ReduceSum', 'Conv', 'ConvWeightGrad', 'LayerNormalization', 'STMedFM']);
  for (const c of allCases.filter((k) => ops.has(k.op))) {
    it(`${c.op}: ${c.name}`, async () => {
      const saved = { sum: reduceLowering.leadingSumAsMatMul, bias: convLowering.patchBiasGrad };
      reduceLowering.leadingSumAsMatMul = true;
      convLowering.patchBiasGrad = 'matmul';
      try {
        expect((await checkOnOrt(c)).maxRelErr).toBeLessThan(ORT_F32_TOLERANCE);
      } finally {
        reduceLowering.leadingSumAsMatMul = saved.sum;
        convLowering.patchBiasGrad = saved.bias;
      }
    });
  }
});
