/**
 * Reading a parsed JSON value into a closed, typed model while collecting every problem by
 * path. Each reader returns the value or undefined (after recording why), so one pass reports
 * all bad fields.
 */
import type { JsonValue } from '../json/strict.js';
import { problem } from './problems.js';
import type { Problem } from './problems.js';

export type JsonObject = { readonly [k: string]: JsonValue };

/** RFC 3339, UTC, `Z`, whole seconds (FORMATS.md §1). */
const TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})Z$/;
/** RFC 3339 §5.6 date-time: either case of T and Z, a fraction, an offset. */
const INSTANT = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;

const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const timeCache = new Map<string, number | null>();

/** RFC 3339 UTC with whole seconds → ms since the epoch, or null. Memoised: documents repeat times. */
export function parseTime(s: string): number | null {
  const hit = timeCache.get(s);
  if (hit !== undefined) return hit;
  const t = parseTimeUncached(s);
  if (timeCache.size >= 1024) timeCache.clear();
  timeCache.set(s, t);
  return t;
}

function parseTimeUncached(s: string): number | null {
  const m = TIME.exec(s);
  if (m === null) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  // a leap second is refused in documents (FORMATS.md §1)
  return se > 59 ? null : utcTime(y, mo, d, h, mi, se);
}

/**
 * A date and time of day that exist (no 2026-02-30, no hour 24; a second up to 60, read as 59) as
 * ms since the epoch, or null. Date.UTC is not used: it rolls impossible dates over silently and
 * reads years 0–99 as 1900–1999.
 */
export function utcTime(y: number, mo: number, d: number, h: number, mi: number, se: number): number | null {
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (mo < 1 || mo > 12 || d < 1 || d > (mo === 2 && leap ? 29 : (DAYS[mo - 1] as number)) || h > 23 || mi > 59 || se > 60) return null;
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, Math.min(se, 59), 0);
  return t.getTime();
}

/**
 * `--at TIME` (CLI.md: "RFC 3339"): any RFC 3339 date-time (§5.6), not only the `…Z` form with
 * whole seconds that documents use (FORMATS.md §1): a `T`/`Z` in either case, a UTC offset
 * (`+02:00`, `-00:00`), a fraction of a second, and a leap second (`23:59:60` UTC); null otherwise.
 *
 * T is returned in whole seconds, rounded down. That is exact, not an approximation: every time a
 * document holds is a whole second, and for a whole second x, `x ≤ T` and `T < x` hold for T
 * exactly when they hold for T rounded down. A leap second (23:59:60) lies between 23:59:59 and the
 * next 00:00:00, so it is 23:59:59 by the same rule. Years 0000–9999 after the offset is applied.
 */
export function parseInstant(s: string): number | null {
  if (typeof s !== 'string' || s.length > 64) return null;
  const m = INSTANT.exec(s);
  if (m === null) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  let offset = 0;
  if (m[7] === undefined) {
    const [oh, om] = [Number(m[9]), Number(m[10])];
    if (oh > 23 || om > 59) return null;
    offset = (m[8] === '-' ? -1 : 1) * (oh * 60 + om) * 60_000;
  }
  const local = utcTime(y, mo, d, h, mi, se);
  if (local === null) return null;
  const t = local - offset;
  // RFC 3339 §5.7: a leap second is 23:59:60 in UTC (at the end of a day), whatever the offset it is written in
  if (se === 60 && (new Date(t).getUTCHours() !== 23 || new Date(t).getUTCMinutes() !== 59)) return null;
  if (t < (utcTime(0, 1, 1, 0, 0, 0) as number) || t > (utcTime(9999, 12, 31, 23, 59, 59) as number)) return null;
  return t;
}

export function formatTime(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace('.000Z', 'Z');
}

export class Fields {
  readonly problems: Problem[] = [];

  add(code: string, path: string, message: string): undefined {
    this.problems.push(problem(code, path, message));
    return undefined;
  }

