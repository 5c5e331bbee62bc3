/**
 * DSSE v1 envelopes (FORMATS.md §2; secure-systems-lab/dsse protocol.md). Parsing is strict:
 * closed members, duplicates refused at any depth, standard base64 with padding and canonical
 * trailing bits, key ids in lowercase hex, 64-byte signatures, payloads of at most 1 MiB.
 */
import { isUtf8 } from 'node:buffer';
import { parseStrictJson, JsonError } from '../json/strict.js';
import type { JsonValue } from '../json/strict.js';
import { Fields, HEX64 } from '../docs/fields.js';
import { DocumentError, problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';

export const MAX_PAYLOAD_BYTES = 1024 * 1024;
/** A 1 MiB payload in base64 plus room for signatures. */
export const MAX_ENVELOPE_BYTES = 2 * 1024 * 1024;
export const MAX_SIGNATURES = 256;
export const SIGNATURE_BYTES = 64;

export interface Signature {
  readonly keyid: string;
  readonly sig: Uint8Array;
}

export interface Envelope {
  readonly payloadType: string;
  readonly payload: Uint8Array;
  readonly signatures: readonly Signature[];
}


/** PAE(type, body) = "DSSEv1" SP LEN(type) SP type SP LEN(body) SP body (DSSE v1 §Signature definition). */
export function pae(payloadType: string, payload: Uint8Array): Uint8Array {
  const { out, headLength } = paeFrame(payloadType, payload.length);
  out.set(payload, headLength);
  return out;
}

/** A buffer for PAE(type, body of bodyLength bytes) with its header written; the body goes at headLength. */
function paeFrame(payloadType: string, bodyLength: number): { out: Uint8Array; headLength: number } {
  const typeLength = Buffer.byteLength(payloadType, 'utf8');
  const head = `DSSEv1 ${typeLength} ${payloadType} ${bodyLength} `;
  const headLength = head.length - payloadType.length + typeLength;
  const buf = Buffer.allocUnsafe(headLength + bodyLength);
  buf.write(head, 0, 'utf8');
  return { out: new Uint8Array(buf.buffer, buf.byteOffset, buf.length), headLength };
}

/**
 * PAE of a parsed envelope: parseEnvelope decodes the payload straight behind its PAE header,
 * so verifying needs no second copy of the payload. Envelopes built in code get theirs computed.
 */
const signedBytes = new WeakMap<Envelope, Uint8Array>();

export function signedBytesOf(env: Envelope): Uint8Array {
  return signedBytes.get(env) ?? pae(env.payloadType, env.payload);
}

const B64_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';

/**
 * RFC 4648 §4 with padding, and only the canonical spelling of the bytes: the standard alphabet
 * (no URL-safe characters, no whitespace), a length that is a multiple of 4, "=" only as final
 * padding, and zero unused bits in the last character (RFC 4648 §3.5), which Node's lenient
 * decoder would otherwise accept as a second spelling of the same bytes. Node's decoder skips
 * characters outside both alphabets, and a skipped character always shortens the output, so
 * the length check at the end catches them; the URL-safe "-" and "_" it decodes are refused first.
 */
export function decodeBase64Strict(s: string): Uint8Array | null {
  const n = base64Length(s);
  if (n === null) return null;
  const out = Buffer.allocUnsafe(n);
  return decodeBase64Into(s, out, 0, n) ? new Uint8Array(out.buffer, out.byteOffset, n) : null;
}

/** The decoded length of a canonical base64 string, or null when its form is already wrong. */
function base64Length(s: string): number | null {
  if (s.length % 4 !== 0 || s.indexOf('-') >= 0 || s.indexOf('_') >= 0) return null;
  const eq = s.indexOf('=');
  const pad = eq < 0 ? 0 : s.length - eq;
  if (pad > 2 || (pad === 2 && s[s.length - 1] !== '=')) return null;
  if (pad > 0) {
    const last = B64_ALPHABET.indexOf(s[eq - 1] as string);
    if ((last & (pad === 2 ? 0x0f : 0x03)) !== 0) return null;
  }
  return (s.length / 4) * 3 - pad;
}

/**
 * Decodes s (checked by base64Length to decode to n bytes) into out at offset. A skipped
 * character makes the decoder write fewer than n bytes, so the count catches it.
 */
function decodeBase64Into(s: string, out: Buffer, offset: number, n: number): boolean {
  return out.write(s, offset, n, 'base64') === n;
}

export function encodeBase64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}


/**
 * Whether the strict reader stopped at a number in a value's place (after ":", "," or "[", or
 * first) written with a fraction, an exponent, or as -0: a whole number has one spelling in a
 * signed document (FORMATS.md §1), and such a number is DOCUMENT_BAD_NUMBER rather than text that
 * is not JSON at all. The reader reports the offset where the number starts.
 */
const NUMBER_AT = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
function badNumberAt(text: string, offset: number): boolean {
  NUMBER_AT.lastIndex = offset;
  const m = NUMBER_AT.exec(text);
  if (m === null || (!/[.eE]/.test(m[0]) && m[0] !== '-0')) return false;
  let i = offset - 1;
  while (i >= 0 && ' \t\n\r'.includes(text[i] as string)) i--;
  return i < 0 || text[i] === ':' || text[i] === ',' || text[i] === '[';
}

