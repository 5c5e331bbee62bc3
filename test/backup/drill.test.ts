/**
 * Issue 6 core on SoftHSM2: custody of a backup key split 2-of-3 onto three cards, a backup blob
 * with its canary, and drills on a fresh token that pass with every 2-subset and fail, each with
 * its own code and nothing left restored, for bad blobs, KCVs and canaries. The signed report
 * verifies against the custodian set.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { encodeBlob, makeBackupBlob, parseBlob } from '../../src/backup/blob.js';
import type { BackupBlob } from '../../src/backup/blob.js';
import { checkCustody, createBackupCustody } from '../../src/backup/custody.js';
import type { Custody } from '../../src/backup/custody.js';
import { buildDrillReport, runDrill } from '../../src/backup/drill.js';
import { ShareCollector } from '../../src/backup/shares.js';
import { readShare, writeShare } from '../../src/backup/token-shares.js';
import { parseTime } from '../../src/docs/fields.js';
import { generateAesKey } from '../../src/pkcs11/keys.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { withSession } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { verifyDocument } from '../../src/verify/verify.js';
import { expectCodeAsync } from '../support/expect-code.js';
import { bytes, envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const HSM = { label: 'Ceremony HSM', pin: '55443322', soPin: '12345678' };
const DRILL = { label: 'Drill token', pin: '66778899', soPin: '12345678' };
const ids = ['alice', 'bob', 'carol'] as const;
const cards = ids.map((id, i) => ({ id, label: `card-${id}`, pin: `${i + 1}${i + 1}${i + 1}${i + 1}00`, soPin: '12345678' }));
let hsm: SoftHsm;
let mod: Pkcs11Module;
let custody: Custody;
let blob: BackupBlob;
let masterKcv: string;

const session = <T>(t: { label: string; pin: string }, fn: Parameters<typeof withSession<T>>[2]) => withSession(findToken(mod, { label: t.label }), pinBytes(t.pin), fn);
const drillObjects = () => session(DRILL, async (s) => s.findObjects([], 100).length);
const collectorFor = () => new ShareCollector({ ceremony: 'q4-backup', backupKey: 'backup-v2', threshold: 2, total: 3, commitments: new Map(custody.shares.map((x) => [x.custodian, x.commitment])) });
async function present(c: ShareCollector, who: readonly (typeof cards)[number][]): Promise<void> {
  for (const card of who) c.present(await session(card, async (s) => readShare(s, 'backup-v2')));
}

beforeAll(async () => {
  hsm = createSoftHsm([HSM, DRILL, ...cards]);
  mod = Pkcs11Module.open(hsm.module);
  await session(HSM, async (s) => {
    masterKcv = (await generateAesKey(s, { label: 'master-v7', role: 'master', extractable: true })).kcv.value;
    custody = await createBackupCustody(s, { backupKey: 'backup-v2', ceremony: 'q4-backup', custodians: ids, threshold: 2 });
    await checkCustody(s, custody, 'q4-backup', 2);
    blob = parseBlob(new TextEncoder().encode(encodeBlob(await makeBackupBlob(s, 'master-v7', 'backup-v2'))));
  });
  for (const [i, c] of cards.entries()) await session(c, async (s) => writeShare(s, 'backup-v2', custody.shares[i]!.bytes, custody.shares[i]!.commitment));
}, 60_000);
afterAll(() => { mod.close(); hsm.cleanup(); });

describe('drills', () => {
  test.each([[0, 1], [0, 2], [1, 2]])('passes with the shares of custodians %i and %i, and leaves nothing on the drill token', async (a, b) => {
    const c = collectorFor();
    await present(c, [cards[a]!, cards[b]!]);
    const outcome = await session(DRILL, (s) => runDrill(s, c, 'backup-v2', custody.kcv, [blob], new Map([['master-v7', masterKcv]])));
    expect(outcome).toMatchObject({ pass: true, failures: [], backupKcvMatches: true, restored: [{ id: 'master-v7', kcv: masterKcv, kcvMatches: true, canary: true }] });
    expect(await drillObjects()).toBe(0);
  });
  test('fails, each with its own code and nothing restored: a blob changed by one byte, a manifest KCV that differs, a canary that does not decrypt', async () => {
    const run = async (b: BackupBlob, kcvs: Map<string, string>) => {
      const c = collectorFor();
      await present(c, [cards[0]!, cards[1]!]);
      const o = await session(DRILL, (s) => runDrill(s, c, 'backup-v2', custody.kcv, [b], kcvs));
      expect(await drillObjects()).toBe(0);
      return o;
    };
    const flipped = new Uint8Array(blob.wrapped);
    flipped[7] = flipped[7]! ^ 1;
    expect(await run({ ...blob, wrapped: flipped }, new Map([['master-v7', masterKcv]]))).toMatchObject({ pass: false, failures: ['DRILL_BLOB_CORRUPTED'] });
    expect(await run(blob, new Map([['master-v7', 'abcdef']]))).toMatchObject({ pass: false, failures: ['DRILL_KCV_MISMATCH'] });
    const badCanary = new Uint8Array(blob.canary.ciphertext);
    badCanary[0] = badCanary[0]! ^ 1;
    expect(await run({ ...blob, canary: { ...blob.canary, ciphertext: badCanary } }, new Map([['master-v7', masterKcv]]))).toMatchObject({ pass: false, failures: ['DRILL_CANARY_FAILED'] });
  });
  test('the rebuilt backup key exists in host memory only until its import: the buffer is zeroed afterwards', async () => {
    // the same collector, observed: keep a reference to the buffer combine() hands to the drill
    let seen: Uint8Array | undefined;
    class Observed extends ShareCollector {
      override async combine(): Promise<Uint8Array> {
        seen = await super.combine();
        return seen;
      }
    }
    const c = new Observed({ ceremony: 'q4-backup', backupKey: 'backup-v2', threshold: 2, total: 3, commitments: new Map(custody.shares.map((x) => [x.custodian, x.commitment])) });
    await present(c, [cards[0]!, cards[1]!]);
    const outcome = await session(DRILL, (s) => runDrill(s, c, 'backup-v2', custody.kcv, [blob], new Map([['master-v7', masterKcv]])));
    expect(outcome.pass).toBe(true);
    expect(seen).toHaveLength(32);
    expect([...seen!].every((b) => b === 0)).toBe(true);
  });
  test('refused before combining: M-1 shares, one share twice, a wrong PIN', async () => {
    const c = collectorFor();
    await present(c, [cards[2]!]);
    await expectCodeAsync(session(DRILL, (s) => runDrill(s, c, 'backup-v2', custody.kcv, [blob], new Map())), 'SHARE_THRESHOLD_NOT_MET');
    await expectCodeAsync(present(c, [cards[2]!]), 'SHARE_DUPLICATE');
    await expectCodeAsync(session({ label: 'card-bob', pin: '000000' }, async (s) => readShare(s, 'backup-v2')), 'HSM_PIN_INCORRECT');
    expect(await drillObjects()).toBe(0);
  });
  test('the drill report (FORMATS.md §5), signed 2-of-3, verifies against the custodian set', async () => {
    const c = collectorFor();
    await present(c, [cards[0]!, cards[2]!]);
    const started = parseTime('2026-11-28T10:00:00Z')!;
    const outcome = await session(DRILL, (s) => runDrill(s, c, 'backup-v2', custody.kcv, [blob], new Map([['master-v7', masterKcv]])));
    const payload = buildDrillReport({ drill: 'q4-drill', custodianSet: 1, started, finished: started + 600_000, backupKey: 'backup-v2', outcome, sharesPresented: ['alice', 'carol'], threshold: 2 });
    const [alice, bob, carol] = ids.map(keyNamed) as [ReturnType<typeof keyNamed>, ReturnType<typeof keyNamed>, ReturnType<typeof keyNamed>];
    const set = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob], ['carol', carol]]), [alice, bob, carol]);
    const report = envelope(TYPES.drill, Buffer.from(payload), [alice, carol]);
    expect(verifyDocument(bytes(report), [bytes(set)], { at: parseTime('2026-12-01T00:00:00Z')! })).toMatchObject({ valid: true, type: 'drill', signers: ['alice', 'carol'] });
  });
});
