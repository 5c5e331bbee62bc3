/**
 * Issue 14, items 1 and 13: whose signature a checkpoint needs. Set 1 = {alice, bob, carol} is
 * replaced on 2026-06-01 by set 2 = {alice, dave, eve}; bob and carol, no longer custodians, may
 * not sign for the log after that, in the log or in a checkpoint file kept apart. Logs are written
 * with AuditWriter on a controlled clock; checkpoints are signed by software keys or, for files
 * kept apart, by the independent FORMATS.md implementation.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { buildCheckpoint, CHECKPOINT_TYPE } from '../../src/audit/checkpoint.js';
import { setInForce, verifyAuditLog } from '../../src/audit/verify.js';
import type { AuditResult } from '../../src/audit/verify.js';
import { AuditWriter } from '../../src/audit/writer.js';
import { SoftwareSigner } from '../../src/dsse/sign.js';
import { verifyChain } from '../../src/verify/verify.js';
import type { TrustedChain } from '../../src/verify/verify.js';
import { envelope, K, members, put, runUnchanged, setDoc, tempDir } from './support.js';
import type { Key } from './support.js';

const T = (s: string): number => Date.parse(s);
const V2_ISSUED = '2026-06-01T00:00:00Z';
const set1 = setDoc(1, 2, members('alice', 'bob', 'carol'), [K.alice, K.bob, K.carol]);
// the rotation: set 1's threshold (alice, bob) and set 2's own (alice, dave)
const set2 = setDoc(2, 2, members('alice', 'dave', 'eve'), [K.alice, K.bob, K.dave, K.eve], V2_ISSUED);
const signer = (k: Key, name: string): SoftwareSigner => new SoftwareSigner(new Uint8Array(k.seed), name);
const S = { alice: signer(K.alice, 'alice'), bob: signer(K.bob, 'bob'), carol: signer(K.carol, 'carol'), dave: signer(K.dave, 'dave') };

let dir: string;
let set1File: string;
let set2File: string;
let chain: TrustedChain;

beforeAll(() => {
  dir = tempDir('audit-sets');
  set1File = put(dir, 'custodians.v1.json', set1);
  set2File = put(dir, 'custodians.v2.json', set2);
  const c = verifyChain([set1, set2].map((s) => new TextEncoder().encode(JSON.stringify(s))), { at: T('2026-11-30T00:00:00Z') });
  expect(c.reasons).toEqual([]);
  chain = c.chain as TrustedChain;
});

/**
 * A log of `n` entries from `start`, one a minute, then a checkpoint naming `set`, signed by
 * `signers`, dated `checkpointAt` (default: a minute after the last entry).
 */
async function logWith(name: string, start: string, n: number, set: number, signers: SoftwareSigner[], checkpointAt?: string): Promise<{ file: string; w: AuditWriter }> {
  let clock = T(start);
  let override: number | undefined;
  const file = join(dir, name);
  const w = AuditWriter.open(file, 'admin', () => override ?? (clock += 60_000));
  for (let i = 1; i <= n; i++) w.append({ actor: 'alice', action: 'key.generate', keys: [`master-v${i}`], details: { step: i } });
  if (checkpointAt !== undefined) override = T(checkpointAt);
  await w.checkpoint('admin', set, signers);
  return { file, w };
}

const verify = (file: string, opts: { chain?: TrustedChain | null; external?: Uint8Array[] } = {}): AuditResult =>
  verifyAuditLog(readFileSync(file), { chain, requireCheckpointAtEnd: true, ...opts });

