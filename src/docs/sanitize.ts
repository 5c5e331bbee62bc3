/**
 * The one sanitiser for text that carries document content to a person (issue 14): member names,
 * custodian names, quoted values, file names. A terminal obeys control characters wherever they
 * come from, so a member named `x\e[2J\e[H\rvalid …` would clear the screen and print a forged
 * "valid" line; bidi overrides reorder what is shown (Trojan Source, CVE-2021-42574). Every such
 * character is shown as a `\uXXXX` escape instead, so the line says exactly what the document holds:
 *
 * - C0 controls U+0000–U+001F, newline and tab included (the tool adds its own line ends after
 *   the value; a newline inside a value would start a line the document wrote), and DEL U+007F;
 * - C1 controls U+0080–U+009F (U+009B is a one-byte CSI on many terminals, U+0085 a newline);
 * - bidi controls: U+061C, U+200E, U+200F, U+202A–U+202E, U+2066–U+2069;
 * - U+2028 and U+2029, line and paragraph separators (newlines inside a value);
 * - lone surrogates, which are not text at all.
 *
 * A backslash is left as it is: the escapes are for the eye, not a reversible encoding.
 */

/** With the u flag, the surrogate range matches only unpaired surrogates. */
const UNSAFE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/u;
const UNSAFE_ALL = new RegExp(UNSAFE.source, 'gu');
/** The same set less C0 and lone surrogates, which JSON.stringify already escapes. */
const UNSAFE_IN_JSON = /[\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

function escape(c: string): string {
  return `\\u${(c.codePointAt(0) as number).toString(16).padStart(4, '0')}`;
}

/** The text with every character above escaped as `\uXXXX`; the text itself when it has none (the common case). */
export function sanitizeText(s: string): string {
  return UNSAFE.test(s) ? s.replace(UNSAFE_ALL, escape) : s;
}

/** The first character of `s` that sanitizeText would escape, as `U+XXXX`, or null. */
export function unsafeCharacter(s: string): string | null {
  const m = UNSAFE.exec(s);
  return m === null ? null : `U+${(m[0].codePointAt(0) as number).toString(16).toUpperCase().padStart(4, '0')}`;
}

/**
 * JSON text in which no character above appears raw: JSON.stringify escapes C0 controls and
 * lone surrogates but writes DEL, C1 controls, bidi controls and U+2028/U+2029 as they are.
 * Outside strings JSON text is plain ASCII, so each of them lies inside a string, where `\uXXXX`
 * is the same character to a JSON reader. For every `--json` printer (CLI.md: one object on stdout).
 */
export function safeJson(value: unknown, indent?: number): string {
  const text = JSON.stringify(value, null, indent);
  return text.replace(UNSAFE_IN_JSON, escape);
}
