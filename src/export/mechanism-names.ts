/**
 * Mechanism names as format data, not mechanisms: the strings other formats and our own records
 * carry. The Azure `.byok` header's `enc` names CKM_RSA_AES_KEY_WRAP (Azure's BYOK specification);
 * export.json's `mechanisms` and a backup blob's `wrap.mechanism` record, by name, what the token
 * did. The lint rule that keeps CKA_/CKM_ names inside src/pkcs11 allows them in this file only
 * (eslint.config.js); the numbers live in src/pkcs11/mechanisms.ts.
 */
import type { OaepHash } from './targets.js';

/** The `enc` of an Azure `.byok` header. */
export const AZURE_BYOK_ENC = 'CKM_RSA_AES_KEY_WRAP';

/** export.json's record of an RSAES-OAEP wrap done in the token. */
export function oaepRecordName(hash: OaepHash): string {
  return `CKM_RSA_PKCS_OAEP(${hash})`;
}

/** export.json's record of an RSAES-OAEP wrap done in the token under the KMS key the security officer imported as trusted (keyceremony trust). */
export function oaepTrustedRecordName(hash: OaepHash): string {
  return `CKM_RSA_PKCS_OAEP(${hash}) under the SO-trusted key`;
}

/** The names a backup blob's `wrap.mechanism` may carry: the mechanisms a known answer can choose for RFC 5649. */
export const BLOB_WRAP_MECHANISMS: readonly string[] = Object.freeze(['CKM_AES_KEY_WRAP_KWP', 'CKM_AES_KEY_WRAP_PAD']);
