/**
 * The seed's overlap rule as `verify` warns it (src/manifest/policy.ts): a cutover that replaces a
 * version comes no earlier than its dual-publish's notBefore plus 24 hours (POLICY_CUTOVER_EARLY).
 * Keys joining the chain (supersedes null: the keys-in-use template, or new versions after a
 * compromise in incident response) replace nothing, so their prepare, dual-publish and cutover may
 * share one notBefore without a warning. Manifests built here with the independent helpers (their
 * own Ed25519 and DSSE), signed 2-of-2, verified with --previous as the CLI does.
 */
import { describe, expect, test } from 'vitest';
import { parseTime } from '../../src/docs/fields.js';
import { verifyDocument } from '../../src/verify/verify.js';
import { bytes, digest, envelope, keyNamed, manifestPayload, setPayload, TYPES } from '../support/independent.js';

const alice = keyNamed('alice');
const bob = keyNamed('bob');
const set1 = bytes(envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob]]), [alice, bob]));
const AT = parseTime('2026-12-01T00:00:00Z') as number;
const NB = '2026-11-28T10:00:00Z';

type Entry = { name: string; id: string; supersedes: string | null; algorithm: string; phase: string; notBefore: string };
const webhook = (id: string, supersedes: string | null, phase: string, notBefore = NB): Entry => ({ name: 'WEBHOOK_SIGNING_SECRET', id, supersedes, algorithm: 'HMAC-SHA256', phase, notBefore });

/** Manifest 1 dual-publishes `first`, manifest 2 cuts `second` over; the POLICY_CUTOVER_EARLY warnings `verify` gives manifest 2 against manifest 1, as `CODE path`. */
function warnings(first: Entry[], second: Entry[]): string[] {
  const m1 = envelope(TYPES.rotation, manifestPayload({ ceremony: '2026-q3-keys-in-use', keys: first.map((k) => ({ ...k, kcv: null })), artifacts: [] }), [alice, bob]);
  const m2 = envelope(TYPES.rotation, manifestPayload({ ceremony: '2026-q3-keys-in-use', sequence: 2, previous: digest(m1), keys: second.map((k) => ({ ...k, kcv: null })), artifacts: [] }), [alice, bob]);
  const r = verifyDocument(bytes(m2), [set1], { at: AT, previous: bytes(m1) });
  expect(r.reasons).toEqual([]);
  expect(r.valid).toBe(true);
  // a warning reads `CODE: path: message` (formatProblem)
  return r.warnings.filter((w) => w.startsWith('POLICY_CUTOVER_EARLY: ')).map((w) => w.split(': ').slice(0, 2).join(' '));
}

describe('POLICY_CUTOVER_EARLY', () => {
  test('a key joining the chain (supersedes null) cut over at its dual-publish\'s notBefore: no warning', () => {
    expect(warnings([webhook('webhook-v1', null, 'dual-publish')], [webhook('webhook-v1', null, 'cutover')])).toEqual([]);
  });

  test('a version that replaces another, cut over inside the overlap: warned, by path', () => {
    expect(warnings([webhook('webhook-v4', 'webhook-v3', 'dual-publish')], [webhook('webhook-v4', 'webhook-v3', 'cutover', '2026-11-29T09:59:59Z')])).toEqual(['POLICY_CUTOVER_EARLY keys[0].notBefore']);
  });

  test('the same, at exactly the overlap\'s end: no warning', () => {
    expect(warnings([webhook('webhook-v4', 'webhook-v3', 'dual-publish')], [webhook('webhook-v4', 'webhook-v3', 'cutover', '2026-11-29T10:00:00Z')])).toEqual([]);
  });

  test('in one manifest, only the entry that replaces a version is warned', () => {
    const w = warnings([webhook('webhook-v4', 'webhook-v3', 'dual-publish'), { ...webhook('jwt-v1', null, 'dual-publish'), name: 'JWT_SIGNING_SECRET', algorithm: 'JWT-HS256' }],
      [webhook('webhook-v4', 'webhook-v3', 'cutover'), { ...webhook('jwt-v1', null, 'cutover'), name: 'JWT_SIGNING_SECRET', algorithm: 'JWT-HS256' }]);
    expect(w).toEqual(['POLICY_CUTOVER_EARLY keys[0].notBefore']);
  });
});
