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
 */
import { constants, publicEncrypt } from 'node:crypto';
import { zero } from '../bytes.js';
import { KeyceremonyError } from '../errors.js';
import { pkcs11js } from '../pkcs11/binding.js';
import { describeKnownAnswer, kwpRecordName, rfc5649Mechanism } from '../pkcs11/capabilities.js';
import type { Handle } from '../pkcs11/binding.js';
import { ckrOf, hsmError } from '../pkcs11/errors.js';
import { findOne, keyCheckValue } from '../pkcs11/keys.js';
import type { Kcv, ObjectQuery } from '../pkcs11/keys.js';
import type { Session } from '../pkcs11/session.js';
import { hasMechanism, mechanisms } from '../pkcs11/tokens.js';
import type { Kek } from './kek.js';
import { oaepCapacity } from './targets.js';
import type { Construction, OaepHash } from './targets.js';

/** CK_RSA_PKCS_OAEP_PARAMS.source: the label is given as (empty) data (PKCS#11 2.40 §2.1.8). */
const CKZ_DATA_SPECIFIED = 1;
/** CKRs that mean "this token does not do OAEP with that hash" rather than a fault. */
const UNSUPPORTED_PARAMS = new Set([0x07, 0x70, 0x71]); // ARGUMENTS_BAD (SoftHSM2, measured), MECHANISM_INVALID, MECHANISM_PARAM_INVALID

export interface Wrapped {
  readonly bytes: Buffer;
  readonly performed: 'token' | 'hybrid';
  readonly mechanisms: readonly string[];
  readonly kcv: Kcv;
}

function oaep(hash: OaepHash) {
  const B = pkcs11js();
  return {
    mechanism: B.CKM_RSA_PKCS_OAEP,
    parameter: { type: B.CK_PARAMS_RSA_OAEP, hashAlg: hash === 'sha1' ? B.CKM_SHA_1 : B.CKM_SHA256, mgf: hash === 'sha1' ? B.CKG_MGF1_SHA1 : B.CKG_MGF1_SHA256, source: CKZ_DATA_SPECIFIED },
  };
}

function importKek(s: Session, kek: Kek): Handle {
  const B = pkcs11js();
  return s.call('importing the KMS wrapping key as a session object', () => s.api.C_CreateObject(s.handle, [
    { type: B.CKA_CLASS, value: B.CKO_PUBLIC_KEY }, { type: B.CKA_KEY_TYPE, value: B.CKK_RSA }, { type: B.CKA_TOKEN, value: false },
    { type: B.CKA_MODULUS, value: kek.modulus }, { type: B.CKA_PUBLIC_EXPONENT, value: kek.exponent },
    { type: B.CKA_WRAP, value: true }, { type: B.CKA_ENCRYPT, value: true }, { type: B.CKA_VERIFY, value: false }, { type: B.CKA_LABEL, value: 'keyceremony KMS wrapping key (session)' },
  ]));
}

function destroy(s: Session, ...handles: (Handle | undefined)[]): void {
  for (const h of handles) {
    if (h === undefined) continue;
    try { s.api.C_DestroyObject(s.handle, h); } catch { /* a session object also dies with the session */ }
  }
}

/** Wrap `keyHandle` with `mech` under `wrapping`; null when the token does not support these parameters. */
async function tryWrap(s: Session, mech: ReturnType<typeof oaep>, wrapping: Handle, keyHandle: Handle, what: string): Promise<Buffer | null> {
  try {
    return await s.api.C_WrapKeyAsync(s.handle, mech, wrapping, keyHandle, Buffer.alloc(8192));
  } catch (err) {
    const ckr = ckrOf(err);
    if (ckr !== null && UNSUPPORTED_PARAMS.has(ckr)) return null;
    return s.call(what, () => { throw err; });
  }
}

