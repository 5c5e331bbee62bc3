/**
 * Trusted wrapping (PKCS#11 2.40 §4.8, §4.9): a key with CKA_WRAP_WITH_TRUSTED may be wrapped only
 * under a wrapping key whose CKA_TRUSTED is true, and CKA_TRUSTED "can only be set to CK_TRUE by the
 * SO user". So an extractable master key made wrap-with-trusted leaves the token only under a KMS
 * wrapping key the security officer imported as trusted: whoever holds the user PIN (an operator,
 * malware on the ceremony machine) cannot wrap it under a key of their own and decrypt it.
 *
 * Whether a token enforces this is measured, never assumed (`probeTrustedWrap`): a token may accept
 * the attributes and ignore them. Measured here (Debian 12):
 *  - SoftHSM2 2.6.1 enforces it: a user session cannot set CKA_TRUSTED (CKR_ATTRIBUTE_READ_ONLY),
 *    the SO can (on public objects only: an SO session makes no private object), a
 *    wrap-with-trusted key wraps under the SO's trusted key and is refused under any other
 *    (CKR_KEY_NOT_WRAPPABLE), and the attribute cannot be cleared.
 *  - NSS softokn 3.87 does not: the user may set CKA_TRUSTED, the key wraps under an untrusted key,
 *    the attribute can be cleared, and the SO cannot log in once the user PIN is set
 *    (CKR_USER_TYPE_INVALID).
 * An ephemeral AES key and the backup key are not trusted (the SO cannot make a private key), so a
 * wrap-with-trusted key is exported only by direct RSAES-OAEP under the trusted KMS key, and has no
 * backup blob: a ceremony chooses between the two.
 *
 * Wired: `keygen master --extractable --wrap-with-trusted` probes first (both PINs) and refuses a
 * token that does not enforce it (requireTrustedWrap); a ceremony's generate-key step probes the
 * user's half; `keyceremony trust` is the SO's import; src/export/wrap.ts wraps under the trusted
 * copy of the KMS key; a ceremony's split-backup refuses such a key before anything is made.
 */
import { generateKeyPairSync } from 'node:crypto';
import { pkcs11js } from './binding.js';
import type { Handle } from './binding.js';
import { isKeyceremonyError, KeyceremonyError } from '../errors.js';
import { ckrOf, describeCkr, hsmError } from './errors.js';
import { CKG_MGF1_SHA1, CKK_AES, CKK_RSA, CKM_AES_KEY_GEN, CKM_RSA_PKCS_OAEP, CKM_SHA_1, CKO_PUBLIC_KEY, CKO_SECRET_KEY, CKZ_DATA_SPECIFIED } from './mechanisms.js';
import { objectLabel } from './objects.js';
import { withSession, withSoSession } from './session.js';
import type { Session } from './session.js';
import type { Token } from './tokens.js';

export interface RsaPublic { readonly modulus: Buffer; readonly exponent: Buffer }

/** A KMS wrapping key's template: public, wrap (and encrypt, which OAEP wrap needs on some tokens) only; `trusted` is the SO's to set. */
function wrappingKeyTemplate(k: RsaPublic, o: { token: boolean; trusted: boolean; label: string }) {
  const B = pkcs11js();
  return [
    { type: B.CKA_CLASS, value: CKO_PUBLIC_KEY }, { type: B.CKA_KEY_TYPE, value: CKK_RSA }, { type: B.CKA_TOKEN, value: o.token }, { type: B.CKA_PRIVATE, value: false },
    { type: B.CKA_MODULUS, value: k.modulus }, { type: B.CKA_PUBLIC_EXPONENT, value: k.exponent },
    { type: B.CKA_WRAP, value: true }, { type: B.CKA_ENCRYPT, value: true }, { type: B.CKA_VERIFY, value: false }, { type: B.CKA_DERIVE, value: false },
    ...(o.trusted ? [{ type: B.CKA_TRUSTED, value: true }] : []),
    { type: B.CKA_LABEL, value: o.label }, { type: B.CKA_MODIFIABLE, value: false },
  ];
}

/** What the security officer's import left on the token: the trusted key's label, and whether this import made it. */
export interface TrustedImport {
  readonly label: string;
  /** False when a trusted wrapping key with this modulus and exponent was on the token already: nothing was made. */
  readonly created: boolean;
}

