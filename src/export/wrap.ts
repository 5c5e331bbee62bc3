/**
 * Wrapping a token key for a KMS, chosen by what the token can do (issue 5, KMS-NOTES.md):
 *  - direct OAEP targets: C_WrapKey with CKM_RSA_PKCS_OAEP under the KEK imported as a session
 *    public key; a token without that OAEP hash refuses, and the key is never extracted in clear.
 *    (NSS softokn offers SHA-256 OAEP, SoftHSM2 2.6.1 only SHA-1.)
 *  - OAEP + AES-KWP targets, composed in the token ("token"): an ephemeral AES-256 session key
 *    from the token wraps the target with the mechanism a known answer showed to be RFC 5649 on
 *    this token (src/pkcs11/capabilities.ts: 0x210A on SoftHSM2, 0x210B on NSS, whose 0x210A is
 *    PKCS#7 then RFC 3394), and is itself wrapped with CKM_RSA_PKCS_OAEP under the KEK; then
 *    destroyed. A token where neither gives RFC 5649 is refused (EXPORT_KWP_UNAVAILABLE): no
 *    cloud could import what it wraps, and the key is never taken out in clear to do it elsewhere.
 *  - "hybrid", only when the token lacks the OAEP hash (SoftHSM2 2.6.1 does SHA-1 only): the
 *    ephemeral comes from the token's RNG, is OAEP-encrypted in host code, imported into the token
 *    as a session key to KWP-wrap the target there, and zeroed in host memory.
 * CKM_RSA_AES_KEY_WRAP would do the second case in one call, but pkcs11js 2.1.7 cannot pass its
 * CK_RSA_AES_KEY_WRAP_PARAMS, so the composed path serves tokens that have it too.
 * The key may be an AES key or a generic secret kept in the token by a make-secret step (issue 17:
 * an HMAC key for AWS KMS `HMAC_256` import, whose key material is the secret's 32 raw bytes, as for
 * symmetric keys: KMS-NOTES.md); both are wrapped the same way.
 *
 * Trusted wrapping (PKCS#11 2.40 §4.9, src/pkcs11/trusted.ts): when the security officer imported
 * the KMS wrapping key as a trusted token object (`keyceremony trust`), that object wraps (found by
 * modulus and exponent, never destroyed here) instead of a session copy. A key made
 * CKA_WRAP_WITH_TRUSTED wraps only under it: such a key is exported only by direct RSAES-OAEP under
 * the trusted key (an ephemeral AES key is never trusted, so no OAEP + AES-KWP target), and is
 * refused (EXPORT_TRUSTED_REQUIRED) with the reason and the fix before the token is asked to wrap.
 */
import { constants, publicEncrypt } from 'node:crypto';
import { zero } from '../bytes.js';
import { KeyceremonyError } from '../errors.js';
import { describeKnownAnswer, kwpRecordName, rfc5649Mechanism } from '../pkcs11/capabilities.js';
import type { Handle } from '../pkcs11/binding.js';
import { hsmError } from '../pkcs11/errors.js';
import { keyCheckValue } from '../pkcs11/keys.js';
import type { Kcv, ObjectQuery } from '../pkcs11/keys.js';
import { destroyQuietly, findSecretKey, isExtractable, objectLabel, valueLength } from '../pkcs11/objects.js';
import { isGenericSecret, tokenBinding } from '../pkcs11/secrets.js';
import type { Session } from '../pkcs11/session.js';
import { findTrustedWrappingKey, wrapsOnlyUnderTrusted } from '../pkcs11/trusted.js';
import { canWrapOaep, generateEphemeralAes, importEphemeralAes, importRsaWrappingKey, wrapOaep, wrapWith } from '../pkcs11/wrapping.js';
import type { Kek } from './kek.js';
import { oaepRecordName, oaepTrustedRecordName } from './mechanism-names.js';
import { oaepCapacity, TARGETS } from './targets.js';
import type { Construction, OaepHash } from './targets.js';

