/**
 * Hostile input for the verifier (issue 3): each case asserts the error code(s) it must produce.
 * Documents are made with the independent implementation in test/support/independent.ts.
 */
import { ED25519_TORSION_SUBGROUP } from '@noble/curves/ed25519.js';
import { describe, expect, test } from 'vitest';
import { parseTime } from '../../src/docs/fields.js';
import { verifyDocument } from '../../src/verify/verify.js';
import type { VerifyResult } from '../../src/verify/verify.js';
import { bytes, digest, ed25519Sign, envelope, keyNamed, manifestPayload, pae, setPayload, TYPES } from '../support/independent.js';
import type { RawEnvelope } from '../support/independent.js';

const alice = keyNamed('alice');
const bob = keyNamed('bob');
const carol = keyNamed('carol');
const dave = keyNamed('dave');
const mallory = keyNamed('mallory');
const members: [string, typeof alice][] = [['alice', alice], ['bob', bob], ['carol', carol]];
const set1 = envelope(TYPES.custodians, setPayload(1, 2, members), [alice, bob, carol]);
const AT = parseTime('2026-12-01T00:00:00Z') as number;

const codes = (r: VerifyResult): string[] => r.reasons.map((s) => s.split(':')[0] as string);
const run = (doc: RawEnvelope | string | Uint8Array, chain: (RawEnvelope | Uint8Array)[] = [set1], opts: { previous?: RawEnvelope; rootDigest?: string; at?: number } = {}): VerifyResult =>
  verifyDocument(doc instanceof Uint8Array ? doc : bytes(doc), chain.map((c) => (c instanceof Uint8Array ? c : bytes(c))),
    { at: opts.at ?? AT, rootDigest: opts.rootDigest, previous: opts.previous === undefined ? undefined : bytes(opts.previous) });
const manifest = (over: Record<string, unknown> = {}, signers = [alice, bob]) => envelope(TYPES.rotation, manifestPayload(over), signers);
const invalidWith = (r: VerifyResult, ...want: string[]) => {
  expect(r.valid).toBe(false);
  expect(r.signers).toEqual([]);
  expect(codes(r)).toEqual(expect.arrayContaining(want));
};

test('the well-formed baseline is valid (so every failure below is caused by its one change)', () => {
  const r = run(manifest());
  expect(r).toMatchObject({ valid: true, type: 'rotation', signers: ['alice', 'bob'], threshold: 2, custodianSet: 1, reasons: [] });
});

