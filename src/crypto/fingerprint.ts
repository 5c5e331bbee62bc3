/**
 * Fingerprints of public keys for humans: the full SHA-256 in hex (equal to the key id of
 * FORMATS.md) and its first 12 bytes (96 bits) as PGP words to read aloud, alternating the
 * even and odd lists so that a swapped or dropped word is heard.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { ensureBytes, toHex } from '../bytes.js';
import { EVEN_WORDS, ODD_WORDS } from './pgp-words.js';

export const FINGERPRINT_WORD_BYTES = 12;

export interface Fingerprint {
  readonly hex: string;
  readonly words: readonly string[];
}

export function toWords(bytes: Uint8Array): string[] {
  return Array.from(bytes, (b, i) => ((i % 2 === 0 ? EVEN_WORDS : ODD_WORDS)[b] as string).toLowerCase());
}

/** Inverse of toWords, for a witness typing the words back; null when any word is wrong. */
export function fromWords(words: readonly string[]): Uint8Array | null {
  const out = new Uint8Array(words.length);
  for (let i = 0; i < words.length; i++) {
    const list = i % 2 === 0 ? EVEN_WORDS : ODD_WORDS;
    const idx = list.findIndex((w) => w.toLowerCase() === words[i]?.toLowerCase());
    if (idx < 0) return null;
    out[i] = idx;
  }
  return out;
}

export function fingerprint(publicKeyOrDer: Uint8Array): Fingerprint {
  ensureBytes('publicKey', publicKeyOrDer);
  const digest = sha256(publicKeyOrDer);
  return Object.freeze({ hex: toHex(digest), words: Object.freeze(toWords(digest.subarray(0, FINGERPRINT_WORD_BYTES))) });
}