/**
 * The check value recorded with an export: an AES key's (`ecb`, KMS-NOTES.md), or for a secret an
 * inventory step made in the token (a generic secret for a KMS's HMAC import), the first 3 bytes of
 * its FORMATS.md §4 binding (`binding`), computed in the token: the KCV its manifest entry carries.
 */
export interface ExportKcv {
  readonly method: Kcv['method'] | 'binding';
  readonly value: string;
}

export interface Wrapped {
  readonly bytes: Buffer;
  readonly performed: 'token' | 'hybrid';
  readonly mechanisms: readonly string[];
  readonly kcv: ExportKcv;
}

/**
 * The check value of a key as an export records it, and as a ceremony proves an export against the
 * token (src/ceremony/steps/export.ts): one rule for both. A generic secret (told by its
 * CKA_KEY_TYPE, so a key named by id alone too: a make-secret step keeps one, labelled with its
 * manifest entry's id, `secret-key-v1`) has the first 3 bytes of its FORMATS.md §4 binding over
 * that label, computed in the token (`binding`): the KCV its manifest entry carries. Any other key
 * (an AES master key) has its AES one (`ecb`).
 */
export async function exportCheckValue(s: Session, target: Handle): Promise<ExportKcv> {
  if (!isGenericSecret(s, target)) return keyCheckValue(s, target);
  const id = objectLabel(s, target);
  if (id === null) {
    throw new KeyceremonyError('EXPORT_KCV_UNAVAILABLE', `the generic secret on token "${s.token.label}" has no label, and its check value is its binding over the manifest id it is labelled with`,
      'export a secret a make-secret step made (labelled with its id, such as secret-key-v1)');
  }
  const binding = tokenBinding(s, target, id);
  return { method: 'binding', value: binding.slice('hmac-sha256:'.length, 'hmac-sha256:'.length + 6) };
}

/** The targets a wrap-with-trusted key can go to: direct RSAES-OAEP ones. */
const DIRECT_TARGETS = (): string => TARGETS.filter((t) => t.construction === 'oaep').map((t) => t.name).join(', ');

/**
 * The wrapping key object to use: the SO's trusted copy of the KMS key when the token holds one,
 * else a session copy imported now (and destroyed after; the trusted one never is). A key that
 * wraps only under trusted keys is refused here, before any wrap, when the construction or the
 * missing trusted key cannot serve it.
 */
function wrappingKeyFor(s: Session, key: ObjectQuery, target: Handle, kek: Kek, construction: Construction): { readonly handle: Handle; readonly trusted: boolean; readonly onlyTrusted: boolean } {
  const trusted = findTrustedWrappingKey(s, kek);
  const onlyTrusted = wrapsOnlyUnderTrusted(s, target);
  if (onlyTrusted) {
    const name = `the key "${key.label ?? key.id ?? ''}" on token "${s.token.label}"`;
    if (construction !== 'oaep') {
      throw new KeyceremonyError('EXPORT_TRUSTED_REQUIRED', `${name} is CKA_WRAP_WITH_TRUSTED: it wraps only under a key the security officer trusted, and this target wraps it under an ephemeral AES key, which no one can trust`,
        `export it with a direct RSAES-OAEP target (${DIRECT_TARGETS()}) that the token offers, under the KMS key the security officer trusted (keyceremony trust)`);
    }
    if (trusted === null) {
      throw new KeyceremonyError('EXPORT_TRUSTED_REQUIRED', `${name} is CKA_WRAP_WITH_TRUSTED, and the token holds no trusted copy of this KMS wrapping key (SPKI SHA-256 ${kek.spkiSha256})`,
        'the security officer compares that SHA-256 with the KMS console, then runs keyceremony trust \'pkcs11:token=…\' --wrapping-key FILE --so-pin-env NAME; then export again');
    }
  }
  return trusted === null ? { handle: importRsaWrappingKey(s, kek.modulus, kek.exponent), trusted: false, onlyTrusted } : { handle: trusted, trusted: true, onlyTrusted };
}

