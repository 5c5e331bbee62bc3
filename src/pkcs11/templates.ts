/**
 * Attribute templates with readable names, in one place. Every key template states every usage
 * flag (CKA_ENCRYPT, DECRYPT, SIGN, VERIFY, WRAP, UNWRAP, DERIVE) and CKA_MODIFIABLE: the type
 * `Usage` has no optional member, so a template cannot leave one to the token's default (SoftHSM2
 * defaults CKA_SIGN/CKA_VERIFY to true on an imported or unwrapped secret key, and every key to
 * modifiable). Defaults for the rest follow STYLE.md: token, private, sensitive, not extractable.
 */
import { pkcs11js } from './binding.js';
import type { Template } from './binding.js';
import { CKK_AES, CKK_GENERIC_SECRET, CKO_DATA, CKO_SECRET_KEY } from './mechanisms.js';

export interface Usage {
  readonly encrypt: boolean;
  readonly decrypt: boolean;
  readonly sign: boolean;
  readonly verify: boolean;
  readonly wrap: boolean;
  readonly unwrap: boolean;
  readonly derive: boolean;
}

export const NO_USAGE: Usage = Object.freeze({ encrypt: false, decrypt: false, sign: false, verify: false, wrap: false, unwrap: false, derive: false });

/** Usage of each kind of secret key the project makes, imports or rebuilds. */
export const USAGE = Object.freeze({
  /** A master key: encrypts data (AES-256-GCM), nothing else. */
  master: Object.freeze({ ...NO_USAGE, encrypt: true, decrypt: true }),
  /** The backup key, and wrapping keys: wrap and unwrap only (no raw encryption that could forge blobs). */
  backup: Object.freeze({ ...NO_USAGE, wrap: true, unwrap: true }),
  /** A session key rebuilt from shares to check its KCV: may also encrypt the zero block, and dies at once. */
  backupProbe: Object.freeze({ ...NO_USAGE, wrap: true, unwrap: true, encrypt: true }),
  /** An ephemeral export key: wraps the target once. */
  ephemeral: Object.freeze({ ...NO_USAGE, wrap: true }),
  /** The journal MAC key: signs and verifies MACs. */
  journal: Object.freeze({ ...NO_USAGE, sign: true, verify: true }),
  /** An inventory secret: signs its binding only. */
  secret: Object.freeze({ ...NO_USAGE, sign: true }),
} satisfies Record<string, Usage>);

export interface SecretKeyAttributes {
  readonly keyType: 'aes' | 'generic-secret';
  readonly usage: Usage;
  readonly token: boolean;
  readonly private?: boolean;
  readonly sensitive?: boolean;
  readonly extractable?: boolean;
  readonly modifiable?: boolean;
  readonly label?: string;
  readonly id?: Buffer;
  readonly valueLen?: number;
  /** Key bytes for C_CreateObject: passed as given (a view of the caller's buffer, which the caller zeroes). */
  readonly value?: Buffer;
}

export function usageTemplate(u: Usage): Template {
  const B = pkcs11js();
  return [
    { type: B.CKA_ENCRYPT, value: u.encrypt }, { type: B.CKA_DECRYPT, value: u.decrypt },
    { type: B.CKA_SIGN, value: u.sign }, { type: B.CKA_VERIFY, value: u.verify },
    { type: B.CKA_WRAP, value: u.wrap }, { type: B.CKA_UNWRAP, value: u.unwrap },
    { type: B.CKA_DERIVE, value: u.derive },
  ];
}

/**
 * A secret key's template for C_GenerateKey, C_CreateObject or C_UnwrapKey. CKA_MODIFIABLE goes
 * last, as in every template here: SoftHSM2 2.6.1's C_UnwrapKey applies a template in order and
 * answers CKR_ATTRIBUTE_READ_ONLY to any attribute after CKA_MODIFIABLE = false (measured).
 */
export function secretKeyTemplate(a: SecretKeyAttributes): Template {
  const B = pkcs11js();
  const t: Template = [
    { type: B.CKA_CLASS, value: CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: a.keyType === 'aes' ? CKK_AES : CKK_GENERIC_SECRET },
    { type: B.CKA_TOKEN, value: a.token }, { type: B.CKA_PRIVATE, value: a.private ?? true }, { type: B.CKA_SENSITIVE, value: a.sensitive ?? true },
    { type: B.CKA_EXTRACTABLE, value: a.extractable ?? false },
    ...usageTemplate(a.usage),
  ];
  if (a.valueLen !== undefined) t.push({ type: B.CKA_VALUE_LEN, value: a.valueLen });
  if (a.label !== undefined) t.push({ type: B.CKA_LABEL, value: a.label });
  if (a.id !== undefined) t.push({ type: B.CKA_ID, value: a.id });
  if (a.value !== undefined) t.push({ type: B.CKA_VALUE, value: a.value });
  t.push({ type: B.CKA_MODIFIABLE, value: a.modifiable ?? false });
  return t;
}

/** A private, unmodifiable data object on a token (a custodian's share). */
export function dataObjectTemplate(a: { readonly label: string; readonly application: string; readonly value: Buffer }): Template {
  const B = pkcs11js();
  return [
    { type: B.CKA_CLASS, value: CKO_DATA }, { type: B.CKA_TOKEN, value: true }, { type: B.CKA_PRIVATE, value: true },
    { type: B.CKA_LABEL, value: a.label }, { type: B.CKA_APPLICATION, value: a.application }, { type: B.CKA_VALUE, value: a.value },
    { type: B.CKA_MODIFIABLE, value: false },
  ];
}
