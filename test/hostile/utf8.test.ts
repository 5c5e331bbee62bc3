/**
 * Issue 14, item 14: invalid UTF-8 is refused in every document (FORMATS.md §1), never decoded
 * with U+FFFD in its place: envelopes, every payload even when signed by the threshold, checkpoint
 * files, paper shares (the audit log: test/hostile/audit-log.test.ts). The byte sequences are the
 * classic ones: a lone 0xFF, an overlong "/" (C0 AF), a UTF-8-encoded surrogate (ED A0 80), a
 * sequence cut short (E2 82), a continuation byte alone (80).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildCheckpoint, CHECKPOINT_TYPE, parseCheckpoint } from '../../src/audit/checkpoint.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { AuditWriter } from '../../src/audit/writer.js';
import { encodePaperShare, parsePaperShare, sealPaperShare } from '../../src/backup/paper.js';
import { parseCustodianSet } from '../../src/custodians/set.js';
import { DocumentError } from '../../src/docs/problems.js';
import { parseEnvelope } from '../../src/dsse/envelope.js';
import { parseManifest } from '../../src/manifest/manifest.js';
import { manifestPayload, setPayload } from '../support/independent.js';
import { codesOf, envelope, K, members, put, runUnchanged, setDoc, tempDir, TYPES } from './support.js';

const BAD: readonly [string, number[]][] = [['0xFF', [0xff]], ['an overlong "/"', [0xc0, 0xaf]], ['an encoded surrogate', [0xed, 0xa0, 0x80]], ['a cut sequence', [0xe2, 0x82]], ['a lone continuation byte', [0x80]]];
const MARK = 'XMARKX';
/** The JSON text of o with MARK (inside some string) replaced by these bytes. */
const withBytes = (o: object | string, bytes: number[]): Buffer => {
  const text = Buffer.from(typeof o === 'string' ? o : JSON.stringify(o));
  const at = text.indexOf(MARK);
  expect(at).toBeGreaterThanOrEqual(0);
  return Buffer.concat([text.subarray(0, at), Buffer.from(bytes), text.subarray(at + MARK.length)]);
};
const codeOf = (f: () => unknown): string => {
  try {
    f();
    return 'accepted';
  } catch (err) {
    expect(err).toBeInstanceOf(DocumentError);
    return (err as DocumentError).code;
  }
};
const abc = members('alice', 'bob', 'carol');
const set1 = setDoc(1, 2, abc, [K.alice, K.bob, K.carol]);
const AT = '2026-12-01T00:00:00Z';

let dir: string;
let setFile: string;
beforeAll(() => {
  dir = tempDir('utf8');
  setFile = put(dir, 'custodians.v1.json', set1);
});

describe('the parsers refuse each invalid sequence', () => {
  test.each(BAD)('%s', (_what, bytes) => {
    expect(codeOf(() => parseEnvelope(withBytes({ ...envelope(TYPES.rotation, manifestPayload(), [K.alice]), payloadType: `a${MARK}` }, bytes)))).toBe('DOCUMENT_NOT_UTF8');
    expect(codeOf(() => parseManifest(withBytes(manifestPayload({ ceremony: `q4${MARK}` }), bytes)))).toBe('DOCUMENT_NOT_UTF8');
    const p = setPayload(1, 2, abc) as { custodians: { name: string }[] };
    p.custodians[0]!.name = `Alice ${MARK}`;
    expect(codeOf(() => parseCustodianSet(withBytes(p, bytes)))).toBe('DOCUMENT_NOT_UTF8');
    const cp = new TextDecoder().decode(buildCheckpoint({ log: 'ab'.repeat(16), seq: 1, head: `sha256:${'0'.repeat(64)}`, custodianSet: 1, time: Date.parse(AT) })).replace('"spec":"', `"spec":"${MARK}`);
    expect(codeOf(() => parseCheckpoint(withBytes(cp, bytes)))).toBe('DOCUMENT_NOT_UTF8');
    const paper = encodePaperShare(sealPaperShare(new Uint8Array(4), new TextEncoder().encode('correct horse battery staple'), { ceremony: 'q4', backupKey: 'backup-v1', custodian: 'carol', index: 3, threshold: 2, total: 3 }, { name: 'scrypt', N: 1 << 14, r: 8, p: 1 }))
      .replace('"ceremony":"q4"', `"ceremony":"q4${MARK}"`);
    expect(codeOf(() => parsePaperShare(withBytes(paper, bytes)))).toBe('DOCUMENT_NOT_UTF8');
  });
  test('U+FFFD written as UTF-8 is text like any other: accepted; a byte order mark is refused', () => {
    expect(codeOf(() => parseCustodianSet(Buffer.from(JSON.stringify(setPayload(1, 1, [['alice', K.alice]])).replace('alice example', 'alice \ufffd'))))).toBe('accepted');
    expect(codeOf(() => parseManifest(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(JSON.stringify(manifestPayload()))])))).toBe('DOCUMENT_NOT_JSON');
  });
});

