/**
 * Finding, reading and destroying objects by what they are, so that code outside src/pkcs11
 * never names an object class or an attribute (lint rule, test/zones.test.ts).
 */
import { pkcs11js } from './binding.js';
import type { Handle } from './binding.js';
import { findOne } from './keys.js';
import type { ObjectQuery } from './keys.js';
import { CKO_DATA, CKO_PUBLIC_KEY, CKO_SECRET_KEY } from './mechanisms.js';
import type { Session } from './session.js';
import { dataObjectTemplate } from './templates.js';

export type ObjectKind = 'secret-key' | 'public-key' | 'data';

const CLASS: Readonly<Record<ObjectKind, number>> = { 'secret-key': CKO_SECRET_KEY, 'public-key': CKO_PUBLIC_KEY, data: CKO_DATA };

/** Exactly one secret key matching label and/or id (HSM_OBJECT_NOT_FOUND, HSM_OBJECT_AMBIGUOUS). */
export function findSecretKey(s: Session, q: ObjectQuery, what = 'secret key'): Handle {
  return findOne(s, CKO_SECRET_KEY, q, what);
}

/** Exactly one public key matching label and/or id. */
export function findPublicKey(s: Session, q: ObjectQuery): Handle {
  return findOne(s, CKO_PUBLIC_KEY, q, 'public key');
}

/** Up to `max` objects of a kind carrying `label`. */
export function findByLabel(s: Session, kind: ObjectKind, label: string, max = 8): Handle[] {
  const B = pkcs11js();
  return s.findObjects([{ type: B.CKA_CLASS, value: CLASS[kind] }, { type: B.CKA_LABEL, value: label }], max);
}

export function destroyObject(s: Session, h: Handle, what = 'destroying an object'): void {
  s.call(what, () => s.api.C_DestroyObject(s.handle, h));
}

/** Destroy session objects on the way out; one that will not go dies with its session anyway. */
export function destroyQuietly(s: Session, ...handles: readonly (Handle | undefined)[]): void {
  for (const h of handles) {
    if (h === undefined) continue;
    try { s.api.C_DestroyObject(s.handle, h); } catch { /* a session object dies with the session */ }
  }
}

export function isExtractable(s: Session, h: Handle): boolean {
  return s.attribute(h, pkcs11js().CKA_EXTRACTABLE)?.[0] === 1;
}

/** CKA_VALUE_LEN of a secret key, or null when the token does not say. */
export function valueLength(s: Session, h: Handle): number | null {
  return s.attribute(h, pkcs11js().CKA_VALUE_LEN)?.readUInt32LE(0) ?? null;
}

/** CKA_LABEL of an object as UTF-8 text, or null when it has none or the token will not say. */
export function objectLabel(s: Session, h: Handle): string | null {
  const label = s.attribute(h, pkcs11js().CKA_LABEL);
  return label === null || label.length === 0 ? null : label.toString('utf8');
}

/** CKA_VALUE of an object (a data object's bytes), or null when the token will not reveal it. */
export function objectValue(s: Session, h: Handle): Buffer | null {
  return s.attribute(h, pkcs11js().CKA_VALUE);
}

/** A private, unmodifiable token data object (a custodian's share); `value` goes as given (a view the caller zeroes). */
export function createDataObject(s: Session, o: { readonly label: string; readonly application: string; readonly value: Buffer }, what: string): Handle {
  return s.call(what, () => s.api.C_CreateObject(s.handle, dataObjectTemplate(o)));
}
