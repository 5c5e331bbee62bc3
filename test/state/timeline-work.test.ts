/**
 * The time line's cost: the entries are applied once for all change points (keyStateChanges), and
 * each change point costs the names that change there. Both bounds at once (510 times, 8160 entries)
 * held the app's main process for 20 s while keyStatesAt applied every entry again at each change
 * point; they are drawn now, whether the entries spread over many names or all move one name. Past
 * either bound the chain is refused before any state is evaluated.
 */
import { expect, test } from 'vitest';
import { keyTimeline, MAX_ENTRIES } from '../../src/state/timeline.js';
import { expectCode } from '../support/expect-code.js';
import { bytes, chain, day, entry, ms, SET1 } from './support.js';
import type { Step } from './support.js';

const minute = (i: number) => new Date(ms(day(1)) + i * 60_000).toISOString().replace('.000Z', 'Z');
/** `n` manifests of 32 new keys each, taking effect at two times of their own: one name per key, or all of one name. */
const steps = (n: number, oneName = false): Step[] => Array.from({ length: n }, (_, k) => ({ day: 1, keys: Array.from({ length: 32 }, (_, i) => (oneName
  ? entry('prepare', `k-v${k * 32 + i + 1}`, { name: 'K', supersedes: null, notBefore: minute(2 * k + (i % 2)) })
  : entry('prepare', `k${k}x${i}-v1`, { name: `K${k}_${i}`, supersedes: null, notBefore: minute(2 * k + (i % 2)) }))) }));

test.each([['many names', false], ['one name', true]] as const)('both bounds at once, %s: drawn in a few seconds at most', (_what, oneName) => {
  const m = chain(steps(255, oneName)).map((x) => bytes(x));
  const t0 = Date.now();
  const t = keyTimeline([bytes(SET1)], m, { at: ms(day(2)) });
  expect(Date.now() - t0).toBeLessThan(5000);
  expect([t.result.valid, t.changes.length, t.names.length, t.names.reduce((a, n) => a + n.versions.length, 0)]).toEqual([true, 510, oneName ? 1 : 8160, 8160]);
  // the last version prepared is pending from its own change point on, and no version before
  const last = t.names.find((n) => n.name === (oneName ? 'K' : 'K254_31'))?.versions.at(-1);
  expect(last?.segments).toEqual([expect.objectContaining({ state: 'pending', from: 509, to: 510 })]);
}, 60_000);

test(`more than ${MAX_ENTRIES} entries: refused at once, before any state is evaluated`, () => {
  const m = chain(steps(257)).map((x) => bytes(x));
  const t0 = Date.now();
  expectCode(() => keyTimeline([bytes(SET1)], m, { at: ms(day(2)) }), 'STATE_TIMELINE_TOO_LONG');
  expect(Date.now() - t0).toBeLessThan(2000);
}, 60_000);
