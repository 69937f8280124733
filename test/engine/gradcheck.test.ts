import { describe, expect, it } from 'vitest';
import { checkGradients } from '../../src/engine/testing/gradcheck.js';
import { allCases } from '../cases/index.js';

describe('float64 finite-difference gradient checks', () => {
  for (const c of allCases) {
    it(`${c.op}: ${c.name}`, () => {
      const r = checkGradients(c);
      expect(r.maxRelErr).toBeLessThan(1e-6);
    });
  }
});
