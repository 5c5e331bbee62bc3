/**
 * Backup blobs (issue 6): a master key wrapped under the backup key with AES-KWP (RFC 5649) in the
 * token, kept with a canary: a known plaintext encrypted with AES-256-GCM in the token under the
 * master key. A restore proves the key by its KCV (against the signed manifest) and by decrypting
 * the canary. Blobs hold no key in clear.
 */
import { createHash } from 'node:crypto';
import { Fields } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { decodeBase64Strict, encodeBase64, readJson } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { KEY_ID } from '../manifest/manifest.js';
import { CKM_AES_KEY_WRAP_PAD, pkcs11js } from '../pkcs11/binding.js';
import type { Handle } from '../pkcs11/binding.js';
import { assertLabelFree, findOne, keyCheckValue } from '../pkcs11/keys.js';
import type { Session } from '../pkcs11/session.js';

export const BLOB_SPEC = 'keyceremony/backup-blob@1';

export interface BackupBlob {
  readonly keyId: string;
  readonly backupKey: string;
  readonly kcv: string;
  readonly wrapped: Uint8Array;
  readonly canary: { readonly iv: Uint8Array; readonly ciphertext: Uint8Array };
}

/** The canary's plaintext and additional data are fixed by the key id: nothing secret, nothing to store. */
export function canaryPlaintext(keyId: string): Buffer {
  return Buffer.from(`keyceremony canary: ${keyId} decrypts this`, 'utf8');
}
const canaryAad = (keyId: string) => Buffer.from(`${BLOB_SPEC} ${keyId}`, 'utf8');

function gcm(iv: Uint8Array, keyId: string) {
  const B = pkcs11js();
  return { mechanism: B.CKM_AES_GCM, parameter: { type: B.CK_PARAMS_AES_GCM, iv: Buffer.from(iv), aad: canaryAad(keyId), ivBits: 96, tagBits: 128 } };
}

export async function makeBackupBlob(s: Session, keyId: string, backupKeyId: string): Promise<BackupBlob> {
  const B = pkcs11js();
  const key = findOne(s, B.CKO_SECRET_KEY, { label: keyId }, 'secret key');
  const backup = findOne(s, B.CKO_SECRET_KEY, { label: backupKeyId }, 'backup key');
  const kcv = (await keyCheckValue(s, key)).value;
  const wrapped = await s.callAsync('wrapping the key under the backup key', () => s.api.C_WrapKeyAsync(s.handle, { mechanism: CKM_AES_KEY_WRAP_PAD }, backup, key, Buffer.alloc(1024)));
  const iv = s.random(12);
  s.call('starting AES-GCM for the canary', () => s.api.C_EncryptInit(s.handle, gcm(iv, keyId), key));
  const ciphertext = await s.callAsync('encrypting the canary', () => s.api.C_EncryptAsync(s.handle, canaryPlaintext(keyId), Buffer.alloc(256)));
  return { keyId, backupKey: backupKeyId, kcv, wrapped: new Uint8Array(wrapped), canary: { iv: new Uint8Array(iv), ciphertext: new Uint8Array(ciphertext) } };
}

export function encodeBlob(b: BackupBlob): string {
  return `${JSON.stringify({ spec: BLOB_SPEC, keyId: b.keyId, backupKey: b.backupKey, kcv: b.kcv, wrapped: encodeBase64(b.wrapped), canary: { iv: encodeBase64(b.canary.iv), ciphertext: encodeBase64(b.canary.ciphertext) } }, null, 2)}\n`;
}

