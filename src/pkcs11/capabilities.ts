/**
 * "Can this token do X, and how": answers from C_GetMechanismList/C_GetMechanismInfo, and, where
 * a mechanism number does not say what comes out, from a known answer computed on the token.
 *
 * AES key wrap with padding is such a case (KMS-NOTES.md, "A second PKCS#11 implementation"):
 * CKM_AES_KEY_WRAP_PAD (0x210A) is RFC 5649 on SoftHSM2 2.6.1 but PKCS#7 padding then RFC 3394
 * on NSS softokn, as PKCS#11 2.40 §2.14.3 defines it; RFC 5649 is CKM_AES_KEY_WRAP_KWP (0x210B,
 * PKCS#11 2.40 §2.14.5), which SoftHSM2 lacks. So before a token's key wrap is used for an
 * export or a backup blob, `rfc5649Mechanism` wraps a known 32-byte key under a throw-away
 * session AES-256 key of known value with each candidate, and keeps the one whose output equals
 * node:crypto's `id-aes256-wrap-pad` (RFC 5649) for the same pair. Known-answer keys are public
 * test values, created as session objects and destroyed at once: nothing secret is involved.
 */
import { createCipheriv } from 'node:crypto';
import { CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD, pkcs11js } from './binding.js';
import type { Handle } from './binding.js';
import { ckrOf, describeCkr, fromPkcs11 } from './errors.js';
import { CKM_AES_KEY_GEN, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA, CKM_GENERIC_SECRET_KEY_GEN, CKM_RSA_PKCS_OAEP, CKM_SHA256_HMAC } from './mechanisms.js';
import type { Session } from './session.js';
import { hasMechanism, mechanismName, mechanisms } from './tokens.js';
import type { MechanismCapability, Token } from './tokens.js';

/** What a mechanism is used for, as CKF_* flags of CK_MECHANISM_INFO name it. */
export type MechanismUse = 'encrypt' | 'decrypt' | 'sign' | 'verify' | 'generate' | 'generate-key-pair' | 'wrap' | 'unwrap' | 'derive' | 'digest';

const cache = new WeakMap<Token, readonly MechanismCapability[]>();

/** The token's mechanisms, read once per Token object. */
export function capabilities(token: Token): readonly MechanismCapability[] {
  let caps = cache.get(token);
  if (caps === undefined) {
    caps = Object.freeze(mechanisms(token));
    cache.set(token, caps);
  }
  return caps;
}

/** Does the token list `mechanism` for `use`? (A listing is a claim: known answers check what comes out.) */
export function can(token: Token, mechanism: number, use?: MechanismUse): boolean {
  return hasMechanism(capabilities(token), mechanism, use);
}

/** The RFC 5649 candidates, in order of preference: the standard's own name first. */
export const KWP_CANDIDATES: readonly number[] = Object.freeze([CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD]);

export interface KnownAnswerTry {
  /** The mechanism's name, e.g. CKM_AES_KEY_WRAP_PAD. */
  readonly mechanism: string;
  readonly id: number;
  /**
   * `rfc5649`: output equals RFC 5649; `other`: it wraps, but to other bytes (NSS 0x210A: PKCS#7
   * then RFC 3394); `absent`: not listed for wrap; `refused`: listed, but the call failed.
   */
  readonly result: 'rfc5649' | 'other' | 'absent' | 'refused';
  /** Length of the output (`rfc5649`, `other`) or the CKR (`refused`). */
  readonly detail?: string;
}

export interface KwpChoice {
  /** The mechanism that gives RFC 5649 on this token, or null when none does. */
  readonly mechanism: number | null;
  readonly name: string | null;
  readonly tried: readonly KnownAnswerTry[];
}

/** Known-answer values: public constants (a wrapping key and a key to wrap), not secrets. */
const KAT_KEK = Buffer.from('000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f', 'hex');
const KAT_KEY = Buffer.from('00112233445566778899aabbccddeeff0f1e2d3c4b5a69788796a5b4c3d2e1f0', 'hex');

/** RFC 5649 of KAT_KEY under KAT_KEK, by node:crypto (OpenSSL's id-aes256-wrap-pad, AIV A65959A6). */
export function rfc5649Reference(kek: Uint8Array = KAT_KEK, key: Uint8Array = KAT_KEY): Buffer {
  const c = createCipheriv('id-aes256-wrap-pad', kek, Buffer.from('a65959a6', 'hex'));
  return Buffer.concat([c.update(key), c.final()]);
}

