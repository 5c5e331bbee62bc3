/**
 * One way to show each kind of value (issue 15), on every screen and on the run sheet:
 * - `Hex`: hex as the eye compares it, groups of four in a monospace face.
 * - `Kcv`: a key check value, always with its method: "KCV (AES-ECB of zeros) 7024de".
 * - `Digest`: a fingerprint or a digest as the words read aloud (its first 12 bytes, as
 *   src/crypto/fingerprint.ts and digestWords of src/ceremony/witness.ts read them), the full hex
 *   one click away.
 * - `documentDigest`: the digest of a signed document, over its raw payload bytes (FORMATS.md §2),
 *   as the core's payloadDigest takes it; for showing only, the core verifies.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { useState } from 'react';
import { toWords } from '../../src/crypto/pgp-words.js';

/** Bytes read aloud: the first 12 (96 bits), as fingerprints are (src/crypto/fingerprint.ts FINGERPRINT_WORD_BYTES). */
const WORD_BYTES = 12;
const HEX = /^(?:[0-9a-f]{2})+$/;

/** The words of a hex string (whole bytes), by the core's one mapping (src/crypto/pgp-words.ts). */
export function wordsOf(hex: string): string[] {
  return HEX.test(hex) ? toWords(Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16))) : [];
}

/** Hex as the eye compares it: groups of four, in a monospace face, wrapping only between groups; a prefix (sha256:) kept. */
export function Hex({ value }: { value: string }) {
  const cut = value.indexOf(':') + 1;
  const [prefix, hex] = [value.slice(0, cut), value.slice(cut)];
  return <code className="hex">{prefix}{(hex.match(/.{1,4}/g) ?? []).join(' ')}</code>;
}

/**
 * How a check value was computed. A bare value from the API is ECB: every KCV the core makes is
 * AES-ECB of a zero block, first 3 bytes (src/pkcs11/keys.ts; PKCS#11 3.0 CKA_CHECK_VALUE for AES);
 * a manifest's HMAC, JWT-HS256 and TOKEN entries take theirs from the binding (FORMATS.md §4).
 */
const METHODS = { ecb: 'AES-ECB of zeros', cmac: 'AES-CMAC of zeros', binding: 'first bytes of the binding' } as const;
export type KcvMethod = keyof typeof METHODS;

/** A key check value: "KCV (AES-ECB of zeros) 7024de"; `value` may carry its method as a prefix (ecb:7024de). */
export function Kcv({ value, method }: { value: string; method?: KcvMethod }) {
  const m = /^(ecb|cmac):/.exec(value);
  const how = METHODS[method ?? (m?.[1] as KcvMethod | undefined) ?? 'ecb'];
  const hex = m === null ? value : value.slice(m[0].length);
  return <span className="kcv">KCV <span className="method">({how})</span> {hex === '' ? <span className="hint">not recorded</span> : <code className="hex">{hex}</code>}</span>;
}

/**
 * A fingerprint or a digest: its words to read aloud, and the full hex behind a disclosure button
 * (phrasing content, so it sits in a sentence, a cell or a list item alike).
 * `value`: 64 hex digits, with or without "sha256:"; `words`: when the API gave them (else taken
 * from the value); `label`: what it is ("fingerprint of alice's key", "document digest"), for the
 * accessible names.
 */
export function Digest({ value, words, label }: { value: string; words?: readonly string[]; label: string }) {
  const [open, setOpen] = useState(false);
  const hex = value.replace(/^sha256:/, '');
  const said = words ?? wordsOf(hex.slice(0, WORD_BYTES * 2));
  return (
    <span className="digest">
      <span className="words" aria-label={`${label} as words`}>{said.join(' ')}</span>{' '}
      <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>{open ? 'hide hex' : 'full hex'}<span className="sr"> of the {label}</span></button>
      {open && <> <Hex value={`sha256:${hex}`} /></>}
    </span>
  );
}

/** The digest (sha256:HEX) of a DSSE envelope's raw payload bytes; null when `document` is not an envelope. */
export function documentDigest(document: string): string | null {
  try {
    const env = JSON.parse(document) as { payload?: unknown };
    if (typeof env.payload !== 'string') return null;
    const bytes = Uint8Array.from(atob(env.payload), (c) => c.charCodeAt(0));
    return `sha256:${Array.from(sha256(bytes), (b) => b.toString(16).padStart(2, '0')).join('')}`;
  } catch {
    return null;
  }
}
