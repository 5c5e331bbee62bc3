/** The strict JSON parser: its fast path (native JSON.parse + checks) must decide exactly as the careful parser. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { JsonError, MAX_DEPTH, parseStrictJson, parseStrictJsonCarefully } from '../../src/json/strict.js';

function outcome(f: () => unknown): { ok: true; value: unknown } | { ok: false; kind: string } {
  try {
    return { ok: true, value: f() };
  } catch (err) {
    expect(err).toBeInstanceOf(JsonError);
    return { ok: false, kind: (err as JsonError).kind };
  }
}

/** A JSON value with every number made a plain whole number: the only numbers a document may hold (FORMATS.md §1). */
function whole(v: unknown): unknown {
  if (typeof v === 'number') return Number.isSafeInteger(v) ? v || 0 : Math.trunc(v) % 1e15 || 0;
  if (Array.isArray(v)) return v.map(whole);
  if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, whole(x)]));
  return v;
}

const same = (text: string) => {
  const fast = outcome(() => parseStrictJson(text));
  const careful = outcome(() => parseStrictJsonCarefully(text));
  expect(fast).toEqual(careful);
  return fast;
};

describe('refusals', () => {
  test.each([
    ['{"a":1,"a":2}', 'duplicate'],
    ['{"a":{"b":1,"c":{"d":[{"e":1,"e":1}]}}}', 'duplicate'],
    ['{"a":"x\\":","a":1}', 'duplicate'], // a quote and colon inside a value must not confuse counting
    ['{"x\\"y":1,"x\\"y":2}', 'duplicate'],
    ['{"a":1,"\\u0061":2}', 'duplicate'], // the same name spelled with an escape
    ['{"__proto__":1,"__proto__":2}', 'duplicate'],
    ['{"a\\u003a":1,"a:":2}', 'duplicate'], // an escaped colon in a name, and the same name written plainly
    ['{"t":"10:00:00","t":"11:00:00"}', 'duplicate'], // colons inside values do not hide a duplicate
    ['{"a:b":1,"c":{"a:b":2,"a:b":3}}', 'duplicate'],
    ['"\\ud800"', 'surrogate'],
    ['{"\\udc00":1}', 'surrogate'],
    ['["\\ud800\\u0041"]', 'surrogate'],
    ['1e400', 'syntax'],
    ['[1,]', 'syntax'],
    ['{"a":1}}', 'syntax'],
    ['{\'a\':1}', 'syntax'],
    ['01', 'syntax'],
    // one spelling per value: an integer written with a fraction or an exponent, and -0, are refused
    ['2.0', 'syntax'],
    ['{"version":1.0}', 'syntax'],
    ['{"threshold":2e0}', 'syntax'],
    ['[20e-1]', 'syntax'],
    ['{"a":1E0}', 'syntax'],
    ['{"bytes":-0}', 'syntax'],
    ['[0.5]', 'syntax'],
    ['{"a":"true","b":2.5}', 'syntax'], // marks inside strings and literals do not hide one outside
    ['{"e":"\\u0065","n":2e1}', 'syntax'], // an "e" written as an escape cannot stand in for the exponent's
    ['{"x":"e","n":1.0}', 'syntax'],
    ['"\t"', 'syntax'],
    [`${'['.repeat(MAX_DEPTH + 1)}${']'.repeat(MAX_DEPTH + 1)}`, 'depth'],
    ['['.repeat(100_000), 'depth'],
  ])('%s → %s, on both paths', (text, kind) => {
    expect(same(text)).toEqual({ ok: false, kind });
  });
  test('raw lone surrogates (not escaped) are refused too', () => {
    expect(same('"a\ud800b"')).toEqual({ ok: false, kind: 'surrogate' });
    expect(same('{"k\udfff":1}')).toEqual({ ok: false, kind: 'surrogate' });
  });
  test('__proto__ is an own data member, never a prototype', () => {
    const v = parseStrictJson('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.hasOwn(v, '__proto__')).toBe(true);
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    expect(Object.getPrototypeOf(v)).toBe(Object.prototype);
    const c = parseStrictJsonCarefully('{"__proto__":{"polluted":true}}') as Record<string, unknown>;
    expect(Object.hasOwn(c, '__proto__')).toBe(true);
  });
  test('the depth limit: exactly MAX_DEPTH nested arrays parse', () => {
    expect(same(`${'['.repeat(MAX_DEPTH)}${']'.repeat(MAX_DEPTH)}`).ok).toBe(true);
  });
});

describe('properties: both paths agree', () => {
  test('on any JSON value, and it round-trips', () => {
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 6 }).map(whole), (v) => {
      const text = JSON.stringify(v);
      const r = same(text);
      expect(r.ok).toBe(true);
      if (r.ok) expect(JSON.stringify(r.value)).toBe(text);
    }), { numRuns: 500 });
  });
  test('on objects with a member name repeated somewhere', () => {
    fc.assert(fc.property(fc.dictionary(fc.string({ maxLength: 6 }), fc.jsonValue({ maxDepth: 2 }).map(whole), { minKeys: 1, maxKeys: 6 }), fc.nat(), (obj, pick) => {
      const keys = Object.keys(obj);
      const k = keys[pick % keys.length] as string;
      const text = JSON.stringify(obj);
      const dup = `${text.slice(0, -1)},${JSON.stringify(k)}:0}`;
      expect(same(dup)).toEqual({ ok: false, kind: 'duplicate' });
    }), { numRuns: 500 });
  });
  test('on objects whose names and values are full of colons, quotes and escapes (repeated names arise often)', () => {
    const str = fc.string({ unit: fc.constantFrom(':', '"', '\\', 'a', ' '), maxLength: 4 });
    let duplicates = 0;
    fc.assert(fc.property(fc.array(fc.tuple(str, str), { maxLength: 6 }), fc.boolean(), (pairs, escapeColons) => {
      let body = `{${pairs.map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`).join(',')}}`;
      // optionally write every colon inside strings as \u003a (the fast path then defers)
      if (escapeColons) body = body.replace(/"(?:[^"\\]|\\.)*"/g, (str) => str.replace(/:/g, '\\u003a'));
      const r = same(body);
      if (!r.ok) duplicates++;
      expect(r.ok).toBe(new Set(pairs.map(([k]) => k)).size === pairs.length);
    }), { numRuns: 1000 });
    expect(duplicates).toBeGreaterThan(50);
  });
  test('on random edits of a document (insert, delete, replace a character)', () => {
    const base = JSON.stringify({ a: ['x', 'y\\"z', { b: 1.5e3, c: null, 'd:e': true }], f: '\u00e9\ud83d\ude00', g: { h: '"}:{"' } });
    const chars = fc.constantFrom('"', '\\', ':', ',', '{', '}', '[', ']', 'a', '1', ' ', 'u', '\ud800', '\u0000', 'e', '-');
    fc.assert(fc.property(fc.nat({ max: base.length }), fc.constantFrom('insert', 'delete', 'replace'), chars, (at, op, ch) => {
      const text = op === 'insert' ? base.slice(0, at) + ch + base.slice(at) : op === 'delete' ? base.slice(0, at) + base.slice(at + 1) : base.slice(0, at) + ch + base.slice(at + 1);
      same(text);
    }), { numRuns: 3000 });
  });
});

describe('numbers: one spelling of each value (FORMATS.md §1)', () => {
  test('a number with a fraction or an exponent, beside any JSON value, is refused on both paths; the plain whole number parses', () => {
    const tails = fc.constantFrom('.0', '.5', 'e0', 'E1', 'e-1', 'e+2', '.0e0', '.25E-3');
    fc.assert(fc.property(fc.jsonValue({ maxDepth: 3 }).map(whole), fc.integer({ min: -1000, max: 1000 }), tails, fc.boolean(), (v, int, tail, letters) => {
      // strings full of ".", "e" and "E" around it must not hide the number
      const text = JSON.stringify({ pad: letters ? 'e.E.true.false' : '', v, n: 0 });
      expect(same(text.replace('"n":0', `"n":${int}`)).ok).toBe(true);
      expect(same(text.replace('"n":0', `"n":${int}${tail}`))).toEqual({ ok: false, kind: 'syntax' });
    }), { numRuns: 500 });
  });
  test('what only looks like such a number inside a string is accepted (the fast path defers, the careful parser decides)', () => {
    for (const text of ['{"d":"sha256:1e5","t":"10:00:00Z","a":[1,2]}', '["1.0",":2e0",",3.5","[4E1"]', '{"v":"a:-0.5"}']) expect(same(text).ok).toBe(true);
  });
});
