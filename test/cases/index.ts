import type { GradCase } from '../../src/engine/testing/gradcheck.js';
import { convCases } from './conv.js';
import { coreCases } from './core.js';
import { mathCases } from './math.js';
import { modelCases } from './models.js';
import { shapeCases } from './shape.js';

/** Every op gradient case; `npm run gradcheck` prints them all, the tests assert them all. */
export const allCases: GradCase[] = [...coreCases, ...mathCases, ...shapeCases, ...convCases, ...modelCases];
