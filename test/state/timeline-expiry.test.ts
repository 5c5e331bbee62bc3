/**
 * The time line draws a state at a change point only where `keyceremony state --at` that time
 * gives one: a chain valid now whose key entries take effect after its newest custodian set
 * expires (§3.5) is not valid then, so keyState at that time has no state; the time line must not
 * draw one either (it did: a version "current" in 2036 that `keyceremony state --at` refuses).
 */
import { expect, test } from 'vitest';
import { keyState } from '../../src/state/state.js';
import { keyTimeline } from '../../src/state/timeline.js';
import { bytes, chain, day, entry, ms, SET1 } from './support.js';

test('a change point at or after the newest set expires gets no state, as keyceremony state --at gives none', () => {
  // SET1 expires 2036-01-01T00:00:00Z; the third manifest, valid to 2037, schedules v2 for after that
  const m = chain([
    { keys: [entry('prepare', 'master-v1', { supersedes: null })] },
    { keys: [entry('dual-publish', 'master-v1', { supersedes: null })] },
    { keys: [entry('cutover', 'master-v1', { supersedes: null })] },
    { keys: [entry('prepare', 'master-v2', { notBefore: '2036-06-01T00:00:00Z' })], over: { expires: '2037-01-01T00:00:00Z' } },
  ]).map((x) => bytes(x));
  const sets = [bytes(SET1)];
  const at = ms(day(10));
  const t = keyTimeline(sets, m, { at });
  expect(t.result.valid).toBe(true);
  for (const [i, c] of t.changes.entries()) {
    const k = keyState(sets, m, { at: c });
    for (const n of t.names) {
      for (const v of n.versions) {
        const seg = v.segments.find((s) => s.from <= i && i < s.to);
        if (!k.valid) {
          expect([c, v.id, seg?.state]).toEqual([c, v.id, undefined]);
          continue;
        }
        const ks = k.keys[n.name]!;
        const state = ks.current === v.id ? 'current' : ks.accept.includes(v.id) ? 'accepted' : (['pending', 'retired', 'revoked', 'compromised'] as const).find((x) => ks[x].includes(v.id));
        expect([c, v.id, seg?.state]).toEqual([c, v.id, state]);
      }
    }
  }
  // the set's expiry ends every segment, and the entry scheduled after it is no column of its own
  expect(t.changes.at(-1)).toBe(ms('2036-01-01T00:00:00Z'));
  expect(t.names.flatMap((n) => n.versions.flatMap((v) => v.segments.map((s) => s.to)))).not.toContain(t.changes.length);
  // and the change point after it is one keyState refuses
  expect(keyState(sets, m, { at: ms('2036-06-01T00:00:00Z') }).valid).toBe(false);
});
