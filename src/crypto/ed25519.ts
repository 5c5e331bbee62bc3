/**
 * The one Ed25519 verification wrapper of the project. Everything that checks a signature
 * (custodian keys read from a token, signed documents) goes through `verifyStrict` or
 * `Ed25519PublicKey.verify`.
 *
 * FORMATS.md §2: "verified strictly: S MUST be < L; public keys MUST be canonical encodings of
 * points that are not of small order." noble's default is ZIP-215 (permissive); RFC 8032 §5.1.7
 * strictness is `zip215: false`, which rejects S >= L and non-canonical encodings of A and R.
 * Small-order keys are valid RFC 8032 points, so they are refused separately: a small-order key
 * verifies signatures on many messages without a secret, which breaks non-repudiation.
 *
 * Key checks use noble (once per key); the equation is checked by node:crypto (OpenSSL's
 * cofactorless RFC 8032 §5.1.7 verification, which compares R byte for byte, so a non-canonical
 * R never verifies), after our own S < L check. Tests cross-check both with Wycheproof.
 */
import { createPublicKey, verify as cryptoVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { ed25519 } from '@noble/curves/ed25519.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ensureBytes, toHex } from '../bytes.js';

export const PUBLIC_KEY_BYTES = 32;
export const SIGNATURE_BYTES = 64;

export type PublicKeyProblem = 'length' | 'non-canonical' | 'small-order';

/** Why a 32-byte string is not an acceptable custodian public key, or null when it is. */
export function publicKeyProblem(publicKey: Uint8Array): PublicKeyProblem | null {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return 'length';
  let point;
  try {
    point = ed25519.Point.fromBytes(publicKey, false); // RFC 8032 §5.1.3 decoding, strict
  } catch {
    return 'non-canonical';
  }
  // fromBytes(zip215=false) rejects y >= p; also refuse the one remaining non-canonical form,
  // x = 0 with the sign bit set, by re-encoding.
  const again = point.toBytes();
  for (let i = 0; i < PUBLIC_KEY_BYTES; i++) if (again[i] !== publicKey[i]) return 'non-canonical';
  if (point.isSmallOrder()) return 'small-order';
  return null;
}

/** L, the order of the base point, little-endian (RFC 8032 §5.1). */
const L_LE = Uint8Array.from(Buffer.from('edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010', 'hex'));

/** RFC 8032 §5.1.7 step 1: S (the second half of the signature, little-endian) must be < L. */
export function scalarIsCanonical(signature: Uint8Array): boolean {
  for (let i = 31; i >= 0; i--) {
    const s = signature[32 + i] as number;
    const l = L_LE[i] as number;
    if (s !== l) return s < l;
  }
  return false; // S == L
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

/** A public key checked once (canonical, not small order), ready to verify many signatures. */
export class Ed25519PublicKey {
  readonly bytes: Uint8Array;
  readonly keyid: string;
  private readonly key: KeyObject;

  private constructor(bytes: Uint8Array) {
    this.bytes = new Uint8Array(bytes);
    this.keyid = keyIdOf(this.bytes);
    this.key = createPublicKey({ key: Buffer.concat([SPKI_PREFIX, this.bytes]), format: 'der', type: 'spki' });
  }

  /** null (with the reason available from publicKeyProblem) when the key is not acceptable. */
  static from(bytes: Uint8Array): Ed25519PublicKey | null {
    return publicKeyProblem(bytes) === null ? new Ed25519PublicKey(bytes) : null;
  }

  /** Strict verification; false (never throws) for any malformed argument. */
  verify(signature: Uint8Array, message: Uint8Array): boolean {
    if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false;
    if (!(message instanceof Uint8Array) || !scalarIsCanonical(signature)) return false;
    try {
      return cryptoVerify(null, message, this.key, signature);
    } catch {
      return false;
    }
  }
}

const cache = new Map<string, Ed25519PublicKey | null>();

/** Strict RFC 8032 verification; returns false (never throws) for any malformed argument. */
export function verifyStrict(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(publicKey instanceof Uint8Array) || publicKey.length !== PUBLIC_KEY_BYTES) return false;
  const hex = Buffer.from(publicKey.buffer, publicKey.byteOffset, publicKey.byteLength).toString('hex');
  let key = cache.get(hex);
  if (key === undefined) {
    key = Ed25519PublicKey.from(publicKey);
    if (cache.size >= 4096) cache.clear();
    cache.set(hex, key);
  }
  return key !== null && key.verify(signature, message);
}

/** Key id of FORMATS.md §2/§3: lowercase hex SHA-256 of the raw 32-byte public key. */
export function keyIdOf(publicKey: Uint8Array): string {
  ensureBytes('publicKey', publicKey, PUBLIC_KEY_BYTES);
  return toHex(sha256(publicKey));
}
