/**
 * A strict JSON parser for attacker-controlled documents (RFC 8259 grammar, FORMATS.md §1):
 * duplicate member names at any depth, lone surrogates (escaped or raw), nesting deeper than
 * MAX_DEPTH and inputs over a size limit are refused. JSON.parse keeps the last duplicate
 * silently, which lets two parsers of one document disagree: we never accept such input.
 * A "__proto__" member is defined as an ordinary own data property (never a prototype), so
 * closed models see it as the unknown member it is. Paths are built only when reporting.
 *
 * Numbers: every number in our documents is a whole-number counter, and a signed document has
 * one spelling of each value (FORMATS.md §1): a fraction or an exponent (`2.0`, `2e0`, `20e-1`)
 * and `-0` are refused, so `2` is the only way to write two. The text's UTF-8 is checked by the
 * byte reader (readJson, src/dsse/envelope.ts) before it gets here.
 */
/** At most this many objects and arrays nested in one another. */
export const MAX_DEPTH = 64;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export type JsonProblemKind = 'syntax' | 'duplicate' | 'surrogate' | 'depth' | 'size';

export class JsonError extends Error {
  override readonly name = 'JsonError';
  constructor(readonly kind: JsonProblemKind, message: string, readonly path: string, readonly offset: number) {
    super(message);
  }
}

