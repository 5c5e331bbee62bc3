/**
 * The time line's reading of §8 (src/state/timeline.ts over keyStatesAt): the state it gives at a
 * time is keyState's at that time, for every change point and between them; a chain that is not
 * valid gives keyState's reasons and no time line; what would take too long is refused before any
 * state is evaluated; bad arguments are typed errors. The time line itself, written out by hand, is
 * test/api/state-handlers.test.ts's.
 */
import { describe, expect, test } from 'vitest';
import { keyState, keyStatesAt } from '../../src/state/state.js';
import { keyTimeline, MAX_CHANGES } from '../../src/state/timeline.js';
import { expectCode } from '../support/expect-code.js';
import { SET2, STORY } from '../support/key-story.js';
import { bytes, chain, day, entry, lifecycle, ms, SET1 } from './support.js';
import type { RawEnvelope, Step } from './support.js';

const sets = [SET1, SET2].map((s) => bytes(s));
const files = (m: readonly RawEnvelope[]): Uint8Array[] => m.map((x) => bytes(x));

describe('keyStatesAt', () => {
  test('at every day of the story, before it and after it: exactly keyState\'s keys at that time', () => {
    const m = files(chain(STORY));
    const times = [-1, ...Array.from({ length: 24 }, (_, d) => d), 30].map((d) => ms(day(d)) + (d === -1 ? 0 : 3600_000));
    const r = keyStatesAt(sets, m, { at: ms(day(15)) }, times);
    expect(r.result).toEqual(keyState(sets, m, { at: ms(day(15)) }));
    expect(r.at).toHaveLength(times.length);
    times.forEach((t, i) => expect(r.at[i]).toEqual(keyState(sets, m, { at: t }).keys));
  });
  test('an invalid chain: keyState\'s result, and no state at any time', () => {
    const m = files(chain(lifecycle()).filter((_, i) => i !== 3));
    const r = keyStatesAt([bytes(SET1)], m, { at: ms(day(100)) }, [ms(day(1)), ms(day(2))]);
    expect(r.result).toEqual(keyState([bytes(SET1)], m, { at: ms(day(100)) }));
    expect(r.result.valid).toBe(false);
    expect(r.at).toEqual([]);
  });
  test('times that are not whole ms since the epoch are a TypeError', () => {
    for (const times of [null, [1.5], [Number.NaN], ['1'], [2 ** 53]]) {
      expect(() => keyStatesAt(sets, [], { at: 0 }, times as unknown as number[])).toThrow(TypeError);
    }
  });
});

describe('keyTimeline', () => {
  test('between change points, each segment\'s state is keyState\'s an hour into it', () => {
    const m = files(chain(STORY));
    const t = keyTimeline(sets, m, { at: ms(day(15)) });
    for (const n of t.names) {
      for (const v of n.versions) {
        for (const s of v.segments) {
          const k = keyState(sets, m, { at: (t.changes[s.from] as number) + 3600_000 }).keys[n.name]!;
          const state = k.current === v.id ? 'current' : k.accept.includes(v.id) ? 'accepted' : (['pending', 'retired', 'revoked', 'compromised'] as const).find((x) => k[x].includes(v.id));
          expect([n.name, v.id, s.from, state]).toEqual([n.name, v.id, s.from, s.state]);
        }
      }
    }
  });
  test('a chain not valid now: keyState\'s reasons, and nothing drawn', () => {
    const m = files(chain(STORY));
    const t = keyTimeline(sets, m, { at: ms('2036-06-01T00:00:00Z') });
    expect(t.result.valid).toBe(false);
    expect(t.result.reasons.map((r) => r.split(':')[0])).toEqual(['CHAIN_EXPIRED']);
    expect([t.changes, t.names, t.manifests]).toEqual([[], [], []]);
  });
  test(`more than ${MAX_CHANGES} change points is refused before any state is evaluated`, () => {
    const minute = (i: number) => new Date(ms(day(1)) + i * 60_000).toISOString().replace('.000Z', 'Z');
    const steps = (n: number): Step[] => [0, 1, 2].map((k) => ({ day: 1, keys: Array.from({ length: n }, (_, i) => entry('prepare', `k${k}-v${i + 1}`, { name: `K${k}_${i}`, supersedes: null, notBefore: minute(k * n + i) })) }));
    expectCode(() => keyTimeline([bytes(SET1)], files(chain(steps(171))), { at: ms(day(2)) }), 'STATE_TIMELINE_TOO_LONG');
    // 510 change points: drawn
    const t = keyTimeline([bytes(SET1)], files(chain(steps(170))), { at: ms(day(2)) });
    expect(t.result.reasons).toEqual([]);
    expect(t.changes).toHaveLength(510);
  });
});