export async function wrapKey(s: Session, key: ObjectQuery, kek: Kek, construction: Construction, hash: OaepHash): Promise<Wrapped> {
  const target = findSecretKey(s, key);
  if (!isExtractable(s, target)) {
    throw hsmError('HSM_KEY_NOT_EXTRACTABLE', `the key "${key.label ?? key.id ?? ''}" on token "${s.token.label}" was generated never to leave the token`, 'export only keys generated with export allowed (keygen --extractable, decided by the ceremony)');
  }
  const kcv = await exportCheckValue(s, target);
  if (!canWrapOaep(s)) throw new KeyceremonyError('EXPORT_MECHANISM_UNSUPPORTED', `token "${s.token.label}" cannot wrap with RSAES-OAEP (CKM_RSA_PKCS_OAEP)`, 'use a token that offers it (see `keyceremony tokens`)');
  const wrapping = wrappingKeyFor(s, key, target, kek, construction);
  const kekHandle = wrapping.handle;
  const oaepName = wrapping.trusted ? oaepTrustedRecordName(hash) : oaepRecordName(hash);
  let eph: Handle | undefined;
  try {
    if (construction === 'oaep') {
      const len = valueLength(s, target) ?? 32;
      if (len > oaepCapacity(kek.bits, hash)) throw new KeyceremonyError('EXPORT_KEY_TOO_LONG', `a ${len}-byte key does not fit in RSAES-OAEP with ${hash} and a ${kek.bits}-bit key`, 'choose a target with AES key wrap');
      const bytes = await wrapOaep(s, hash, kekHandle, target, 'wrapping with RSAES-OAEP');
      if (bytes === null) {
        throw new KeyceremonyError('EXPORT_MECHANISM_UNSUPPORTED', `token "${s.token.label}" cannot do CKM_RSA_PKCS_OAEP with ${hash.toUpperCase()}, which this target wraps the key with directly; the key is never taken out of the token in clear to do it elsewhere`,
          wrapping.onlyTrusted ? 'this key is wrap-with-trusted, so a direct RSAES-OAEP target is its only way out: choose one whose hash the token offers (see `keyceremony tokens`)'
            : `choose the ${hash === 'sha256' ? 'matching *-aes-key-wrap / *-aes-256 target (the OAEP step can then run in host code on an ephemeral key)' : 'target with AES key wrap'} or a token that offers it`);
      }
      return { bytes, performed: 'token', mechanisms: [oaepName], kcv };
    }
    const kat = await rfc5649Mechanism(s);
    if (kat.mechanism === null) {
      throw new KeyceremonyError('EXPORT_KWP_UNAVAILABLE', `no key-wrap mechanism of token "${s.token.label}" gives RFC 5649 (AES-KWP), which this target needs; by known answer: ${describeKnownAnswer(kat)}`,
        'choose a direct RSAES-OAEP target, or a token whose CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD is RFC 5649 (see `keyceremony tokens`)');
    }
    const kwpMech = kat.mechanism;
    const kwpName = kwpRecordName(kat);
    // (b) composed in the token
    eph = await generateEphemeralAes(s);
    const wrappedEph = await wrapOaep(s, hash, kekHandle, eph, 'wrapping the ephemeral key with RSAES-OAEP');
    if (wrappedEph !== null) {
      const kwp = await wrapWith(s, kwpMech, eph, target, 'wrapping the key with AES-KWP');
      return { bytes: Buffer.concat([wrappedEph, kwp]), performed: 'token', mechanisms: [oaepName, kwpName], kcv };
    }
    // (c) hybrid: the token lacks this OAEP hash
    destroyQuietly(s, eph);
    eph = undefined;
    const ephBytes = s.random(32);
    try {
      const wrappedHost = publicEncrypt({ key: kek.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ephBytes);
      eph = importEphemeralAes(s, ephBytes);
      const kwp = await wrapWith(s, kwpMech, eph, target, 'wrapping the key with AES-KWP');
      return { bytes: Buffer.concat([wrappedHost, kwp]), performed: 'hybrid', mechanisms: [`RSAES-OAEP(${hash}) in host code`, kwpName], kcv };
    } finally {
      zero(ephBytes);
    }
  } finally {
    destroyQuietly(s, eph, wrapping.trusted ? undefined : kekHandle); // the SO's trusted key stays
  }
}
