/**
 * Trusted wrapping (issue 16, Build 2): CKA_WRAP_WITH_TRUSTED master keys and a KMS wrapping key
 * the security officer imports as trusted (CKA_TRUSTED). Measured on both implementations: SoftHSM2
 * 2.6.1 enforces it (the user cannot trust a key, the master key wraps under the SO's key only, the
 * attribute cannot be cleared); NSS softokn accepts the attributes and enforces none of it, so the
 * probe, not the token's acceptance, decides where the feature is offered.
 */
import { constants, createCipheriv, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { generateAesKey } from '../../src/pkcs11/keys.js';
import type { AesKey } from '../../src/pkcs11/keys.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { findByLabel, findSecretKey, objectLabel } from '../../src/pkcs11/objects.js';
import { generateSecret, isGenericSecret } from '../../src/pkcs11/secrets.js';
import { withSession, withSoSession } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import type { Token } from '../../src/pkcs11/tokens.js';
import { findTrustedWrappingKey, importTrustedWrappingKey, probeTrustedWrap, requireTrustedWrap, wrapsOnlyUnderTrusted } from '../../src/pkcs11/trusted.js';
import type { RsaPublic } from '../../src/pkcs11/trusted.js';
import { generateEphemeralAes, importRsaWrappingKey, wrapOaep, wrapWith } from '../../src/pkcs11/wrapping.js';
import { expectCode, expectCodeAsync } from '../support/expect-code.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const SOFT = { label: 'Trusted HSM', pin: '11223344', soPin: '12345678' };
let hsm: SoftHsm;
let nss: Nss;
let soft: Pkcs11Module;
let nssMod: Pkcs11Module;
/** The KMS's wrapping key pair: the private half stands in for the KMS, to decrypt what the token wrapped. */
let kms: { publicKey: KeyObject; privateKey: KeyObject; rsa: RsaPublic };

beforeAll(() => {
  hsm = createSoftHsm([SOFT]);
  nss = createNss({ label: 'NSS trusted' });
  soft = Pkcs11Module.open(hsm.module);
  nssMod = Pkcs11Module.open(nss.module, nss.params);
  const pair = generateKeyPairSync('rsa', { modulusLength: 3072 });
  const jwk = pair.publicKey.export({ format: 'jwk' });
  kms = { ...pair, rsa: { modulus: Buffer.from(jwk.n as string, 'base64url'), exponent: Buffer.from(jwk.e as string, 'base64url') } };
}, 60_000);
afterAll(() => { soft?.close(); nssMod?.close(); hsm?.cleanup(); nss?.cleanup(); });

const softToken = (): Token => findToken(soft, { label: SOFT.label });
const nssToken = (): Token => findToken(nssMod, { label: nss.label });

describe('the probe measures, never assumes', () => {
  test('SoftHSM2 2.6.1 enforces trusted wrapping: the user cannot trust a key, only the SO\'s trusted key wraps the key, the attribute cannot be cleared', async () => {
    const p = await probeTrustedWrap(softToken(), pinBytes(SOFT.soPin), pinBytes(SOFT.pin));
    expect(p).toEqual({ supported: true, enforced: true, userMaySetTrusted: false, soImport: 'ok', keptOnKey: true, untrustedWrap: 'HSM_KEY_NOT_EXTRACTABLE (CKR 0x69)', trustedWrap: 'wrapped', clearable: false });
    expect(() => requireTrustedWrap(softToken(), p)).not.toThrow();
    // the probe's throw-away objects are gone, its trusted key too
    await withSession(softToken(), pinBytes(SOFT.pin), async (s) => { expect(findByLabel(s, 'public-key', 'keyceremony trusted-wrap probe')).toEqual([]); expect(findByLabel(s, 'secret-key', 'keyceremony trusted-wrap probe')).toEqual([]); });
  });
  test('without the SO PIN only the user\'s half is measured: enforced on SoftHSM2, and that is enough for requireTrustedWrap', async () => {
    const p = await probeTrustedWrap(softToken(), null, pinBytes(SOFT.pin));
    expect(p).toEqual({ supported: false, enforced: true, userMaySetTrusted: false, soImport: 'not tried', keptOnKey: true, untrustedWrap: 'HSM_KEY_NOT_EXTRACTABLE (CKR 0x69)', trustedWrap: 'not tried', clearable: false });
    expect(() => requireTrustedWrap(softToken(), p)).not.toThrow();
  });
  test('a wrong SO PIN is refused as such (HSM_PIN_INCORRECT), never taken for a token that does not enforce it', async () => {
    const p = await probeTrustedWrap(softToken(), pinBytes('00000000'), pinBytes(SOFT.pin));
    expect(p).toMatchObject({ supported: false, enforced: true, soImport: 'HSM_PIN_INCORRECT', trustedWrap: 'not tried' });
    expectCode(() => requireTrustedWrap(softToken(), p), 'HSM_PIN_INCORRECT');
  });
  test('NSS softokn 3.87 enforces none of it: the user may set CKA_TRUSTED, an untrusted key wraps the key, the attribute can be cleared, and the SO cannot log in once the PIN is set', async () => {
    const p = await probeTrustedWrap(nssToken(), new Uint8Array(0), pinBytes(nss.pin));
    expect(p).toMatchObject({ supported: false, enforced: false, userMaySetTrusted: true, keptOnKey: true, untrustedWrap: 'wrapped', trustedWrap: 'not tried', clearable: true, soImport: 'HSM_SO_LOGIN_UNAVAILABLE' });
    expectCode(() => requireTrustedWrap(nssToken(), p), 'HSM_TRUSTED_WRAP_UNENFORCED');
    // the user's half alone already refuses it
    expectCode(() => requireTrustedWrap(nssToken(), { ...p, soImport: 'not tried' }), 'HSM_TRUSTED_WRAP_UNENFORCED');
    const userHalf = await probeTrustedWrap(nssToken(), null, pinBytes(nss.pin));
    expect(userHalf).toMatchObject({ enforced: false, soImport: 'not tried' });
    expectCode(() => requireTrustedWrap(nssToken(), userHalf), 'HSM_TRUSTED_WRAP_UNENFORCED');
  });
  test('NSS: the SO cannot log in once the user PIN is set, said with its own code (not a bug)', async () => {
    await expectCodeAsync(importTrustedWrappingKey(nssToken(), new Uint8Array(0), kms.rsa, 'kms wrapping key'), 'HSM_SO_LOGIN_UNAVAILABLE');
  });
});

describe('a wrap-with-trusted master key on SoftHSM2', () => {
  let master: AesKey;
  test('made extractable and wrap-with-trusted, read back so; refused for a key that never leaves the token', async () => {
    master = await withSession(softToken(), pinBytes(SOFT.pin), (s) => generateAesKey(s, { label: 'master-trusted-v1', role: 'master', extractable: true, wrapWithTrusted: true }));
    expect(master.wrapWithTrusted).toBe(true);
    await withSession(softToken(), pinBytes(SOFT.pin), async (s) => { expect(wrapsOnlyUnderTrusted(s, findSecretKey(s, { label: 'master-trusted-v1' }))).toBe(true); });
    await expectCodeAsync(withSession(softToken(), pinBytes(SOFT.pin), (s) => generateAesKey(s, { label: 'master-fixed-v1', role: 'master', wrapWithTrusted: true })), 'KEY_OPTIONS_INVALID');
    await expectCodeAsync(withSession(softToken(), pinBytes(SOFT.pin), (s) => generateAesKey(s, { label: 'backup-trusted-v1', role: 'backup', extractable: true, wrapWithTrusted: true })), 'KEY_OPTIONS_INVALID');
  });
  test('the SO cannot log in while the user is; the user\'s PIN is not the SO\'s', async () => {
    await withSession(softToken(), pinBytes(SOFT.pin), async () => {
      await expectCodeAsync(withSoSession(softToken(), pinBytes(SOFT.soPin), async () => undefined), 'HSM_LOGIN_CONFLICT');
    });
    await expectCodeAsync(importTrustedWrappingKey(softToken(), pinBytes(SOFT.pin), kms.rsa, 'kms wrapping key'), 'HSM_PIN_INCORRECT');
  });
  test('under the KMS key imported as untrusted (a session key, as every export makes it): refused, as is an ephemeral AES key (so no RSA-AES target, no backup blob)', async () => {
    await withSession(softToken(), pinBytes(SOFT.pin), async (s) => {
      const key = findSecretKey(s, { label: 'master-trusted-v1' });
      expect(findTrustedWrappingKey(s, kms.rsa)).toBeNull();
      await expectCodeAsync(wrapOaep(s, 'sha1', importRsaWrappingKey(s, kms.rsa.modulus, kms.rsa.exponent), key, 'wrapping with RSAES-OAEP'), 'HSM_KEY_NOT_EXTRACTABLE');
      await expectCodeAsync(wrapWith(s, 0x210a, await generateEphemeralAes(s), key, 'wrapping the key with AES-KWP'), 'HSM_KEY_NOT_EXTRACTABLE');
    });
  });
  test('under the same KMS key imported as trusted by the SO: wrapped with RSAES-OAEP, and the KMS\'s private key recovers a key whose KCV is the token\'s', async () => {
    expect(await importTrustedWrappingKey(softToken(), pinBytes(SOFT.soPin), kms.rsa, 'kms wrapping key')).toEqual({ label: 'kms wrapping key', created: true });
    // again: found trusted already, nothing made (under whatever label is asked for)
    expect(await importTrustedWrappingKey(softToken(), pinBytes(SOFT.soPin), kms.rsa, 'another label')).toEqual({ label: 'kms wrapping key', created: false });
    const wrapped = await withSession(softToken(), pinBytes(SOFT.pin), async (s) => {
      const trusted = findTrustedWrappingKey(s, kms.rsa);
      expect(trusted).not.toBeNull();
      return wrapOaep(s, 'sha1', trusted!, findSecretKey(s, { label: 'master-trusted-v1' }), 'wrapping with RSAES-OAEP');
    });
    const clear = privateDecrypt({ key: kms.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, wrapped!);
    try {
      expect(clear.length).toBe(32);
      expect(createCipheriv('aes-256-ecb', clear, null).setAutoPadding(false).update(Buffer.alloc(16)).subarray(0, 3).toString('hex')).toBe(master.kcv.value);
    } finally {
      clear.fill(0);
    }
  });
});

describe('the trusted import refuses a label in use', () => {
  test('another KMS key under a label a public object carries: HSM_OBJECT_EXISTS, nothing imported', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
    const rsa = { modulus: Buffer.from(other.n as string, 'base64url'), exponent: Buffer.from(other.e as string, 'base64url') };
    await expectCodeAsync(importTrustedWrappingKey(softToken(), pinBytes(SOFT.soPin), rsa, 'kms wrapping key'), 'HSM_OBJECT_EXISTS');
    await withSession(softToken(), pinBytes(SOFT.pin), async (s) => { expect(findTrustedWrappingKey(s, rsa)).toBeNull(); });
  });
});

describe('a generic secret is told by its key type, not its label', () => {
  test.each([['SoftHSM2', () => softToken(), SOFT.pin], ['NSS softokn', () => nssToken(), '']] as const)('%s: a generic secret is one, an AES key is not, whatever their labels', async (_name, token, pin) => {
    await withSession(token(), pinBytes(pin === '' ? nss.pin : pin), async (s) => {
      const secret = generateSecret(s, { label: 'master-v9', bytes: 32 }); // labelled like a master key
      const aes = await generateAesKey(s, { label: 'secret-key-v9', role: 'master', extractable: true }); // labelled like a secret
      expect(isGenericSecret(s, secret)).toBe(true);
      expect(isGenericSecret(s, findSecretKey(s, { id: aes.id }))).toBe(false);
      expect(objectLabel(s, secret)).toBe('master-v9');
    });
  });
});
