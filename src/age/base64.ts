/**
 * Base64 as age v1 writes it (age-encryption.org/v1, "Base64 encoding"): the standard alphabet of
 * RFC 4648 §4, without padding, and canonical: a decoder refuses `=`, characters outside the
 * alphabet, a length of 1 mod 4, and unused low bits that are not zero, so that one byte string has
 * exactly one encoding and a header cannot be altered without changing its bytes (and its MAC).
 *
 * Also the padded standard encoding a Kubernetes Secret's `data` holds, written into bytes rather
 * than a JavaScript string, so a secret's encoding can be zeroed (a string cannot).
 */

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const CODES = new Uint8Array(ALPHABET.length);
for (let i = 0; i < ALPHABET.length; i++) CODES[i] = ALPHABET.charCodeAt(i);
/** Character code → 6-bit value, or 255 outside the alphabet. */
const VALUES = new Uint8Array(256).fill(255);
for (let i = 0; i < ALPHABET.length; i++) VALUES[ALPHABET.charCodeAt(i)] = i;
const PAD = 0x3d; // '='

/** The length of the encoding of n bytes: unpadded, or padded to a multiple of 4. */
export function base64Length(n: number, pad: boolean): number {
  return pad ? Math.ceil(n / 3) * 4 : Math.ceil((n * 4) / 3);
}

/** `bytes` encoded into `out` (ASCII codes) from `at`; returns the index after the last code written. */
export function base64Into(bytes: Uint8Array, out: Uint8Array, at: number, pad: boolean): number {
  let o = at;
  let i = 0;
  const code = (v: number) => CODES[v & 63] as number;
  for (; i + 2 < bytes.length; i += 3) {
    const n = ((bytes[i] as number) << 16) | ((bytes[i + 1] as number) << 8) | (bytes[i + 2] as number);
    out[o++] = code(n >>> 18);
    out[o++] = code(n >>> 12);
    out[o++] = code(n >>> 6);
    out[o++] = code(n);
  }
  const rest = bytes.length - i;
  if (rest > 0) {
    const n = ((bytes[i] as number) << 16) | (rest === 2 ? (bytes[i + 1] as number) << 8 : 0);
    out[o++] = code(n >>> 18);
    out[o++] = code(n >>> 12);
    if (rest === 2) out[o++] = code(n >>> 6);
    else if (pad) out[o++] = PAD;
    if (pad) out[o++] = PAD;
  }
  return o;
}

/** The unpadded encoding as a string: for public values only (header fields, MACs, public keys). */
export function encodeBase64(bytes: Uint8Array): string {
  const out = new Uint8Array(base64Length(bytes.length, false));
  base64Into(bytes, out, 0, false);
  return Buffer.from(out.buffer, out.byteOffset, out.byteLength).toString('latin1');
}

/**
 * The bytes of a canonical unpadded base64 string, or null when it is not one (a character outside
 * the alphabet, padding, a length of 1 mod 4, or non-zero unused bits).
 */
export function decodeBase64Canonical(s: string): Uint8Array | null {
  if (s.length % 4 === 1) return null;
  const out = new Uint8Array(Math.floor((s.length * 3) / 4));
  let acc = 0;
  let bits = 0;
  let o = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 256 ? (VALUES[c] as number) : 255;
    if (v === 255) return null;
    acc = ((acc << 6) | v) & 0xffffff;
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out[o++] = (acc >>> bits) & 0xff;
    }
  }
  // the bits left over (2 or 4) must be zero: another string with them set decodes to the same bytes
  if ((acc & ((1 << bits) - 1)) !== 0) return null;
  return out;
}
