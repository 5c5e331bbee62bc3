/**
 * age v1 file encryption (https://age-encryption.org/v1), X25519 recipients only: how the ceremony
 * seals a secret for a deployment and how `keyceremony deploy` opens it. Files written here open
 * with the reference `age -d -i`, and files written by `age -r` open here (test/age/).
 *
 * Why not the maintained `age-encryption` package: it would bring @noble/post-quantum and
 * @scure/base into the production tree of an air-gapped app, for a format this small. This module
 * is built only on the primitives already reviewed and pinned here (@noble/curves X25519,
 * @noble/ciphers ChaCha20-Poly1305, @noble/hashes HKDF/HMAC-SHA256) and node:crypto's CSPRNG, and
 * supports only what the project uses: no scrypt (passphrase) stanzas, no plugins, no armor.
 *
 * File key, wrap keys, header-MAC and payload keys are zeroed after use. decrypt() returns the
 * plaintext in a buffer the caller owns and zeroes; on any failure nothing of it is returned.
 */
import { randomBytes } from 'node:crypto';
import { hkdf } from '@noble/hashes/hkdf.js';
import { hmac } from '@noble/hashes/hmac.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { ensureBytes, equalBytes, zero } from '../bytes.js';
import { headerInvalid, identityInvalid, macInvalid, noIdentityMatch, payloadInvalid, recipientInvalid, tooLarge } from './errors.js';
import { formatHeader, headerMacInput, parseHeader } from './header.js';
import type { Header } from './header.js';
import { openChunks, PAYLOAD_NONCE_BYTES, payloadKey, sealChunks, TAG_BYTES } from './stream.js';
import { FILE_KEY_BYTES, parseRecipient, wrapX25519, X25519_TYPE, X25519Identity } from './x25519.js';
import type { X25519Recipient } from './x25519.js';

export { X25519Identity, parseRecipient, recipientText } from './x25519.js';
export type { X25519Recipient } from './x25519.js';
export { AGE_CODES } from './errors.js';

/** decrypt()'s default bound on a whole file: 16 MiB. Callers that know their files pass a smaller one. */
export const DEFAULT_MAX_FILE_BYTES = 16 * 1024 * 1024;
const HEADER_INFO = new TextEncoder().encode('header');

function headerMac(fileKey: Uint8Array, macInput: Uint8Array): Uint8Array {
  const key = hkdf(sha256, fileKey, undefined, HEADER_INFO, 32);
  try {
    return hmac(sha256, key, macInput);
  } finally {
    zero(key);
  }
}

/** `plaintext` sealed to every recipient (at least one), each by its own X25519 stanza. */
export function encrypt(plaintext: Uint8Array, recipients: readonly (string | X25519Recipient)[]): Uint8Array {
  ensureBytes('plaintext', plaintext);
  if (!Array.isArray(recipients) || recipients.length === 0) throw recipientInvalid('no recipient was given');
  const parsed = recipients.map((r) => (typeof r === 'string' ? parseRecipient(r) : r));
  const fileKey = new Uint8Array(randomBytes(FILE_KEY_BYTES));
  let key: Uint8Array | undefined;
  try {
    const macInput = headerMacInput(parsed.map((r) => wrapX25519(fileKey, r)));
    const header = formatHeader(macInput, headerMac(fileKey, macInput));
    const nonce = new Uint8Array(randomBytes(PAYLOAD_NONCE_BYTES));
    key = payloadKey(fileKey, nonce);
    const sealed = sealChunks(key, plaintext);
    const out = new Uint8Array(header.length + nonce.length + sealed.length);
    out.set(header, 0);
    out.set(nonce, header.length);
    out.set(sealed, header.length + nonce.length);
    return out;
  } finally {
    zero(fileKey, key);
  }
}

/** The file key from the first stanza an identity opens; an scrypt stanza is only ever alone (age v1). */
function unwrapFileKey(header: Header, identities: readonly X25519Identity[]): Uint8Array {
  const types = header.stanzas.map((s) => s.type);
  if (types.includes('scrypt')) {
    if (types.length > 1) throw headerInvalid('an scrypt stanza is not the only stanza');
    throw noIdentityMatch('it is sealed with a passphrase (scrypt), which deployments do not use');
  }
  for (const identity of identities) {
    for (const s of header.stanzas) {
      if (s.type !== X25519_TYPE) continue;
      const fileKey = identity.unwrap(s);
      if (fileKey !== null) return fileKey;
    }
  }
  const x = types.filter((t) => t === X25519_TYPE).length;
  throw noIdentityMatch(x === 0 ? `it has no X25519 stanza (stanza types: ${[...new Set(types)].slice(0, 8).join(', ')})` : `none of its ${x} X25519 stanzas is for the identities given`);
}

/**
 * The plaintext of an age v1 file, checked in the spec's order: size bound, header syntax, file key
 * from a stanza for one of `identities`, header MAC, then every payload chunk. Any failure throws a
 * KeyceremonyError with an AGE_* code and returns no plaintext.
 */
export function decrypt(file: Uint8Array, identities: readonly X25519Identity[], o: { maxBytes?: number } = {}): Uint8Array {
  ensureBytes('file', file);
  if (!Array.isArray(identities) || identities.length === 0) throw identityInvalid('no identity was given');
  const limit = o.maxBytes ?? DEFAULT_MAX_FILE_BYTES;
  if (file.length > limit) throw tooLarge(file.length, limit);
  const header = parseHeader(file);
  const fileKey = unwrapFileKey(header, identities);
  let key: Uint8Array | undefined;
  try {
    const mac = headerMac(fileKey, header.macInput);
    if (!equalBytes(mac, header.mac)) throw macInvalid();
    const payload = file.subarray(header.length);
    if (payload.length < PAYLOAD_NONCE_BYTES + TAG_BYTES) throw payloadInvalid('it is shorter than a nonce and one sealed chunk (truncated)');
    key = payloadKey(fileKey, payload.subarray(0, PAYLOAD_NONCE_BYTES));
    return openChunks(key, payload.subarray(PAYLOAD_NONCE_BYTES));
  } finally {
    zero(fileKey, key);
  }
}

/**
 * The identities of an identity file's text, as age-keygen writes it (`# created: …`,
 * `# public key: age1…`, then `AGE-SECRET-KEY-1…`), or a bare identity: blank lines and lines
 * starting with `#` are skipped, every other line must be an X25519 identity, and there must be
 * one at least. Messages give a line's number, never its text.
 */
export function parseIdentities(text: string): X25519Identity[] {
  if (typeof text !== 'string') throw identityInvalid('not a string');
  if (text.length > 64 * 1024) throw identityInvalid('longer than 64 KiB');
  const out: X25519Identity[] = [];
  try {
    text.split('\n').forEach((raw, i) => {
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '' || line.startsWith('#')) return;
      try {
        out.push(X25519Identity.parse(line.trim()));
      } catch {
        throw identityInvalid(`line ${i + 1} is neither a comment nor an X25519 identity (AGE-SECRET-KEY-1…)`);
      }
    });
  } catch (err) {
    for (const id of out) id.dispose();
    throw err;
  }
  if (out.length === 0) throw identityInvalid('it holds no AGE-SECRET-KEY-1… line');
  return out;
}
