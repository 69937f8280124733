import type { GradCase } from '../../src/engine/testing/gradcheck.js';
import { coreCases } from './core.js';

/** Every op gradient case; `npm run gradcheck` prints them all, the tests assert them all. */
export const allCases: GradCase[] = [...coreCases];
