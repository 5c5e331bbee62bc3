/**
 * The token side of exports and backup blobs: importing a KMS wrapping key, wrapping with
 * RSAES-OAEP or AES key wrap, unwrapping a backup blob, and the canary's AES-GCM. Every template
 * here states every usage flag and CKA_MODIFIABLE (src/pkcs11/templates.ts).
 */
import { pkcs11js } from './binding.js';
import type { Handle } from './binding.js';
import { can } from './capabilities.js';
import { ckrOf } from './errors.js';
import { CKG_MGF1_SHA1, CKG_MGF1_SHA256, CKK_RSA, CKM_AES_GCM, CKM_AES_KEY_GEN, CKM_RSA_PKCS_OAEP, CKM_SHA_1, CKM_SHA256, CKO_PUBLIC_KEY, CKZ_DATA_SPECIFIED } from './mechanisms.js';
import type { Session } from './session.js';
import { secretKeyTemplate, USAGE } from './templates.js';
import type { Usage } from './templates.js';

export type OaepHash = 'sha1' | 'sha256';

/** CKRs that mean "this token does not do OAEP with that hash" rather than a fault: ARGUMENTS_BAD (SoftHSM2, measured), MECHANISM_INVALID, MECHANISM_PARAM_INVALID. */
const UNSUPPORTED_PARAMS = new Set([0x07, 0x70, 0x71]);
const CKR_MECHANISM_PARAM_INVALID = 0x71;

function oaep(hash: OaepHash) {
  const B = pkcs11js();
  return {
    mechanism: CKM_RSA_PKCS_OAEP,
    parameter: { type: B.CK_PARAMS_RSA_OAEP, hashAlg: hash === 'sha1' ? CKM_SHA_1 : CKM_SHA256, mgf: hash === 'sha1' ? CKG_MGF1_SHA1 : CKG_MGF1_SHA256, source: CKZ_DATA_SPECIFIED },
  };
}

/** Does the token list RSAES-OAEP for wrapping? */
export function canWrapOaep(s: Session): boolean {
  return can(s.token, CKM_RSA_PKCS_OAEP, 'wrap');
}

/** A KMS's RSA public key as a session object that may only wrap (and encrypt, which OAEP wrap needs on some tokens). */
export function importRsaWrappingKey(s: Session, modulus: Buffer, exponent: Buffer): Handle {
  const B = pkcs11js();
  return s.call('importing the KMS wrapping key as a session object', () => s.api.C_CreateObject(s.handle, [
    { type: B.CKA_CLASS, value: CKO_PUBLIC_KEY }, { type: B.CKA_KEY_TYPE, value: CKK_RSA }, { type: B.CKA_TOKEN, value: false },
    { type: B.CKA_MODULUS, value: modulus }, { type: B.CKA_PUBLIC_EXPONENT, value: exponent },
    { type: B.CKA_WRAP, value: true }, { type: B.CKA_ENCRYPT, value: true }, { type: B.CKA_VERIFY, value: false }, { type: B.CKA_DERIVE, value: false },
    { type: B.CKA_LABEL, value: 'keyceremony KMS wrapping key (session)' }, { type: B.CKA_MODIFIABLE, value: false },
  ]));
}

/** RSAES-OAEP wrap of `key` under `wrapping`; null when the token does not do OAEP with this hash. */
export async function wrapOaep(s: Session, hash: OaepHash, wrapping: Handle, key: Handle, what: string): Promise<Buffer | null> {
  try {
    return await s.api.C_WrapKeyAsync(s.handle, oaep(hash), wrapping, key, Buffer.alloc(8192));
  } catch (err) {
    const ckr = ckrOf(err);
    if (ckr !== null && UNSUPPORTED_PARAMS.has(ckr)) return null;
    return s.call(what, () => { throw err; });
  }
}

/** Wrap `key` under `wrapping` with a parameterless mechanism (an AES key wrap a known answer chose). */
export async function wrapWith(s: Session, mechanism: number, wrapping: Handle, key: Handle, what: string, max = 8192): Promise<Buffer> {
  return s.callAsync(what, () => s.api.C_WrapKeyAsync(s.handle, { mechanism }, wrapping, key, Buffer.alloc(max)));
}

/** An ephemeral AES-256 session key from the token, extractable only to be wrapped under the KMS key. */
export async function generateEphemeralAes(s: Session): Promise<Handle> {
  return s.callAsync('generating an ephemeral AES-256 key', () => s.api.C_GenerateKeyAsync(s.handle, { mechanism: CKM_AES_KEY_GEN },
    secretKeyTemplate({ keyType: 'aes', valueLen: 32, token: false, private: true, extractable: true, usage: USAGE.ephemeral })));
}

