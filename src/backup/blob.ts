/**
 * Backup blobs (issue 6): a master key wrapped under the backup key with AES-KWP (RFC 5649) in the
 * token, kept with a canary: a known plaintext encrypted with AES-256-GCM in the token under the
 * master key. A restore proves the key by its KCV (against the signed manifest) and by decrypting
 * the canary. Blobs hold no key in clear.
 *
 * Which mechanism gives RFC 5649 differs between implementations (0x210A on SoftHSM2, 0x210B on
 * NSS, whose 0x210A is PKCS#7 then RFC 3394; KMS-NOTES.md), so both the maker and the restorer
 * decide it by a known answer (src/pkcs11/capabilities.ts), and the blob records its format and
 * the mechanism it was made with (`wrap`). A blob is then restorable on any token whose known
 * answer finds RFC 5649, whatever its vendor. Blobs written before `wrap` was recorded were made
 * with 0x210A on SoftHSM2, which is RFC 5649, and are read as such.
 */
import { createHash } from 'node:crypto';
import { Fields } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { decodeBase64Strict, encodeBase64, readJson } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { KEY_ID } from '../manifest/manifest.js';
import { describeKnownAnswer, rfc5649Mechanism } from '../pkcs11/capabilities.js';
import type { Handle } from '../pkcs11/binding.js';
import { assertLabelFree, keyCheckValue } from '../pkcs11/keys.js';
import { findSecretKey } from '../pkcs11/objects.js';
import { gcmDecrypt, gcmEncrypt, unwrapMasterKey, wrapWith } from '../pkcs11/wrapping.js';
import { BLOB_WRAP_MECHANISMS } from '../export/mechanism-names.js';
import type { Session } from '../pkcs11/session.js';

export const BLOB_SPEC = 'keyceremony/backup-blob@1';

export interface BackupBlob {
  readonly keyId: string;
  readonly backupKey: string;
  readonly kcv: string;
  readonly wrapped: Uint8Array;
  readonly canary: { readonly iv: Uint8Array; readonly ciphertext: Uint8Array };
  /** How `wrapped` was made: always RFC 5649, and the token mechanism a known answer chose for it. */
  readonly wrap?: BlobWrap;
}

export interface BlobWrap {
  readonly format: 'rfc5649';
  /** CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD. */
  readonly mechanism: string;
}

const WRAP_MECHANISMS: readonly string[] = BLOB_WRAP_MECHANISMS;

/** The token mechanism that gives RFC 5649 in this session, by known answer; refused when none does. */
async function kwpOf(s: Session, what: string): Promise<{ id: number; name: string }> {
  const kat = await rfc5649Mechanism(s);
  if (kat.mechanism === null || kat.name === null) {
    throw new KeyceremonyError('BLOB_KWP_UNAVAILABLE', `no key-wrap mechanism of token "${s.token.label}" gives RFC 5649, which backup blobs are made with; by known answer: ${describeKnownAnswer(kat)}`,
      `${what} on a token whose CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD is RFC 5649 (see \`keyceremony tokens\`)`);
  }
  return { id: kat.mechanism, name: kat.name };
}

/** The canary's plaintext and additional data are fixed by the key id: nothing secret, nothing to store. */
export function canaryPlaintext(keyId: string): Buffer {
  return Buffer.from(`keyceremony canary: ${keyId} decrypts this`, 'utf8');
}
const canaryAad = (keyId: string) => Buffer.from(`${BLOB_SPEC} ${keyId}`, 'utf8');


export async function makeBackupBlob(s: Session, keyId: string, backupKeyId: string): Promise<BackupBlob> {
  const key = findSecretKey(s, { label: keyId });
  const backup = findSecretKey(s, { label: backupKeyId }, 'backup key');
  const kcv = (await keyCheckValue(s, key)).value;
  const kwp = await kwpOf(s, 'make the backup');
  const wrapped = await wrapWith(s, kwp.id, backup, key, 'wrapping the key under the backup key', 1024);
  const iv = s.random(12);
  const ciphertext = await gcmEncrypt(s, key, { iv, aad: canaryAad(keyId) }, canaryPlaintext(keyId));
  return { keyId, backupKey: backupKeyId, kcv, wrapped: new Uint8Array(wrapped), canary: { iv: new Uint8Array(iv), ciphertext: new Uint8Array(ciphertext) }, wrap: { format: 'rfc5649', mechanism: kwp.name } };
}

