/**
 * The trusted copy of a KMS wrapping key is found by what the user cannot forge: its modulus and
 * exponent (the KMS key's) and CKA_TRUSTED, which only the security officer sets (SoftHSM2 2.6.1
 * measured: CKR_ATTRIBUTE_READ_ONLY to a user's create, copy or set). Whoever holds the user PIN can
 * still make public objects with the same modulus, untrusted: they must not hide the trusted one
 * from the search (an export of a wrap-with-trusted key then stopped at EXPORT_TRUSTED_REQUIRED,
 * telling the SO to trust a key the token trusts already).
 */
import { constants, createCipheriv, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { parseKek } from '../../src/export/kek.js';
import { wrapKey } from '../../src/export/wrap.js';
import { pkcs11js } from '../../src/pkcs11/binding.js';
import { generateAesKey } from '../../src/pkcs11/keys.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { withSession } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { findTrustedWrappingKey, importTrustedWrappingKey } from '../../src/pkcs11/trusted.js';
import { CKK_RSA, CKO_PUBLIC_KEY } from '../../src/pkcs11/mechanisms.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const SOFT = { label: 'Lookup HSM', pin: '11223344', soPin: '12345678' };
let hsm: SoftHsm;
let mod: Pkcs11Module;
const token = () => findToken(mod, { label: SOFT.label });
const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
const kek = parseKek(new Uint8Array(pair.publicKey.export({ format: 'der', type: 'spki' })));
let kcv: string;

beforeAll(async () => {
  hsm = createSoftHsm([SOFT]);
  mod = Pkcs11Module.open(hsm.module);
  kcv = (await withSession(token(), pinBytes(SOFT.pin), (s) => generateAesKey(s, { label: 'master-v1', role: 'master', extractable: true, wrapWithTrusted: true }))).kcv.value;
  await importTrustedWrappingKey(token(), pinBytes(SOFT.soPin), kek, 'kms wrapping key');
  // the user's look-alikes: token objects with the KMS key's modulus and exponent, untrusted (all a user can make)
  await withSession(token(), pinBytes(SOFT.pin), async (s) => {
    const B = pkcs11js();
    for (let i = 0; i < 96; i++) {
      s.api.C_CreateObject(s.handle, [{ type: B.CKA_CLASS, value: CKO_PUBLIC_KEY }, { type: B.CKA_KEY_TYPE, value: CKK_RSA }, { type: B.CKA_TOKEN, value: true }, { type: B.CKA_PRIVATE, value: false },
        { type: B.CKA_MODULUS, value: kek.modulus }, { type: B.CKA_PUBLIC_EXPONENT, value: kek.exponent }, { type: B.CKA_WRAP, value: true }, { type: B.CKA_LABEL, value: `look-alike ${i}` }]);
    }
  });
}, 120_000);
afterAll(() => { mod?.close(); hsm?.cleanup(); });

test('96 untrusted look-alikes never hide the trusted key, whatever order the token lists them in (the library opened again each time)', async () => {
  for (let i = 0; i < 6; i++) {
    mod.close();
    mod = Pkcs11Module.open(hsm.module); // SoftHSM2 loads the token's objects again, in another order
    await withSession(token(), pinBytes(SOFT.pin), async (s) => {
      const h = findTrustedWrappingKey(s, kek);
      expect(h).not.toBeNull();
      expect(s.attribute(h!, pkcs11js().CKA_TRUSTED)?.[0]).toBe(1);
    });
  }
});

test('the export of the wrap-with-trusted key goes under the trusted key, and the KMS recovers it', async () => {
  const w = await withSession(token(), pinBytes(SOFT.pin), (s) => wrapKey(s, { label: 'master-v1' }, kek, 'oaep', 'sha1'));
  const clear = privateDecrypt({ key: pair.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha1' }, w.bytes);
  try {
    expect(createCipheriv('aes-256-ecb', clear, null).setAutoPadding(false).update(Buffer.alloc(16)).subarray(0, 3).toString('hex')).toBe(kcv);
  } finally {
    clear.fill(0);
  }
});
