/**
 * The audit log (issue 7): written with AuditWriter (fsync per entry), checkpoints signed 2-of-3,
 * then tampered with on disk. Each tampering is reported at the entry's sequence; a log rewritten
 * without the custodians' keys breaks at the next checkpoint; a log cut short is caught by the
 * rule that a ceremony ends with a checkpoint, or by a checkpoint kept elsewhere. Entry hashes
 * are recomputed independently here with node:crypto from the documented rule.
 */
import { createHash } from 'node:crypto';
import { appendFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { AuditWriter } from '../../src/audit/writer.js';
import { verifyAuditLog } from '../../src/audit/verify.js';
import type { AuditResult } from '../../src/audit/verify.js';
import { SoftwareSigner } from '../../src/dsse/sign.js';
import { verifyChain } from '../../src/verify/verify.js';
import type { TrustedChain } from '../../src/verify/verify.js';
import { runCli, ERROR_LINE } from '../support/cli.js';
import { bytes, envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import { expectCode } from '../support/expect-code.js';

const ids = ['alice', 'bob', 'carol'] as const;
const keys = ids.map(keyNamed);
const signers = keys.map((k, i) => new SoftwareSigner(new Uint8Array(k.seed), ids[i]));
const setDoc = envelope(TYPES.custodians, setPayload(1, 2, ids.map((id, i) => [id, keys[i]!])), keys);
let chain: TrustedChain;
let dir: string;
let logFile: string;
let setFile: string;
let finalCheckpoint: string;
let clock = Date.parse('2026-11-28T10:00:00Z');

beforeAll(async () => {
  chain = verifyChain([bytes(setDoc)], { at: clock }).chain!;
  dir = mkdtempSync(join(tmpdir(), 'kc-audit-'));
  setFile = join(dir, 'custodians.v1.json');
  writeFileSync(setFile, JSON.stringify(setDoc));
  logFile = join(dir, 'audit.jsonl');
  const w = AuditWriter.open(logFile, 'admin', () => (clock += 1000));
  for (let i = 1; i <= 10; i++) w.append({ actor: ids[i % 3]!, action: 'key.generate', keys: [`webhook-v${i}`], details: { token: 'Ceremony HSM', kcv: 'abcdef', step: i } });
  await w.checkpoint('admin', 1, [signers[0]!, signers[1]!]); // entry 12
  for (let i = 1; i <= 5; i++) w.append({ actor: 'alice', action: 'manifest.sign', keys: ['master-v2'], details: { file: `rotation.${i}.json` } });
  finalCheckpoint = await w.checkpoint('admin', 1, [signers[1]!, signers[2]!]); // entry 18
  expect(w.entries).toBe(18);
});

const lines = () => readFileSync(logFile, 'utf8').split('\n').slice(0, -1);
const check = (ls: readonly string[], opts: Parameters<typeof verifyAuditLog>[1] = {}): AuditResult =>
  verifyAuditLog(new TextEncoder().encode(ls.map((l) => `${l}\n`).join('')), { chain, requireCheckpointAtEnd: true, ...opts });

describe('a well-formed log', () => {
  test('verifies, with both checkpoints signed by the threshold', () => {
    const r = check(lines());
    expect(r).toMatchObject({ valid: true, entries: 18, firstBad: null, unsignedTail: 0 });
    expect(r.checkpoints).toEqual([{ seq: 12, covers: 11, signers: ['alice', 'bob'], verified: true }, { seq: 18, covers: 17, signers: ['bob', 'carol'], verified: true }]);
  });
  test('each entry hash is SHA-256("keyceremony/audit-entry@1" 00 ‖ the line without its hash), chained from zeros', () => {
    let prev = `sha256:${'0'.repeat(64)}`;
    for (const line of lines()) {
      const m = /^(.*),"hash":"(sha256:[0-9a-f]{64})"\}$/.exec(line)!;
      const body = `${m[1]}}`;
      expect((JSON.parse(body) as { prev: string }).prev).toBe(prev);
      prev = `sha256:${createHash('sha256').update('keyceremony/audit-entry@1\0').update(body).digest('hex')}`;
      expect(m[2]).toBe(prev);
    }
  });
  test('every entry names time, actor, action and key ids; nothing in it looks like a secret', () => {
    const e = JSON.parse(lines()[3]!) as Record<string, unknown>;
    expect(Object.keys(e)).toEqual(['seq', 'time', 'actor', 'action', 'keys', 'details', 'prev', 'hash']);
    expect(e).toMatchObject({ seq: 4, time: expect.stringMatching(/^2026-11-28T10:00:\d\dZ$/), action: 'key.generate', keys: ['webhook-v3'] });
  });
});

describe('tampering is reported at the entry', () => {
  test('a modified entry', () => {
    const ls = lines();
    ls[6] = ls[6]!.replace('"kcv":"abcdef"', '"kcv":"abcdee"');
    expect(check(ls)).toMatchObject({ valid: false, firstBad: 7, problems: [{ seq: 7, code: 'AUDIT_HASH_MISMATCH' }] });
  });
  test('a removed entry', () => {
    const ls = lines();
    ls.splice(4, 1);
    expect(check(ls)).toMatchObject({ valid: false, firstBad: 5, problems: [{ code: 'AUDIT_SEQUENCE_BROKEN' }] });
  });
  test('two entries swapped', () => {
    const ls = lines();
    [ls[8], ls[9]] = [ls[9]!, ls[8]!];
    expect(check(ls)).toMatchObject({ valid: false, firstBad: 9, problems: [{ code: 'AUDIT_SEQUENCE_BROKEN' }] });
  });
  test('an entry inserted (a copy of entry 3 after it)', () => {
    const ls = lines();
    ls.splice(3, 0, ls[2]!);
    expect(check(ls)).toMatchObject({ valid: false, firstBad: 3, problems: [{ code: 'AUDIT_SEQUENCE_BROKEN' }] });
  });
  test('the log cut short after a checkpoint: the tail is unsigned; cut at the checkpoint, the kept checkpoint file catches it', () => {
    const ls = lines();
    // entries 13 to 15 follow the checkpoint at 12: the first unsigned entry is 13, not the missing 16
    expect(check(ls.slice(0, 15))).toMatchObject({ valid: false, state: 'unsigned-tail', firstBad: 13, firstUnsigned: 13, problems: [{ seq: 13, code: 'AUDIT_UNCHECKPOINTED_TAIL' }] });
    const cut = ls.slice(0, 12); // ends exactly at the first checkpoint: valid on its own ...
    expect(check(cut).valid).toBe(true);
    // ... but not against the final checkpoint kept on the ceremony's media
    expect(check(cut, { external: [new TextEncoder().encode(finalCheckpoint)] })).toMatchObject({ valid: false, firstBad: 13, problems: [{ code: 'AUDIT_TRUNCATED' }] });
    expect(check(ls, { external: [new TextEncoder().encode(finalCheckpoint)] }).valid).toBe(true);
  });
  test('a log rewritten from entry 5 on, every hash recomputed without the custodians: the next checkpoint no longer matches', () => {
    const ls = lines();
    let prev = '';
    const out = ls.map((line, i) => {
      const m = /^(.*),"hash":"(sha256:[0-9a-f]{64})"\}$/.exec(line)!;
      let body = `${m[1]}}`;
      if (i >= 4) body = body.replace(/"prev":"sha256:[0-9a-f]{64}"/, `"prev":"${prev}"`);
      if (i === 4) body = body.replace('"kcv":"abcdef"', '"kcv":"000000"');
      prev = `sha256:${createHash('sha256').update('keyceremony/audit-entry@1\0').update(body).digest('hex')}`;
      return `${body.slice(0, -1)},"hash":"${prev}"}`;
    });
    expect(check(out)).toMatchObject({ valid: false, firstBad: 12, problems: [{ code: 'AUDIT_CHECKPOINT_MISMATCH' }] });
  });
  test('a checkpoint signed by fewer than the threshold, or checked against no chain', async () => {
    const d = mkdtempSync(join(tmpdir(), 'kc-audit-weak-'));
    const w = AuditWriter.open(join(d, 'audit.jsonl'), 'admin');
    w.append({ actor: 'alice', action: 'key.generate', keys: ['master-v1'], details: {} });
    await w.checkpoint('admin', 1, [signers[0]!]);
    const text = readFileSync(join(d, 'audit.jsonl'));
    expect(verifyAuditLog(text, { chain, requireCheckpointAtEnd: true })).toMatchObject({ valid: false, firstBad: 3, problems: [{ code: 'AUDIT_CHECKPOINT_UNSIGNED' }] });
    expect(verifyAuditLog(text, { requireCheckpointAtEnd: true }).checkpoints[0]).toMatchObject({ verified: false });
  });
  test('property: any one byte changed anywhere in the file makes it invalid', () => {
    const text = readFileSync(logFile);
    fc.assert(fc.property(fc.integer({ min: 0, max: text.length - 1 }), fc.integer({ min: 1, max: 255 }), (at, x) => {
      const t = Buffer.from(text);
      t[at] = t[at]! ^ x;
      expect(verifyAuditLog(t, { chain, requireCheckpointAtEnd: true }).valid).toBe(false);
    }), { numRuns: 300 });
  });
});

