/**
 * parseManifest accepts common key entries on a fast path (acceptKey) and reports everything
 * else through the Fields path (readKeyReporting). The fast path must never accept an entry the
 * reporting path refuses, and must build the same key when both accept.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Fields } from '../../src/docs/fields.js';
import { acceptKey, ALGORITHMS, PHASES, readKeyReporting } from '../../src/manifest/manifest.js';
import type { JsonValue } from '../../src/json/strict.js';

const good = { name: 'WEBHOOK_SIGNING_SECRET', id: 'webhook-v4', supersedes: 'webhook-v3', algorithm: 'HMAC-SHA256', phase: 'prepare', kcv: null, notBefore: '2026-11-28T10:00:00Z' };

// Values near the edges of every rule: valid ones, and one-character-off ones.
const member = fc.oneof(
  fc.constantFrom<JsonValue>('MASTER_KEY', 'master_key', 'M', 'webhook-v4', 'webhook-v3', 'webhook-v5', 'webhook-v0', 'webhook-v04', 'webhook-v', '-v3', 'Webhook-v4',
    'x-v9007199254740993', 'x-v9007199254740992', 'x-v999999999999999', 'x-v1000000000000000', 'HMAC-SHA256', 'hmac-sha256', 'prepare', 'Prepare', 'compromise',
    'abc123', 'ABC123', 'abc12', '2026-11-28T10:00:00Z', '2026-02-30T10:00:00Z', '2026-11-28T10:00:00.5Z', '2026-11-28 10:00:00Z', '', 'a'.repeat(129) + '-v2'),
  fc.constantFrom<JsonValue>(null, 0, 1, true, [], {}),
  fc.constantFrom<JsonValue>(...ALGORITHMS, ...PHASES),
  fc.string({ maxLength: 12 }),
);
const entry = fc.record({
  base: fc.constant(good),
  changes: fc.dictionary(fc.constantFrom('name', 'id', 'supersedes', 'algorithm', 'phase', 'kcv', 'notBefore', 'extra', '__proto__'), member, { maxKeys: 3 }),
  drop: fc.subarray(['name', 'id', 'supersedes', 'algorithm', 'phase', 'kcv', 'notBefore'], { maxLength: 2 }),
}).map(({ base, changes, drop }) => {
  const o: Record<string, JsonValue> = { ...base };
  for (const [k, v] of Object.entries(changes)) Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
  for (const k of drop) delete o[k];
  return o as JsonValue;
});

describe('manifest key entries: fast path and reporting path agree', () => {
  it('accepts the seed-shaped entry on both paths, with the same key', () => {
    const f = new Fields();
    expect(acceptKey(good)).toEqual(readKeyReporting(f, good, 0));
    expect(f.problems).toEqual([]);
    expect(acceptKey(good)).toBeDefined();
  });

  it('never accepts on the fast path what the reporting path refuses', () => {
    let fastAccepted = 0;
    let refused = 0;
    fc.assert(fc.property(entry, (v) => {
      const f = new Fields();
      const slow = readKeyReporting(f, v, 0);
      const fast = acceptKey(v);
      if (fast !== undefined) {
        fastAccepted++;
        expect(f.problems).toEqual([]);
        expect(fast).toEqual(slow);
      }
      if (slow === undefined) {
        refused++;
        expect(fast).toBeUndefined();
      }
    }), { numRuns: 3000 });
    // the generator exercises both outcomes, so the property above is not vacuous
    expect(fastAccepted).toBeGreaterThan(50);
    expect(refused).toBeGreaterThan(500);
  });

  it('refuses a version too long to compare exactly', () => {
    const v = { ...good, id: 'x-v9007199254740993', supersedes: 'x-v9007199254740991' };
    const f = new Fields();
    expect(acceptKey(v)).toBeUndefined();
    expect(readKeyReporting(f, v, 0)).toBeUndefined();
    expect(f.problems.map((p) => p.code)).toEqual(['MANIFEST_SUPERSEDES_INVALID']);
  });
});