export async function wrapKey(s: Session, key: ObjectQuery, kek: Kek, construction: Construction, hash: OaepHash): Promise<Wrapped> {
  const B = pkcs11js();
  const target = findOne(s, B.CKO_SECRET_KEY, key, 'secret key');
  if (s.attribute(target, B.CKA_EXTRACTABLE)?.[0] !== 1) {
    throw hsmError('HSM_KEY_NOT_EXTRACTABLE', `the key "${key.label ?? key.id ?? ''}" on token "${s.token.label}" was generated never to leave the token`, 'export only keys generated with export allowed (keygen --extractable, decided by the ceremony)');
  }
  const kcv = await keyCheckValue(s, target);
  const caps = mechanisms(s.token);
  const need = (id: number, name: string) => {
    if (!hasMechanism(caps, id, 'wrap')) throw new KeyceremonyError('EXPORT_MECHANISM_UNSUPPORTED', `token "${s.token.label}" cannot wrap with ${name}`, 'use a token that offers it (see `keyceremony tokens`)');
  };
  need(B.CKM_RSA_PKCS_OAEP, 'CKM_RSA_PKCS_OAEP');
  const kekHandle = importKek(s, kek);
  let eph: Handle | undefined;
  try {
    if (construction === 'oaep') {
      const len = s.attribute(target, B.CKA_VALUE_LEN)?.readUInt32LE(0) ?? 32;
      if (len > oaepCapacity(kek.bits, hash)) throw new KeyceremonyError('EXPORT_KEY_TOO_LONG', `a ${len}-byte key does not fit in RSAES-OAEP with ${hash} and a ${kek.bits}-bit key`, 'choose a target with AES key wrap');
      const bytes = await tryWrap(s, oaep(hash), kekHandle, target, 'wrapping with RSAES-OAEP');
      if (bytes === null) {
        throw new KeyceremonyError('EXPORT_MECHANISM_UNSUPPORTED', `token "${s.token.label}" cannot do CKM_RSA_PKCS_OAEP with ${hash.toUpperCase()}, which this target wraps the key with directly; the key is never taken out of the token in clear to do it elsewhere`,
          `choose the ${hash === 'sha256' ? 'matching *-aes-key-wrap / *-aes-256 target (the OAEP step can then run in host code on an ephemeral key)' : 'target with AES key wrap'} or a token that offers it`);
      }
      return { bytes, performed: 'token', mechanisms: [`CKM_RSA_PKCS_OAEP(${hash})`], kcv };
    }
    const kat = await rfc5649Mechanism(s);
    if (kat.mechanism === null) {
      throw new KeyceremonyError('EXPORT_KWP_UNAVAILABLE', `no key-wrap mechanism of token "${s.token.label}" gives RFC 5649 (AES-KWP), which this target needs; by known answer: ${describeKnownAnswer(kat)}`,
        'choose a direct RSAES-OAEP target, or a token whose CKM_AES_KEY_WRAP_KWP or CKM_AES_KEY_WRAP_PAD is RFC 5649 (see `keyceremony tokens`)');
    }
    const kwpMech = kat.mechanism;
    const kwpName = kwpRecordName(kat);
    // (b) composed in the token
    eph = await s.callAsync('generating an ephemeral AES-256 key', () => s.api.C_GenerateKeyAsync(s.handle, { mechanism: B.CKM_AES_KEY_GEN }, [
      { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: B.CKK_AES }, { type: B.CKA_VALUE_LEN, value: 32 }, { type: B.CKA_TOKEN, value: false },
      { type: B.CKA_SENSITIVE, value: true }, { type: B.CKA_EXTRACTABLE, value: true }, { type: B.CKA_WRAP, value: true }, { type: B.CKA_ENCRYPT, value: false }, { type: B.CKA_DECRYPT, value: false },
    ]));
    const wrappedEph = await tryWrap(s, oaep(hash), kekHandle, eph, 'wrapping the ephemeral key with RSAES-OAEP');
    if (wrappedEph !== null) {
      const kwp = await s.callAsync('wrapping the key with AES-KWP', () => s.api.C_WrapKeyAsync(s.handle, { mechanism: kwpMech }, eph as Handle, target, Buffer.alloc(8192)));
      return { bytes: Buffer.concat([wrappedEph, kwp]), performed: 'token', mechanisms: [`CKM_RSA_PKCS_OAEP(${hash})`, kwpName], kcv };
    }
    // (c) hybrid: the token lacks this OAEP hash
    destroy(s, eph);
    eph = undefined;
    const ephBytes = s.random(32);
    try {
      const wrappedHost = publicEncrypt({ key: kek.key, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, ephBytes);
      eph = s.call('importing the ephemeral key for AES-KWP', () => s.api.C_CreateObject(s.handle, [
        { type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }, { type: B.CKA_KEY_TYPE, value: B.CKK_AES }, { type: B.CKA_TOKEN, value: false }, { type: B.CKA_VALUE, value: ephBytes },
        { type: B.CKA_SENSITIVE, value: true }, { type: B.CKA_EXTRACTABLE, value: false }, { type: B.CKA_WRAP, value: true }, { type: B.CKA_ENCRYPT, value: false },
      ]));
      const kwp = await s.callAsync('wrapping the key with AES-KWP', () => s.api.C_WrapKeyAsync(s.handle, { mechanism: kwpMech }, eph as Handle, target, Buffer.alloc(8192)));
      return { bytes: Buffer.concat([wrappedHost, kwp]), performed: 'hybrid', mechanisms: [`RSAES-OAEP(${hash}) in host code`, kwpName], kcv };
    } finally {
      zero(ephBytes);
    }
  } finally {
    destroy(s, eph, kekHandle);
  }
}
