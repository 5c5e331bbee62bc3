/**
 * Every mechanism number the project uses, by its PKCS#11 name, in one place (PKCS#11 2.40 §2,
 * PKCS#11 3.0 §6; OASIS pkcs11t.h). Plain numbers, so that naming a mechanism never loads the
 * native binding. Outside src/pkcs11 no code names a CKM_ (lint rule, test/zones.test.ts): it
 * calls a function here that does.
 */
export const CKM_RSA_PKCS_KEY_PAIR_GEN = 0x0000;
export const CKM_RSA_PKCS_OAEP = 0x0009;
export const CKM_SHA_1 = 0x0220;
export const CKM_SHA256 = 0x0250;
export const CKM_SHA256_HMAC = 0x0251;
export const CKM_GENERIC_SECRET_KEY_GEN = 0x0350;
export const CKM_RSA_AES_KEY_WRAP = 0x1054;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EC_MONTGOMERY_KEY_PAIR_GEN = 0x1056;
export const CKM_EDDSA = 0x1057;
export const CKM_AES_KEY_GEN = 0x1080;
export const CKM_AES_ECB = 0x1081;
export const CKM_AES_GCM = 0x1087;
export const CKM_AES_KEY_WRAP_PAD = 0x210a;
export const CKM_AES_KEY_WRAP_KWP = 0x210b;

/** CKG_MGF1_* (PKCS#11 2.40 §2.1.8). */
export const CKG_MGF1_SHA1 = 0x1;
export const CKG_MGF1_SHA256 = 0x2;
/** CK_RSA_PKCS_OAEP_PARAMS.source: the label is given as (empty) data (PKCS#11 2.40 §2.1.8). */
export const CKZ_DATA_SPECIFIED = 1;

/** Object classes and key types (PKCS#11 2.40 §4.1, §4.2; 3.0 §6.3 for EC_EDWARDS). */
export const CKO_DATA = 0x0;
export const CKO_PUBLIC_KEY = 0x2;
export const CKO_PRIVATE_KEY = 0x3;
export const CKO_SECRET_KEY = 0x4;
export const CKK_RSA = 0x0;
export const CKK_GENERIC_SECRET = 0x10;
export const CKK_AES = 0x1f;
export const CKK_EC_EDWARDS = 0x40;

/** What the app's Tokens screen shows a token can do, from its mechanism list. */
export interface TokenAbilities {
  readonly ed25519: boolean;
  readonly aes256: boolean;
  readonly aesKeyWrapPad: boolean;
  readonly rsaOaep: boolean;
}

export function tokenAbilities(caps: readonly { readonly id: number; readonly maxKeySize: number; readonly flags: readonly string[] }[]): TokenAbilities {
  const has = (id: number, flag?: string) => caps.some((m) => m.id === id && (flag === undefined || m.flags.includes(flag)));
  return {
    ed25519: has(CKM_EDDSA, 'sign'),
    aes256: caps.some((m) => m.id === CKM_AES_KEY_GEN && m.maxKeySize >= 32),
    aesKeyWrapPad: has(CKM_AES_KEY_WRAP_PAD, 'wrap') || has(CKM_AES_KEY_WRAP_KWP, 'wrap'),
    rsaOaep: has(CKM_RSA_PKCS_OAEP),
  };
}
