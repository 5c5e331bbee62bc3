/**
 * Issue 14, items 2 and 14 (the audit log): an empty log, a log with no checkpoint and one with an
 * entry appended after its checkpoint are each reported as what they are, naming the first unsigned
 * entry exactly; `audit verify --json` carries warnings like `verify --json`; and the log is hashed
 * over its bytes, so a byte that is not UTF-8 is refused where it stands instead of decoding to
 * U+FFFD and keeping the head.
 */
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { verifyAuditLog } from '../../src/audit/verify.js';
import { AuditWriter } from '../../src/audit/writer.js';
import { SoftwareSigner } from '../../src/dsse/sign.js';
import { verifyChain } from '../../src/verify/verify.js';
import type { TrustedChain } from '../../src/verify/verify.js';
import { digest } from '../support/independent.js';
import { codesOf, K, members, put, runUnchanged, setDoc, tempDir } from './support.js';

const set1 = setDoc(1, 2, members('alice', 'bob', 'carol'), [K.alice, K.bob, K.carol]);
const alice = new SoftwareSigner(new Uint8Array(K.alice.seed), 'alice');
const bob = new SoftwareSigner(new Uint8Array(K.bob.seed), 'bob');
let dir: string;
let setFile: string;
let chain: TrustedChain;
let clock = Date.parse('2026-11-02T10:00:00Z');
const now = (): number => (clock += 1000);

beforeAll(() => {
  dir = tempDir('audit-log');
  setFile = put(dir, 'custodians.v1.json', set1);
  chain = verifyChain([new TextEncoder().encode(JSON.stringify(set1))], { at: Date.now() }).chain as TrustedChain;
});

interface Out { valid: boolean; state: string; entries: number; firstBad: number | null; firstUnsigned: number | null; problems: { seq: number; code: string }[]; warnings: string[] }
const audit = (file: string, ...extra: string[]): { status: number | null; out: Out } => {
  const r = runUnchanged(dir, ['audit', 'verify', file, '--json', ...extra]);
  expect(r.stderr).toBe('');
  return { status: r.status, out: JSON.parse(r.stdout) as Out };
};

async function checkpointedLog(name: string, entries: number): Promise<{ file: string; w: AuditWriter }> {
  const file = join(dir, name);
  const w = AuditWriter.open(file, 'admin', now);
  for (let i = 1; i <= entries; i++) w.append({ actor: 'alice', action: 'key.generate', keys: [`master-v${i}`], details: {} });
  await w.checkpoint('admin', 1, [alice, bob]);
  return { file, w };
}

describe('an empty log, a log without checkpoint, an unsigned tail', () => {
  test('a 0-byte log is not a valid log of 0 entries: state empty, AUDIT_EMPTY, exit 1', () => {
    const file = put(dir, 'empty.jsonl', '');
    const r = audit(file, '--custodians', setFile);
    expect(r).toEqual({ status: 1, out: expect.objectContaining({ valid: false, state: 'empty', entries: 0, firstBad: 1, problems: [expect.objectContaining({ seq: 1, code: 'AUDIT_EMPTY' })] }) });
    // the core says so without the ceremony rule too: an empty file proves nothing
    expect(verifyAuditLog(new Uint8Array(0))).toMatchObject({ valid: false, state: 'empty' });
    const text = runUnchanged(dir, ['audit', 'verify', file]);
    expect([text.status, text.stdout]).toEqual([1, expect.stringContaining('the file is empty')]);
  });
  test('a crash before the first entry was whole: a torn first line is a torn entry 1; the whole lines before it (none) are an empty log', () => {
    const torn = new TextEncoder().encode('{"seq":1,"time":"2026-11-');
    expect(verifyAuditLog(torn)).toMatchObject({ valid: false, state: 'broken', firstBad: 1, problems: [{ code: 'AUDIT_TORN_ENTRY' }] });
    // what AuditWriter.open verifies before appending: it must branch on this state and create the log (see the report of issue 14)
    expect(verifyAuditLog(torn.subarray(0, 0)).state).toBe('empty');
  });
  test('a log that no checkpoint signs: its own state, first unsigned entry 1; a warning where a checkpoint is not required', () => {
    const file = join(dir, 'no-checkpoint.jsonl');
    const w = AuditWriter.open(file, 'admin', now);
    w.append({ actor: 'alice', action: 'key.generate', keys: ['master-v1'], details: {} });
    const r = audit(file, '--custodians', setFile);
    expect(r).toEqual({ status: 1, out: expect.objectContaining({ valid: false, state: 'no-checkpoint', entries: 2, firstUnsigned: 1, firstBad: 1, problems: [expect.objectContaining({ code: 'AUDIT_NO_CHECKPOINT' })] }) });
    const open = verifyAuditLog(readFileSync(file), { chain });
    expect(open).toMatchObject({ valid: true, state: 'no-checkpoint', firstUnsigned: 1 });
    expect(codesOf(open.warnings)).toEqual(['AUDIT_NO_CHECKPOINT']);
  });
  test('one entry appended after the checkpoint is named exactly: the first unsigned entry is that entry, not the one after', async () => {
    const { file, w } = await checkpointedLog('tail.jsonl', 3); // 1 log.create, 2–4 entries, 5 checkpoint
    expect(audit(file, '--custodians', setFile)).toMatchObject({ status: 0, out: { valid: true, state: 'checkpointed', entries: 5, firstUnsigned: null } });
    w.append({ actor: 'mallory', action: 'key.export', keys: ['master-v1'], details: {} }); // entry 6
    const r = audit(file, '--custodians', setFile);
    expect(r).toMatchObject({ status: 1, out: { valid: false, state: 'unsigned-tail', entries: 6, firstUnsigned: 6, firstBad: 6, problems: [{ seq: 6, code: 'AUDIT_UNCHECKPOINTED_TAIL' }] } });
    const text = runUnchanged(dir, ['audit', 'verify', file, '--custodians', setFile]);
    expect([text.status, text.stdout]).toEqual([1, expect.stringContaining('first unsigned entry 6')]);
    w.append({ actor: 'mallory', action: 'key.export', keys: ['master-v2'], details: {} }); // entry 7: still 6 first
    expect(audit(file, '--custodians', setFile).out).toMatchObject({ firstUnsigned: 6, problems: [{ seq: 6 }] });
  });
});

