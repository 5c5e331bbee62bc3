/**
 * The passphrase of a paper share (issue 14, item 11) is never chosen by a person: people choose
 * `passwordpassword`, and one offline guess costs an attacker with the printed page one scrypt
 * (N 2^17, about 0.65 s here). keyceremony draws PASSPHRASE_WORDS words of the BIP-39 English list
 * (2048 words, 11 bits each: PASSPHRASE_BITS = 88 bits, the minimum strength) from the CSPRNG,
 * shows them once for the custodian to write down, and has them typed back before any share is
 * sealed under them. The list comes from `@scure/bip39` (its SHA-256 is pinned in the tests to
 * the BIP-39 reference file); only the list is used: eight words are not a BIP-39 mnemonic
 * (no checksum word), and the KDF is the paper share's own scrypt, not BIP-39's PBKDF2.
 *
 * Typed words are normalised before they are compared or fed to the KDF: Unicode NFC, lower case,
 * runs of white space as one space, none leading or trailing. The KDF input is the eight list
 * words joined by single spaces (ASCII). The words are held as indices in a Uint16Array that
 * dispose() zeroes; typed ASCII is matched against the list byte by byte, with no string made of
 * it (text with other characters is decoded to a string to normalise it: README, "What
 * JavaScript cannot promise").
 */
import { getRandomValues } from 'node:crypto';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import { equalBytes } from '../bytes.js';
import { KeyceremonyError } from '../errors.js';

/** The minimum strength of a paper share's passphrase: 8 words of 2048, 8 × 11 = 88 bits. */
export const PASSPHRASE_WORDS = 8;
export const PASSPHRASE_BITS = 88;

/** BIP-39 English: 2048 words of 3 to 8 lowercase ASCII letters, sorted (checked in the tests). */
const WORDS: readonly string[] = wordlist;

const notWords = (message: string): KeyceremonyError =>
  new KeyceremonyError('SHARE_PASSPHRASE_NOT_WORDS', message, `type the ${PASSPHRASE_WORDS} words keyceremony showed when the share was made, in order, separated by spaces; a passphrase chosen by a person is refused`);

const isSpace = (b: number): boolean => b === 0x20 || (b >= 0x09 && b <= 0x0d);
const lower = (b: number): number => (b >= 0x41 && b <= 0x5a ? b | 0x20 : b);

/** bytes[start, end) against a list word, ASCII case-blind, as the list is sorted: <0, 0, >0. */
function compareWord(bytes: Uint8Array, start: number, end: number, word: string): number {
  const n = end - start;
  for (let i = 0; i < n && i < word.length; i++) {
    const d = lower(bytes[start + i] as number) - word.charCodeAt(i);
    if (d !== 0) return d;
  }
  return n - word.length;
}

/** The list index of bytes[start, end), or -1: a binary search that makes no string of the typed word. */
function indexOfWord(bytes: Uint8Array, start: number, end: number): number {
  let lo = 0;
  let hi = WORDS.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const c = compareWord(bytes, start, end, WORDS[mid] as string);
    if (c === 0) return mid;
    if (c < 0) hi = mid - 1;
    else lo = mid + 1;
  }
  return -1;
}

/**
 * Text with characters beyond ASCII, normalised (NFC, lower case, any Unicode white space as a
 * space) and brought back to bytes, each character beyond ASCII as 0x7f, which is in no word. NFC
 * can turn such text into list words (U+212A KELVIN SIGN is K); the result is zeroed by the caller.
 */
function foldUnicode(typed: Uint8Array): Buffer {
  const folded = new TextDecoder().decode(typed).normalize('NFC').toLowerCase().replace(/\s+/gu, ' ');
  const out = Buffer.alloc(folded.length);
  for (let i = 0; i < folded.length; i++) {
    const c = folded.charCodeAt(i);
    out[i] = c < 0x80 ? c : 0x7f;
  }
  return out;
}

/** The list indices of exactly PASSPHRASE_WORDS typed words, or SHARE_PASSPHRASE_NOT_WORDS. */
function parseWords(typed: Uint8Array): Uint16Array {
  const ascii = typed.every((b) => b < 0x80);
  const text = ascii ? typed : foldUnicode(typed);
  const found = new Uint16Array(PASSPHRASE_WORDS);
  let count = 0;
  let unknown = 0;
  try {
    for (let i = 0; i < text.length;) {
      if (isSpace(text[i] as number)) { i++; continue; }
      let end = i;
      while (end < text.length && !isSpace(text[end] as number)) end++;
      const index = indexOfWord(text, i, end);
      if (index < 0 && unknown === 0) unknown = count + 1;
      if (count < PASSPHRASE_WORDS) found[count] = Math.max(index, 0);
      count++;
      i = end;
    }
    if (count !== PASSPHRASE_WORDS) throw notWords(`${count} word${count === 1 ? '' : 's'} typed; a paper share's passphrase is ${PASSPHRASE_WORDS} words of the BIP-39 English list`);
    if (unknown > 0) throw notWords(`word ${unknown} of the ${PASSPHRASE_WORDS} typed is not in the BIP-39 English list`);
    return found;
  } catch (err) {
    found.fill(0);
    throw err;
  } finally {
    if (!ascii) text.fill(0);
  }
}

