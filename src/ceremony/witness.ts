/**
 * What a witness must type to confirm a value, and which of the typed words are wrong: one rule for
 * the command line and the app. A fingerprint, a check value or a digest is confirmed only by its
 * words, each in its own slot (a word or its byte in hex), never by yes; the clock, a resume and a
 * checkpoint are yes/no (no slots).
 */
import { fromHex, toHex } from '../bytes.js';
import { fromWords, toWords } from '../crypto/fingerprint.js';
import type { Question } from './context.js';

/** One slot: the word, and its byte in hex (either is accepted). */
export type Expected = readonly { readonly word: string; readonly hex: string }[];

const slotsOf = (bytes: Uint8Array): Expected => toWords(bytes).map((word, i) => ({ word, hex: toHex(bytes.subarray(i, i + 1)) }));

/** A digest (sha256:HEX) as words: its first 12 bytes, read as fingerprints are (src/crypto/fingerprint.ts). */
export function digestWords(digest: string): string[] {
  const hex = /^sha256:([0-9a-f]{64})$/.exec(digest)?.[1];
  return hex === undefined ? [] : toWords(fromHex('digest', hex).subarray(0, 12));
}

/** The slots a question needs typed; empty for a yes/no question. */
export function expectedWords(q: Question): Expected {
  switch (q.kind) {
    case 'fingerprint': {
      const words = q.words ?? [];
      const bytes = fromWords(words);
      return bytes === null ? words.map((w) => ({ word: w.toLowerCase(), hex: '' })) : slotsOf(bytes);
    }
    case 'check-value': return q.value === undefined ? [] : slotsOf(fromHex('check value', q.value));
    case 'digest': return q.value === undefined ? [] : slotsOf(fromHex('digest', q.value).subarray(0, 12));
    default: return [];
  }
}

/** The slots (1-based) where what was typed is neither the word nor its byte in hex; slots typed beyond the last are wrong too. */
export function wrongSlots(expected: Expected, typed: readonly string[]): number[] {
  const wrong: number[] = [];
  for (let i = 0; i < Math.max(expected.length, typed.length); i++) {
    const t = (typed[i] ?? '').trim().toLowerCase();
    const e = expected[i];
    if (e === undefined || t === '' || (t !== e.word && t !== e.hex)) wrong.push(i + 1);
  }
  return wrong;
}

/**
 * The question's text with its value (the check value's or digest's hex, which a slot accepts in
 * place of a word) taken out, with the method or `sha256:` before it, so no screen the witness sees
 * shows the answer: the terminal's prompt and the app's question card alike.
 */
export function withoutValue(q: Question): string {
  return q.value === undefined || !/^[0-9a-f]+$/i.test(q.value) ? q.what : q.what.replace(new RegExp(`:? ?(?:[a-z0-9]+:)?(?:sha256:)?${q.value}`, 'gi'), '');
}
