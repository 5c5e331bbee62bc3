/**
 * `--at TIME` of `keyceremony state` (CLI.md: "evaluate validity periods at TIME (RFC 3339)"):
 * any RFC 3339 date-time (§5.6), not only the `…Z` form with whole seconds that documents use
 * (FORMATS.md §1): a `T`/`Z` in either case, a UTC offset (`+02:00`, `-00:00`), a fraction of a
 * second, and a leap second (`23:59:60` UTC). Anything else is null (the command's usage error).
 *
 * T is returned in whole seconds, rounded down. That is exact, not an approximation: every time §8
 * compares T with (`notBefore`, a set's `issued` and `expires`) is a whole second, and for a whole
 * second x, `x ≤ T` and `T < x` hold for T exactly when they hold for T rounded down. A leap second
 * (23:59:60) lies between 23:59:59 and the next 00:00:00, so it is 23:59:59 by the same rule.
 *
 * Years 0000–9999 after the offset is applied (what a document's time can say); Date.UTC is not
 * used, since it reads years 0–99 as 1900–1999.
 */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt](\d{2}):(\d{2}):(\d{2})(?:\.\d+)?(?:([Zz])|([+-])(\d{2}):(\d{2}))$/;
const DAYS = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];
const SECOND = 1000;
const MINUTE = 60 * SECOND;

function utc(y: number, mo: number, d: number, h: number, mi: number, s: number): number {
  const t = new Date(0);
  t.setUTCFullYear(y, mo - 1, d);
  t.setUTCHours(h, mi, s, 0);
  return t.getTime();
}

const FIRST = utc(0, 1, 1, 0, 0, 0);
const LAST = utc(9999, 12, 31, 23, 59, 59);

/** An RFC 3339 date-time → ms since the epoch, whole seconds (see above); null when it is not one. */
export function parseInstant(s: string): number | null {
  if (typeof s !== 'string' || s.length > 64) return null;
  const m = RFC3339.exec(s);
  if (m === null) return null;
  const [y, mo, d, h, mi, se] = m.slice(1, 7).map(Number) as [number, number, number, number, number, number];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  if (mo < 1 || mo > 12 || d < 1 || d > (mo === 2 && leap ? 29 : (DAYS[mo - 1] as number)) || h > 23 || mi > 59 || se > 60) return null;
  let offset = 0;
  if (m[7] === undefined) {
    const [oh, om] = [Number(m[9]), Number(m[10])];
    if (oh > 23 || om > 59) return null;
    offset = (m[8] === '-' ? -1 : 1) * (oh * 60 + om) * MINUTE;
  }
  const t = utc(y, mo, d, h, mi, Math.min(se, 59)) - offset;
  // RFC 3339 §5.7: a leap second is 23:59:60 in UTC (at the end of a day), whatever the offset it is written in
  if (se === 60 && (new Date(t).getUTCHours() !== 23 || new Date(t).getUTCMinutes() !== 59)) return null;
  if (t < FIRST || t > LAST) return null;
  return t;
}
