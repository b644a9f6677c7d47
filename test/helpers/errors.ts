// What a call threw, for tests of lodger's user-facing refusals: it must be a LodgerError.
import { expect } from 'vitest';
import { LodgerError } from '../../src/errors';

/** Runs FN, which must throw a LodgerError, and returns it (its code and message are the test's to check). */
export function lodgerErrorOf(fn: () => unknown): LodgerError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(LodgerError);
    return e as LodgerError;
  }
  throw new Error('expected a LodgerError');
}
