/**
 * `keyceremony state` as a pipeline runs it (CLI.md): the real command in its own process, --json
 * with exactly the members CLI.md lists, exit 0 valid / 1 not valid / 2 unreadable or usage, and
 * hostile files (malformed, truncated, oversized, a FIFO, text that would drive a terminal).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { chain, day, digest, entry, envelope, K, lifecycle, SET1, TYPES } from './support.js';
import type { RawEnvelope } from './support.js';

const UNSAFE_OUTPUT = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]/u;
const JSON_MEMBERS = ['valid', 'at', 'sequence', 'tip', 'keys', 'reasons', 'warnings'];
const NAME_MEMBERS = ['current', 'accept', 'pending', 'retired', 'revoked', 'compromised', 'scheduled'];

let dir: string;
let set1: string;
let files: string[];
let manifests: RawEnvelope[];
const put = (name: string, doc: RawEnvelope | string | Buffer): string => {
  const p = join(dir, name);
  writeFileSync(p, typeof doc === 'string' || Buffer.isBuffer(doc) ? doc : JSON.stringify(doc));
  return p;
};
const state = (...args: string[]) => runCli(['state', ...args], process.env);
const json = (stdout: string) => JSON.parse(stdout) as Record<string, unknown>;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-state-'));
  set1 = put('custodians.v1.json', SET1);
  manifests = chain(lifecycle());
  files = manifests.map((m, i) => put(`rotation-${i + 1}.json`, m));
});

describe('keyceremony state', () => {
  test('a valid chain, files in any order after one --manifests: exit 0, exactly the members of CLI.md', () => {
    const r = state('--custodians', set1, '--manifests', ...[...files].reverse(), '--at', day(100), '--root-digest', digest(SET1), '--json');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const out = json(r.stdout);
    expect(Object.keys(out)).toEqual(JSON_MEMBERS);
    expect(out).toEqual({ valid: true, at: day(100), sequence: 7, tip: digest(manifests[6] as RawEnvelope), reasons: [], warnings: [],
      keys: { WEBHOOK_SIGNING_SECRET: { current: 'webhook-v2', accept: ['webhook-v2'], pending: [], retired: [], revoked: ['webhook-v1'], compromised: [], scheduled: [] } } });
    expect(Object.keys((out.keys as Record<string, object>).WEBHOOK_SIGNING_SECRET as object)).toEqual(NAME_MEMBERS);
  });

  test('--manifests may be repeated, and mixed with the FILE list form; the same file twice counts once', () => {
    const r = state('--manifests', files[0] as string, '--custodians', set1, '--manifests', ...files.slice(1), files[3] as string, '--at', day(5), '--json');
    expect(r.status).toBe(0);
    expect(json(r.stdout)).toMatchObject({ valid: true, sequence: 7, keys: { WEBHOOK_SIGNING_SECRET: { current: 'webhook-v1', accept: ['webhook-v1', 'webhook-v2'], scheduled: ['webhook-v2'] } } });
    expect((json(r.stdout).warnings as string[]).some((w) => w.startsWith('STATE_MANIFEST_DUPLICATE'))).toBe(true);
  });

  test('not valid: exit 1, keys {}, sequence and tip null, every reason with its code', () => {
    const r = state('--custodians', set1, '--manifests', ...files.filter((_, i) => i !== 2), '--at', day(100), '--json');
    expect(r.status).toBe(1);
    const out = json(r.stdout);
    expect(Object.keys(out)).toEqual(JSON_MEMBERS);
    expect(out).toMatchObject({ valid: false, at: day(100), sequence: null, tip: null, keys: {} });
    expect((out.reasons as string[]).map((x) => x.split(':')[0])).toEqual(expect.arrayContaining(['STATE_SEQUENCE_GAP']));
    expect(r.stderr).toBe('');
  });

  test('the newest set expired at --at: exit 1 (rule 3)', () => {
    const r = state('--custodians', set1, '--manifests', ...files, '--at', '2036-01-01T00:00:00Z', '--json');
    expect(r.status).toBe(1);
    expect((json(r.stdout).reasons as string[])[0]).toMatch(/^CHAIN_EXPIRED: custodians\[0\]/);
  });

  test('lines for a person: each name with its versions; an invalid chain says INVALID with the reasons', () => {
    const ok = state('--custodians', set1, '--manifests', ...files, '--at', day(5));
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^valid manifest chain 1\.\.7 at 2026-11-06T00:00:00Z, tip sha256:[0-9a-f]{64}\n/);
    expect(ok.stdout).toContain('WEBHOOK_SIGNING_SECRET\n  current      webhook-v1\n  accept       webhook-v1, webhook-v2\n');
    expect(ok.stdout).toContain('  scheduled    webhook-v2\n');
    expect(ok.stdout).toContain('  warning: CHAIN_ROOT_NOT_PINNED');
    const bad = state('--custodians', set1, '--manifests', ...files.slice(1), '--at', day(5));
    expect(bad.status).toBe(1);
    expect(bad.stdout).toMatch(/^INVALID manifest chain at 2026-11-06T00:00:00Z: no key state\n {2}- STATE_SEQUENCE_GAP: /);
  });
});

describe('usage and unreadable files: exit 2, one error line', () => {
  test.each([
    ['no --manifests', () => ['--custodians', set1], 'USAGE'],
    ['no --custodians', () => ['--manifests', ...files], 'USAGE'],
    ['a bare file before --manifests', () => [files[0] as string, '--custodians', set1, '--manifests', files[1] as string], 'USAGE'],
    ['a bare file after another option', () => ['--custodians', set1, '--manifests', files[0] as string, '--json', files[1] as string], 'USAGE'],
    ['an unknown option', () => ['--custodians', set1, '--manifests', ...files, '--previous', files[0] as string], 'USAGE'],
    ['a bad --at', () => ['--custodians', set1, '--manifests', ...files, '--at', '2026-11-06'], 'USAGE'],
    ['a bad --root-digest', () => ['--custodians', set1, '--manifests', ...files, '--root-digest', 'sha256:ABC'], 'USAGE'],
    ['a missing manifest file', () => ['--custodians', set1, '--manifests', ...files, join(dir, 'nope.json')], 'INPUT_UNREADABLE'],
    ['a missing custodian set', () => ['--custodians', join(dir, 'nope.json'), '--manifests', ...files], 'INPUT_UNREADABLE'],
    ['a folder given as a manifest', () => ['--custodians', set1, '--manifests', dir], 'INPUT_NOT_REGULAR'],
  ])('%s', (_what, args, code) => {
    const r = state(...args(), '--json');
    expect([r.status, r.stderr.match(ERROR_LINE)?.[1]]).toEqual([2, code]);
    expect(r.stdout).toBe('');
  });

  test('a FIFO is refused without blocking', () => {
    const fifo = join(dir, 'fifo.json');
    execFileSync('mkfifo', [fifo]);
    const started = Date.now();
    const r = state('--custodians', set1, '--manifests', ...files, fifo, '--json');
    expect([r.status, r.stderr.match(ERROR_LINE)?.[1]]).toEqual([2, 'INPUT_NOT_REGULAR']);
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});

describe('hostile manifests: exit 1 with reasons, never 3, nothing raw on the terminal', () => {
  test('malformed, truncated, oversized, empty, another document type', () => {
    const text = JSON.stringify(manifests[6]);
    const cases: [string, string | Buffer, string][] = [
      ['malformed.json', '{"payloadType": "application/vnd.keyceremony.rotation+json", "payload": ', 'DOCUMENT_NOT_JSON'],
      ['truncated.json', text.slice(0, text.length / 2), 'DOCUMENT_NOT_JSON'],
      ['empty.json', '', 'DOCUMENT_NOT_JSON'],
      ['oversized.json', Buffer.alloc(2 * 1024 * 1024 + 10, 0x20), 'DOCUMENT_TOO_LARGE'],
      ['not-utf8.json', Buffer.from([0x7b, 0xff, 0xfe, 0x7d]), 'DOCUMENT_NOT_UTF8'],
      ['set.json', JSON.stringify(SET1), 'DOCUMENT_UNEXPECTED_TYPE'],
    ];
    for (const [name, doc, code] of cases) {
      const r = state('--custodians', set1, '--manifests', ...files.slice(0, 6), put(name, doc), '--json');
      expect([name, r.status]).toEqual([name, 1]);
      expect(r.stderr).toBe('');
      const out = json(r.stdout);
      expect(out).toMatchObject({ valid: false, keys: {}, sequence: null, tip: null });
      expect((out.reasons as string[]).map((x) => x.split(':')[0])).toContain(code);
    }
  });

  test('control and bidi characters in a document reach neither the JSON nor the lines raw', () => {
    const evil = '\u001b[2J\u001b[H\rvalid manifest chain\u202e\u2028\u0085';
    const typed = put('evil-type.json', { ...(manifests[6] as RawEnvelope), payloadType: `x${evil}` });
    const body = JSON.parse(Buffer.from((manifests[6] as RawEnvelope).payload, 'base64').toString());
    const member = put('evil-member.json', envelope(TYPES.rotation, { ...body, [`x${evil}`]: 1 }, [K.alice, K.bob]));
    const key = put('evil-key.json', envelope(TYPES.rotation, { ...body, keys: [{ ...entry('revoke', 'webhook-v2'), name: `A${evil}`, notBefore: body.issued }] }, [K.alice, K.bob]));
    for (const f of [typed, member, key]) {
      for (const asJson of [true, false]) {
        const r = state('--custodians', set1, '--manifests', ...files.slice(0, 6), f, ...(asJson ? ['--json'] : []));
        expect(r.status).toBe(1);
        expect(r.stdout).not.toMatch(UNSAFE_OUTPUT);
        expect(r.stderr).not.toMatch(UNSAFE_OUTPUT);
        if (asJson) expect(json(r.stdout).valid).toBe(false);
        else expect(r.stdout.startsWith('INVALID')).toBe(true);
      }
    }
  });
});
