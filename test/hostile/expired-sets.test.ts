/**
 * Issue 14, item 4: FORMATS.md §3.5, only the newest set of a verified chain must be unexpired.
 * An expired set is refused in the newest position alone, whatever the chain's length and
 * whatever is verified; verifying set 2 against an expired set 1 is the rotation that replaces
 * it, and the core of `custodians next` (chainToReplace, nextCustodianSet) works from an expired
 * newest set and says so.
 */
import { beforeAll, describe, expect, test } from 'vitest';
import { chainToReplace, nextCustodianSet } from '../../src/custodians/rotate.js';
import { parseTime } from '../../src/docs/fields.js';
import { verifyChain, verifyDocument } from '../../src/verify/verify.js';
import type { VerifyResult } from '../../src/verify/verify.js';
import { manifestPayload } from '../support/independent.js';
import { codesOf, envelope, K, members, put, runUnchanged, setDoc, tempDir, TYPES } from './support.js';
import type { RawEnvelope } from './support.js';

const AT = parseTime('2026-12-01T00:00:00Z') as number;
const bytes = (e: RawEnvelope): Uint8Array => new TextEncoder().encode(JSON.stringify(e));
const abc = members('alice', 'bob', 'carol');
const ISSUED = ['2025-01-01T00:00:00Z', '2025-06-01T00:00:00Z', '2026-03-01T00:00:00Z'];
const EXPIRED = ['2025-07-01T00:00:00Z', '2026-04-01T00:00:00Z', '2026-11-01T00:00:00Z']; // each before AT
const LATER = '2030-01-01T00:00:00Z';

/** Sets 1..3 of one membership, set i expired at AT when expired[i]; each signed by all three (its own and the previous threshold). */
function chain(expired: readonly boolean[]): RawEnvelope[] {
  return expired.map((x, i) => setDoc(i + 1, 2, abc, [K.alice, K.bob, K.carol], ISSUED[i], x ? EXPIRED[i] : LATER));
}
const manifest = (set: number): RawEnvelope => envelope(TYPES.rotation, manifestPayload({ custodianSet: set }), [K.alice, K.bob]);
const verify = (doc: RawEnvelope, sets: RawEnvelope[]): VerifyResult => verifyDocument(bytes(doc), sets.map(bytes), { at: AT });

describe('an expired set is refused only where it is the newest', () => {
  test.each([
    ['none', [false, false, false], true],
    ['the root', [true, false, false], true],
    ['the middle set', [false, true, false], true],
    ['the root and the middle set', [true, true, false], true],
    ['the newest set', [false, false, true], false],
    ['every set', [true, true, true], false],
  ] as const)('expired: %s', (_what, expired, valid) => {
    const sets = chain(expired);
    const r = verify(manifest(3), sets);
    expect(r.valid).toBe(valid);
    if (!valid) expect(codesOf(r.reasons)).toEqual(['CHAIN_EXPIRED']);
    // the same chain as a chain, and each shorter chain: only its own last set counts
    for (let n = 1; n <= 3; n++) {
      const c = verifyChain(sets.slice(0, n).map(bytes), { at: AT });
      expect(c.reasons.map((p) => `${p.code} ${p.path}`)).toEqual(expired[n - 1] ? [`CHAIN_EXPIRED custodians[${n - 1}]`] : []);
    }
  });
  test('verifying the next set against an expired set: valid (it replaces it); the next set itself expired: refused at the document', () => {
    const [v1] = chain([true]);
    const v2 = setDoc(2, 2, abc, [K.alice, K.bob, K.carol], ISSUED[1], LATER);
    const r = verify(v2, [v1!]);
    expect(r).toMatchObject({ valid: true, type: 'custodians', custodianSet: 2 });
    expect(codesOf(r.warnings)).toContain('CHAIN_NEWEST_EXPIRED');
    const expiredV2 = setDoc(2, 2, abc, [K.alice, K.bob, K.carol], ISSUED[1], EXPIRED[1]);
    expect(codesOf(verify(expiredV2, [v1!]).reasons)).toEqual(['CHAIN_EXPIRED']);
    // set 3 against an expired 1 and 2
    const v3 = setDoc(3, 2, abc, [K.alice, K.bob, K.carol], ISSUED[2], LATER);
    expect(verify(v3, chain([true, true])).valid).toBe(true);
    // a set of the chain verified with it is still judged as the newest it is
    expect(codesOf(verify(v1!, [v1!]).reasons)).toEqual(['CHAIN_EXPIRED']);
  });
  test('the CLI: verify v2 --custodians expired-v1 exits 0; a manifest against the expired v1 exits 1', () => {
    const dir = tempDir('expired');
    const [v1] = chain([true]);
    const v1File = put(dir, 'custodians.v1.json', v1!);
    const v2File = put(dir, 'custodians.v2.json', setDoc(2, 2, abc, [K.alice, K.bob, K.carol], ISSUED[1], LATER));
    const ok = runUnchanged(dir, ['verify', v2File, '--custodians', v1File, '--at', '2026-12-01T00:00:00Z', '--json']);
    expect([ok.status, JSON.parse(ok.stdout).valid]).toEqual([0, true]);
    const old = runUnchanged(dir, ['verify', put(dir, 'm.json', manifest(1)), '--custodians', v1File, '--at', '2026-12-01T00:00:00Z', '--json']);
    expect([old.status, codesOf(JSON.parse(old.stdout).reasons)]).toEqual([1, ['CHAIN_EXPIRED']]);
    const both = runUnchanged(dir, ['verify', put(dir, 'm2.json', manifest(2)), '--custodians', v1File, '--custodians', v2File, '--at', '2026-12-01T00:00:00Z', '--json']);
    expect([both.status, JSON.parse(both.stdout).valid]).toEqual([0, true]);
  });
});

