/**
 * Two PKCS#11 implementations in one process (issue 16): SoftHSM2 and NSS softokn, each its own
 * library, opened once. Known answers decide which mechanism is RFC 5649 on each (0x210A on
 * SoftHSM2; 0x210B on NSS, whose 0x210A is PKCS#7 then RFC 3394), a wrap-only key's check value
 * comes from the token where CKA_CHECK_VALUE cannot be read, and a backup blob made on one
 * implementation is restored on the other and unwrapped by openssl.
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { makeBackupBlob, parseBlob, encodeBlob, restoreBlob } from '../../src/backup/blob.js';
import { pkcs11js } from '../../src/pkcs11/binding.js';
import type { Handle } from '../../src/pkcs11/binding.js';
import { can, rfc5649Mechanism, rfc5649Reference } from '../../src/pkcs11/capabilities.js';
import { generateAesKey, keyCheckValue } from '../../src/pkcs11/keys.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { withSession } from '../../src/pkcs11/session.js';
import type { Session } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import type { Token } from '../../src/pkcs11/tokens.js';
import { expectCode } from '../support/expect-code.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const SOFT = { label: 'Soft HSM', pin: '11223344', soPin: '12345678' };
let hsm: SoftHsm;
let nss: Nss;
let soft: Pkcs11Module;
let nssMod: Pkcs11Module;
let dir: string;

beforeAll(() => {
  hsm = createSoftHsm([SOFT]);
  nss = createNss({ label: 'NSS HSM' });
  dir = mkdtempSync(join(tmpdir(), 'kc-impl-'));
}, 60_000);
afterAll(() => {
  soft?.close();
  nssMod?.close();
  hsm.cleanup();
  nss.cleanup();
  rmSync(dir, { recursive: true, force: true });
});

const ecb = (key: Buffer): string => createCipheriv(`aes-${key.length * 8}-ecb`, key, null).setAutoPadding(false).update(Buffer.alloc(16)).subarray(0, 3).toString('hex');
const softToken = (): Token => findToken(soft, { label: SOFT.label });
const nssToken = (): Token => findToken(nssMod, { label: nss.label });
const onSoft = <T>(fn: (s: Session) => Promise<T>) => withSession(softToken(), pinBytes(SOFT.pin), fn);
const onNss = <T>(fn: (s: Session) => Promise<T>) => withSession(nssToken(), pinBytes(nss.pin), fn);

/** A session AES key of a known value (test scaffolding; the code under test never makes keys in clear). */
function knownKey(s: Session, value: Buffer, label: string, use: { encrypt: boolean; wrap: boolean }): Handle {
  const B = pkcs11js();
  return s.api.C_CreateObject(s.handle, [
    { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: B.CKK_AES }, { type: B.CKA_TOKEN, value: false }, { type: B.CKA_VALUE, value: Buffer.from(value) },
    { type: B.CKA_LABEL, value: label }, { type: B.CKA_SENSITIVE, value: true }, { type: B.CKA_EXTRACTABLE, value: true },
    { type: B.CKA_ENCRYPT, value: use.encrypt }, { type: B.CKA_DECRYPT, value: use.encrypt }, { type: B.CKA_WRAP, value: use.wrap }, { type: B.CKA_UNWRAP, value: use.wrap },
  ]);
}

describe('opening libraries', () => {
  test('NSS without its parameters: HSM_MODULE_NEEDS_PARAMS (exit 1, the fix names --module-params), and the library is left unopened', () => {
    const e = expectCode(() => Pkcs11Module.open(nss.module), 'HSM_MODULE_NEEDS_PARAMS');
    expect(e.exit).toBe(1);
    expect(e.fix).toContain('--module-params');
  });
  test('two libraries at once, each opened once per process; other parameters for an open library are refused', () => {
    soft = Pkcs11Module.open(hsm.module);
    nssMod = Pkcs11Module.open(nss.module, nss.params);
    expect(Pkcs11Module.open(nss.module, nss.params)).toBe(nssMod);
    expect(Pkcs11Module.open(nss.module)).toBe(nssMod);
    expectCode(() => Pkcs11Module.open(nss.module, `${nss.params} `), 'HSM_MODULE_PARAMS_CONFLICT');
    expect(soft.isSoftHsm).toBe(true);
    expect(nssMod.isSoftHsm).toBe(false);
    expect(nssToken().info.serial).toBe('0000000000000000'); // KMS-NOTES.md: every NSS serial is zero
    expect(nssToken().info.flags.loginRequired).toBe(true);
  });
});

