/**
 * A strict JSON parser for attacker-controlled documents (RFC 8259 grammar, FORMATS.md §1):
 * duplicate member names at any depth, lone surrogates (escaped or raw), nesting deeper than
 * MAX_DEPTH and inputs over a size limit are refused. JSON.parse keeps the last duplicate
 * silently, which lets two parsers of one document disagree: we never accept such input.
 * Objects come back with a null prototype, so "__proto__" is an ordinary (closed-out) member.
 */
export const MAX_DEPTH = 64;

export type JsonValue = null | boolean | number | string | JsonValue[] | { [k: string]: JsonValue };

export type JsonProblemKind = 'syntax' | 'duplicate' | 'surrogate' | 'depth' | 'size';

export class JsonError extends Error {
  override readonly name = 'JsonError';
  constructor(readonly kind: JsonProblemKind, message: string, readonly path: string, readonly offset: number) {
    super(message);
  }
}

const WS = new Uint8Array(128);
for (const c of [0x20, 0x09, 0x0a, 0x0d]) WS[c] = 1;

export function parseStrictJson(text: string, maxLength = Number.MAX_SAFE_INTEGER): JsonValue {
  if (text.length > maxLength) throw new JsonError('size', `the document is longer than ${maxLength} characters`, '$', 0);
  let i = 0;
  const n = text.length;

  const fail = (kind: JsonProblemKind, msg: string, path: string): never => {
    throw new JsonError(kind, msg, path, i);
  };
  const skip = (): void => {
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c < 128 && WS[c] === 1) i++;
      else break;
    }
  };

  const parseString = (path: string): string => {
    // at opening quote
    i++;
    let out = '';
    let start = i;
    for (;;) {
      if (i >= n) fail('syntax', 'unterminated string', path);
      const c = text.charCodeAt(i);
      if (c === 0x22) {
        out += text.slice(start, i);
        i++;
        return out;
      }
      if (c < 0x20) fail('syntax', 'control character in a string', path);
      if (c >= 0xd800 && c <= 0xdfff) {
        // raw surrogate: must be a well-formed pair
        const d = text.charCodeAt(i + 1);
        if (c <= 0xdbff && d >= 0xdc00 && d <= 0xdfff) { i += 2; continue; }
        fail('surrogate', 'lone surrogate in a string', path);
      }
      if (c !== 0x5c) { i++; continue; }
      out += text.slice(start, i);
      const e = text.charCodeAt(i + 1);
      i += 2;
      switch (e) {
        case 0x22: out += '"'; break;
        case 0x5c: out += '\\'; break;
        case 0x2f: out += '/'; break;
        case 0x62: out += '\b'; break;
        case 0x66: out += '\f'; break;
        case 0x6e: out += '\n'; break;
        case 0x72: out += '\r'; break;
        case 0x74: out += '\t'; break;
        case 0x75: {
          const u = hex4(i);
          i += 4;
          if (u >= 0xd800 && u <= 0xdbff) {
            if (text.charCodeAt(i) !== 0x5c || text.charCodeAt(i + 1) !== 0x75) fail('surrogate', 'lone surrogate escape in a string', path);
            const lo = hex4(i + 2);
            if (lo < 0xdc00 || lo > 0xdfff) fail('surrogate', 'lone surrogate escape in a string', path);
            i += 6;
            out += String.fromCharCode(u, lo);
          } else if (u >= 0xdc00 && u <= 0xdfff) {
            fail('surrogate', 'lone surrogate escape in a string', path);
          } else {
            out += String.fromCharCode(u);
          }
          break;
        }
        default: fail('syntax', 'bad escape in a string', path);
      }
      start = i;
    }
  };

  const hex4 = (at: number): number => {
    let v = 0;
    for (let k = 0; k < 4; k++) {
      const c = text.charCodeAt(at + k);
      let d: number;
      if (c >= 0x30 && c <= 0x39) d = c - 0x30;
      else if (c >= 0x61 && c <= 0x66) d = c - 0x57;
      else if (c >= 0x41 && c <= 0x46) d = c - 0x37;
      else { i = at + k; return fail('syntax', 'bad \\u escape', '$'); }
      v = v * 16 + d;
    }
    return v;
  };

  const NUMBER = /-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/y;

  const parseValue = (path: string, depth: number): JsonValue => {
    if (depth > MAX_DEPTH) fail('depth', `nesting deeper than ${MAX_DEPTH}`, path);
    skip();
    if (i >= n) fail('syntax', 'unexpected end of input (truncated?)', path);
    const c = text.charCodeAt(i);
    if (c === 0x7b) {
      i++;
      const obj = Object.create(null) as { [k: string]: JsonValue };
      const seen = new Set<string>();
      skip();
      if (text.charCodeAt(i) === 0x7d) { i++; return obj; }
      for (;;) {
        skip();
        if (text.charCodeAt(i) !== 0x22) fail('syntax', 'expected a member name', path);
        const key = parseString(path);
        const childPath = `${path}.${key}`;
        if (seen.has(key)) fail('duplicate', `duplicate member "${key}"`, childPath);
        seen.add(key);
        skip();
        if (text.charCodeAt(i) !== 0x3a) fail('syntax', 'expected ":"', childPath);
        i++;
        obj[key] = parseValue(childPath, depth + 1);
        skip();
        const d = text.charCodeAt(i);
        if (d === 0x2c) { i++; continue; }
        if (d === 0x7d) { i++; return obj; }
        fail('syntax', i >= n ? 'unexpected end of input (truncated?)' : 'expected "," or "}"', path);
      }
    }
    if (c === 0x5b) {
      i++;
      const arr: JsonValue[] = [];
      skip();
      if (text.charCodeAt(i) === 0x5d) { i++; return arr; }
      for (;;) {
        arr.push(parseValue(`${path}[${arr.length}]`, depth + 1));
        skip();
        const d = text.charCodeAt(i);
        if (d === 0x2c) { i++; continue; }
        if (d === 0x5d) { i++; return arr; }
        fail('syntax', i >= n ? 'unexpected end of input (truncated?)' : 'expected "," or "]"', path);
      }
    }
    if (c === 0x22) return parseString(path);
    if (text.startsWith('true', i)) { i += 4; return true; }
    if (text.startsWith('false', i)) { i += 5; return false; }
    if (text.startsWith('null', i)) { i += 4; return null; }
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return fail('syntax', `unexpected character ${JSON.stringify(text[i])}`, path);
    i += m[0].length;
    const v = Number(m[0]);
    if (!Number.isFinite(v)) fail('syntax', 'number out of range', path);
    return v;
  };

  const value = parseValue('$', 0);
  skip();
  if (i < n) fail('syntax', 'trailing characters after the document', '$');
  return value;
}