/**
 * The security officer imports a KMS wrapping key as a trusted token object (public, wrap only,
 * not modifiable), read back as trusted. Done in an SO session, before or after the user's work,
 * never during it (withSoSession). The SO confirms the key's SPKI SHA-256 against the KMS's before
 * this: trusting the wrong key is exactly what the attribute cannot undo. Run again with the same
 * key, it finds the trusted key already there and makes nothing; a label another public object
 * carries is refused (HSM_OBJECT_EXISTS).
 */
export async function importTrustedWrappingKey(token: Token, soPin: Uint8Array, key: RsaPublic, label: string): Promise<TrustedImport> {
  return importAsSo(token, soPin, key, label, true);
}

/** The SO's import; the probe's own throw-away key skips the label check (a probe cut short may have left one of that label: harmless, its private half was never kept). */
async function importAsSo(token: Token, soPin: Uint8Array, key: RsaPublic, label: string, labelMustBeFree: boolean): Promise<TrustedImport> {
  const B = pkcs11js();
  return withSoSession(token, soPin, async (s) => {
    const present = findTrustedWrappingKey(s, key);
    if (present !== null) return Object.freeze({ label: objectLabel(s, present) ?? label, created: false });
    if (labelMustBeFree && s.findObjects([{ type: B.CKA_LABEL, value: label }], 1).length > 0) {
      throw hsmError('HSM_OBJECT_EXISTS', `an object labelled "${label}" already exists on token "${token.label}"; nothing was imported`, 'choose another label for the trusted wrapping key (object=LABEL in the URI)');
    }
    const h = s.call('importing the KMS wrapping key as trusted', () => s.api.C_CreateObject(s.handle, wrappingKeyTemplate(key, { token: true, trusted: true, label })));
    if (s.attribute(h, B.CKA_TRUSTED)?.[0] !== 1) {
      s.call('removing a wrapping key the token did not keep as trusted', () => s.api.C_DestroyObject(s.handle, h));
      throw hsmError('HSM_TEMPLATE_REJECTED', `token "${token.label}" did not keep CKA_TRUSTED on the imported wrapping key`, 'this token does not offer trusted wrapping: export without it');
    }
    return Object.freeze({ label, created: true });
  });
}

/**
 * A public key on the token with this modulus and exponent whose CKA_TRUSTED is true, or null.
 * CKA_TRUSTED and CKA_WRAP are in the search template, not only checked after it: anyone with the
 * user PIN can make untrusted public objects with the KMS key's modulus, and a bounded search over
 * those could otherwise miss the trusted one (SoftHSM2 lists a token's objects in no fixed order).
 */
export function findTrustedWrappingKey(s: Session, key: RsaPublic): Handle | null {
  const B = pkcs11js();
  const hits = s.findObjects([{ type: B.CKA_CLASS, value: CKO_PUBLIC_KEY }, { type: B.CKA_KEY_TYPE, value: CKK_RSA }, { type: B.CKA_MODULUS, value: key.modulus }, { type: B.CKA_PUBLIC_EXPONENT, value: key.exponent },
    { type: B.CKA_TRUSTED, value: true }, { type: B.CKA_WRAP, value: true }], 8);
  // read back too: a token that ignored the template's CKA_TRUSTED would list untrusted keys here
  return hits.find((h) => s.attribute(h, B.CKA_TRUSTED)?.[0] === 1 && s.attribute(h, B.CKA_WRAP)?.[0] === 1) ?? null;
}

/** Does this key carry CKA_WRAP_WITH_TRUSTED (as the token reads it back)? */
export function wrapsOnlyUnderTrusted(s: Session, key: Handle): boolean {
  return s.attribute(key, pkcs11js().CKA_WRAP_WITH_TRUSTED)?.[0] === 1;
}

/**
 * What each measurement of the probe found. `enforced`: the user's half says the token enforces it
 * (the user cannot trust a key, the attribute is kept and cannot be cleared, an untrusted key is
 * refused); `supported`: that, and the SO's half too (a key the SO trusted wraps it).
 */
