/**
 * FORMATS.md §8 and CLI.md `keyceremony state`, read against the text line by line: each test
 * quotes the line it checks.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { parseInstant } from '../../src/docs/fields.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { chain, codes, day, digest, entry, lifecycle, run, SET1 } from './support.js';
import type { RawEnvelope } from './support.js';

describe('CLI.md `--at TIME`: "evaluate validity periods at TIME (RFC 3339)"', () => {
  test.each([
    ['2026-11-28T10:00:00Z', '2026-11-28T10:00:00Z'],
    ['2026-11-28t10:00:00z', '2026-11-28T10:00:00Z'], // RFC 3339 §5.6: T and Z may be lower case
    ['2026-11-28T11:30:00+01:30', '2026-11-28T10:00:00Z'],
    ['2026-11-28T05:00:00-05:00', '2026-11-28T10:00:00Z'],
    ['2026-11-28T10:00:00-00:00', '2026-11-28T10:00:00Z'],
    ['2026-11-28T10:00:00.999Z', '2026-11-28T10:00:00Z'], // whole seconds, rounded down: exact for §8's whole-second times
    ['2016-12-31T23:59:60Z', '2016-12-31T23:59:59Z'], // a leap second
    ['2016-12-31T15:59:60-08:00', '2016-12-31T23:59:59Z'],
    ['2028-02-29T00:00:00Z', '2028-02-29T00:00:00Z'],
    ['0050-06-01T00:00:00Z', '0050-06-01T00:00:00Z'], // not 1950 (Date.UTC reads years 0–99 as 19xx)
    ['0000-01-01T00:00:00Z', '0000-01-01T00:00:00Z'],
    ['9999-12-31T23:59:59Z', '9999-12-31T23:59:59Z'],
  ])('%s is %s', (given, want) => {
    const t = parseInstant(given);
    expect(t).not.toBeNull();
    expect(new Date(t as number).toISOString().replace('.000Z', 'Z').replace(/^\+?0*(\d{4})/, '$1')).toBe(want);
  });
  test.each([
    '2026-11-28', '2026-11-28T10:00:00', '2026-11-28T10:00Z', '2026-11-28 10:00:00Z', '2026-11-28T10:00:00+0100', '2026-11-28T10:00:00+01',
    '2026-02-29T00:00:00Z', '2026-11-31T00:00:00Z', '2026-13-01T00:00:00Z', '2026-11-28T24:00:00Z', '2026-11-28T10:60:00Z', '2026-11-28T10:00:61Z',
    '2026-11-28T10:00:60Z', '2026-11-28T10:00:00+24:00', '2026-11-28T10:00:00.Z', '+2026-11-28T10:00:00Z', '1793613600000', 'now', '', ' 2026-11-28T10:00:00Z',
    '2026-11-28T10:00:00Z\n', '0000-01-01T00:00:00+00:01', '9999-12-31T23:59:59-00:01', '２０２６-11-28T10:00:00Z',
  ])('%j is not one', (given) => expect(parseInstant(given)).toBeNull());
});

describe('`keyceremony state --at`', () => {
  let dir: string;
  let args: string[];
  const state = (...more: string[]) => runCli(['state', ...args, ...more, '--json'], process.env);
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'kc-state-at-'));
    const put = (name: string, doc: RawEnvelope) => {
      writeFileSync(join(dir, name), JSON.stringify(doc));
      return join(dir, name);
    };
    args = ['--custodians', put('set.json', SET1), '--manifests', ...chain(lifecycle()).map((m, i) => put(`m${i + 1}.json`, m))];
  });

  test('an offset and a fraction are RFC 3339: the same state as the Z time, `at` written as FORMATS.md §1 writes times', () => {
    const z = state('--at', '2026-11-06T00:00:00Z');
    const offset = state('--at', '2026-11-06T01:00:00.5+01:00');
    expect([z.status, offset.status]).toEqual([0, 0]);
    expect(JSON.parse(offset.stdout)).toEqual(JSON.parse(z.stdout));
    expect(JSON.parse(z.stdout).at).toBe('2026-11-06T00:00:00Z');
  });
  test('the second before a notBefore, with an offset, is before it', () => {
    const r = JSON.parse(state('--at', '2026-11-06T23:59:59-00:00').stdout) as { keys: Record<string, { current: string }> };
    expect(r.keys.WEBHOOK_SIGNING_SECRET?.current).toBe('webhook-v1');
    const at = JSON.parse(state('--at', '2026-11-07T00:59:59.999+01:00').stdout) as { keys: Record<string, { current: string }> };
    expect(at.keys.WEBHOOK_SIGNING_SECRET?.current).toBe('webhook-v1');
    const on = JSON.parse(state('--at', '2026-11-07T01:00:00+01:00').stdout) as { keys: Record<string, { current: string }> };
    expect(on.keys.WEBHOOK_SIGNING_SECRET?.current).toBe('webhook-v2');
  });
  test.each([['no zone', ['--at', '2026-11-06T00:00:00']], ['a date', ['--at', '2026-11-06']], ['no such day', ['--at', '2026-02-30T00:00:00Z']], ['a number', ['--at', '1793613600']],
    ['empty', ['--at', '']], ['--at twice', ['--at', day(5), '--at', day(6)]], ['--at= and --at', [`--at=${day(5)}`, '--at', day(5)]],
    ['--root-digest twice', ['--root-digest', digest(SET1), '--root-digest', `sha256:${'0'.repeat(64)}`]]])('%s: a usage error, exit 2, nothing on stdout', (_what, more) => {
    const r = state(...more);
    expect([r.status, r.stderr.match(ERROR_LINE)?.[1], r.stdout]).toEqual([2, 'USAGE', '']);
  });
});

describe('FORMATS.md §8 rule 1: "A gap, a fork or a wrong `previous` makes it invalid"', () => {
  test('a missing manifest is the reason, not every later step that needed it', () => {
    const ms = chain(lifecycle());
    const r = run([ms[0], ms[1], ms[3], ms[4], ms[5], ms[6]] as RawEnvelope[]);
    expect(r).toMatchObject({ valid: false, keys: {}, sequence: null, tip: null });
    expect(r.reasons).toEqual(['STATE_SEQUENCE_GAP: manifests[seq 3]: no manifest has sequence 3']);
  });
  test('a manifest that does not parse (notBefore before its issued, §4) is its own reason and a gap, nothing more', () => {
    const steps = lifecycle();
    steps[2] = { keys: [entry('cutover', 'webhook-v1', { notBefore: day(2) })] };
    expect(codes(run(chain(steps)).reasons)).toEqual(['MANIFEST_NOT_BEFORE_OUTSIDE', 'STATE_SEQUENCE_GAP']);
  });
  test('a wrong previous with every manifest there still applies the entries: an impossible step is reported too', () => {
    const steps = lifecycle().slice(0, 3);
    steps.push({ keys: [entry('revoke', 'webhook-v1')], over: { previous: `sha256:${'ab'.repeat(32)}` } });
    expect(codes(run(chain(steps)).reasons)).toEqual(['STATE_PREVIOUS_MISMATCH', 'STATE_REVOKE_WITHOUT_OLD']);
  });
});
