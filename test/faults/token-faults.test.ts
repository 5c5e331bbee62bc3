/**
 * Issue 8: token faults. A fault-injecting wrapper (tests only) stands between the code and the
 * real SoftHSM2 binding and makes a chosen call fail, at its nth use, with CKR_DEVICE_REMOVED,
 * CKR_TOKEN_NOT_PRESENT, CKR_SESSION_HANDLE_INVALID, CKR_DEVICE_ERROR or CKR_PIN_LOCKED. Key
 * generation, signing, export, the backup split and the drill each fail with a code and a message
 * naming the token, leave no half-made object taken for whole (destroyed, or named for clean-up),
 * and work again once the fault is gone.
 */
import { generateKeyPairSync } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import pkcs11 from 'pkcs11js';
import { encodeBlob, makeBackupBlob, parseBlob } from '../../src/backup/blob.js';
import { runDrill } from '../../src/backup/drill.js';
import { ShareCollector } from '../../src/backup/shares.js';
import { splitBackupKey } from '../../src/backup/split.js';
import { readShare } from '../../src/backup/token-shares.js';
import { PAYLOAD_TYPES } from '../../src/docs/types.js';
import { addSignature } from '../../src/dsse/sign.js';
import { KeyceremonyError } from '../../src/errors.js';
import { parseKek } from '../../src/export/kek.js';
import { wrapKey } from '../../src/export/wrap.js';
import { generateAesKey, generateEd25519 } from '../../src/pkcs11/keys.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { withSession } from '../../src/pkcs11/session.js';
import type { Session } from '../../src/pkcs11/session.js';
import { tokenSigner } from '../../src/pkcs11/signer.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { CKR, healFaults, injectFault, realBinding } from '../support/faults.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const HSM = { label: 'Fault HSM', pin: '11223344', soPin: '12345678' };
const DRILL = { label: 'Fault drill', pin: '55667788', soPin: '12345678' };
const cards = ['alice', 'bob', 'carol'].map((id, i) => ({ id, label: `fault-${id}`, pin: `${i + 1}${i + 1}${i + 1}${i + 1}99`, soPin: '12345678' }));
let hsm: SoftHsm;
let mod: Pkcs11Module;

const inject = (fn: string, nth: number, ckr: number): { fired: () => boolean } => injectFault(mod, fn, nth, ckr);
const heal = (): void => healFaults(mod);

const session = <T>(t: { label: string; pin: string }, fn: (s: Session) => Promise<T>): Promise<T> => withSession(findToken(mod, { label: t.label }), pinBytes(t.pin), fn);
const labels = (t: { label: string; pin: string }) => session(t, async (s) => s.findObjects([], 100).map((h) => s.attribute(h, pkcs11.CKA_LABEL)?.toString() ?? '').sort());

async function fails(p: Promise<unknown>, code: string, token: string): Promise<KeyceremonyError> {
  try {
    await p;
  } catch (err) {
    expect(err).toBeInstanceOf(KeyceremonyError);
    expect((err as KeyceremonyError).code).toBe(code);
    expect((err as KeyceremonyError).message).toContain(`"${token}"`);
    return err as KeyceremonyError;
  }
  throw new Error(`expected ${code}`);
}

beforeAll(() => {
  hsm = createSoftHsm([HSM, DRILL, ...cards]);
  mod = Pkcs11Module.open(hsm.module);
});
afterEach(heal);
afterAll(() => { heal(); mod.close(); hsm.cleanup(); });