  /** An object with exactly these members: unknown ones and missing ones are problems. */
  object(v: JsonValue | undefined, path: string, members: readonly string[]): JsonObject | undefined {
    if (v === null || typeof v !== 'object' || Array.isArray(v)) return this.add('DOCUMENT_WRONG_TYPE', path, 'expected an object');
    // Fast path: as many own members as expected and every expected one present means no other.
    if (Object.keys(v).length === members.length && members.every((k) => Object.hasOwn(v, k))) return v;
    let ok = true;
    for (const k of Object.keys(v)) {
      if (!members.includes(k)) { this.add('DOCUMENT_UNKNOWN_MEMBER', `${path}.${k}`, 'member not allowed here (documents are closed)'); ok = false; }
    }
    for (const k of members) {
      if (!Object.hasOwn(v, k)) { this.add('DOCUMENT_MISSING_MEMBER', `${path}.${k}`, 'required member is missing'); ok = false; }
    }
    return ok ? v : undefined;
  }

  array(v: JsonValue | undefined, path: string, opts: { min?: number; max?: number } = {}): readonly JsonValue[] | undefined {
    if (!Array.isArray(v)) return this.add('DOCUMENT_WRONG_TYPE', path, 'expected an array');
    if (opts.min !== undefined && v.length < opts.min) return this.add('DOCUMENT_BAD_VALUE', path, `expected at least ${opts.min} entr${opts.min === 1 ? 'y' : 'ies'}`);
    if (opts.max !== undefined && v.length > opts.max) return this.add('DOCUMENT_BAD_VALUE', path, `expected at most ${opts.max} entries`);
    return v;
  }

  string(v: JsonValue | undefined, path: string, opts: { pattern?: RegExp; max?: number; what?: string; code?: string } = {}): string | undefined {
    if (typeof v !== 'string') return this.add('DOCUMENT_WRONG_TYPE', path, 'expected a string');
    if (opts.max !== undefined && v.length > opts.max) return this.add(opts.code ?? 'DOCUMENT_BAD_VALUE', path, `longer than ${opts.max} characters`);
    if (opts.pattern !== undefined && !opts.pattern.test(v)) return this.add(opts.code ?? 'DOCUMENT_BAD_VALUE', path, `${JSON.stringify(v.slice(0, 80))} is not ${opts.what ?? `of the form ${opts.pattern.source}`}`);
    return v;
  }

  nullableString(v: JsonValue | undefined, path: string, opts: { pattern?: RegExp; max?: number; what?: string; code?: string } = {}): string | null | undefined {
    if (v === null) return null;
    return this.string(v, path, opts);
  }

  /** A non-negative integer counter (FORMATS.md §1: non-integer or negative counters are refused). */
  integer(v: JsonValue | undefined, path: string, min = 0, code = 'DOCUMENT_BAD_VALUE'): number | undefined {
    if (typeof v !== 'number') return this.add('DOCUMENT_WRONG_TYPE', path, 'expected a number');
    if (!Number.isSafeInteger(v)) return this.add('DOCUMENT_BAD_VALUE', path, 'expected a whole number');
    if (v < min) return this.add(code, path, `expected a whole number of at least ${min}`);
    return v;
  }

  boolean(v: JsonValue | undefined, path: string): boolean | undefined {
    if (typeof v !== 'boolean') return this.add('DOCUMENT_WRONG_TYPE', path, 'expected true or false');
    return v;
  }

  time(v: JsonValue | undefined, path: string): number | undefined {
    const s = this.string(v, path);
    if (s === undefined) return undefined;
    const t = parseTime(s);
    if (t === null) return this.add('DOCUMENT_BAD_TIME', path, `${JSON.stringify(s.slice(0, 40))} is not an RFC 3339 UTC time with whole seconds and a Z (2026-11-28T10:00:00Z)`);
    return t;
  }

  oneOf<T extends string>(v: JsonValue | undefined, path: string, values: readonly T[]): T | undefined {
    const s = this.string(v, path);
    if (s === undefined) return undefined;
    if (!(values as readonly string[]).includes(s)) return this.add('DOCUMENT_BAD_VALUE', path, `${JSON.stringify(s.slice(0, 40))} is not one of ${values.join(', ')}`);
    return s as T;
  }
}

export const HEX64 = /^[0-9a-f]{64}$/;
export const DIGEST = /^sha256:[0-9a-f]{64}$/;