describe('known answers: which mechanism is RFC 5649', () => {
  test('SoftHSM2: 0x210A (CKM_AES_KEY_WRAP_PAD) is RFC 5649, 0x210B is not offered', async () => {
    const kat = await onSoft((s) => rfc5649Mechanism(s));
    expect(kat).toMatchObject({ mechanism: 0x210a, name: 'CKM_AES_KEY_WRAP_PAD' });
    expect(kat.tried.map((t) => [t.id, t.result])).toEqual([[0x210a, 'rfc5649'], [0x210b, 'absent']]);
  });
  test('NSS: 0x210A gives other bytes (PKCS#7 then RFC 3394, 48 bytes), 0x210B (CKM_AES_KEY_WRAP_KWP) is RFC 5649', async () => {
    const kat = await onNss((s) => rfc5649Mechanism(s));
    expect(kat).toMatchObject({ mechanism: 0x210b, name: 'CKM_AES_KEY_WRAP_KWP' });
    expect(kat.tried).toEqual([
      expect.objectContaining({ id: 0x210a, result: 'other', detail: '48 bytes' }),
      expect.objectContaining({ id: 0x210b, result: 'rfc5649', detail: '40 bytes' }),
    ]);
  });
  test('the reference is RFC 5649 as openssl computes it (id-aes256-wrap-pad)', () => {
    const kek = randomBytes(32);
    const key = randomBytes(32);
    const f = join(dir, 'kat.bin');
    writeFileSync(f, key);
    const viaOpenssl = execFileSync('openssl', ['enc', '-id-aes256-wrap-pad', '-K', kek.toString('hex'), '-iv', 'A65959A6', '-in', f]);
    expect(rfc5649Reference(kek, key).equals(viaOpenssl)).toBe(true);
  });
});

describe('capabilities', () => {
  test('NSS offers OAEP for wrap and AES-ECB for wrap, SoftHSM2 no AES-ECB wrap; NSS has no EdDSA', () => {
    const B = pkcs11js();
    expect(can(nssToken(), B.CKM_RSA_PKCS_OAEP, 'wrap')).toBe(true);
    expect(can(nssToken(), B.CKM_AES_ECB, 'wrap')).toBe(true);
    expect(can(nssToken(), 0x1057)).toBe(false);
    expect(can(softToken(), 0x1057, 'sign')).toBe(true);
  });
});

describe('key check values where CKA_CHECK_VALUE cannot be read (NSS)', () => {
  test('a wrap-only key: AES-ECB of the zero block by C_WrapKey(CKM_AES_ECB) in the token, equal to the KCV computed from its value', async () => {
    const value = randomBytes(32);
    const kcv = await onNss(async (s) => {
      const B = pkcs11js();
      const h = knownKey(s, value, 'wrap-only', { encrypt: false, wrap: true });
      expect(s.attribute(h, B.CKA_CHECK_VALUE)).toBe(null); // KMS-NOTES.md: not readable on NSS
      return keyCheckValue(s, h);
    });
    expect(kcv).toEqual({ method: 'ecb', value: ecb(value) });
  });
  test('generated keys: a master key by AES-ECB encryption, a backup (wrap-only) key by AES-ECB key wrap', async () => {
    const [master, backup] = await onNss(async (s) => [
      await generateAesKey(s, { label: 'impl-master-v1', role: 'master', extractable: true }),
      await generateAesKey(s, { label: 'impl-backup-v1', role: 'backup' }),
    ]);
    expect(master.kcv.value).toMatch(/^[0-9a-f]{6}$/);
    expect(backup.kcv.value).toMatch(/^[0-9a-f]{6}$/);
  });
  test('a key that neither encrypts nor wraps, where CKA_CHECK_VALUE is unreadable: HSM_KCV_UNAVAILABLE', async () => {
    await onNss(async (s) => {
      const h = knownKey(s, randomBytes(32), 'no-use', { encrypt: false, wrap: false });
      const e = await keyCheckValue(s, h).then(() => null, (err: unknown) => err);
      expect(e).toMatchObject({ code: 'HSM_KCV_UNAVAILABLE' });
    });
  });
});