/** A run of characters that need no attention inside a string: not ", \\, control or surrogate. */
const PLAIN = /[^"\\\u0000-\u001f\ud800-\udfff]+/y;
const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;
const ESCAPES: Readonly<Record<number, string>> = { 0x22: '"', 0x5c: '\\', 0x2f: '/', 0x62: '\b', 0x66: '\f', 0x6e: '\n', 0x72: '\r', 0x74: '\t' };

class Parser {
  private i = 0;
  private readonly n: number;
  /** Member names and indices from the root to the value being parsed. */
  private readonly segs: (string | number)[] = [];

  constructor(private readonly text: string) {
    this.n = text.length;
  }

  fail(kind: JsonProblemKind, msg: string): never {
    const path = this.segs.reduce<string>((p, s) => (typeof s === 'number' ? `${p}[${s}]` : `${p}.${s}`), '$');
    throw new JsonError(kind, msg, path, this.i);
  }

  skip(): void {
    const t = this.text;
    let i = this.i;
    for (;;) {
      const c = t.charCodeAt(i);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) i++;
      else break;
    }
    this.i = i;
  }

  hex4(at: number): number {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = this.text.charCodeAt(at + k);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else { this.i = at + k; return this.fail('syntax', 'bad \\u escape'); }
      v = v * 16 + d;
    }
    return v;
  }

  /** At the opening quote. */
  string(): string {
    const t = this.text;
    let i = this.i + 1;
    let out = '';
    let start = i;
    for (;;) {
      // Short runs (member names, ids) are cheapest scanned by hand; long ones (base64) by regex.
      let c = t.charCodeAt(i);
      let k = 0;
      while (c >= 0x20 && c !== 0x22 && c !== 0x5c && (c < 0xd800 || c > 0xdfff) && k < 64) { i++; k++; c = t.charCodeAt(i); }
      if (k === 64) {
        PLAIN.lastIndex = i;
        if (PLAIN.test(t)) i = PLAIN.lastIndex;
        c = t.charCodeAt(i);
      }
      if (i >= this.n) { this.i = i; this.fail('syntax', 'unterminated string'); }
      if (c === 0x22) {
        this.i = i + 1;
        return out + t.slice(start, i);
      }
      if (c < 0x20) { this.i = i; this.fail('syntax', 'control character in a string'); }
      if (c >= 0xd800 && c <= 0xdfff) {
        const d = t.charCodeAt(i + 1);
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) { i += 2; continue; }
        this.i = i;
        this.fail('surrogate', 'lone surrogate in a string');
      }
      // a backslash
      out += t.slice(start, i);
      const e = t.charCodeAt(i + 1);
      i += 2;
      const simple = ESCAPES[e];
      if (simple !== undefined) {
        out += simple;
      } else if (e === 0x75) {
        const u = this.hex4(i);
        i += 4;
        if (u >= 0xd800 && u <= 0xdbff) {
          const lo = t.charCodeAt(i) === 0x5c && t.charCodeAt(i + 1) === 0x75 ? this.hex4(i + 2) : -1;
          if (lo < 0xdc00 || lo > 0xdfff) { this.i = i; this.fail('surrogate', 'lone surrogate escape in a string'); }
          i += 6;
          out += String.fromCharCode(u, lo);
        } else if (u >= 0xdc00 && u <= 0xdfff) {
          this.i = i;
          this.fail('surrogate', 'lone surrogate escape in a string');
        } else {
          out += String.fromCharCode(u);
        }
      } else {
        this.i = i;
        this.fail('syntax', 'bad escape in a string');
      }
      start = i;
    }
  }

  value(depth: number): JsonValue {
    this.skip();
    const t = this.text;
    if (this.i >= this.n) this.fail('syntax', 'unexpected end of input (truncated?)');
    const c = t.charCodeAt(this.i);
    if ((c === 0x7b || c === 0x5b) && depth >= MAX_DEPTH) this.fail('depth', `more than ${MAX_DEPTH} nested objects and arrays`);
    if (c === 0x7b) return this.object(depth);
    if (c === 0x5b) return this.array(depth);
    if (c === 0x22) return this.string();
    if (t.startsWith('true', this.i)) { this.i += 4; return true; }
    if (t.startsWith('false', this.i)) { this.i += 5; return false; }
    if (t.startsWith('null', this.i)) { this.i += 4; return null; }
    NUMBER.lastIndex = this.i;
    const m = NUMBER.exec(t);
    if (m === null) return this.fail('syntax', `unexpected character ${JSON.stringify(t[this.i])}`);
    if (m[0].length > 1 && /[.eE]|^-0$/.test(m[0])) this.fail('syntax', `the number ${m[0].slice(0, 40)} is not written as a plain whole number (FORMATS.md §1: no fraction, exponent or -0)`);
    this.i += m[0].length;
    const v = Number(m[0]);
    if (!Number.isFinite(v)) this.fail('syntax', 'number out of range');
    return v;
  }

  object(depth: number): JsonValue {
    const t = this.text;
    this.i++;
    const obj: { [k: string]: JsonValue } = {};
    this.skip();
    if (t.charCodeAt(this.i) === 0x7d) { this.i++; return obj; }
    for (;;) {
      this.skip();
      if (t.charCodeAt(this.i) !== 0x22) this.fail('syntax', this.i >= this.n ? 'unexpected end of input (truncated?)' : 'expected a member name');
      const key = this.string();
      this.segs.push(key);
      if (Object.hasOwn(obj, key)) this.fail('duplicate', `duplicate member "${key}"`);
      this.skip();
      if (t.charCodeAt(this.i) !== 0x3a) this.fail('syntax', this.i >= this.n ? 'unexpected end of input (truncated?)' : 'expected ":"');
      this.i++;
      const v = this.value(depth + 1);
      if (key === '__proto__') Object.defineProperty(obj, key, { value: v, enumerable: true, writable: true, configurable: true });
      else obj[key] = v;
      this.segs.pop();
      this.skip();
      const d = t.charCodeAt(this.i);
      if (d === 0x2c) { this.i++; continue; }
      if (d === 0x7d) { this.i++; return obj; }
      this.fail('syntax', this.i >= this.n ? 'unexpected end of input (truncated?)' : 'expected "," or "}"');
    }
  }

  array(depth: number): JsonValue {
    const t = this.text;
    this.i++;
    const arr: JsonValue[] = [];
    this.skip();
    if (t.charCodeAt(this.i) === 0x5d) { this.i++; return arr; }
    for (;;) {
      this.segs.push(arr.length);
      arr.push(this.value(depth + 1));
      this.segs.pop();
      this.skip();
      const d = t.charCodeAt(this.i);
      if (d === 0x2c) { this.i++; continue; }
      if (d === 0x5d) { this.i++; return arr; }
      this.fail('syntax', this.i >= this.n ? 'unexpected end of input (truncated?)' : 'expected "," or "]"');
    }
  }

  document(): JsonValue {
    const v = this.value(0);
    this.skip();
    if (this.i < this.n) this.fail('syntax', 'trailing characters after the document');
    return v;
  }
}