export function encodeBlob(b: BackupBlob): string {
  return `${JSON.stringify({ spec: BLOB_SPEC, keyId: b.keyId, backupKey: b.backupKey, kcv: b.kcv, wrapped: encodeBase64(b.wrapped), canary: { iv: encodeBase64(b.canary.iv), ciphertext: encodeBase64(b.canary.ciphertext) }, ...(b.wrap === undefined ? {} : { wrap: { format: b.wrap.format, mechanism: b.wrap.mechanism } }) }, null, 2)}\n`;
}

export function blobDigest(text: string): string {
  return `sha256:${createHash('sha256').update(text).digest('hex')}`;
}

export function parseBlob(bytes: Uint8Array): BackupBlob {
  const json = readJson(bytes, 64 * 1024, 'the backup blob');
  const f = new Fields();
  const hasWrap = json !== null && typeof json === 'object' && !Array.isArray(json) && Object.hasOwn(json, 'wrap');
  const o = f.object(json, '$', ['spec', 'keyId', 'backupKey', 'kcv', 'wrapped', 'canary', ...(hasWrap ? ['wrap'] : [])]);
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
  let wrap: BlobWrap | undefined;
  if (hasWrap) {
    const w = f.object(o.wrap, 'wrap', ['format', 'mechanism']);
    const format = w === undefined ? undefined : f.oneOf(w.format, 'wrap.format', ['rfc5649']);
    const mechanism = w === undefined ? undefined : f.oneOf(w.mechanism, 'wrap.mechanism', WRAP_MECHANISMS);
    if (format !== undefined && mechanism !== undefined) wrap = { format: 'rfc5649', mechanism };
  }
  if (f.problems.length > 0 || keyId === undefined || backupKey === undefined || kcv === undefined || wrapped === undefined || iv === undefined || ciphertext === undefined) {
    throw new DocumentError(f.problems, 'the backup blob');
  }
  return { keyId, backupKey, kcv, wrapped, canary: { iv, ciphertext }, ...(wrap === undefined ? {} : { wrap }) };
}

/**
 * Restore one blob into the session under the (restored) backup key, as a session object that
 * dies with the session (a drill) or, for a real restore, as a token object labelled with its key id; check its KCV against the one the signed manifest recorded, and that it
 * decrypts the canary. Returns the restored key's KCV and whether both checks held.
 */
export async function restoreBlob(s: Session, backup: Handle, blob: BackupBlob, manifestKcv: string, persist = false): Promise<{ kcv: string; kcvMatches: boolean; canary: boolean; handle: Handle }> {
  if (persist) assertLabelFree(s, blob.keyId);
  const kwp = await kwpOf(s, 'restore the backup'); // the blob is RFC 5649 whatever token made it
  // encrypt/decrypt only, never modifiable, never extractable: every usage flag stated (src/pkcs11/templates.ts)
  const handle = await unwrapMasterKey(s, kwp.id, backup, blob.wrapped, { persist, label: persist ? blob.keyId : `restored ${blob.keyId}` });
  const kcv = (await keyCheckValue(s, handle)).value;
  let canary = false;
  try {
    const plain = await gcmDecrypt(s, handle, { iv: blob.canary.iv, aad: canaryAad(blob.keyId) }, blob.canary.ciphertext);
    canary = plain.equals(canaryPlaintext(blob.keyId));
  } catch {
    canary = false; // a tag that does not verify: this key does not decrypt the canary
  }
  return { kcv, kcvMatches: kcv === manifestKcv, canary, handle };
}

export function blobMismatch(blob: BackupBlob, backupKeyId: string): KeyceremonyError | null {
  return blob.backupKey === backupKeyId ? null : new KeyceremonyError('BLOB_FOREIGN', `the blob of ${blob.keyId} was made under ${blob.backupKey}, not ${backupKeyId}`, 'restore it with its own backup key');
}
