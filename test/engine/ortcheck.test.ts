import { describe, expect, it } from 'vitest';
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