function colons(s: string): number {
  let n = 0;
  for (let i = s.indexOf(':'); i >= 0; i = s.indexOf(':', i + 1)) n++;
  return n;
}

/**
 * Whether a number of the text may have a fraction or an exponent. Outside strings a number
 * follows ":", "," or "[" (whitespace between), or starts the text; so a digit run there that
 * ends in ".", "e" or "E" is looked for after each of those three characters, with indexOf (they
 * are few, and base64 holds none). Inside a string such a run is a false alarm ("sha256:1e…"):
 * the careful parser then decides. A top-level number always goes to the careful parser.
 */
function mayHaveFraction(text: string): boolean {
  if (/^[ \t\n\r]*-?[0-9]/.test(text)) return true;
  for (const mark of [':', ',', '[']) {
    for (let i = text.indexOf(mark); i >= 0; i = text.indexOf(mark, i + 1)) {
      let j = i + 1;
      let c = text.charCodeAt(j);
      while (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) c = text.charCodeAt(++j);
      if (c === 0x2d) c = text.charCodeAt(++j);
      const digits = j;
      while (c >= 0x30 && c <= 0x39) c = text.charCodeAt(++j);
      if (j > digits && (c === 0x2e || c === 0x65 || c === 0x45)) return true;
    }
  }
  return false;
}

interface Tally { members: number; colonsInStrings: number; checkSurrogates: boolean }

/** Counts members and colons inside strings, and checks what JSON.parse tolerates (and -0); false means "use the careful parser". */
function acceptable(v: unknown, depth: number, t: Tally): boolean {
  if (typeof v === 'string') {
    if (v.indexOf(':') >= 0) t.colonsInStrings += colons(v);
    return !t.checkSurrogates || v.isWellFormed();
  }
  if (typeof v === 'number') return Number.isFinite(v) && !Object.is(v, -0);
  if (v === null || typeof v !== 'object') return true;
  if (depth >= MAX_DEPTH) return false;
  if (Array.isArray(v)) {
    for (const x of v) if (!acceptable(x, depth + 1, t)) return false;
    return true;
  }
  for (const k in v) {
    t.members++;
    if (k.indexOf(':') >= 0) t.colonsInStrings += colons(k);
    if ((t.checkSurrogates && !k.isWellFormed()) || !acceptable((v as Record<string, unknown>)[k], depth + 1, t)) return false;
  }
  return true;
}

/**
 * Fast path: the native JSON.parse builds the value (RFC 8259 is exactly its grammar), then the
 * three things it tolerates are checked. Lone surrogates, depth and non-finite numbers on the
 * value itself; a well-formed text without any \u escape cannot decode to a lone surrogate, so
 * then the strings need no check of their own. Duplicate members by counting: outside strings,
 * each member of the text brings exactly one ":", so the text's members are its colons minus
 * the colons inside its strings, which the decoded strings carry one for one unless a colon was
 * escaped (\u003a: then the careful parser decides). Fewer keys kept than members written means
 * a duplicate was dropped. A number with a fraction or an exponent is looked for in the text
 * (mayHaveFraction); `-0` is seen on the value. Any doubt, and every syntax error, goes to the
 * careful parser, which decides and reports the path.
 */
export function parseStrictJson(text: string, maxLength = Number.MAX_SAFE_INTEGER): JsonValue {
  if (text.length > maxLength) throw new JsonError('size', `the document is longer than ${maxLength} characters`, '$', 0);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return new Parser(text).document();
  }
  const escapes = text.indexOf('\\u') >= 0;
  const t: Tally = { members: 0, colonsInStrings: 0, checkSurrogates: escapes || !text.isWellFormed() };
  if (acceptable(value, 0, t) && !(escapes && /\\u003a/i.test(text)) && colons(text) - t.colonsInStrings === t.members && !mayHaveFraction(text)) return value as JsonValue;
  return new Parser(text).document();
}

/** The careful parser alone (tests compare the two paths). */
export function parseStrictJsonCarefully(text: string): JsonValue {
  return new Parser(text).document();
}