/** Bytes of a file → strict JSON, with the problem codes of FORMATS.md §1. */
export function readJson(bytes: Uint8Array, maxBytes: number, what: string): JsonValue {
  if (!(bytes instanceof Uint8Array)) throw new DocumentError([problem('DOCUMENT_WRONG_TYPE', '$', 'expected bytes')], what);
  // no byte count: a bounded reader stops one byte past the limit, whatever the file's size
  if (bytes.length > maxBytes) throw new DocumentError([problem('DOCUMENT_TOO_LARGE', '$', `over the limit of ${maxBytes} bytes`)], what);
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  // isUtf8 rejects overlongs, surrogates encoded in UTF-8 and truncated sequences (WHATWG strict)
  if (!isUtf8(buf)) throw new DocumentError([problem('DOCUMENT_NOT_UTF8', '$', 'not valid UTF-8')], what);
  const text = buf.toString('utf8');
  if (text.charCodeAt(0) === 0xfeff) throw new DocumentError([problem('DOCUMENT_NOT_JSON', '$', 'starts with a byte-order mark')], what);
  try {
    return parseStrictJson(text);
  } catch (err) {
    if (!(err instanceof JsonError)) throw err;
    const code = err.kind === 'syntax' && badNumberAt(text, err.offset) ? 'DOCUMENT_BAD_NUMBER'
      : { syntax: 'DOCUMENT_NOT_JSON', duplicate: 'DOCUMENT_DUPLICATE_MEMBER', surrogate: 'DOCUMENT_BAD_STRING', depth: 'DOCUMENT_TOO_DEEP', size: 'DOCUMENT_TOO_LARGE' }[err.kind];
    throw new DocumentError([problem(code, err.path, `${err.message} (at character ${err.offset})`)], what);
  }
}

export function parseEnvelope(bytes: Uint8Array): Envelope {
  const json = readJson(bytes, MAX_ENVELOPE_BYTES, 'the envelope');
  const f = new Fields();
  const o = f.object(json, '$', ['payloadType', 'payload', 'signatures']);
  let payloadType: string | undefined;
  let payload: Uint8Array | undefined;
  let signed: Uint8Array | undefined;
  const signatures: Signature[] = [];
  if (o !== undefined) {
    payloadType = f.string(o.payloadType, 'payloadType', { max: 256 });
    const p64 = f.string(o.payload, 'payload');
    if (p64 !== undefined) {
      if (p64.length > Math.ceil(MAX_PAYLOAD_BYTES / 3) * 4) f.add('DOCUMENT_TOO_LARGE', 'payload', `the payload is over ${MAX_PAYLOAD_BYTES} bytes`);
      else {
        const n = base64Length(p64);
        if (n !== null && payloadType !== undefined) {
          const { out, headLength } = paeFrame(payloadType, n);
          const buf = Buffer.from(out.buffer, out.byteOffset, out.length);
          if (decodeBase64Into(p64, buf, headLength, n)) { signed = out; payload = out.subarray(headLength); }
        } else if (n !== null) {
          payload = decodeBase64Strict(p64) ?? undefined;
        }
        if (payload === undefined) f.add('DOCUMENT_BAD_BASE64', 'payload', 'not standard base64 with padding (RFC 4648 §4)');
      }
    }
    const sigs = f.array(o.signatures, 'signatures', { max: MAX_SIGNATURES });
    sigs?.forEach((s, i) => {
      const path = `signatures[${i}]`;
      const so = f.object(s, path, ['keyid', 'sig']);
      if (so === undefined) return;
      const keyid = f.string(so.keyid, `${path}.keyid`, { pattern: HEX64, what: 'a lowercase hex SHA-256 key id' });
      const s64 = f.string(so.sig, `${path}.sig`, { max: 200 });
      let sig: Uint8Array | undefined;
      if (s64 !== undefined) {
        sig = decodeBase64Strict(s64) ?? f.add('DOCUMENT_BAD_BASE64', `${path}.sig`, 'not standard base64 with padding (RFC 4648 §4)');
        if (sig !== undefined && sig.length !== SIGNATURE_BYTES) {
          f.add('DOCUMENT_BAD_SIGNATURE_LENGTH', `${path}.sig`, `an Ed25519 signature is ${SIGNATURE_BYTES} bytes, this one ${sig.length}`);
          sig = undefined;
        }
      }
      if (keyid !== undefined && sig !== undefined) signatures.push({ keyid, sig });
    });
  }
  if (f.problems.length > 0 || payloadType === undefined || payload === undefined) throw new DocumentError(f.problems, 'the envelope');
  const env: Envelope = Object.freeze({ payloadType, payload, signatures: Object.freeze(signatures) });
  if (signed !== undefined) signedBytes.set(env, signed);
  return env;
}

export function serializeEnvelope(env: Envelope): string {
  return `${JSON.stringify({
    payloadType: env.payloadType,
    payload: encodeBase64(env.payload),
    signatures: env.signatures.map((s) => ({ keyid: s.keyid, sig: encodeBase64(s.sig) })),
  }, null, 2)}\n`;
}

/** The same payload type and payload bytes (the only thing merge may combine). */
export function samePayload(a: Envelope, b: Envelope): boolean {
  return a.payloadType === b.payloadType && Buffer.compare(Buffer.from(a.payload), Buffer.from(b.payload)) === 0;
}

export type { Problem };