export interface TrustedWrapProbe {
  readonly supported: boolean;
  readonly enforced: boolean;
  /** A user session could make a key with CKA_TRUSTED true (then anyone with the PIN can trust their own key). */
  readonly userMaySetTrusted: boolean;
  /** The SO imported a trusted wrapping key, read back as trusted; else the code of the refusal, or `not tried` without the SO PIN. */
  readonly soImport: 'ok' | 'not tried' | string;
  /** The new key reads back CKA_WRAP_WITH_TRUSTED true. */
  readonly keptOnKey: boolean;
  /** Wrapping it under an untrusted key: refused (with this code) or `wrapped`. */
  readonly untrustedWrap: 'wrapped' | string;
  /** Wrapping it under the SO's trusted key: `wrapped`, a refusal code, or `not tried` when the SO could not import one. */
  readonly trustedWrap: 'wrapped' | 'not tried' | string;
  /** CKA_WRAP_WITH_TRUSTED could be set back to false. */
  readonly clearable: boolean;
}

const PROBE_LABEL = 'keyceremony trusted-wrap probe';

function codeOf(err: unknown): string {
  const ckr = ckrOf(err);
  if (ckr === null) throw err;
  return `${describeCkr(ckr).code} (CKR 0x${ckr.toString(16)})`;
}

/** A throw-away RSA public key of the host's (a public value: the probe wraps only a throw-away session key under it). */
function throwAwayRsa(): RsaPublic {
  const jwk = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ format: 'jwk' });
  return { modulus: Buffer.from(jwk.n as string, 'base64url'), exponent: Buffer.from(jwk.e as string, 'base64url') };
}

/**
 * Measures whether the token enforces trusted wrapping, with throw-away objects (removed after):
 * the user tries to make a trusted key; the SO imports a trusted key (a token object: an SO
 * session's objects die with it, and the user cannot log in beside the SO); the user makes a
 * throw-away wrap-with-trusted AES key and wraps it with RSAES-OAEP (SHA-1, which both measured
 * tokens do) under an untrusted key, which must be refused, and under the trusted one, which must
 * work; and tries to clear the attribute. Run it with no session of this program logged in to the
 * token. Without the SO PIN (`soPin` null) only the user's half is measured: `enforced` is then
 * the answer, and `supported` stays false.
 */
export async function probeTrustedWrap(token: Token, soPin: Uint8Array | null, userPin: Uint8Array): Promise<TrustedWrapProbe> {
  const B = pkcs11js();
  const trustedKey = throwAwayRsa();
  const otherKey = throwAwayRsa();
  const userMaySetTrusted = await withSession(token, userPin, async (s) => {
    try {
      const h = s.api.C_CreateObject(s.handle, wrappingKeyTemplate(otherKey, { token: false, trusted: true, label: PROBE_LABEL }));
      const kept = s.attribute(h, B.CKA_TRUSTED)?.[0] === 1;
      s.api.C_DestroyObject(s.handle, h);
      return kept;
    } catch (err) {
      codeOf(err);
      return false;
    }
  });
  let soImport = soPin === null ? 'not tried' : 'ok';
  if (soPin !== null) {
    try {
      await importAsSo(token, soPin, trustedKey, PROBE_LABEL, false);
    } catch (err) {
      if (!isKeyceremonyError(err)) throw err;
      soImport = err.code;
    }
  }
  return withSession(token, userPin, async (s) => {
    const trusted = soImport === 'ok' ? findTrustedWrappingKey(s, trustedKey) : null;
    const untrusted = s.call('importing a throw-away wrapping key', () => s.api.C_CreateObject(s.handle, wrappingKeyTemplate(otherKey, { token: false, trusted: false, label: PROBE_LABEL })));
    const key = await s.callAsync('generating a throw-away wrap-with-trusted key', () => s.api.C_GenerateKeyAsync(s.handle, { mechanism: CKM_AES_KEY_GEN }, [
      { type: B.CKA_CLASS, value: CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: CKK_AES }, { type: B.CKA_VALUE_LEN, value: 32 }, { type: B.CKA_TOKEN, value: false },
      { type: B.CKA_PRIVATE, value: true }, { type: B.CKA_SENSITIVE, value: true }, { type: B.CKA_EXTRACTABLE, value: true }, { type: B.CKA_WRAP_WITH_TRUSTED, value: true },
      { type: B.CKA_ENCRYPT, value: false }, { type: B.CKA_DECRYPT, value: false }, { type: B.CKA_WRAP, value: false }, { type: B.CKA_UNWRAP, value: false },
      { type: B.CKA_SIGN, value: false }, { type: B.CKA_VERIFY, value: false }, { type: B.CKA_DERIVE, value: false }, { type: B.CKA_LABEL, value: PROBE_LABEL },
    ]));
    const oaep = { mechanism: CKM_RSA_PKCS_OAEP, parameter: { type: B.CK_PARAMS_RSA_OAEP, hashAlg: CKM_SHA_1, mgf: CKG_MGF1_SHA1, source: CKZ_DATA_SPECIFIED } };
    const wrap = async (under: Handle): Promise<string> => {
      try { await s.api.C_WrapKeyAsync(s.handle, oaep, under, key, Buffer.alloc(1024)); return 'wrapped'; } catch (err) { return codeOf(err); }
    };
    try {
      const keptOnKey = wrapsOnlyUnderTrusted(s, key);
      const untrustedWrap = await wrap(untrusted);
      const trustedWrap = trusted === null ? 'not tried' : await wrap(trusted);
      let clearable = false;
      try { s.api.C_SetAttributeValue(s.handle, key, [{ type: B.CKA_WRAP_WITH_TRUSTED, value: false }]); clearable = !wrapsOnlyUnderTrusted(s, key); } catch (err) { codeOf(err); }
      const enforced = !userMaySetTrusted && keptOnKey && untrustedWrap !== 'wrapped' && !clearable;
      const supported = enforced && soImport === 'ok' && trustedWrap === 'wrapped';
      return Object.freeze({ supported, enforced, userMaySetTrusted, soImport, keptOnKey, untrustedWrap, trustedWrap, clearable });
    } finally {
      // the probe's objects go; the trusted one is a public token object the user may destroy
      for (const h of [key, untrusted, trusted]) if (h !== null) { try { s.api.C_DestroyObject(s.handle, h); } catch { /* a session object dies with the session */ } }
    }
  });
}

