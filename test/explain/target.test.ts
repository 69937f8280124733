import { describe, expect, it } from 'vitest';
import { getDataset } from '../../src/data/index.js';
import { resolveClass } from '../../src/explain/target.js';
import { UserError } from '../../src/training/errors.js';

const derma = getDataset('dermamnist').labels;

function messageOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(UserError);
    return (e as Error).message;
  }
  throw new Error('expected a UserError');
}

describe('--class: index, name or unambiguous start of a name', () => {
  it('resolves indices, names in any case and unique prefixes', () => {
    expect(resolveClass('4', derma, 'dermamnist')).toBe(4);
    expect(resolveClass('Melanoma', derma, 'dermamnist')).toBe(4);
    expect(resolveClass('basal', derma, 'dermamnist')).toBe(1);
    expect(resolveClass('0', derma, 'dermamnist')).toBe(0);
  });

  it('refuses unknown names, ambiguous prefixes and indices out of range, listing the classes', () => {
    expect(messageOf(() => resolveClass('7', derma, 'dermamnist'))).toMatch(/^--class 7: dermamnist has classes 0\.\.6 \(0 'actinic/);
    expect(messageOf(() => resolveClass('psoriasis', derma, 'dermamnist'))).toMatch(/^--class 'psoriasis' is not a class of dermamnist; give an index or a name: 0 /);
    expect(messageOf(() => resolveClass('b', derma, 'dermamnist'))).toMatch(/^--class 'b' is ambiguous \('basal cell carcinoma', 'benign keratosis-like lesions'\) of dermamnist/);
    expect(messageOf(() => resolveClass('', derma, 'dermamnist'))).toMatch(/is not a class/);
  });
});
