import type { GradCase } from '../../src/engine/testing/gradcheck.js';

export const convCases: GradCase[] = [];