/** The list word `index` into `out` at `at`, byte by byte (no string is built of the passphrase); returns the end. */
function writeWord(out: Uint8Array, at: number, index: number): number {
  const word = WORDS[index] as string;
  for (let j = 0; j < word.length; j++) out[at + j] = word.charCodeAt(j);
  return at + word.length;
}

/** The eight words a custodian writes down: generated here, or typed back by the custodian. */
export class PaperPassphrase {
  readonly #words: Uint16Array;
  readonly #generated: boolean;
  #confirmed = false;
  #disposed = false;

  private constructor(words: Uint16Array, generated: boolean) {
    this.#words = words;
    this.#generated = generated;
  }

  /** PASSPHRASE_WORDS words from the CSPRNG: 16 random bits each, the top 5 dropped (2^11 divides 2^16: no bias). */
  static generate(): PaperPassphrase {
    const words = getRandomValues(new Uint16Array(PASSPHRASE_WORDS));
    for (let i = 0; i < words.length; i++) words[i] = (words[i] as number) & 0x7ff;
    return new PaperPassphrase(words, true);
  }

  /** The words a custodian typed (normalised); SHARE_PASSPHRASE_NOT_WORDS unless they are 8 words of the list. The caller zeroes `typed`. */
  static fromTyped(typed: Uint8Array): PaperPassphrase {
    return new PaperPassphrase(parseWords(typed), false);
  }

  /**
   * A sealing passphrase is one keyceremony generated and the custodian typed back: anything
   * else is refused (SHARE_PASSPHRASE_CHOSEN, SHARE_PASSPHRASE_NOT_CONFIRMED).
   */
  static requireSealable(p: unknown, custodian: string): asserts p is PaperPassphrase {
    if (!(p instanceof PaperPassphrase) || !p.#generated) {
      throw new KeyceremonyError('SHARE_PASSPHRASE_CHOSEN', `the passphrase for the paper share of ${custodian} was not generated by keyceremony`, `a paper share is sealed only under the ${PASSPHRASE_WORDS} words keyceremony draws and shows (${PASSPHRASE_BITS} bits)`);
    }
    if (!p.#confirmed) {
      throw new KeyceremonyError('SHARE_PASSPHRASE_NOT_CONFIRMED', `${custodian} has not typed back the words of their paper share's passphrase`, `${custodian} types the ${PASSPHRASE_WORDS} words back from what they wrote down before the share is sealed`);
    }
  }

  get generated(): boolean {
    return this.#generated;
  }

  get confirmed(): boolean {
    return this.#confirmed;
  }

  #live(): Uint16Array {
    // zeroed indices are a passphrase too (`abandon` × 8): never use one after dispose
    if (this.#disposed) throw new KeyceremonyError('SHARE_PASSPHRASE_DISPOSED', 'a paper share passphrase was used after it was zeroed', 'this is a bug: report it', { exit: 3 });
    return this.#words;
  }

  /** The custodian typed the words back: SHARE_PASSPHRASE_NOT_CONFIRMED names the words that differ. The caller zeroes `typed`. */
  confirm(typed: Uint8Array): void {
    const mine = this.#live();
    const theirs = parseWords(typed);
    try {
      const bytes = (w: Uint16Array): Uint8Array => new Uint8Array(w.buffer, w.byteOffset, w.byteLength);
      if (!equalBytes(bytes(mine), bytes(theirs))) {
        const differ = [...mine.keys()].filter((i) => mine[i] !== theirs[i]).map((i) => i + 1);
        throw new KeyceremonyError('SHARE_PASSPHRASE_NOT_CONFIRMED', `word${differ.length === 1 ? '' : 's'} ${differ.join(', ')} typed back differ${differ.length === 1 ? 's' : ''} from the words shown`, 'compare what was written down with what was typed, and type it again');
      }
      this.#confirmed = true;
    } finally {
      theirs.fill(0);
    }
  }

  /** The words numbered for the screen, four to a line, as bytes the caller zeroes once written. */
  display(): Buffer {
    const words = this.#live();
    // each cell "   1 abandon    " is 15 bytes (list words have at most 8 letters); a newline after every fourth
    const out = Buffer.alloc(words.length * 15 + Math.ceil(words.length / 4), 0x20);
    let at = 0;
    for (let i = 0; i < words.length; i++) {
      out.write(String(i + 1).padStart(4), at, 'latin1');
      writeWord(out, at + 5, words[i] as number);
      at += 15;
      if (i % 4 === 3 || i === words.length - 1) out[at++] = 0x0a;
    }
    return out;
  }

  /** Run `fn` on the KDF input, the words joined by single spaces, in a buffer zeroed afterwards. */
  withKdfInput<T>(fn: (bytes: Uint8Array) => T): T {
    const words = this.#live();
    let length = words.length - 1;
    for (const w of words) length += (WORDS[w] as string).length;
    const out = Buffer.alloc(length);
    let at = 0;
    for (let i = 0; i < words.length; i++) {
      if (i > 0) out[at++] = 0x20;
      at = writeWord(out, at, words[i] as number);
    }
    try {
      return fn(out);
    } finally {
      out.fill(0);
    }
  }

  dispose(): void {
    this.#words.fill(0);
    this.#disposed = true;
  }
}