describe('signed by the threshold, invalid UTF-8 is still refused: keyceremony verify exits 1', () => {
  test.each(BAD)('a manifest whose ceremony holds %s', (what, bytes) => {
    const file = put(dir, `m-${what.replace(/\W+/g, '-')}.json`, envelope(TYPES.rotation, withBytes(manifestPayload({ ceremony: `q4${MARK}` }), bytes), [K.alice, K.bob]));
    const r = runUnchanged(dir, ['verify', file, '--custodians', setFile, '--at', AT, '--json']);
    expect([r.status, codesOf((JSON.parse(r.stdout) as { reasons: string[] }).reasons)]).toEqual([1, ['DOCUMENT_NOT_UTF8']]);
  });
  test('a custodian set whose name holds 0xFF, as the chain: exit 1', () => {
    const p = setPayload(1, 2, abc) as { custodians: { name: string }[] };
    p.custodians[1]!.name = `Bob ${MARK}`;
    const bad = put(dir, 'set-ff.json', envelope(TYPES.custodians, withBytes(p, [0xff]), [K.alice, K.bob, K.carol]));
    const m = put(dir, 'm.json', envelope(TYPES.rotation, Buffer.from(JSON.stringify(manifestPayload())), [K.alice, K.bob]));
    const r = runUnchanged(dir, ['verify', m, '--custodians', bad, '--at', AT, '--json']);
    expect([r.status, codesOf((JSON.parse(r.stdout) as { reasons: string[] }).reasons)]).toEqual([1, ['DOCUMENT_NOT_UTF8']]);
  });
  test('an envelope file with 0xFF in its payload type: exit 1', () => {
    const file = put(dir, 'env-ff.json', withBytes({ ...envelope(TYPES.rotation, manifestPayload(), [K.alice, K.bob]), payloadType: `x${MARK}` }, [0xff]));
    const r = runUnchanged(dir, ['verify', file, '--custodians', setFile, '--at', AT]);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('DOCUMENT_NOT_UTF8');
  });
  test('a checkpoint file kept apart, its payload not UTF-8, signed: AUDIT_CHECKPOINT_INVALID', () => {
    const file = join(dir, 'audit.jsonl');
    const w = AuditWriter.open(file, 'admin');
    w.append({ actor: 'alice', action: 'key.generate', keys: ['master-v1'], details: {} });
    const payload = new TextDecoder().decode(buildCheckpoint({ log: w.log, seq: 2, head: w.lastHash, custodianSet: 1, time: Date.now() })).replace('"spec":"', `"spec":"${MARK}`);
    const kept = new TextEncoder().encode(JSON.stringify(envelope(CHECKPOINT_TYPE, withBytes(payload, [0xff]), [K.alice, K.bob])));
    expect(verifyAuditLog(readFileSync(file), { external: [kept] })).toMatchObject({ valid: false, problems: [{ seq: 0, code: 'AUDIT_CHECKPOINT_INVALID' }] });
  });
});
