/**
 * Fingerprints of public keys for humans: the full SHA-256 in hex (equal to the key id of
 * FORMATS.md) and its first 12 bytes (96 bits) as PGP words to read aloud, alternating the
 * even and odd lists so that a swapped or dropped word is heard.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ensureBytes, toHex } from '../bytes.js';

export const FINGERPRINT_WORD_BYTES = 12;

export interface Fingerprint {
  readonly hex: string;
  readonly words: readonly string[];
}

/** The PGP words of bytes, and back: one mapping, in ./pgp-words.ts (pure, so the renderer shows the same words). */
import { toWords } from './pgp-words.js';
export { fromWords, toWords } from './pgp-words.js';

export function fingerprint(publicKeyOrDer: Uint8Array): Fingerprint {
  ensureBytes('publicKey', publicKeyOrDer);
  const digest = sha256(publicKeyOrDer);
  return Object.freeze({ hex: toHex(digest), words: Object.freeze(toWords(digest.subarray(0, FINGERPRINT_WORD_BYTES))) });
}
