/**
 * age's X25519 recipient type (age-encryption.org/v1, "The X25519 recipient type"):
 *
 *     -> X25519 <base64(ephemeral share)>
 *     <base64(ChaCha20-Poly1305(wrap key, nonce 0^12, file key))>
 *
 * with shared = X25519(ephemeral secret, recipient), salt = ephemeral share ‖ recipient and
 * wrap key = HKDF-SHA256(ikm = shared, salt, info = "age-encryption.org/v1/X25519", 32 bytes).
 * Recipients are Bech32 `age1…`, identities Bech32 `AGE-SECRET-KEY-1…` (bech32.ts).
 *
 * Unwrapping follows the reference implementation: a stanza of another type is not this type's to
 * judge; an X25519 stanza that is malformed (not exactly one argument, a share that is not 32 bytes
 * of canonical base64, a body that is not 32 bytes, a low-order share) is an error whoever it was
 * for; a well-formed stanza that does not authenticate under this identity is simply not for it.
 */
import { randomBytes } from 'node:crypto';
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { x25519 } from '@noble/curves/ed25519.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { zero } from '../bytes.js';
import { decodeBase64Canonical, encodeBase64 } from './base64.js';
import { bech32Decode, bech32Encode } from './bech32.js';
import { headerInvalid, identityInvalid, recipientInvalid } from './errors.js';
import type { Stanza } from './header.js';

export const X25519_TYPE = 'X25519';
const LABEL = new TextEncoder().encode('age-encryption.org/v1/X25519');
const RECIPIENT_HRP = 'age';
const IDENTITY_HRP = 'AGE-SECRET-KEY-';
/** `age1` + 52 + 6 characters; `AGE-SECRET-KEY-1` + 52 + 6. Longer strings are refused before decoding. */
const MAX_KEY_CHARS = 100;
export const FILE_KEY_BYTES = 16;
const ZERO_NONCE = new Uint8Array(12);
/** Any scalar: clamped, it is a multiple of 8, so its product with a low-order point is zero (noble then throws). */
const LOW_ORDER_PROBE = new Uint8Array(32).fill(1);

/** A recipient: the 32-byte X25519 public key and its `age1…` form. */
export interface X25519Recipient {
  readonly publicKey: Uint8Array;
  readonly text: string;
}

export function parseRecipient(text: string): X25519Recipient {
  if (typeof text !== 'string') throw recipientInvalid('not a string');
  const d = bech32Decode(text, MAX_KEY_CHARS);
  if (d === null) throw recipientInvalid('not a Bech32 string of one case with a valid checksum');
  if (d.hrp !== RECIPIENT_HRP) throw recipientInvalid(`not an X25519 recipient (age1…, lowercase); its prefix is ${JSON.stringify(d.hrp.slice(0, 20))}`);
  if (d.data.length !== 32) throw recipientInvalid(`its key has ${d.data.length} bytes, not 32`);
  // a low-order point gives every sender the all-zero shared secret (RFC 7748 §6.1): age refuses to
  // encrypt to it, so it is refused here, where the recipient enters, not at the first encryption
  try {
    x25519.getSharedSecret(LOW_ORDER_PROBE, d.data);
  } catch {
    throw recipientInvalid('its key is a low-order point');
  }
  return Object.freeze({ publicKey: d.data, text });
}

export function recipientText(publicKey: Uint8Array): string {
  return bech32Encode(RECIPIENT_HRP, publicKey);
}

/**
 * An identity: the X25519 secret scalar, held in one buffer that `dispose()` zeroes. The string it
 * was parsed from is the caller's (a JavaScript string cannot be zeroed).
 */
export class X25519Identity {
  readonly publicKey: Uint8Array;
  readonly recipient: string;
  #secret: Uint8Array;

  private constructor(secret: Uint8Array) {
    this.#secret = secret;
    this.publicKey = x25519.getPublicKey(secret);
    this.recipient = recipientText(this.publicKey);
  }

  /** `AGE-SECRET-KEY-1…` (uppercase, as age-keygen writes it). The message never quotes it. */
  static parse(text: string): X25519Identity {
    if (typeof text !== 'string') throw identityInvalid('not a string');
    const d = bech32Decode(text, MAX_KEY_CHARS);
    if (d === null) throw identityInvalid('not a Bech32 string of one case with a valid checksum');
    if (d.hrp !== IDENTITY_HRP) {
      zero(d.data);
      throw identityInvalid('not an X25519 identity (AGE-SECRET-KEY-1…, uppercase)');
    }
    if (d.data.length !== 32) {
      zero(d.data);
      throw identityInvalid(`its key has ${d.data.length} bytes, not 32`);
    }
    return new X25519Identity(d.data);
  }

  /** A new identity from the system's CSPRNG. */
  static generate(): X25519Identity {
    return new X25519Identity(new Uint8Array(randomBytes(32)));
  }

  /** The `AGE-SECRET-KEY-1…` text, for tests and for writing an identity file; a string that cannot be zeroed. */
  toString(): string {
    return bech32Encode(IDENTITY_HRP, this.#secret, true);
  }

  /** The file key from an X25519 stanza, null when the stanza is not for this identity; malformed stanzas throw. */
  unwrap(s: Stanza): Uint8Array | null {
    if (s.args.length !== 1) throw headerInvalid(`an X25519 stanza has ${s.args.length} arguments, not 1`);
    const share = decodeBase64Canonical(s.args[0] as string);
    if (share === null || share.length !== 32) throw headerInvalid('an X25519 stanza\'s share is not 32 bytes of canonical base64');
    if (s.body.length !== FILE_KEY_BYTES + 16) throw headerInvalid(`an X25519 stanza's body has ${s.body.length} bytes, not ${FILE_KEY_BYTES + 16}`);
    let shared: Uint8Array;
    try {
      shared = x25519.getSharedSecret(this.#secret, share);
    } catch {
      throw headerInvalid('an X25519 stanza\'s share is a low-order point');
    }
    const key = wrapKey(shared, share, this.publicKey);
    try {
      return chacha20poly1305(key, ZERO_NONCE).decrypt(s.body);
    } catch {
      return null;
    } finally {
      zero(shared, key);
    }
  }

  dispose(): void {
    zero(this.#secret);
  }
}

function wrapKey(shared: Uint8Array, share: Uint8Array, recipient: Uint8Array): Uint8Array {
  if (shared.every((b) => b === 0)) throw headerInvalid('the X25519 shared secret is zero');
  const salt = new Uint8Array(64);
  salt.set(share, 0);
  salt.set(recipient, 32);
  return hkdf(sha256, shared, salt, LABEL, 32);
}

/** The X25519 stanza that gives `fileKey` to `recipient`, under a fresh ephemeral key (zeroed after). */
export function wrapX25519(fileKey: Uint8Array, recipient: X25519Recipient): Stanza {
  const ephemeral = new Uint8Array(randomBytes(32));
  let shared: Uint8Array | undefined;
  let key: Uint8Array | undefined;
  try {
    const share = x25519.getPublicKey(ephemeral);
    try {
      shared = x25519.getSharedSecret(ephemeral, recipient.publicKey);
    } catch {
      throw recipientInvalid('its key is a low-order point');
    }
    key = wrapKey(shared, share, recipient.publicKey);
    const body = chacha20poly1305(key, ZERO_NONCE).encrypt(fileKey);
    return { type: X25519_TYPE, args: [encodeBase64(share)], body };
  } finally {
    zero(ephemeral, shared, key);
  }
}
