/**
 * The time line's cost is its change points times its key entries (keyStatesAt applies every entry
 * at each change point): both bounds at once (510 times, 8160 entries) held the app's main process
 * for 20 s. Such a chain is refused, before any state is evaluated, as STATE_TIMELINE_TOO_LONG; a
 * chain within the product bound is drawn.
 */
import { expect, test } from 'vitest';
import { keyTimeline, MAX_WORK } from '../../src/state/timeline.js';
import { expectCode } from '../support/expect-code.js';
import { bytes, chain, day, entry, ms, SET1 } from './support.js';
import type { Step } from './support.js';

const minute = (i: number) => new Date(ms(day(1)) + i * 60_000).toISOString().replace('.000Z', 'Z');
/** `n` manifests of 32 new keys each, taking effect at two times of their own. */
const steps = (n: number): Step[] => Array.from({ length: n }, (_, k) => ({ day: 1, keys: Array.from({ length: 32 }, (_, i) => entry('prepare', `k${k}x${i}-v1`, { name: `K${k}_${i}`, supersedes: null, notBefore: minute(2 * k + (i % 2)) })) }));

test(`change points times entries beyond ${MAX_WORK}: refused at once, before any state is evaluated`, () => {
  const m = chain(steps(255)).map((x) => bytes(x));
  const t0 = Date.now();
  expectCode(() => keyTimeline([bytes(SET1)], m, { at: ms(day(2)) }), 'STATE_TIMELINE_TOO_LONG');
  expect(Date.now() - t0).toBeLessThan(2000);
}, 60_000);

test('within it: drawn', () => {
  const t = keyTimeline([bytes(SET1)], chain(steps(64)).map((x) => bytes(x)), { at: ms(day(2)) });
  expect([t.result.valid, t.changes.length, t.names.length]).toEqual([true, 128, 2048]);
}, 60_000);