describe('checkpoints in the log count against the set in force at their time', () => {
  test('the set in force is the newest whose issued is not after the time', () => {
    expect(setInForce(chain, T('2026-05-31T23:59:59Z'))?.version).toBe(1);
    expect(setInForce(chain, T(V2_ISSUED))?.version).toBe(2);
    expect(setInForce(chain, T('2025-12-31T00:00:00Z'))).toBeUndefined();
  });
  test('the honest logs: set 1 before the change, set 2 after it', async () => {
    const before = await logWith('before.jsonl', '2026-03-01T10:00:00Z', 4, 1, [S.bob, S.carol]);
    expect(verify(before.file)).toMatchObject({ valid: true, state: 'checkpointed', checkpoints: [{ seq: 6, signers: ['bob', 'carol'], verified: true }] });
    const after = await logWith('after.jsonl', '2026-07-01T10:00:00Z', 4, 2, [S.alice, S.dave]);
    expect(verify(after.file)).toMatchObject({ valid: true, state: 'checkpointed', checkpoints: [{ seq: 6, signers: ['alice', 'dave'], verified: true }] });
  });
  test('a rewritten log after the change, its checkpoint naming set 1 signed by bob and carol: AUDIT_CHECKPOINT_SET_SUPERSEDED, exit 1', async () => {
    const { file } = await logWith('forged.jsonl', '2026-07-01T10:00:00Z', 4, 1, [S.bob, S.carol]);
    expect(verify(file)).toMatchObject({ valid: false, state: 'broken', firstBad: 6, problems: [{ seq: 6, code: 'AUDIT_CHECKPOINT_SET_SUPERSEDED' }] });
    const r = runUnchanged(dir, ['audit', 'verify', file, '--custodians', set1File, '--custodians', set2File, '--json']);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: false, firstBad: 6, problems: [{ code: 'AUDIT_CHECKPOINT_SET_SUPERSEDED' }] });
    const text = runUnchanged(dir, ['audit', 'verify', file, '--custodians', set1File, '--custodians', set2File]);
    expect([text.status, text.stdout]).toEqual([1, expect.stringContaining('entry 6: AUDIT_CHECKPOINT_SET_SUPERSEDED')]);
  });
  test('the same checkpoint dated back before the change, over entries made after it: AUDIT_CHECKPOINT_TIME_INVALID', async () => {
    const { file } = await logWith('backdated.jsonl', '2026-07-01T10:00:00Z', 4, 1, [S.bob, S.carol], '2026-05-01T00:00:00Z');
    expect(verify(file)).toMatchObject({ valid: false, problems: [{ seq: 6, code: 'AUDIT_CHECKPOINT_TIME_INVALID' }] });
  });
  test('what stays possible (as in TUF): a log dated entirely before the change, checkpointed by the old threshold, verifies', async () => {
    // the defence is procedural: keep each checkpoint apart, and have set 2 checkpoint the log after the change (next test)
    const { file } = await logWith('old-era-forgery.jsonl', '2026-02-01T10:00:00Z', 3, 1, [S.bob, S.carol]);
    expect(verify(file).valid).toBe(true);
  });
  test('a checkpoint naming set 2 dated before set 2 was issued, one before the root, and one after its set expired', async () => {
    const early = await logWith('early-v2.jsonl', '2026-03-01T10:00:00Z', 2, 2, [S.alice, S.dave]);
    expect(verify(early.file)).toMatchObject({ valid: false, problems: [{ code: 'AUDIT_CHECKPOINT_TIME_INVALID' }] });
    const prehistoric = await logWith('before-root.jsonl', '2025-06-01T10:00:00Z', 2, 1, [S.alice, S.bob]);
    expect(verify(prehistoric.file)).toMatchObject({ valid: false, problems: [{ code: 'AUDIT_CHECKPOINT_TIME_INVALID' }] });
    const short = setDoc(1, 2, members('alice', 'bob', 'carol'), [K.alice, K.bob], '2026-01-01T00:00:00Z', '2026-08-01T00:00:00Z');
    const shortChain = verifyChain([new TextEncoder().encode(JSON.stringify(short))], { at: T('2026-07-01T00:00:00Z') }).chain as TrustedChain;
    const late = await logWith('after-expiry.jsonl', '2026-09-01T10:00:00Z', 2, 1, [S.alice, S.bob]);
    expect(verify(late.file, { chain: shortChain })).toMatchObject({ valid: false, problems: [{ code: 'AUDIT_CHECKPOINT_SET_EXPIRED' }] });
  });
  test('a checkpoint naming a set the chain does not hold, and one short of the threshold of the set in force', async () => {
    const unknown = await logWith('set-3.jsonl', '2026-07-01T10:00:00Z', 2, 3, [S.alice, S.dave]);
    expect(verify(unknown.file)).toMatchObject({ valid: false, problems: [{ code: 'AUDIT_CHECKPOINT_SET_UNKNOWN' }] });
    const weak = await logWith('weak.jsonl', '2026-07-01T10:00:00Z', 2, 2, [S.alice, S.bob]); // bob is not in set 2: one signature counts
    expect(verify(weak.file)).toMatchObject({ valid: false, problems: [{ code: 'AUDIT_CHECKPOINT_UNSIGNED' }] });
  });
});

