/**
 * The one Ed25519 verification wrapper of the project. Everything that checks a signature
 * (custodian keys read from a token, signed documents) goes through `verifyStrict`.
 *
 * FORMATS.md §2: "verified strictly: S MUST be < L; public keys MUST be canonical encodings of
 * points that are not of small order." noble's default is ZIP-215 (permissive); RFC 8032 §5.1.7
 * strictness is `zip215: false`, which rejects S >= L and non-canonical encodings of A and R.
 * Small-order keys are valid RFC 8032 points, so they are refused separately: a small-order key
 * verifies signatures on many messages without a secret, which breaks non-repudiation.
 */
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

/** Strict RFC 8032 verification; returns false (never throws) for any malformed argument. */
export function verifyStrict(signature: Uint8Array, message: Uint8Array, publicKey: Uint8Array): boolean {
  if (!(signature instanceof Uint8Array) || signature.length !== SIGNATURE_BYTES) return false;
  if (!(message instanceof Uint8Array)) return false;
  if (publicKeyProblem(publicKey) !== null) return false;
  try {
    return ed25519.verify(signature, message, publicKey, { zip215: false });
  } catch {
    return false;
  }
}

/** Key id of FORMATS.md §2/§3: lowercase hex SHA-256 of the raw 32-byte public key. */
export function keyIdOf(publicKey: Uint8Array): string {
  ensureBytes('publicKey', publicKey, PUBLIC_KEY_BYTES);
  return toHex(sha256(publicKey));
}