const choices = new WeakMap<Token, KwpChoice>();

/**
 * CKRs that say a listed mechanism will not wrap this pair (an answer), as opposed to a fault:
 * ARGUMENTS_BAD, FUNCTION_NOT_SUPPORTED, KEY_TYPE_INCONSISTENT, KEY_FUNCTION_NOT_PERMITTED,
 * KEY_NOT_WRAPPABLE, MECHANISM_INVALID, MECHANISM_PARAM_INVALID, WRAPPING_KEY_SIZE_RANGE,
 * WRAPPING_KEY_TYPE_INCONSISTENT (PKCS#11 2.40 §11.1).
 */
/** CKRs of a token refusing a secret key in clear by policy: ATTRIBUTE_READ_ONLY, _TYPE_INVALID, _VALUE_INVALID, ACTION_PROHIBITED, FUNCTION_NOT_SUPPORTED, TEMPLATE_INCOMPLETE, _INCONSISTENT, FUNCTION_REJECTED. */
const POLICY_REFUSALS: ReadonlySet<number> = new Set([0x10, 0x12, 0x13, 0x1b, 0x54, 0xd0, 0xd1, 0x200]);

const NOT_THIS_MECHANISM: ReadonlySet<number> = new Set([0x07, 0x54, 0x63, 0x68, 0x69, 0x70, 0x71, 0x114, 0x115]);

/** A session AES key of a known value; the copy handed to pkcs11js is zeroed after, as every key buffer is (a public value, but one rule for all). */
function sessionAes(s: Session, known: Buffer, wrap: boolean): Handle {
  const value = Buffer.from(known);
  try {
    return createKnown(s, value, wrap);
  } finally {
    value.fill(0);
  }
}

function createKnown(s: Session, value: Buffer, wrap: boolean): Handle {
  const B = pkcs11js();
  return s.api.C_CreateObject(s.handle, [
    { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: B.CKK_AES }, { type: B.CKA_TOKEN, value: false },
    { type: B.CKA_VALUE, value }, { type: B.CKA_SENSITIVE, value: false }, { type: B.CKA_EXTRACTABLE, value: true },
    { type: B.CKA_WRAP, value: wrap }, { type: B.CKA_UNWRAP, value: false }, { type: B.CKA_ENCRYPT, value: false }, { type: B.CKA_DECRYPT, value: false },
    { type: B.CKA_SIGN, value: false }, { type: B.CKA_VERIFY, value: false }, { type: B.CKA_DERIVE, value: false },
    { type: B.CKA_LABEL, value: 'keyceremony known answer (session)' },
  ]);
}

/**
 * Which mechanism gives RFC 5649 on this token, decided by a known answer in session `s` (once
 * per token object; the result is the same for every session of a token).
 */
export async function rfc5649Mechanism(s: Session): Promise<KwpChoice> {
  const known = choices.get(s.token);
  if (known !== undefined) return known;
  const expected = rfc5649Reference();
  const tried: KnownAnswerTry[] = [];
  const listed = KWP_CANDIDATES.filter((id) => can(s.token, id, 'wrap'));
  for (const id of KWP_CANDIDATES) if (!listed.includes(id)) tried.push({ mechanism: mechanismName(id), id, result: 'absent' });
  let kek: Handle | undefined;
  let key: Handle | undefined;
  try {
    if (listed.length > 0) {
      try {
        kek = sessionAes(s, KAT_KEK, true);
        key = sessionAes(s, KAT_KEY, false);
      } catch (err) {
        // a token whose policy will not take a key in clear (FIPS) cannot be asked the known answer; anything else is a fault
        const ckr = ckrOf(err);
        if (ckr === null || !POLICY_REFUSALS.has(ckr)) throw fromPkcs11(err, { token: s.token.label, what: 'creating a known-answer key' });
        const code = describeCkr(ckr).code;
        for (const id of listed) tried.push({ mechanism: mechanismName(id), id, result: 'refused', detail: `the known-answer key was refused: ${code}` });
        listed.length = 0;
      }
    }
    for (const id of listed) {
      try {
        const out = await s.api.C_WrapKeyAsync(s.handle, { mechanism: id }, kek as Handle, key as Handle, Buffer.alloc(256));
        tried.push({ mechanism: mechanismName(id), id, result: out.equals(expected) ? 'rfc5649' : 'other', detail: `${out.length} bytes` });
      } catch (err) {
        const ckr = ckrOf(err);
        // only "this mechanism will not do it" is an answer; a lost session or device is a fault
        if (ckr === null || !NOT_THIS_MECHANISM.has(ckr)) throw fromPkcs11(err, { token: s.token.label, what: 'checking the key wrap by known answer' });
        tried.push({ mechanism: mechanismName(id), id, result: 'refused', detail: `${describeCkr(ckr).code} (CKR 0x${ckr.toString(16)})` });
      }
    }
  } finally {
    for (const h of [kek, key]) {
      if (h === undefined) continue;
      try { s.api.C_DestroyObject(s.handle, h); } catch { /* a session object dies with the session anyway */ }
    }
  }
  const hit = KWP_CANDIDATES.find((id) => tried.some((t) => t.id === id && t.result === 'rfc5649'));
  const choice: KwpChoice = Object.freeze({ mechanism: hit ?? null, name: hit === undefined ? null : mechanismName(hit), tried: Object.freeze(tried.sort((a, b) => a.id - b.id)) });
  choices.set(s.token, choice);
  return choice;
}

