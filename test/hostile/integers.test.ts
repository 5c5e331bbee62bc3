/**
 * Issue 14, item 7: `2.0` and `1.0` were accepted as integers. FORMATS.md §1 refuses integers
 * written with a fraction or an exponent, and a signed document has one spelling of each value:
 * every signed document and log refuses them (and -0), even when the custodians signed those
 * exact bytes. Documents are signed with the independent FORMATS.md implementation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { CHECKPOINT_TYPE } from '../../src/audit/checkpoint.js';
import { formatEntry } from '../../src/audit/log.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { AuditWriter } from '../../src/audit/writer.js';
import { encodePaperShare, parsePaperShare, sealPaperShare } from '../../src/backup/paper.js';
import { parseCustodianSet } from '../../src/custodians/set.js';
import { DocumentError } from '../../src/docs/problems.js';
import { parseDrillReport } from '../../src/manifest/drill.js';
import { parseManifest } from '../../src/manifest/manifest.js';
import { verifyChain } from '../../src/verify/verify.js';
import type { TrustedChain } from '../../src/verify/verify.js';
import { manifestPayload, setPayload } from '../support/independent.js';
import { codesOf, envelope, K, members, put, runUnchanged, setDoc, tempDir, TYPES } from './support.js';

const AT = '2026-12-01T00:00:00Z';
const abc = members('alice', 'bob', 'carol');
const set1 = setDoc(1, 2, abc, [K.alice, K.bob, K.carol]);
const drill = { spec: 'keyceremony/drill-report@1', drill: 'q4-drill', custodianSet: 1, started: '2026-11-28T10:00:00Z', finished: '2026-11-28T11:00:00Z',
  backupKey: { id: 'backup-v1', kcv: 'abcdef' }, sharesPresented: ['alice', 'bob'], threshold: 2, restored: [{ id: 'master-v1', kcv: 'abcdef', kcvMatches: true }], result: 'pass' };
/** Other spellings of a whole number, each refused. */
const SPELLINGS = ['.0', 'e0', 'E0', '.00', 'e+0', '0e-1'] as const;
/** `"member":N` → `"member":N<tail>` in the JSON text (the first occurrence). */
const respell = (o: object, member: string, tail: string): Buffer => {
  const text = JSON.stringify(o);
  const m = new RegExp(`"${member}":(-?\\d+)`).exec(text) as RegExpExecArray;
  return Buffer.from(text.slice(0, m.index) + `"${member}":${m[1]}${tail}` + text.slice(m.index + m[0].length));
};
const refusedAs = (f: () => unknown): string => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(DocumentError);
    expect((err as DocumentError).exit).toBe(1);
    return (err as DocumentError).code;
  }
  return 'accepted';
};

let dir: string;
let setFile: string;
beforeAll(() => {
  dir = tempDir('integers');
  setFile = put(dir, 'custodians.v1.json', set1);
});

describe('every payload refuses a whole number with a fraction, an exponent, or -0', () => {
  test.each(SPELLINGS)('written as N%s', (tail) => {
    expect(refusedAs(() => parseCustodianSet(respell(setPayload(1, 2, abc), 'version', tail)))).toBe('DOCUMENT_BAD_NUMBER');
    expect(refusedAs(() => parseCustodianSet(respell(setPayload(1, 2, abc), 'threshold', tail)))).toBe('DOCUMENT_BAD_NUMBER');
    expect(refusedAs(() => parseManifest(respell(manifestPayload(), 'sequence', tail)))).toBe('DOCUMENT_BAD_NUMBER');
    expect(refusedAs(() => parseManifest(respell(manifestPayload(), 'bytes', tail)))).toBe('DOCUMENT_BAD_NUMBER');
    expect(refusedAs(() => parseDrillReport(respell(drill, 'threshold', tail)))).toBe('DOCUMENT_BAD_NUMBER');
    const paper = JSON.parse(encodePaperShare(sealPaperShare(new Uint8Array(4), new TextEncoder().encode('correct horse battery staple'), { ceremony: 'q4', backupKey: 'backup-v1', custodian: 'carol', index: 3, threshold: 2, total: 3 }, { name: 'scrypt', N: 1 << 14, r: 8, p: 1 }))) as object;
    expect(refusedAs(() => parsePaperShare(respell(paper, 'N', tail)))).toBe('DOCUMENT_BAD_NUMBER');
    // and the plain spelling of each is accepted
    expect(refusedAs(() => parseManifest(respell(manifestPayload(), 'sequence', '')))).toBe('accepted');
  });
  test('-0 is a second spelling of 0 (artifact bytes may be 0)', () => {
    const m = manifestPayload({ artifacts: [{ path: 'a.bin', sha256: 'ab'.repeat(32), bytes: 0 }] });
    expect(refusedAs(() => parseManifest(Buffer.from(JSON.stringify(m))))).toBe('accepted');
    expect(refusedAs(() => parseManifest(Buffer.from(JSON.stringify(m).replace('"bytes":0', '"bytes":-0'))))).toBe('DOCUMENT_BAD_NUMBER');
  });
});