describe('backup blobs across implementations', () => {
  const backupValue = randomBytes(32);
  const masterValue = randomBytes(32);
  test('made on NSS (0x210B), recorded in the blob, unwrapped by openssl, restored on SoftHSM2 (0x210A) and back on NSS', async () => {
    const text = await onNss(async (s) => {
      knownKey(s, backupValue, 'backup-v9', { encrypt: false, wrap: true });
      knownKey(s, masterValue, 'master-v9', { encrypt: true, wrap: false });
      return encodeBlob(await makeBackupBlob(s, 'master-v9', 'backup-v9'));
    });
    const blob = parseBlob(Buffer.from(text));
    expect(blob.wrap).toEqual({ format: 'rfc5649', mechanism: 'CKM_AES_KEY_WRAP_KWP' });
    expect(blob.kcv).toBe(ecb(masterValue));
    const f = join(dir, 'blob.kwp');
    writeFileSync(f, blob.wrapped);
    execFileSync('openssl', ['enc', '-d', '-id-aes256-wrap-pad', '-K', backupValue.toString('hex'), '-iv', 'A65959A6', '-in', f, '-out', `${f}.key`]);
    expect(readFileSync(`${f}.key`).equals(masterValue)).toBe(true);
    for (const on of [onSoft, onNss]) {
      const r = await on(async (s) => restoreBlob(s, knownKey(s, backupValue, 'backup-v9 restored', { encrypt: false, wrap: true }), blob, blob.kcv));
      expect(r).toMatchObject({ kcv: ecb(masterValue), kcvMatches: true, canary: true });
    }
  });
  test('made on SoftHSM2 (0x210A), restored on NSS; a blob without `wrap` (before it was recorded) is still read', async () => {
    const text = await onSoft(async (s) => {
      knownKey(s, backupValue, 'backup-v8', { encrypt: false, wrap: true });
      knownKey(s, masterValue, 'master-v8', { encrypt: true, wrap: false });
      return encodeBlob(await makeBackupBlob(s, 'master-v8', 'backup-v8'));
    });
    const blob = parseBlob(Buffer.from(text));
    expect(blob.wrap).toEqual({ format: 'rfc5649', mechanism: 'CKM_AES_KEY_WRAP_PAD' });
    const { wrap: _w, ...old } = JSON.parse(text) as Record<string, unknown>;
    const legacy = parseBlob(Buffer.from(JSON.stringify(old)));
    expect(legacy.wrap).toBeUndefined();
    const r = await onNss(async (s) => restoreBlob(s, knownKey(s, backupValue, 'backup-v8 restored', { encrypt: false, wrap: true }), legacy, blob.kcv));
    expect(r).toMatchObject({ kcvMatches: true, canary: true });
  });
  test('a blob naming an unknown wrap format or mechanism is refused', () => {
    const base = { spec: 'keyceremony/backup-blob@1', keyId: 'master-v1', backupKey: 'backup-v1', kcv: 'abcdef', wrapped: 'AAAA', canary: { iv: 'AAAAAAAAAAAAAAAA', ciphertext: 'AAAA' } };
    for (const wrap of [{ format: 'pkcs7+rfc3394', mechanism: 'CKM_AES_KEY_WRAP_PAD' }, { format: 'rfc5649', mechanism: 'CKM_AES_ECB' }, { format: 'rfc5649' }, 'rfc5649']) {
      expect(() => parseBlob(Buffer.from(JSON.stringify({ ...base, wrap })))).toThrow();
    }
    expect(parseBlob(Buffer.from(JSON.stringify(base))).wrap).toBeUndefined();
  });
});