/** One line for a refusal or a record: what each candidate gave. */
export function describeKnownAnswer(choice: KwpChoice): string {
  return choice.tried.map((t) => `${t.mechanism} (0x${t.id.toString(16)}): ${t.result === 'rfc5649' ? 'RFC 5649' : t.result === 'other' ? 'not RFC 5649' : t.result === 'absent' ? 'not offered for wrap' : 'refused'}${t.detail === undefined ? '' : ` [${t.detail}]`}`).join('; ');
}

/** The name written in export.json and backup blobs for the key wrap a known answer chose. */
export function kwpRecordName(choice: KwpChoice): string {
  return `${choice.name ?? 'none'} (RFC 5649 by known answer)`;
}

/**
 * What a ceremony step needs of a token, by name: the ceremony's capability preflight asks these
 * before the first token operation, so a script a token cannot carry out is refused with every gap
 * listed rather than stopping halfway (issue 16). Each need is met when the token lists every
 * mechanism of one of its alternatives for the use given.
 */
export type Need = 'ed25519-keys' | 'ed25519-sign' | 'aes-256-keys' | 'secret-keys' | 'hmac-sha256' | 'random' | 'rsa-oaep-wrap' | 'aes-key-wrap' | 'aes-key-unwrap';

const NEEDS: Readonly<Record<Need, { readonly what: string; readonly anyOf: readonly (readonly (readonly [number, MechanismUse])[])[] }>> = {
  'ed25519-keys': { what: 'Ed25519 key pairs (CKM_EC_EDWARDS_KEY_PAIR_GEN)', anyOf: [[[CKM_EC_EDWARDS_KEY_PAIR_GEN, 'generate-key-pair']]] },
  'ed25519-sign': { what: 'Ed25519 signatures (CKM_EDDSA)', anyOf: [[[CKM_EDDSA, 'sign']]] },
  'aes-256-keys': { what: 'AES-256 key generation (CKM_AES_KEY_GEN)', anyOf: [[[CKM_AES_KEY_GEN, 'generate']]] },
  'secret-keys': { what: 'generic secret generation (CKM_GENERIC_SECRET_KEY_GEN)', anyOf: [[[CKM_GENERIC_SECRET_KEY_GEN, 'generate']]] },
  'hmac-sha256': { what: 'HMAC-SHA256 (CKM_SHA256_HMAC)', anyOf: [[[CKM_SHA256_HMAC, 'sign']]] },
  random: { what: 'a random number generator', anyOf: [[]] },
  'rsa-oaep-wrap': { what: 'RSA-OAEP key wrap (CKM_RSA_PKCS_OAEP)', anyOf: [[[CKM_RSA_PKCS_OAEP, 'wrap']]] },
  'aes-key-wrap': { what: 'AES key wrap with padding (CKM_AES_KEY_WRAP_KWP or _PAD)', anyOf: KWP_CANDIDATES.map((m) => [[m, 'wrap'] as const]) },
  'aes-key-unwrap': { what: 'AES key unwrap with padding (CKM_AES_KEY_WRAP_KWP or _PAD)', anyOf: KWP_CANDIDATES.map((m) => [[m, 'unwrap'] as const]) },
};

/** The needs the token cannot meet, each as a readable phrase (empty when it meets them all). */
export function missingNeeds(token: Token, needs: readonly Need[]): string[] {
  const table = NEEDS;
  return [...new Set(needs)].filter((n) => !table[n].anyOf.some((alt) => alt.every(([mech, use]) => can(token, mech, use)))).map((n) => table[n].what);
}