describe('signed by the threshold, those bytes are still refused: keyceremony verify exits 1', () => {
  test.each([
    ['a manifest with "sequence":1.0', () => envelope(TYPES.rotation, respell(manifestPayload(), 'sequence', '.0'), [K.alice, K.bob]), () => [setFile]],
    ['a manifest with "custodianSet":1e0', () => envelope(TYPES.rotation, respell(manifestPayload(), 'custodianSet', 'e0'), [K.alice, K.bob]), () => [setFile]],
    ['a drill report with "threshold":2.0', () => envelope(TYPES.drill, respell(drill, 'threshold', '.0'), [K.alice, K.bob]), () => [setFile]],
    ['a next set with "version":2.0', () => envelope(TYPES.custodians, respell(setPayload(2, 2, abc), 'version', '.0'), [K.alice, K.bob, K.carol]), () => [setFile]],
    ['a chain whose root has "threshold":2.0', () => envelope(TYPES.rotation, Buffer.from(JSON.stringify(manifestPayload())), [K.alice, K.bob]),
      () => [put(dir, 'root-2.0.json', envelope(TYPES.custodians, respell(setPayload(1, 2, abc), 'threshold', '.0'), [K.alice, K.bob, K.carol]))]],
  ] as const)('%s', (what, doc, chain) => {
    const file = put(dir, `${what.replace(/\W+/g, '-')}.json`, doc());
    const r = runUnchanged(dir, ['verify', file, ...chain().flatMap((c) => ['--custodians', c]), '--at', AT, '--json']);
    expect(r.status).toBe(1);
    expect(codesOf((JSON.parse(r.stdout) as { reasons: string[] }).reasons)).toContain('DOCUMENT_BAD_NUMBER');
  });
});

describe('the audit log and its checkpoints', () => {
  let chain: TrustedChain;
  beforeAll(() => { chain = verifyChain([new TextEncoder().encode(JSON.stringify(set1))], { at: Date.parse(AT) }).chain as TrustedChain; });
  test('an entry with "seq":2.0 is not the canonical entry (the hash is over one spelling)', () => {
    const file = join(dir, 'seq.jsonl');
    const w = AuditWriter.open(file, 'admin');
    w.append({ actor: 'alice', action: 'key.generate', keys: ['master-v1'], details: { step: 1 } });
    const text = readFileSync(file, 'utf8');
    for (const [from, to] of [['"seq":2,', '"seq":2.0,'], ['"step":1}', '"step":1e0}'], ['"step":1}', '"step":1.0}']]) {
      const r = verifyAuditLog(new TextEncoder().encode(text.replace(from as string, to as string)));
      expect([to, r.valid, r.firstBad, r.problems[0]?.code]).toEqual([to, false, 2, 'AUDIT_NOT_CANONICAL']);
    }
  });
  test('a checkpoint whose payload says "seq":2.0, signed by the threshold, in the log and as a file kept apart: refused', () => {
    const file = join(dir, 'cp.jsonl');
    let clock = Date.parse('2026-11-28T10:00:00Z');
    const w = AuditWriter.open(file, 'admin', () => (clock += 1000));
    w.append({ actor: 'alice', action: 'key.generate', keys: ['master-v1'], details: {} });
    const payload = `{"spec":"keyceremony/audit-checkpoint@1","log":"${w.log}","seq":2.0,"head":"${w.lastHash}","custodianSet":1,"time":"2026-11-28T11:00:00Z"}`;
    const signed = envelope(CHECKPOINT_TYPE, Buffer.from(payload), [K.alice, K.bob]);
    // the writer refuses to append it (its reader is the same); a forger writes the entry by hand
    const { line } = formatEntry({ seq: 3, time: '2026-11-28T11:00:01Z', actor: 'admin', action: 'checkpoint', keys: [], details: { envelope: JSON.stringify(signed), custodianSet: 1 }, prev: w.lastHash });
    const forged = Buffer.concat([readFileSync(file), Buffer.from(`${line}\n`)]);
    expect(verifyAuditLog(forged, { chain, requireCheckpointAtEnd: true })).toMatchObject({ valid: false, firstBad: 3, problems: [{ code: 'AUDIT_CHECKPOINT_INVALID' }] });
    const kept = new TextEncoder().encode(JSON.stringify(signed));
    expect(verifyAuditLog(readFileSync(file), { chain, external: [kept] })).toMatchObject({ valid: false, problems: [{ seq: 0, code: 'AUDIT_CHECKPOINT_INVALID' }] });
    const cli = runUnchanged(dir, ['audit', 'verify', file, '--custodians', setFile, '--checkpoint', put(dir, 'cp-2.0.json', kept), '--json']);
    expect([cli.status, (JSON.parse(cli.stdout) as { problems: { code: string }[] }).problems[0]?.code]).toEqual([1, 'AUDIT_CHECKPOINT_INVALID']);
  });
});