/** An ephemeral AES-256 key drawn in host code, imported as a session key that may only wrap; the caller zeroes `value`. */
export function importEphemeralAes(s: Session, value: Buffer): Handle {
  return s.call('importing the ephemeral key for AES-KWP', () => s.api.C_CreateObject(s.handle,
    secretKeyTemplate({ keyType: 'aes', token: false, private: true, extractable: false, usage: USAGE.ephemeral, value })));
}

/**
 * Import 32 bytes as an AES key that wraps and unwraps (the backup key, or a session key rebuilt
 * from shares to check its KCV, which may also encrypt the zero block); never signs, never
 * modifiable. `token: false` for a session key that dies with the session. `value` goes to the
 * token as a view: the caller zeroes it.
 */
export function importAesKey(s: Session, value: Uint8Array, opts: { label: string; token: boolean; encrypt: boolean }): Handle {
  const usage: Usage = opts.encrypt ? USAGE.backupProbe : USAGE.backup;
  return s.call('importing an AES key', () => s.api.C_CreateObject(s.handle, secretKeyTemplate({
    keyType: 'aes', token: opts.token, private: true, sensitive: true, extractable: false, modifiable: false, usage, label: opts.label,
    value: Buffer.from(value.buffer, value.byteOffset, value.byteLength),
  })));
}

/**
 * Rebuild a master key from a backup blob: AES, encrypt/decrypt only, sensitive, never
 * extractable, never modifiable; a token object when `persist`, else a session object.
 */
export async function unwrapMasterKey(s: Session, mechanism: number, backup: Handle, wrapped: Uint8Array, o: { readonly persist: boolean; readonly label: string }): Promise<Handle> {
  return s.callAsync('unwrapping the key under the backup key', () => s.api.C_UnwrapKeyAsync(s.handle, { mechanism }, backup, Buffer.from(wrapped),
    secretKeyTemplate({ keyType: 'aes', token: o.persist, private: true, sensitive: true, extractable: false, modifiable: false, usage: USAGE.master, label: o.label })));
}

interface GcmParams { readonly iv: Uint8Array; readonly aad: Buffer }

/**
 * CK_GCM_PARAMS comes in two layouts that tokens tell apart by length: SoftHSM2 takes pkcs11js's
 * CK_PARAMS_AES_GCM, NSS softokn only CK_PARAMS_AES_GCM_v240 (CKR_MECHANISM_PARAM_INVALID for the
 * other, measured). The same IV, AAD and tag length either way, so the same bytes.
 */
function gcm(p: GcmParams, layout: 'AES_GCM' | 'AES_GCM_v240') {
  const B = pkcs11js();
  const type = layout === 'AES_GCM' ? B.CK_PARAMS_AES_GCM : B.CK_PARAMS_AES_GCM_v240;
  return { mechanism: CKM_AES_GCM, parameter: { type, iv: Buffer.from(p.iv), aad: p.aad, ivBits: 96, tagBits: 128 } };
}

function gcmInit(init: (m: ReturnType<typeof gcm>) => void, p: GcmParams): void {
  try {
    init(gcm(p, 'AES_GCM'));
  } catch (err) {
    if (ckrOf(err) !== CKR_MECHANISM_PARAM_INVALID) throw err;
    init(gcm(p, 'AES_GCM_v240'));
  }
}

/** AES-256-GCM (96-bit IV, 128-bit tag) in the token under `key`. */
export async function gcmEncrypt(s: Session, key: Handle, p: GcmParams, plaintext: Buffer): Promise<Buffer> {
  s.call('starting AES-GCM for the canary', () => gcmInit((m) => s.api.C_EncryptInit(s.handle, m, key), p));
  return s.callAsync('encrypting the canary', () => s.api.C_EncryptAsync(s.handle, plaintext, Buffer.alloc(plaintext.length + 64)));
}

/** AES-256-GCM decryption in the token; throws (a raw token error) when the tag does not verify. */
export async function gcmDecrypt(s: Session, key: Handle, p: GcmParams, ciphertext: Uint8Array): Promise<Buffer> {
  gcmInit((m) => s.api.C_DecryptInit(s.handle, m, key), p);
  return s.api.C_DecryptAsync(s.handle, Buffer.from(ciphertext), Buffer.alloc(ciphertext.length + 64));
}