export function blobDigest(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

export function parseBlob(bytes: Uint8Array): BackupBlob {
  const json = readJson(bytes, 64 * 1024, 'the backup blob');
  const f = new Fields();
  const o = f.object(json, '$', ['spec', 'keyId', 'backupKey', 'kcv', 'wrapped', 'canary']);
  if (o === undefined) throw new DocumentError(f.problems, 'the backup blob');
  if (f.string(o.spec, 'spec') !== BLOB_SPEC) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${BLOB_SPEC}"`);
  const keyId = f.string(o.keyId, 'keyId', { pattern: KEY_ID, what: 'a versioned key id' });
  const backupKey = f.string(o.backupKey, 'backupKey', { pattern: KEY_ID, what: 'a versioned key id' });
  const kcv = f.string(o.kcv, 'kcv', { pattern: /^[0-9a-f]{6}$/, what: '6 hex digits' });
  const b64 = (v: unknown, path: string) => {
    const s = f.string(v as never, path, { max: 4096 });
    return s === undefined ? undefined : decodeBase64Strict(s) ?? f.add('DOCUMENT_BAD_BASE64', path, 'not standard base64');
  };
  const wrapped = b64(o.wrapped, 'wrapped');
  const c = f.object(o.canary, 'canary', ['iv', 'ciphertext']);
  const iv = c === undefined ? undefined : b64(c.iv, 'canary.iv');
  const ciphertext = c === undefined ? undefined : b64(c.ciphertext, 'canary.ciphertext');
  if (iv !== undefined && iv.length !== 12) f.add('DOCUMENT_BAD_VALUE', 'canary.iv', 'a 96-bit IV');
  if (f.problems.length > 0 || keyId === undefined || backupKey === undefined || kcv === undefined || wrapped === undefined || iv === undefined || ciphertext === undefined) {
    throw new DocumentError(f.problems, 'the backup blob');
  }
  return { keyId, backupKey, kcv, wrapped, canary: { iv, ciphertext } };
}

/**
 * Restore one blob into the session under the (restored) backup key, as a session object that
 * dies with the session (a drill) or, for a real restore, as a token object labelled with its key id; check its KCV against the one the signed manifest recorded, and that it
 * decrypts the canary. Returns the restored key's KCV and whether both checks held.
 */
export async function restoreBlob(s: Session, backup: Handle, blob: BackupBlob, manifestKcv: string, persist = false): Promise<{ kcv: string; kcvMatches: boolean; canary: boolean; handle: Handle }> {
  const B = pkcs11js();
  if (persist) assertLabelFree(s, blob.keyId);
  const handle = await s.callAsync('unwrapping the key under the backup key', () => s.api.C_UnwrapKeyAsync(s.handle, { mechanism: CKM_AES_KEY_WRAP_PAD }, backup, Buffer.from(blob.wrapped), [
    { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: B.CKK_AES }, { type: B.CKA_TOKEN, value: persist }, { type: B.CKA_PRIVATE, value: true }, { type: B.CKA_SENSITIVE, value: true },
    { type: B.CKA_EXTRACTABLE, value: false }, { type: B.CKA_ENCRYPT, value: true }, { type: B.CKA_DECRYPT, value: true }, { type: B.CKA_LABEL, value: persist ? blob.keyId : `restored ${blob.keyId}` },
  ]));
  const kcv = (await keyCheckValue(s, handle)).value;
  let canary = false;
  try {
    s.api.C_DecryptInit(s.handle, gcm(blob.canary.iv, blob.keyId), handle);
    const plain = await s.api.C_DecryptAsync(s.handle, Buffer.from(blob.canary.ciphertext), Buffer.alloc(256));
    canary = plain.equals(canaryPlaintext(blob.keyId));
  } catch {
    canary = false; // a tag that does not verify: this key does not decrypt the canary
  }
  return { kcv, kcvMatches: kcv === manifestKcv, canary, handle };
}

export function blobMismatch(blob: BackupBlob, backupKeyId: string): KeyceremonyError | null {
  return blob.backupKey === backupKeyId ? null : new KeyceremonyError('BLOB_FOREIGN', `the blob of ${blob.keyId} was made under ${blob.backupKey}, not ${backupKeyId}`, 'restore it with its own backup key');
}
