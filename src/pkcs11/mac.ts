/**
 * The ceremony journal's key (issue 13): an HMAC-SHA256 key generated in a token when a ceremony
 * starts, sensitive and never extractable, that MACs each audit-log entry of that run. A log
 * planted in a folder cannot carry valid MACs without a session on that token, so a resume trusts
 * only what its own run wrote. The key is found by label and CKA_ID (the log's id), destroyed when
 * the run ends (its log is then sealed by the custodians' checkpoint).
 *
 * PKCS#11 2.40 §2.22 (CKM_GENERIC_SECRET_KEY_GEN) and §2.19 (CKM_SHA256_HMAC, 32-byte output).
 * Calls are synchronous: an entry's MAC is part of its one append.
 */
import { timingSafeEqual } from 'node:crypto';
import { KeyceremonyError } from '../errors.js';
import { pkcs11js } from './binding.js';
import type { Handle, Template } from './binding.js';
import type { Session } from './session.js';

const CKM_SHA256_HMAC = 0x251;
const CKM_GENERIC_SECRET_KEY_GEN = 0x350;
const CKK_GENERIC_SECRET = 0x10;
const MAC_BYTES = 32;

export interface MacKeyRef { readonly label: string; readonly id: Uint8Array }

function lookup(s: Session, ref: MacKeyRef): Handle[] {
  const B = pkcs11js();
  return s.findObjects([{ type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_LABEL, value: ref.label }, { type: B.CKA_ID, value: Buffer.from(ref.id) }], 2);
}

/** A new journal key: sign/verify only, sensitive, never extractable, never modifiable. */
export function generateMacKey(s: Session, ref: MacKeyRef): Handle {
  const B = pkcs11js();
  if (lookup(s, ref).length > 0) throw new KeyceremonyError('HSM_OBJECT_EXISTS', `a journal key "${ref.label}" with this id already exists on token "${s.token.label}"`, 'start the ceremony in a new folder');
  const template: Template = [
    { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: CKK_GENERIC_SECRET }, { type: B.CKA_VALUE_LEN, value: MAC_BYTES },
    { type: B.CKA_TOKEN, value: true }, { type: B.CKA_PRIVATE, value: true }, { type: B.CKA_SENSITIVE, value: true }, { type: B.CKA_EXTRACTABLE, value: false },
    { type: B.CKA_MODIFIABLE, value: false }, { type: B.CKA_SIGN, value: true }, { type: B.CKA_VERIFY, value: true },
    { type: B.CKA_ENCRYPT, value: false }, { type: B.CKA_DECRYPT, value: false }, { type: B.CKA_WRAP, value: false }, { type: B.CKA_UNWRAP, value: false }, { type: B.CKA_DERIVE, value: false },
    { type: B.CKA_LABEL, value: ref.label }, { type: B.CKA_ID, value: Buffer.from(ref.id) },
  ];
  return s.call('generating the journal key', () => s.api.C_GenerateKey(s.handle, { mechanism: CKM_GENERIC_SECRET_KEY_GEN }, template));
}

/** The journal key of a run, or null when the token does not hold it. */
export function findMacKey(s: Session, ref: MacKeyRef): Handle | null {
  const hits = lookup(s, ref);
  if (hits.length > 1) throw new KeyceremonyError('HSM_OBJECT_AMBIGUOUS', `several journal keys "${ref.label}" on token "${s.token.label}"`, 'stop: someone added objects to the token; keep it as evidence');
  return hits[0] ?? null;
}

export function hmacSha256(s: Session, key: Handle, data: Uint8Array): Buffer {
  return s.call('computing the journal MAC', () => {
    s.api.C_SignInit(s.handle, { mechanism: CKM_SHA256_HMAC }, key);
    return s.api.C_Sign(s.handle, Buffer.from(data), Buffer.alloc(MAC_BYTES));
  });
}

/** Constant-time check of a MAC written in the log against the token's. */
export function macMatches(s: Session, key: Handle, data: Uint8Array, mac: Uint8Array): boolean {
  const want = hmacSha256(s, key, data);
  return mac.length === want.length && timingSafeEqual(want, mac);
}

export function destroyMacKey(s: Session, key: Handle): void {
  s.call('destroying the journal key', () => s.api.C_DestroyObject(s.handle, key));
}
