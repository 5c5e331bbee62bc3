/**
 * Inventory secrets made in a token (issue 17): an HMAC or token secret kept in the HSM
 * (CKM_GENERIC_SECRET_KEY_GEN, PKCS#11 2.40 §2.22), sensitive and extractable only under wrap, so
 * a cloud KMS can import it wrapped; and the FORMATS.md §4 `binding` of such a key, computed in the
 * token with CKM_SHA256_HMAC (§2.19) keyed by the secret itself, so its bytes never leave the token.
 */
import { KeyceremonyError } from '../errors.js';
import { pkcs11js } from './binding.js';
import type { Handle, Template } from './binding.js';
import { CKK_GENERIC_SECRET, CKM_GENERIC_SECRET_KEY_GEN, CKM_SHA256_HMAC } from './mechanisms.js';
import type { Session } from './session.js';

/** The message a binding MACs: ASCII `keyceremony/binding@1`, one 0x00, then the entry's id (FORMATS.md §4). */
export function bindingMessage(id: string): Buffer {
  return Buffer.concat([Buffer.from('keyceremony/binding@1', 'ascii'), Buffer.from([0]), Buffer.from(id, 'utf8')]);
}

/** A secret of `bytes` bytes kept in the token: it signs (its binding), and leaves the token only wrapped. */
export function generateSecret(s: Session, o: { readonly label: string; readonly bytes: number }): Handle {
  const B = pkcs11js();
  if (!Number.isSafeInteger(o.bytes) || o.bytes < 16 || o.bytes > 64) throw new RangeError(`"bytes" expected 16 to 64, got ${o.bytes}`);
  const template: Template = [
    { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: CKK_GENERIC_SECRET }, { type: B.CKA_VALUE_LEN, value: o.bytes },
    { type: B.CKA_TOKEN, value: true }, { type: B.CKA_PRIVATE, value: true }, { type: B.CKA_SENSITIVE, value: true }, { type: B.CKA_EXTRACTABLE, value: true },
    { type: B.CKA_MODIFIABLE, value: false }, { type: B.CKA_SIGN, value: true }, { type: B.CKA_VERIFY, value: false },
    { type: B.CKA_ENCRYPT, value: false }, { type: B.CKA_DECRYPT, value: false }, { type: B.CKA_WRAP, value: false }, { type: B.CKA_UNWRAP, value: false }, { type: B.CKA_DERIVE, value: false },
    { type: B.CKA_LABEL, value: o.label }, { type: B.CKA_ID, value: s.random(16) },
  ];
  return s.call('generating a secret', () => s.api.C_GenerateKey(s.handle, { mechanism: CKM_GENERIC_SECRET_KEY_GEN }, template));
}

/** The secret kept under `label` on the token, or null. */
export function findSecret(s: Session, label: string): Handle | null {
  const B = pkcs11js();
  const hits = s.findObjects([{ type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: CKK_GENERIC_SECRET }, { type: B.CKA_LABEL, value: label }], 2);
  if (hits.length > 1) throw new KeyceremonyError('HSM_OBJECT_AMBIGUOUS', `several secrets "${label}" on token "${s.token.label}"`, 'stop: someone added objects to the token; keep it as evidence');
  return hits[0] ?? null;
}

/**
 * Is this secret key a generic secret (CKA_KEY_TYPE = CKK_GENERIC_SECRET, PKCS#11 2.40 §2.22), as a
 * make-secret step keeps one? Decided by the key's type as the token reads it back, never by its
 * label, so a key named by its CKA_ID alone is told apart too. False when the token will not say.
 */
export function isGenericSecret(s: Session, key: Handle): boolean {
  const type = s.attribute(key, pkcs11js().CKA_KEY_TYPE);
  // CK_ULONG in the host's byte order (8 bytes on 64-bit Linux, 4 elsewhere): its low 32 bits hold every key type
  return type !== null && type.length >= 4 && type.readUInt32LE(0) === CKK_GENERIC_SECRET && type.subarray(4).every((b) => b === 0);
}

/** `hmac-sha256:<hex>` of the secret's binding, computed in the token. */
export function tokenBinding(s: Session, key: Handle, id: string): string {
  const mac = s.call('computing the binding', () => {
    s.api.C_SignInit(s.handle, { mechanism: CKM_SHA256_HMAC }, key);
    return s.api.C_Sign(s.handle, bindingMessage(id), Buffer.alloc(32));
  });
  return `hmac-sha256:${mac.toString('hex')}`;
}