describe('signature counting (FORMATS.md §6)', () => {
  test('the same signature twice counts once', () => {
    const m = manifest({}, [alice]);
    m.signatures.push({ ...m.signatures[0]! });
    const r = run(m);
    invalidWith(r, 'THRESHOLD_NOT_MET', 'SIGNATURE_DUPLICATE');
  });
  test('one key under a second key-id spelling never adds up', () => {
    const m = manifest({}, [alice]);
    m.signatures.push({ keyid: m.signatures[0]!.keyid.toUpperCase(), sig: m.signatures[0]!.sig });
    invalidWith(run(m), 'DOCUMENT_BAD_VALUE');
    const m2 = manifest({}, [alice]);
    m2.signatures.push({ keyid: bob.keyid, sig: m2.signatures[0]!.sig }); // alice's signature filed under bob's id
    invalidWith(run(m2), 'THRESHOLD_NOT_MET', 'SIGNATURE_INVALID');
  });
  test('two custodian entries with one public key are refused when the set is loaded', () => {
    const dup = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['alice2', alice], ['bob', bob]]), [alice, bob]);
    invalidWith(run(manifest({}, [alice]), [dup]), 'CUSTODIANS_DUPLICATE_KEY');
  });
  test('unknown signers count zero', () => {
    invalidWith(run(manifest({}, [alice, mallory])), 'THRESHOLD_NOT_MET', 'SIGNATURE_UNKNOWN_KEY');
    const ok = run(manifest({}, [alice, mallory, bob]));
    expect(ok.valid).toBe(true);
    expect(ok.warnings.join()).toContain('SIGNATURE_UNKNOWN_KEY');
  });
  test('a payload changed after signing', () => {
    const m = manifest();
    const changed = Buffer.from(m.payload, 'base64').toString().replace('master-v7', 'master-v8').replace('master-v6', 'master-v7');
    invalidWith(run({ ...m, payload: Buffer.from(changed).toString('base64') }), 'THRESHOLD_NOT_MET', 'SIGNATURE_INVALID');
  });
  test('a signature made for another payload type', () => {
    const body = Buffer.from(JSON.stringify(manifestPayload()));
    const forDrill = [alice, bob].map((k) => ({ keyid: k.keyid, sig: ed25519Sign(k, pae(TYPES.drill, body)).toString('base64') }));
    invalidWith(run({ payloadType: TYPES.rotation, payload: body.toString('base64'), signatures: forDrill }), 'THRESHOLD_NOT_MET', 'SIGNATURE_INVALID');
  });
  test('a payload signed without PAE', () => {
    const body = Buffer.from(JSON.stringify(manifestPayload()));
    const raw = [alice, bob].map((k) => ({ keyid: k.keyid, sig: ed25519Sign(k, body).toString('base64') }));
    invalidWith(run({ payloadType: TYPES.rotation, payload: body.toString('base64'), signatures: raw }), 'THRESHOLD_NOT_MET', 'SIGNATURE_INVALID');
  });
  test('S + L (a malleated signature) counts zero', () => {
    const m = manifest();
    const sig = Buffer.from(m.signatures[1]!.sig, 'base64');
    const L = 2n ** 252n + 27742317777372353535851937790883648493n;
    const s = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString('hex')}`) + L;
    Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse().copy(sig, 32);
    m.signatures[1]!.sig = sig.toString('base64');
    invalidWith(run(m), 'THRESHOLD_NOT_MET', 'SIGNATURE_INVALID');
  });
});

describe('custodian sets and chains (FORMATS.md §3)', () => {
  test('threshold 0 and threshold above N', () => {
    invalidWith(run(manifest(), [envelope(TYPES.custodians, setPayload(1, 0, members), [alice, bob])]), 'CUSTODIANS_THRESHOLD_INVALID');
    invalidWith(run(manifest(), [envelope(TYPES.custodians, setPayload(1, 4, members), [alice, bob, carol])]), 'CUSTODIANS_THRESHOLD_INVALID');
  });
  test('a root not signed by its own threshold', () => {
    invalidWith(run(manifest(), [envelope(TYPES.custodians, setPayload(1, 2, members), [alice])]), 'THRESHOLD_NOT_MET');
    invalidWith(run(manifest(), [envelope(TYPES.custodians, setPayload(1, 2, members), [mallory, dave])]), 'THRESHOLD_NOT_MET');
  });
  const set2members: [string, typeof alice][] = [['alice', alice], ['bob', bob], ['dave', dave]];
  test('a set rotation without the old threshold', () => {
    const set2 = envelope(TYPES.custodians, setPayload(2, 2, set2members), [dave, alice]); // only 1 of the old set
    invalidWith(run(manifest({ custodianSet: 2 }, [alice, dave]), [set1, set2]), 'THRESHOLD_PREVIOUS_NOT_MET');
    const good = envelope(TYPES.custodians, setPayload(2, 2, set2members), [alice, bob, dave]);
    expect(run(manifest({ custodianSet: 2 }, [alice, dave]), [set1, good]).valid).toBe(true);
  });
  test('a manifest under a superseded set', () => {
    const set2 = envelope(TYPES.custodians, setPayload(2, 2, set2members), [alice, bob, dave]);
    invalidWith(run(manifest({ custodianSet: 1 }), [set1, set2]), 'MANIFEST_SET_SUPERSEDED');
    invalidWith(run(manifest({ custodianSet: 3 }), [set1, set2]), 'MANIFEST_SET_UNKNOWN');
  });
  test('skipped and repeated set versions', () => {
    const set3 = envelope(TYPES.custodians, setPayload(3, 2, members), [alice, bob, carol]);
    invalidWith(run(manifest({ custodianSet: 3 }), [set1, set3]), 'CHAIN_VERSION_SKIPPED');
    invalidWith(run(manifest(), [set1, set1]), 'CHAIN_VERSION_ORDER');
  });
  test('small-order and non-canonical keys, and a key id that is not the key hash', () => {
    const torsion = ED25519_TORSION_SUBGROUP.find((h) => h !== '0000000000000000000000000000000000000000000000000000000000000000')!;
    const payload = setPayload(1, 2, members) as { custodians: { publicKey: string; keyid: string }[] };
    const small = structuredClone(payload);
    small.custodians[2]!.publicKey = torsion;
    invalidWith(run(manifest(), [envelope(TYPES.custodians, small, [alice, bob])]), 'CUSTODIANS_KEY_INVALID');
    const noncanon = structuredClone(payload);
    noncanon.custodians[2]!.publicKey = 'edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f';
    invalidWith(run(manifest(), [envelope(TYPES.custodians, noncanon, [alice, bob])]), 'CUSTODIANS_KEY_INVALID');
    const badId = structuredClone(payload);
    badId.custodians[2]!.keyid = alice.keyid;
    invalidWith(run(manifest(), [envelope(TYPES.custodians, badId, [alice, bob])]), 'CUSTODIANS_KEYID_MISMATCH');
  });
  test('one key listed twice in a set', () => {
    invalidWith(run(manifest(), [envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob], ['bob-again', bob]]), [alice, bob])]), 'CUSTODIANS_DUPLICATE_KEY');
  });
  test('a pinned root digest must match', () => {
    expect(run(manifest(), [set1], { rootDigest: digest(set1) }).valid).toBe(true);
    invalidWith(run(manifest(), [set1], { rootDigest: `sha256:${'00'.repeat(32)}` }), 'CHAIN_ROOT_DIGEST_MISMATCH');
  });
  test('a set of the wrong payload type in the chain', () => {
    invalidWith(run(manifest(), [manifest()]), 'DOCUMENT_UNEXPECTED_TYPE');
  });
});

describe('validity periods', () => {
  test('expired and not-yet-valid manifests', () => {
    invalidWith(run(manifest(), [set1], { at: parseTime('2027-01-01T00:00:00Z')! }), 'MANIFEST_EXPIRED');
    invalidWith(run(manifest(), [set1], { at: parseTime('2026-11-28T09:59:59Z')! }), 'MANIFEST_NOT_YET_VALID');
    expect(run(manifest(), [set1], { at: parseTime('2026-11-28T10:00:00Z')! }).valid).toBe(true);
    // FORMATS.md §4: issued ≤ time ≤ expires, both ends inclusive
    expect(run(manifest(), [set1], { at: parseTime('2026-12-28T10:00:00Z')! }).valid).toBe(true);
    invalidWith(run(manifest(), [set1], { at: parseTime('2026-12-28T10:00:01Z')! }), 'MANIFEST_EXPIRED');
  });
  test('an expired or not-yet-valid newest set; an older set may have expired', () => {
    const short = envelope(TYPES.custodians, setPayload(1, 2, members, '2026-01-01T00:00:00Z', '2026-06-01T00:00:00Z'), [alice, bob]);
    invalidWith(run(manifest(), [short]), 'CHAIN_EXPIRED');
    const future = envelope(TYPES.custodians, setPayload(1, 2, members, '2027-01-01T00:00:00Z', '2028-01-01T00:00:00Z'), [alice, bob]);
    invalidWith(run(manifest(), [future]), 'CHAIN_NOT_YET_VALID');
    const set2 = envelope(TYPES.custodians, setPayload(2, 2, members), [alice, bob]);
    expect(run(manifest({ custodianSet: 2 }), [short, set2]).valid).toBe(true);
  });
});

describe('manifest contents (FORMATS.md §4)', () => {
  test('an artifact path with .. or a leading / or a backslash', () => {
    for (const path of ['../etc/passwd', 'aws/../../x', '/abs/file', 'aws\\x.bin', 'aws//x', './x']) {
      invalidWith(run(manifest({ artifacts: [{ path, sha256: 'ab'.repeat(32), bytes: 1 }] })), 'MANIFEST_ARTIFACT_PATH_INVALID');
    }
  });
  test('previous on sequence 1, and none on sequence 2', () => {
    invalidWith(run(manifest({ previous: `sha256:${'ab'.repeat(32)}` })), 'MANIFEST_PREVIOUS_INVALID');
    invalidWith(run(manifest({ sequence: 2 })), 'MANIFEST_PREVIOUS_INVALID');
  });
  test('a wrong previous digest and a sequence gap (with --previous)', () => {
    const first = manifest();
    const okNext = manifest({ sequence: 2, previous: digest(first) });
    expect(run(okNext, [set1], { previous: first }).valid).toBe(true);
    invalidWith(run(manifest({ sequence: 2, previous: `sha256:${'cd'.repeat(32)}` }), [set1], { previous: first }), 'MANIFEST_PREVIOUS_MISMATCH');
    invalidWith(run(manifest({ sequence: 3, previous: digest(first) }), [set1], { previous: first }), 'MANIFEST_SEQUENCE_GAP');
    expect(run(okNext).warnings.join()).toContain('MANIFEST_PREVIOUS_UNCHECKED');
  });
  test('bad key entries: supersedes, duplicate id, unknown phase and algorithm, bad KCV, an actor who is no custodian', () => {
    const k = (over: object) => ({ keys: [{ ...(manifestPayload().keys as object[])[0], ...over }] });
    invalidWith(run(manifest(k({ supersedes: 'webhook-v2' }))), 'MANIFEST_SUPERSEDES_INVALID');
    invalidWith(run(manifest(k({ supersedes: 'jwt-v3' }))), 'MANIFEST_SUPERSEDES_INVALID');
    invalidWith(run(manifest({ keys: [(manifestPayload().keys as object[])[0], (manifestPayload().keys as object[])[0]] })), 'MANIFEST_KEY_DUPLICATE');
    invalidWith(run(manifest(k({ phase: 'rollback' }))), 'DOCUMENT_BAD_VALUE');
    invalidWith(run(manifest(k({ algorithm: 'DES' }))), 'DOCUMENT_BAD_VALUE');
    invalidWith(run(manifest(k({ kcv: '1A2B3C' }))), 'DOCUMENT_BAD_VALUE');
    invalidWith(run(manifest(k({ name: 'webhook' }))), 'DOCUMENT_BAD_VALUE');
    invalidWith(run(manifest({ keys: [] })), 'DOCUMENT_BAD_VALUE');
    invalidWith(run(manifest({ actor: 'mallory' })), 'MANIFEST_ACTOR_UNKNOWN');
  });
  test('wrong JSON types, negative and fractional counters, bad times, the wrong spec', () => {
    invalidWith(run(manifest({ sequence: '1' })), 'DOCUMENT_WRONG_TYPE');
    invalidWith(run(manifest({ sequence: -1 })), 'DOCUMENT_BAD_VALUE');
    // a fraction or an exponent is refused by the strict reader itself (FORMATS.md §1: one spelling per value)
    invalidWith(run(manifest({ sequence: 1.5 })), 'DOCUMENT_BAD_NUMBER');
    invalidWith(run(manifest({ custodianSet: 1e300 })), 'DOCUMENT_BAD_NUMBER');
    invalidWith(run(manifest({ issued: '2026-11-28T10:00:00+00:00' })), 'DOCUMENT_BAD_TIME');
    invalidWith(run(manifest({ issued: '2026-11-28T10:00:00.5Z' })), 'DOCUMENT_BAD_TIME');
    invalidWith(run(manifest({ issued: '2026-02-30T10:00:00Z' })), 'DOCUMENT_BAD_TIME');
    invalidWith(run(manifest({ spec: 'keyceremony/rotation-manifest@2' })), 'DOCUMENT_WRONG_SPEC');
    invalidWith(run(manifest({ keys: null })), 'DOCUMENT_WRONG_TYPE');
  });
});

describe('JSON and envelope structure', () => {
  const good = () => JSON.stringify(manifest());
  test('duplicate members, in the envelope and deep in the payload', () => {
    invalidWith(run(good().replace('"payloadType":', '"payloadType":"x","payloadType":')), 'DOCUMENT_DUPLICATE_MEMBER');
    const body = JSON.stringify(manifestPayload()).replace('"phase":"prepare"', '"phase":"revoke","phase":"prepare"');
    invalidWith(run(envelope(TYPES.rotation, Buffer.from(body), [alice, bob])), 'DOCUMENT_DUPLICATE_MEMBER');
    const sigDup = good().replace(/"keyid":"([0-9a-f]+)"/, '"keyid":"$1","keyid":"$1"');
    invalidWith(run(sigDup), 'DOCUMENT_DUPLICATE_MEMBER');
  });
  test('unknown members anywhere', () => {
    invalidWith(run({ ...manifest(), extra: 1 } as RawEnvelope), 'DOCUMENT_UNKNOWN_MEMBER');
    const m = manifest();
    (m.signatures[0] as unknown as Record<string, string>).cert = 'x';
    invalidWith(run(m), 'DOCUMENT_UNKNOWN_MEMBER');
    invalidWith(run(manifest({ note: 'hi' })), 'DOCUMENT_UNKNOWN_MEMBER');
    invalidWith(run(manifest({ __proto__: { x: 1 }, ...JSON.parse('{"__proto__": 1}') })), 'DOCUMENT_UNKNOWN_MEMBER');
  });
  test('truncated, oversized and non-JSON files', () => {
    const text = good();
    for (const cut of [1, 10, text.length / 2, text.length - 1]) invalidWith(run(text.slice(0, cut)), 'DOCUMENT_NOT_JSON');
    invalidWith(run(''), 'DOCUMENT_NOT_JSON');
    invalidWith(run('not json at all'), 'DOCUMENT_NOT_JSON');
    invalidWith(run(new Uint8Array([0xff, 0xfe, 0x00])), 'DOCUMENT_NOT_UTF8');
    invalidWith(run(new Uint8Array(3 * 1024 * 1024).fill(0x20)), 'DOCUMENT_TOO_LARGE');
    const huge = envelope(TYPES.rotation, Buffer.alloc(1024 * 1024 + 1, 0x20), [alice]);
    invalidWith(run(huge), 'DOCUMENT_TOO_LARGE');
    invalidWith(run('['.repeat(10_000)), 'DOCUMENT_TOO_DEEP');
    invalidWith(run(`${text} {}`), 'DOCUMENT_NOT_JSON');
  });
  test('bad base64: wrong alphabet, no padding, non-canonical trailing bits', () => {
    const m = manifest();
    invalidWith(run({ ...m, payload: m.payload.replace(/=+$/, '') + (m.payload.endsWith('=') ? '' : '!') }), 'DOCUMENT_BAD_BASE64');
    invalidWith(run({ ...m, payload: m.payload.replace(/\+/g, '-').replace(/\//g, '_') + '-' }), 'DOCUMENT_BAD_BASE64');
    const sig = m.signatures[0]!.sig; // 64 bytes → 88 chars ending "=="; the char before carries 4 unused bits
    const last = sig[85]!;
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const tweaked = alphabet[(alphabet.indexOf(last) & ~0xf) | ((alphabet.indexOf(last) + 1) & 0xf)]!;
    const m2 = manifest();
    m2.signatures[0]!.sig = `${sig.slice(0, 85)}${tweaked}==`;
    invalidWith(run(m2), 'DOCUMENT_BAD_BASE64');
    const m3 = manifest();
    m3.signatures[0]!.sig = 'not base64!';
    invalidWith(run(m3), 'DOCUMENT_BAD_BASE64');
  });
  test('63- and 65-byte signatures', () => {
    for (const n of [63, 65, 0]) {
      const m = manifest();
      m.signatures[0]!.sig = Buffer.alloc(n, 1).toString('base64');
      invalidWith(run(m), 'DOCUMENT_BAD_SIGNATURE_LENGTH');
    }
  });
  test('lone surrogates, unknown payload types, wrong top-level types', () => {
    invalidWith(run(envelope(TYPES.rotation, Buffer.from(JSON.stringify(manifestPayload()).replace('alice', 'al\\ud800ice')), [alice, bob])), 'DOCUMENT_BAD_STRING');
    invalidWith(run(envelope('application/json', manifestPayload(), [alice, bob])), 'DOCUMENT_UNKNOWN_TYPE');
    invalidWith(run('[]'), 'DOCUMENT_WRONG_TYPE');
    invalidWith(run('null'), 'DOCUMENT_WRONG_TYPE');
    invalidWith(run({ ...manifest(), signatures: {} } as unknown as RawEnvelope), 'DOCUMENT_WRONG_TYPE');
  });
  test('every problem is reported by path, not only the first', () => {
    const r = run(manifest({ sequence: -1, actor: 'BAD ACTOR', keys: [{ name: 'x' }] }));
    expect(r.reasons.length).toBeGreaterThanOrEqual(3);
    expect(r.reasons.join('\n')).toMatch(/payload\.sequence/);
    expect(r.reasons.join('\n')).toMatch(/payload\.actor/);
    expect(r.reasons.join('\n')).toMatch(/payload\.keys\[0\]\.id/);
  });
});

describe('drill reports (FORMATS.md §5)', () => {
  const report = (over: object = {}) => ({ spec: 'keyceremony/drill-report@1', drill: '2026-q4-restore-drill', custodianSet: 1, started: '2026-11-28T10:00:00Z',
    finished: '2026-11-28T11:00:00Z', backupKey: { id: 'backup-v2', kcv: 'aabbcc' }, sharesPresented: ['alice', 'bob'], threshold: 2,
    restored: [{ id: 'master-v7', kcv: '1a2b3c', kcvMatches: true }], result: 'pass', ...over });
  test('a passing drill verifies; a pass with a mismatched KCV is inconsistent', () => {
    expect(run(envelope(TYPES.drill, report(), [alice, bob]))).toMatchObject({ valid: true, type: 'drill' });
    invalidWith(run(envelope(TYPES.drill, report({ restored: [{ id: 'master-v7', kcv: '1a2b3c', kcvMatches: false }] }), [alice, bob])), 'DRILL_RESULT_INCONSISTENT');
    invalidWith(run(envelope(TYPES.drill, report({ sharesPresented: ['alice', 'mallory'] }), [alice, bob])), 'DRILL_SHARE_UNKNOWN');
    expect(run(envelope(TYPES.drill, report({ result: 'fail', restored: [{ id: 'master-v7', kcv: '1a2b3c', kcvMatches: false }] }), [alice, bob])).valid).toBe(true);
  });
});