describe('checkpoint files kept apart (--checkpoint) are checked exactly like those in the log', () => {
  let file: string;
  let w: AuditWriter;
  const external = (over: { custodianSet?: number; time?: string; seq?: number }, signers: Key[]): Uint8Array => {
    const payload = Buffer.from(buildCheckpoint({ log: w.log, seq: over.seq ?? w.entries, head: w.lastHash, custodianSet: over.custodianSet ?? 2, time: T(over.time ?? '2026-07-02T00:00:00Z') }));
    return new TextEncoder().encode(JSON.stringify(envelope(CHECKPOINT_TYPE, payload, signers)));
  };
  beforeAll(async () => {
    ({ file, w } = await logWith('kept.jsonl', '2026-07-01T10:00:00Z', 4, 2, [S.alice, S.dave]));
  });
  test('issue 14 item 13: no signatures, custodianSet 99, a made-up time: exit 1 with --custodians, not 0', () => {
    const forged = put(dir, 'forged-checkpoint.json', external({ custodianSet: 99, time: '2031-01-01T00:00:00Z' }, []));
    const r = runUnchanged(dir, ['audit', 'verify', file, '--custodians', set1File, '--custodians', set2File, '--checkpoint', forged, '--json']);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ valid: false, firstBad: 0, problems: [{ seq: 0, code: 'AUDIT_CHECKPOINT_SET_UNKNOWN' }] });
    const text = runUnchanged(dir, ['audit', 'verify', file, '--custodians', set1File, '--custodians', set2File, '--checkpoint', forged]);
    expect([text.status, text.stdout]).toEqual([1, expect.stringContaining('checkpoint file: AUDIT_CHECKPOINT_SET_UNKNOWN')]);
  });
  test('each way a checkpoint file can fail, each with its code', () => {
    const cases: [Uint8Array, string][] = [
      [external({}, []), 'AUDIT_CHECKPOINT_UNSIGNED'],
      [external({}, [K.alice, K.mallory]), 'AUDIT_CHECKPOINT_UNSIGNED'],
      [external({ custodianSet: 1 }, [K.bob, K.carol]), 'AUDIT_CHECKPOINT_SET_SUPERSEDED'],
      [external({ time: '2026-07-01T10:00:00Z' }, [K.alice, K.dave]), 'AUDIT_CHECKPOINT_TIME_INVALID'], // before the entries it signs
      [external({ custodianSet: 1, time: '2026-05-01T00:00:00Z' }, [K.bob, K.carol]), 'AUDIT_CHECKPOINT_TIME_INVALID'],
    ];
    for (const [bytes, code] of cases) {
      expect([code, verify(file, { external: [bytes] })]).toMatchObject([code, { valid: false, problems: [{ seq: 0, code }] }]);
    }
  });
  test('a good checkpoint file verifies and says who signed it; without --custodians nothing is signature-checked and the output says so', () => {
    const good = put(dir, 'good-checkpoint.json', external({}, [K.alice, K.dave]));
    const ok = runUnchanged(dir, ['audit', 'verify', file, '--custodians', set1File, '--custodians', set2File, '--checkpoint', good, '--json']);
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toMatchObject({ valid: true, externals: [{ covers: w.entries, signers: ['alice', 'dave'], verified: true }] });
    const forged = put(dir, 'unsigned-checkpoint.json', external({ custodianSet: 99 }, []));
    const unchecked = runUnchanged(dir, ['audit', 'verify', file, '--checkpoint', forged, '--json']);
    expect(unchecked.status).toBe(0);
    const out = JSON.parse(unchecked.stdout) as { valid: boolean; warnings: string[]; externals: { verified: boolean }[] };
    expect(out).toMatchObject({ valid: true, externals: [{ verified: false }] });
    expect(out.warnings.map((x) => x.split(':')[0])).toContain('AUDIT_SIGNATURES_UNCHECKED');
  });
});
