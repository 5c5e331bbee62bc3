/**
 * Rules every command shares: a single-value option given twice is a usage error (the last would
 * silently win: which time, which pinned root, which output?), and `--at` is any RFC 3339 date-time
 * (CLI.md), one parser for all; document times are read exactly, years 0000–0099 included.
 */
import { describe, expect, test } from 'vitest';
import { formatTime, parseInstant, parseTime } from '../../src/docs/fields.js';
import { ERROR_LINE, runCli } from '../support/cli.js';

describe('a single-value option given twice', () => {
  test.each([
    [['verify', 'a.json', '--custodians', 's.json', '--at', '2026-11-28T10:00:00Z', '--at', '2030-01-01T00:00:00Z'], 'at'],
    [['verify', 'a.json', '--custodians', 's.json', '--root-digest', `sha256:${'a'.repeat(64)}`, `--root-digest=sha256:${'b'.repeat(64)}`], 'root-digest'],
    [['state', '--custodians', 's.json', '--manifests', 'm.json', '--at', '2026-11-28T10:00:00Z', '--at=2026-11-29T10:00:00Z'], 'at'],
    [['export', '--key', 'pkcs11:token=a;object=b', '--key', 'pkcs11:token=a;object=c', '--target', 'azure-byok', '--wrapping-key', 'k.pem', '--out', 'o'], 'key'],
  ])('%j: USAGE, exit 2, naming the option, before any file is read', (args, name) => {
    const r = runCli(args, process.env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain(`USAGE: --${name} is given more than once`);
    expect(r.stdout).toBe('');
  });
  test('a list option may repeat: --custodians twice is the chain', () => {
    const r = runCli(['verify', 'missing.json', '--custodians', 'a.json', '--custodians', 'b.json'], process.env);
    expect(r.stderr).not.toContain('more than once');
  });
});

describe('--at, the same for every command', () => {
  test('RFC 3339 with an offset, a fraction, lower case, a leap second at 23:59:60 UTC', () => {
    const z = parseTime('2026-11-28T10:00:00Z');
    expect(parseInstant('2026-11-28T11:00:00+01:00')).toBe(z);
    expect(parseInstant('2026-11-28t10:00:00.999z')).toBe(z);
    expect(parseInstant('2026-11-28T10:00:00-00:00')).toBe(z);
    expect(parseInstant('2016-12-31T23:59:60Z')).toBe(parseTime('2016-12-31T23:59:59Z'));
    for (const bad of ['2026-11-28', '2026-11-28T10:00:00', '2026-11-28T10:00:00+0100', '2026-02-30T00:00:00Z', '2026-11-28T24:00:00Z', '2026-11-28T10:00:60Z', '', '1e12']) {
      expect([bad, parseInstant(bad)]).toEqual([bad, null]);
    }
  });
  test('verify takes an offset time as state does: the same answer as its Z form', () => {
    const missing = runCli(['verify', 'missing.json', '--custodians', 'missing-set.json', '--at', '2026-11-28T11:00:00+01:00'], process.env);
    expect(missing.stderr).not.toContain('is not an RFC 3339');
    const bad = runCli(['verify', 'missing.json', '--custodians', 'missing-set.json', '--at', '2026-11-28 10:00'], process.env);
    expect([bad.status, bad.stderr]).toEqual([2, expect.stringContaining('is not an RFC 3339 date-time')]);
  });
});

describe('document times', () => {
  test('years 0000-0099 are those years, not 1900-1999 (Date.UTC reads them so)', () => {
    const t = parseTime('0050-06-01T00:00:00Z');
    expect(t).not.toBeNull();
    expect(formatTime(t!)).toBe('0050-06-01T00:00:00Z');
    expect(formatTime(parseTime('0000-01-01T00:00:00Z')!)).toBe('0000-01-01T00:00:00Z');
  });
  test('a leap second and impossible dates are refused in documents', () => {
    for (const bad of ['2016-12-31T23:59:60Z', '2026-02-29T00:00:00Z', '2026-11-28T10:00:00+01:00', '2026-11-28T10:00:00.5Z']) expect([bad, parseTime(bad)]).toEqual([bad, null]);
  });
});
