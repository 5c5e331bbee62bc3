/**
 * The age v1 header (age-encryption.org/v1, "Header"), read strictly and written canonically:
 *
 *     age-encryption.org/v1
 *     -> X25519 <base64 ephemeral share>
 *     <base64 body, 64 columns per line; the last line shorter, possibly empty>
 *     --- <base64 HMAC-SHA256>
 *     <binary payload>
 *
 * Every line ends with LF alone. A stanza line is `->` then one or more space-separated arguments,
 * each one or more printable ASCII characters (0x21–0x7E); the first is the stanza's type. The
 * body is canonical unpadded base64; full lines have exactly 64 columns and the body ends at the
 * first shorter line. The MAC covers the header from its first byte up to and including `---`.
 *
 * Hostile input: the header is bounded in size and in stanzas, and every deviation is refused
 * (AGE_HEADER_INVALID) rather than read leniently, so that no two byte strings mean one header.
 */
import { decodeBase64Canonical, encodeBase64 } from './base64.js';
import { headerInvalid } from './errors.js';

export const VERSION_LINE = 'age-encryption.org/v1';
/** A header larger than this is refused before anything is decoded (a few recipients need under 1 KiB). */
export const MAX_HEADER_BYTES = 64 * 1024;
/** Recipient stanzas in one header, at most. */
export const MAX_STANZAS = 256;
const COLUMNS = 64;
const LF = 0x0a;

export interface Stanza {
  readonly type: string;
  /** The arguments after the type. */
  readonly args: readonly string[];
  readonly body: Uint8Array;
}

export interface Header {
  readonly stanzas: readonly Stanza[];
  /** The header's bytes that the MAC covers: up to and including `---`. */
  readonly macInput: Uint8Array;
  readonly mac: Uint8Array;
  /** Where the payload starts: the byte after the MAC line's LF. */
  readonly length: number;
}

/** Reads lines of printable ASCII ended by LF, within the header's bound. */
class Lines {
  pos = 0;
  constructor(private readonly bytes: Uint8Array) {}

  /** The next line without its LF; the header ends before the file does, so a missing LF is a truncation. */
  next(): string {
    const limit = Math.min(this.bytes.length, MAX_HEADER_BYTES);
    const start = this.pos;
    let i = start;
    while (i < limit && this.bytes[i] !== LF) {
      const c = this.bytes[i] as number;
      if (c < 0x20 || c > 0x7e) throw headerInvalid(`byte 0x${c.toString(16).padStart(2, '0')} at offset ${i} is not printable ASCII`);
      i++;
    }
    if (i >= limit) {
      throw headerInvalid(limit === MAX_HEADER_BYTES && this.bytes.length > MAX_HEADER_BYTES ? `no end of header within ${MAX_HEADER_BYTES} bytes` : 'the file ends inside the header (truncated)');
    }
    this.pos = i + 1;
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + start, i - start).toString('latin1');
  }
}

const ARGUMENT = /^[\x21-\x7e]+$/;

function readBody(lines: Lines): Uint8Array {
  const parts: Uint8Array[] = [];
  for (;;) {
    const line = lines.next();
    if (line.length > COLUMNS) throw headerInvalid(`a stanza body line has ${line.length} columns (at most ${COLUMNS})`);
    const bytes = decodeBase64Canonical(line);
    if (bytes === null) throw headerInvalid('a stanza body is not canonical unpadded base64');
    parts.push(bytes);
    if (line.length < COLUMNS) break;
  }
  return parts.length === 1 ? (parts[0] as Uint8Array) : new Uint8Array(Buffer.concat(parts));
}

function readStanza(line: string, lines: Lines): Stanza {
  const words = line.slice(3).split(' ');
  if (words.some((w) => !ARGUMENT.test(w))) throw headerInvalid('a stanza argument is empty or not printable ASCII');
  const [type, ...args] = words as [string, ...string[]];
  return { type, args, body: readBody(lines) };
}

/** The header at the start of `file`, parsed strictly; its MAC is not checked here (it needs the file key). */
export function parseHeader(file: Uint8Array): Header {
  const lines = new Lines(file);
  const version = lines.next();
  if (version !== VERSION_LINE) {
    if (version.startsWith('-----BEGIN AGE ENCRYPTED FILE')) throw headerInvalid('the file is ASCII-armored; give the binary file (age without -a)');
    throw headerInvalid(version.startsWith('age-encryption.org/') ? 'the file is of an age version other than v1' : 'the file does not start with the age v1 version line');
  }
  const stanzas: Stanza[] = [];
  for (;;) {
    const start = lines.pos;
    const line = lines.next();
    if (line.startsWith('-> ')) {
      if (stanzas.length === MAX_STANZAS) throw headerInvalid(`more than ${MAX_STANZAS} recipient stanzas`);
      stanzas.push(readStanza(line, lines));
      continue;
    }
    if (line.startsWith('--- ')) {
      const mac = line.length === 47 ? decodeBase64Canonical(line.slice(4)) : null;
      if (mac === null || mac.length !== 32) throw headerInvalid('the MAC line does not hold 32 bytes of canonical base64');
      if (stanzas.length === 0) throw headerInvalid('the header has no recipient stanza');
      return { stanzas, macInput: file.subarray(0, start + 3), mac, length: lines.pos };
    }
    throw headerInvalid('a line is neither a stanza (-> …) nor the MAC line (--- …)');
  }
}

/** A stanza as age writes it: the line, then the body in lines of 64 columns and a last shorter line (empty when the body fills its lines). */
export function formatStanza(s: Stanza): string {
  for (const w of [s.type, ...s.args]) if (!ARGUMENT.test(w)) throw new RangeError('a stanza argument must be one or more printable ASCII characters');
  const b64 = encodeBase64(s.body);
  const lines: string[] = [];
  for (let i = 0; i <= b64.length; i += COLUMNS) lines.push(b64.slice(i, i + COLUMNS));
  return `-> ${[s.type, ...s.args].join(' ')}\n${lines.join('\n')}\n`;
}

/** The header's bytes up to and including `---`: what the MAC covers. */
export function headerMacInput(stanzas: readonly Stanza[]): Uint8Array {
  return new Uint8Array(Buffer.from(`${VERSION_LINE}\n${stanzas.map(formatStanza).join('')}---`, 'latin1'));
}

/** The whole header: the MAC input, a space, the MAC and LF. */
export function formatHeader(macInput: Uint8Array, mac: Uint8Array): Uint8Array {
  return new Uint8Array(Buffer.concat([macInput, Buffer.from(` ${encodeBase64(mac)}\n`, 'latin1')]));
}
