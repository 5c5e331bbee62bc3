/**
 * age's payload (age-encryption.org/v1, "Payload"): a 16-byte nonce, then the plaintext in chunks
 * of 64 KiB, each sealed with ChaCha20-Poly1305 under HKDF-SHA256(ikm = file key, salt = nonce,
 * info = "payload"), with the nonce of chunk i = i as 11 bytes big-endian ‖ 0x01 on the last
 * chunk, 0x00 before it (STREAM). Every chunk but the last is full; the last may be empty only
 * when it is the only one (an empty plaintext). So a truncated file fails: its new last chunk was
 * sealed as not last, and a file cut inside a chunk fails its tag.
 *
 * Whole buffers, not streams: the callers bound the file's size first. Each chunk is decrypted
 * straight into the one plaintext buffer (no chunk copies to clear), which is zeroed on failure.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { zero } from '../bytes.js';
import { payloadInvalid } from './errors.js';

export const CHUNK_BYTES = 64 * 1024;
export const TAG_BYTES = 16;
export const PAYLOAD_NONCE_BYTES = 16;
const SEALED_CHUNK = CHUNK_BYTES + TAG_BYTES;
const PAYLOAD_INFO = new TextEncoder().encode('payload');

/** The STREAM nonce of chunk `i`. */
function chunkNonce(i: number, last: boolean): Uint8Array {
  const n = new Uint8Array(12);
  new DataView(n.buffer).setUint32(7, i); // the 11-byte counter; files here are far below 2^32 chunks
  n[11] = last ? 1 : 0;
  return n;
}

export function payloadKey(fileKey: Uint8Array, nonce: Uint8Array): Uint8Array {
  return hkdf(sha256, fileKey, nonce, PAYLOAD_INFO, 32);
}

/** The sealed chunks of `plaintext` (without the payload nonce). */
export function sealChunks(key: Uint8Array, plaintext: Uint8Array): Uint8Array {
  const chunks = Math.max(1, Math.ceil(plaintext.length / CHUNK_BYTES));
  const out = new Uint8Array(plaintext.length + chunks * TAG_BYTES);
  for (let i = 0; i < chunks; i++) {
    const part = plaintext.subarray(i * CHUNK_BYTES, Math.min(plaintext.length, (i + 1) * CHUNK_BYTES));
    const at = i * SEALED_CHUNK;
    chacha20poly1305(key, chunkNonce(i, i === chunks - 1)).encrypt(part, out.subarray(at, at + part.length + TAG_BYTES));
  }
  return out;
}

/** The plaintext of the sealed chunks, or AGE_PAYLOAD_INVALID (truncated, extended or altered). */
export function openChunks(key: Uint8Array, sealed: Uint8Array): Uint8Array {
  if (sealed.length < TAG_BYTES) throw payloadInvalid('it is shorter than one sealed chunk (truncated)');
  const chunks = Math.ceil(sealed.length / SEALED_CHUNK);
  const lastLength = sealed.length - (chunks - 1) * SEALED_CHUNK;
  if (lastLength < TAG_BYTES) throw payloadInvalid('its last chunk is shorter than a tag (truncated)');
  if (chunks > 1 && lastLength === TAG_BYTES) throw payloadInvalid('its last chunk is empty after a full one');
  const out = new Uint8Array(sealed.length - chunks * TAG_BYTES);
  for (let i = 0; i < chunks; i++) {
    const at = i * SEALED_CHUNK;
    const part = sealed.subarray(at, Math.min(sealed.length, at + SEALED_CHUNK));
    try {
      chacha20poly1305(key, chunkNonce(i, i === chunks - 1)).decrypt(part, out.subarray(i * CHUNK_BYTES, i * CHUNK_BYTES + part.length - TAG_BYTES));
    } catch {
      zero(out);
      throw payloadInvalid(`chunk ${i} does not authenticate (the file was truncated or altered)`);
    }
  }
  return out;
}