describe('token faults', () => {
  test('key generation: the token pulled while the check value is computed; the half-made key is destroyed, and the next try works', async () => {
    const f = inject('C_EncryptInit', 1, CKR.DEVICE_REMOVED);
    await fails(session(HSM, (s) => generateAesKey(s, { label: 'master-v1', role: 'master', extractable: true })), 'HSM_DEVICE_REMOVED', HSM.label);
    expect(f.fired()).toBe(true);
    heal();
    expect(await labels(HSM)).toEqual([]);
    await session(HSM, (s) => generateAesKey(s, { label: 'master-v1', role: 'master', extractable: true }));
    expect(await labels(HSM)).toEqual(['master-v1']);
  });
  test('key generation: the token gone for good while the key pair is checked; the error names the half-made key for clean-up', async () => {
    inject('C_GetAttributeValue', 1, CKR.TOKEN_NOT_PRESENT);
    // the destroy that follows fails too (the token is gone): both calls are made to fail
    const real = realBinding(mod);
    const destroy = real.C_DestroyObject.bind(real);
    let destroyed = 0;
    Object.defineProperty(mod, 'api', { value: new Proxy(mod.api, { get: (t, p, r) => (p === 'C_DestroyObject' ? () => { destroyed++; throw new pkcs11.Pkcs11Error('gone', CKR.TOKEN_NOT_PRESENT, 'C_DestroyObject'); } : Reflect.get(t, p, r)) }), configurable: true });
    const err = await fails(session(cards[0]!, (s) => generateEd25519(s, { label: 'alice-sign-v1' })), 'HSM_TOKEN_NOT_PRESENT', cards[0]!.label);
    expect(destroyed).toBe(2);
    expect(err.message).toContain('the half-made key "alice-sign-v1" is left on token');
    expect(err.fix).toContain('delete the objects labelled "alice-sign-v1"');
    heal();
    await session(cards[0]!, async (s) => { for (const h of s.findObjects([], 10)) destroy(s.handle, h); });
  });
  test('signing: a device error mid-signature; the envelope is unchanged and a retry signs', async () => {
    await session(cards[1]!, (s) => generateEd25519(s, { label: 'bob-sign-v1' }));
    const env = { payloadType: PAYLOAD_TYPES.rotation, payload: new TextEncoder().encode('{}'), signatures: [] };
    inject('C_SignAsync', 1, CKR.DEVICE_ERROR);
    await fails(session(cards[1]!, (s) => addSignature(env, tokenSigner(s, { label: 'bob-sign-v1' }))), 'HSM_DEVICE_ERROR', cards[1]!.label);
    expect(env.signatures).toEqual([]);
    heal();
    expect((await session(cards[1]!, (s) => addSignature(env, tokenSigner(s, { label: 'bob-sign-v1' })))).signatures).toHaveLength(1);
  });
  test('export: the session lost while wrapping; no ephemeral object is left on the HSM', async () => {
    const kek = parseKek(generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'der' }));
    inject('C_WrapKeyAsync', 1, CKR.SESSION_HANDLE_INVALID);
    await fails(session(HSM, (s) => wrapKey(s, { label: 'master-v1' }, kek, 'oaep+kwp', 'sha1')), 'HSM_SESSION_CLOSED', HSM.label);
    heal();
    expect(await labels(HSM)).toEqual(['master-v1']);
    const w = await session(HSM, (s) => wrapKey(s, { label: 'master-v1' }, kek, 'oaep+kwp', 'sha1'));
    expect(w.bytes.length).toBeGreaterThan(384);
  });
  test('backup split: the second card pulled while its share is stored; the error names that card', async () => {
    inject('C_CreateObject', 4, CKR.DEVICE_REMOVED); // 1: the backup key into the HSM, 2-3: the known-answer check of the HSM's key wrap, 4: alice's share
    await fails(splitBackupKey({ hsm: findToken(mod, { label: HSM.label }), hsmPin: pinBytes(HSM.pin), ceremony: 'faults', backupKey: 'backup-v1', threshold: 2, keys: ['master-v1'],
      cards: cards.map((c) => ({ custodian: c.id, token: findToken(mod, { label: c.label }), pin: pinBytes(c.pin) })) }), 'HSM_DEVICE_REMOVED', cards[0]!.label);
  });
  test('drill: the drill token pulled while a blob is unwrapped fails the drill as a token fault (not a corrupted blob), and leaves nothing', async () => {
    heal();
    for (const c of cards) await session(c, async (s) => { for (const h of s.findObjects([{ type: pkcs11.CKA_CLASS, value: pkcs11.CKO_DATA }], 10)) s.api.C_DestroyObject(s.handle, h); });
    await session(HSM, async (s) => { for (const h of s.findObjects([{ type: pkcs11.CKA_LABEL, value: 'backup-v1' }], 10)) s.api.C_DestroyObject(s.handle, h); });
    const split = await splitBackupKey({ hsm: findToken(mod, { label: HSM.label }), hsmPin: pinBytes(HSM.pin), ceremony: 'faults', backupKey: 'backup-v1', threshold: 2, keys: ['master-v1'],
      cards: cards.map((c) => ({ custodian: c.id, token: findToken(mod, { label: c.label }), pin: pinBytes(c.pin) })) });
    const blob = parseBlob(new TextEncoder().encode(encodeBlob(await session(HSM, (s) => makeBackupBlob(s, 'master-v1', 'backup-v1')))));
    const collector = new ShareCollector({ ceremony: 'faults', backupKey: 'backup-v1', threshold: 2, total: 3, commitments: new Map(split.receipts.map((r) => [r.custodian, r.commitment])) });
    for (const c of cards.slice(0, 2)) collector.present(await session(c, async (s) => readShare(s, 'backup-v1')));
    inject('C_UnwrapKeyAsync', 1, CKR.DEVICE_REMOVED);
    await fails(session(DRILL, (s) => runDrill(s, collector, 'backup-v1', split.backupKcv, [blob], new Map([['master-v1', blob.kcv]]))), 'HSM_DEVICE_REMOVED', DRILL.label);
    heal();
    expect(await labels(DRILL)).toEqual([]);
  });
  test('a locked PIN at login names the token and says who can unlock it', async () => {
    inject('C_Login', 1, CKR.PIN_LOCKED);
    const err = await fails(session(cards[2]!, async () => undefined), 'HSM_PIN_LOCKED', cards[2]!.label);
    expect(err.fix).toMatch(/security officer/);
  });
});
