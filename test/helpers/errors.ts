import { expect } from 'vitest';
import { DataError } from '../../src/data/errors.js';

/** Runs `fn`, asserts it throws a DataError, and returns it so the test can check the message. */
export function errorOf(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return e as Error;
  }
  throw new Error('expected a DataError');
}