/** What the probe found against trusted wrapping, in words, for a refusal. */
function findings(p: TrustedWrapProbe): string[] {
  const out: string[] = [];
  if (p.userMaySetTrusted) out.push('a user session could set CKA_TRUSTED on a key of its own');
  if (!p.keptOnKey) out.push('the token did not keep CKA_WRAP_WITH_TRUSTED on a new key');
  if (p.untrustedWrap === 'wrapped') out.push('a wrap-with-trusted key wrapped under an untrusted key');
  if (p.clearable) out.push('CKA_WRAP_WITH_TRUSTED could be cleared');
  if (p.soImport !== 'ok' && p.soImport !== 'not tried') out.push(`the security officer could not import a trusted key (${p.soImport})`);
  if (p.trustedWrap !== 'wrapped' && p.trustedWrap !== 'not tried') out.push(`the key did not wrap under the SO's trusted key (${p.trustedWrap})`);
  return out;
}

/** Codes of a refused SO login that say the PIN was wrong, not that the token lacks the feature. */
const SO_PIN_REFUSALS: ReadonlySet<string> = new Set(['HSM_PIN_INCORRECT', 'HSM_PIN_LOCKED', 'HSM_PIN_INVALID', 'HSM_PIN_EXPIRED']);

/**
 * The probe's verdict as a refusal: nothing when the token enforces trusted wrapping (with the SO's
 * half, when it was measured); HSM_TRUSTED_WRAP_UNENFORCED naming every finding against it; the SO
 * login's own code when only a wrong SO PIN stood in the way (that is no measurement of the token).
 */
export function requireTrustedWrap(token: Token, p: TrustedWrapProbe): void {
  if (p.enforced && (p.supported || p.soImport === 'not tried')) return;
  if (p.enforced && SO_PIN_REFUSALS.has(p.soImport)) {
    throw new KeyceremonyError(p.soImport, `the security officer's PIN of token "${token.label}" was refused (${p.soImport}), so the trusted-wrap probe could not finish`,
      'enter the security officer\'s PIN (not the user PIN) and run the command again');
  }
  throw new KeyceremonyError('HSM_TRUSTED_WRAP_UNENFORCED', `token "${token.label}" does not enforce trusted wrapping (CKA_WRAP_WITH_TRUSTED), measured with throw-away objects: ${findings(p).join('; ')}; nothing was made`,
    'make the key without wrap-with-trusted on this token, or use a token whose probe passes (SoftHSM2 2.6.1 enforces it; NSS softokn does not)');
}