describe('writing', () => {
  test('a torn last line (a crash during a write) is cut off on reopening and the cut is recorded', () => {
    const d = mkdtempSync(join(tmpdir(), 'kc-audit-torn-'));
    const f = join(d, 'audit.jsonl');
    const w = AuditWriter.open(f, 'admin');
    w.append({ actor: 'alice', action: 'key.generate', keys: ['master-v1'], details: {} });
    appendFileSync(f, '{"seq":3,"time":"2026-11-28T10:');
    expect(verifyAuditLog(readFileSync(f))).toMatchObject({ valid: false, firstBad: 3, problems: [{ code: 'AUDIT_TORN_ENTRY' }] });
    const again = AuditWriter.open(f, 'admin');
    expect(again.entries).toBe(3);
    const last = JSON.parse(readFileSync(f, 'utf8').trim().split('\n').pop()!) as { action: string; details: { tornBytes: number } };
    expect(last).toMatchObject({ action: 'log.recover', details: { tornBytes: 31 } });
    expect(verifyAuditLog(readFileSync(f)).valid).toBe(true);
  });
  test('a broken log is never extended; secrets are refused by name', () => {
    const d = mkdtempSync(join(tmpdir(), 'kc-audit-broken-'));
    const f = join(d, 'audit.jsonl');
    const w = AuditWriter.open(f, 'admin');
    expectCode(() => w.append({ actor: 'alice', action: 'token.login', keys: [], details: { pin: '1234' } }), 'AUDIT_ENTRY_REFUSED');
    expectCode(() => w.append({ actor: 'alice', action: 'backup.split', keys: [], details: { share: 'x' } }), 'AUDIT_ENTRY_REFUSED');
    w.append({ actor: 'alice', action: 'key.generate', keys: ['master-v1'], details: {} });
    writeFileSync(f, readFileSync(f, 'utf8').replace('master-v1', 'master-v9'));
    expectCode(() => AuditWriter.open(f, 'admin'), 'AUDIT_HASH_MISMATCH');
  });
});

describe('keyceremony audit verify', () => {
  test('exit 0 for the log, 1 with the first bad sequence for a changed one, 2 for a missing file', () => {
    const ok = runCli(['audit', 'verify', logFile, '--custodians', setFile, '--checkpoint', join(dir, 'final.json'), '--json'], process.env);
    expect(ok.status).toBe(2); // the checkpoint file does not exist yet
    expect(ok.stderr).toMatch(ERROR_LINE);
    writeFileSync(join(dir, 'final.json'), finalCheckpoint);
    const good = runCli(['audit', 'verify', logFile, '--custodians', setFile, '--checkpoint', join(dir, 'final.json'), '--json'], process.env);
    expect(good.status).toBe(0);
    expect(JSON.parse(good.stdout)).toMatchObject({ valid: true, entries: 18, firstBad: null });
    const ls = lines();
    ls[13] = ls[13]!.replace('rotation.2.json', 'rotation.9.json');
    const bad = join(dir, 'bad.jsonl');
    writeFileSync(bad, ls.map((l) => `${l}\n`).join(''));
    const r = runCli(['audit', 'verify', bad, '--custodians', setFile], process.env);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('first bad entry 14');
  });
});
