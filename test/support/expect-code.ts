import { expect } from 'vitest';
import { KeyceremonyError } from '../../src/errors.js';

/** Assert that `fn` throws a KeyceremonyError with this code (never the message text). */
export function expectCode(fn: () => unknown, code: string): KeyceremonyError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(KeyceremonyError);
    expect((err as KeyceremonyError).code).toBe(code);
    return err as KeyceremonyError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}

export async function expectCodeAsync(p: Promise<unknown>, code: string): Promise<KeyceremonyError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(KeyceremonyError);
    expect((err as KeyceremonyError).code).toBe(code);
    return err as KeyceremonyError;
  }
  throw new Error(`expected ${code}, nothing was thrown`);
}