describe('--json carries warnings, like verify --json (CLI.md)', () => {
  test('without --custodians: valid, and a warning that no signature was checked; with an unpinned root: that warning; pinned: none', async () => {
    const { file } = await checkpointedLog('warn.jsonl', 2);
    const bare = audit(file);
    expect(bare.status).toBe(0);
    expect(bare.out.valid).toBe(true);
    expect(codesOf(bare.out.warnings)).toEqual(['AUDIT_SIGNATURES_UNCHECKED']);
    const text = runUnchanged(dir, ['audit', 'verify', file]);
    expect(text.stdout).toContain('warning: AUDIT_SIGNATURES_UNCHECKED');
    expect(codesOf(audit(file, '--custodians', setFile).out.warnings)).toEqual(['CHAIN_ROOT_NOT_PINNED']);
    expect(audit(file, '--custodians', setFile, '--root-digest', digest(set1)).out.warnings).toEqual([]);
  });
});

describe('item 14: the log is read as bytes, never decoded with replacement', () => {
  test('a literal U+FFFD replaced by the byte 0xFF: refused at its entry (AUDIT_NOT_UTF8), where it used to verify with the same head', async () => {
    const file = join(dir, 'fffd.jsonl');
    const w = AuditWriter.open(file, 'admin', now);
    w.append({ actor: 'alice', action: 'note', keys: [], details: { text: 'before \ufffd after' } }); // entry 2
    w.append({ actor: 'alice', action: 'key.generate', keys: ['master-v1'], details: {} });
    await w.checkpoint('admin', 1, [alice, bob]);
    expect(audit(file, '--custodians', setFile).status).toBe(0);
    const bytes = readFileSync(file);
    const at = bytes.indexOf(Buffer.from('\ufffd', 'utf8'));
    const changed = Buffer.concat([bytes.subarray(0, at), Buffer.from([0xff]), bytes.subarray(at + 3)]);
    expect(changed.toString('utf8')).toBe(bytes.toString('utf8')); // the decoded text is the same: only the bytes tell
    writeFileSync(file, changed);
    const r = audit(file, '--custodians', setFile);
    expect(r).toMatchObject({ status: 1, out: { valid: false, state: 'broken', firstBad: 2, problems: [{ seq: 2, code: 'AUDIT_NOT_UTF8' }] } });
  });
  test('an overlong encoding, an encoded surrogate and a truncated sequence in an entry; a truncated sequence in a torn last line is a torn entry', () => {
    const file = join(dir, 'bytes.jsonl');
    const w = AuditWriter.open(file, 'admin', now);
    w.append({ actor: 'alice', action: 'note', keys: [], details: { text: 'ab' } });
    const good = readFileSync(file);
    const at = good.indexOf(Buffer.from('"ab"')) + 1;
    for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const b = Buffer.concat([good.subarray(0, at), Buffer.from(bad), good.subarray(at + 2)]);
      expect(verifyAuditLog(b)).toMatchObject({ valid: false, firstBad: 2, problems: [{ code: 'AUDIT_NOT_UTF8' }] });
    }
    appendFileSync(file, Buffer.from([0x7b, 0xe2, 0x82]));
    expect(verifyAuditLog(readFileSync(file))).toMatchObject({ valid: false, firstBad: 3, problems: [{ code: 'AUDIT_TORN_ENTRY' }] });
  });
});