describe('custodians next from an expired newest set (the core of the command)', () => {
  let files: Uint8Array[];
  beforeAll(() => { files = chain([false, true]).map(bytes); });
  test('chainToReplace accepts an expired newest set and says so; verifyChain alone still refuses it', () => {
    expect(verifyChain(files, { at: AT }).chain).toBeNull();
    const c = chainToReplace(files, { at: AT });
    expect([c.newestExpired, c.chain?.newest.version, c.reasons]).toEqual([true, 2, []]);
    expect(c.warnings.map((w) => w.code)).toContain('CHAIN_NEWEST_EXPIRED');
    expect(chainToReplace(chain([false, false]).map(bytes), { at: AT })).toMatchObject({ newestExpired: false, reasons: [] });
  });
  test('the next set made from it verifies, signed by the expired set\'s threshold and its own', () => {
    const c = chainToReplace(files, { at: AT });
    const payload = nextCustodianSet(c.chain!.newest, { remove: ['carol'], add: [{ id: 'dave', name: 'Dave Example', publicKey: K.dave.pub }], issued: '2026-12-01T00:00:00Z', expires: '2027-12-01T00:00:00Z' });
    const v3 = envelope(TYPES.custodians, Buffer.from(payload), [K.alice, K.bob, K.dave]);
    expect(verifyDocument(bytes(v3), files, { at: AT })).toMatchObject({ valid: true, custodianSet: 3, signers: ['alice', 'bob', 'dave'] });
  });
  test('every other fault of the chain is still a reason, with its own code (the caller refuses the chain)', () => {
    const codes = (f: Uint8Array[], rootDigest?: string): string[] => {
      const c = chainToReplace(f, { at: AT, rootDigest });
      expect(c.chain).toBeNull();
      return c.reasons.map((p) => p.code);
    };
    expect(codes([setDoc(1, 2, abc, [K.alice, K.bob], '2027-01-01T00:00:00Z', LATER)].map(bytes))).toEqual(['CHAIN_NOT_YET_VALID']);
    expect(codes([setDoc(1, 2, abc, [K.alice], ISSUED[0], EXPIRED[0])].map(bytes))).toEqual(['THRESHOLD_NOT_MET']);
    expect(codes(files, `sha256:${'0'.repeat(64)}`)).toEqual(['CHAIN_ROOT_DIGEST_MISMATCH']);
    expect(codes([])).toEqual(['CHAIN_EMPTY']);
  });
});
