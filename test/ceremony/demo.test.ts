/**
 * Issue 17: what `keyceremony demo` leaves for a deployment. Its delivered secrets open with the
 * Debian `age` CLI and the test identity it wrote, and each binding, recomputed here with
 * node:crypto, is the one the custodians signed; `keyceremony state --json` on its chain gives, at
 * three times (before the dual-publish takes effect, during it, after the cutover), exactly the
 * lists written out by hand below from the demo's manifests (prepare now, dual-publish an hour
 * later, cutover a day after that); the demo prints them and the README shows them; and
 * `keyceremony deploy` after the cutover writes the very bytes the sealed files hold.
 */
import { createHash, createHmac } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runCli } from '../support/cli.js';

let root: string;
let dir: string;
let stdout: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kc-demo-'));
  dir = join(root, 'demo');
  const r = runCli(['demo', '--dir', dir], process.env);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  stdout = r.stdout;
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Entry { name: string; id: string; supersedes: string | null; phase: string; kcv: string | null; notBefore: string; binding?: string }
const payloadBytes = (f: string): Buffer => Buffer.from((JSON.parse(readFileSync(join(dir, f), 'utf8')) as { payload: string }).payload, 'base64');
const manifest = (f: string): { sequence: number; issued: string; keys: Entry[] } => JSON.parse(payloadBytes(f).toString('utf8')) as never;
const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;
const binding = (secret: Buffer, id: string): string => `hmac-sha256:${createHmac('sha256', secret).update(Buffer.concat([Buffer.from('keyceremony/binding@1'), Buffer.from([0]), Buffer.from(id)])).digest('hex')}`;
const CHAIN = ['rotation.1.json', 'rotation.2.json', 'rotation.3.json'];
const SEALED = ['celery-broker-v1', 'jwt-refresh-salt-v1', 'jwt-v1', 'redis-auth-v1', 'secret-key-v1', 'webhook-v1'];
const identity = (): string => join(dir, 'deployment', 'identity.txt');
const open = (id: string): Buffer => execFileSync('age', ['-d', '-i', identity(), join(dir, 'sealed', `${id}.age`)]);
const second = (t: string, by: number): string => new Date(Date.parse(t) + by * 1000).toISOString().replace('.000Z', 'Z');

// The key state by hand: every name moves together, prepared now, accepted from the dual-publish's notBefore, current from the cutover's.
const BEFORE = {
  CELERY_BROKER_TOKEN: { current: null, accept: [], pending: ['celery-broker-v1'], retired: [], revoked: [], compromised: [], scheduled: ['celery-broker-v1'] },
  JWT_REFRESH_SALT: { current: null, accept: [], pending: ['jwt-refresh-salt-v1'], retired: [], revoked: [], compromised: [], scheduled: ['jwt-refresh-salt-v1'] },
  JWT_SIGNING_SECRET: { current: null, accept: [], pending: ['jwt-v1'], retired: [], revoked: [], compromised: [], scheduled: ['jwt-v1'] },
  MASTER_KEY: { current: null, accept: [], pending: ['master-v1'], retired: [], revoked: [], compromised: [], scheduled: ['master-v1'] },
  REDIS_AUTH_TOKEN: { current: null, accept: [], pending: ['redis-auth-v1'], retired: [], revoked: [], compromised: [], scheduled: ['redis-auth-v1'] },
  SECRET_KEY: { current: null, accept: [], pending: ['secret-key-v1'], retired: [], revoked: [], compromised: [], scheduled: ['secret-key-v1'] },
  WEBHOOK_SIGNING_SECRET: { current: null, accept: [], pending: ['webhook-v1'], retired: [], revoked: [], compromised: [], scheduled: ['webhook-v1'] },
};
const DURING = {
  CELERY_BROKER_TOKEN: { current: null, accept: ['celery-broker-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['celery-broker-v1'] },
  JWT_REFRESH_SALT: { current: null, accept: ['jwt-refresh-salt-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['jwt-refresh-salt-v1'] },
  JWT_SIGNING_SECRET: { current: null, accept: ['jwt-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['jwt-v1'] },
  MASTER_KEY: { current: null, accept: ['master-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['master-v1'] },
  REDIS_AUTH_TOKEN: { current: null, accept: ['redis-auth-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['redis-auth-v1'] },
  SECRET_KEY: { current: null, accept: ['secret-key-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['secret-key-v1'] },
  WEBHOOK_SIGNING_SECRET: { current: null, accept: ['webhook-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: ['webhook-v1'] },
};
const AFTER = {
  CELERY_BROKER_TOKEN: { current: 'celery-broker-v1', accept: ['celery-broker-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: [] },
  JWT_REFRESH_SALT: { current: 'jwt-refresh-salt-v1', accept: ['jwt-refresh-salt-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: [] },
  JWT_SIGNING_SECRET: { current: 'jwt-v1', accept: ['jwt-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: [] },
  MASTER_KEY: { current: 'master-v1', accept: ['master-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: [] },
  REDIS_AUTH_TOKEN: { current: 'redis-auth-v1', accept: ['redis-auth-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: [] },
  SECRET_KEY: { current: 'secret-key-v1', accept: ['secret-key-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: [] },
  WEBHOOK_SIGNING_SECRET: { current: 'webhook-v1', accept: ['webhook-v1'], pending: [], retired: [], revoked: [], compromised: [], scheduled: [] },
};

/** The three times, read from the demo's manifests: the dual-publish's notBefore less a second, it, and the cutover's. */
function times(): { before: string; during: string; after: string } {
  const [prepare, dual, cutover] = CHAIN.map(manifest);
  const one = (m: { keys: Entry[] }): string => {
    const nb = [...new Set(m.keys.map((k) => k.notBefore))];
    expect(nb).toHaveLength(1); // one notBefore per manifest
    return nb[0]!;
  };
  // the schedule the template signs: prepare when issued, dual-publish an hour later, cutover a day after that
  expect(one(prepare!)).toBe(prepare!.issued);
  expect(Date.parse(one(dual!)) - Date.parse(prepare!.issued)).toBe(3600_000);
  expect(Date.parse(one(cutover!)) - Date.parse(one(dual!))).toBe(24 * 3600_000);
  return { before: second(one(dual!), -1), during: one(dual!), after: one(cutover!) };
}

describe('the demo\'s sealed secrets', () => {
  test('open with the Debian age CLI and the test identity, 32 bytes each, and each binding recomputed with node:crypto is the signed one', () => {
    expect(readdirSync(join(dir, 'sealed')).sort()).toEqual(SEALED.map((id) => `${id}.age`));
    // the identity is an age X25519 identity the Debian tools read: its recipient is the one the ceremony sealed to
    const recipient = execFileSync('age-keygen', ['-y', identity()], { encoding: 'utf8' }).trim();
    expect(readFileSync(join(dir, 'deployment', 'recipients.txt'), 'utf8').trim().split('\n').at(-1)).toBe(recipient);
    expect(statSync(identity()).mode & 0o777).toBe(0o600);
    const entries = CHAIN.flatMap((f) => manifest(f).keys);
    const secrets: Buffer[] = [];
    for (const id of SEALED) {
      const secret = open(id);
      expect(secret).toHaveLength(32);
      const signed = entries.filter((k) => k.id === id);
      expect(signed).toHaveLength(3); // prepare, dual-publish, cutover: each binds the same bytes
      for (const k of signed) {
        expect(k.binding).toBe(binding(secret, id));
        expect(k.kcv).toBe(k.binding!.slice('hmac-sha256:'.length, 'hmac-sha256:'.length + 6));
      }
      secrets.push(secret);
    }
    expect(new Set(secrets.map((s) => s.toString('hex'))).size).toBe(SEALED.length);
    // the master key is bound by its check value, never delivered
    expect(entries.filter((k) => k.name === 'MASTER_KEY').every((k) => k.binding === undefined && /^[0-9a-f]{6}$/.test(k.kcv ?? ''))).toBe(true);
    // no plaintext anywhere but in its sealed file: not in what the demo printed, its log, transcripts or documents
    const texts = [stdout, ...['audit.jsonl', 'transcript.md', 'transcript.html', ...CHAIN].map((f) => readFileSync(join(dir, f), 'latin1'))];
    for (const s of secrets) for (const spelling of [s.toString('hex'), s.toString('base64').replace(/=+$/, ''), s.toString('base64url')]) expect(texts.some((t) => t.includes(spelling))).toBe(false);
  });
});

describe('the demo\'s chain: keyceremony state at three times', () => {
  const state = (at: string): unknown => {
    const set = join(dir, 'custodians.v1.json');
    const r = runCli(['state', '--custodians', set, '--root-digest', sha256(payloadBytes('custodians.v1.json')), '--manifests', ...CHAIN.map((f) => join(dir, f)), '--at', at, '--json'], process.env);
    expect(r.status).toBe(0);
    return JSON.parse(r.stdout);
  };
  const tip = (): string => sha256(payloadBytes('rotation.3.json'));

  test('before the dual-publish takes effect: every version pending, its dual-publish and cutover scheduled', () => {
    const { before } = times();
    expect(state(before)).toEqual({ valid: true, at: before, sequence: 3, tip: tip(), keys: BEFORE, reasons: [], warnings: [] });
    // the chain is whole from its last manifest's issue on: the same lists then
    const issued = manifest('rotation.3.json').issued;
    expect(state(issued)).toEqual({ valid: true, at: issued, sequence: 3, tip: tip(), keys: BEFORE, reasons: [], warnings: [] });
  });

  test('during the dual-publish: every version accepted beside no current one, its cutover scheduled', () => {
    const { during, after } = times();
    expect(state(during)).toEqual({ valid: true, at: during, sequence: 3, tip: tip(), keys: DURING, reasons: [], warnings: [] });
    expect((state(second(after, -1)) as { keys: unknown }).keys).toEqual(DURING);
  });

  test('after the cutover: every version current and the only one accepted', () => {
    const { after } = times();
    expect(state(after)).toEqual({ valid: true, at: after, sequence: 3, tip: tip(), keys: AFTER, reasons: [], warnings: [] });
  });

  test('the demo printed the same lists, one line per key name at each time', () => {
    const t = times();
    for (const [at, keys] of [[manifest('rotation.3.json').issued, BEFORE], [t.during, DURING], [t.after, AFTER]] as const) {
      const block = stdout.slice(stdout.indexOf(`  at ${at} (`));
      for (const [name, k] of Object.entries(keys)) {
        const cell = (ids: readonly string[]): string => (ids.length === 0 ? '-' : ids.join(' '));
        const line = new RegExp(`^ {4}${name} +current ${k.current ?? '-'} +accept ${cell(k.accept)} +pending ${cell(k.pending)} +scheduled ${cell(k.scheduled)}$`, 'm');
        expect(block).toMatch(line);
      }
    }
  });

  test('the README shows the same lists', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const shown = (marker: string): unknown => {
      const at = readme.indexOf(`<!-- demo state: ${marker} -->`);
      expect(at).toBeGreaterThan(0);
      const block = readme.slice(readme.indexOf('```json\n', at) + '```json\n'.length);
      return JSON.parse(block.slice(0, block.indexOf('```')));
    };
    expect(shown('before the dual-publish')).toEqual(BEFORE);
    expect(shown('during the dual-publish')).toEqual(DURING);
    expect(shown('after the cutover')).toEqual(AFTER);
  });
});

describe('the demo\'s deployment', () => {
  test('after the cutover, keyceremony deploy writes the bytes the sealed files hold, each under its name with its id', () => {
    const { after } = times();
    const out = join(root, 'app');
    const r = runCli(['deploy', '--custodians', join(dir, 'custodians.v1.json'), '--manifests', ...CHAIN.map((f) => join(dir, f)), '--at', after,
      '--secrets', join(dir, 'sealed'), '--identity-env', 'AGE_IDENTITY', '--format', 'files', '--out', out, '--json'], { ...process.env, AGE_IDENTITY: readFileSync(identity(), 'utf8') });
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ skipped: [{ name: 'MASTER_KEY', algorithms: ['AES-256-GCM'] }] });
    const names = { CELERY_BROKER_TOKEN: 'celery-broker-v1', JWT_REFRESH_SALT: 'jwt-refresh-salt-v1', JWT_SIGNING_SECRET: 'jwt-v1', REDIS_AUTH_TOKEN: 'redis-auth-v1', SECRET_KEY: 'secret-key-v1', WEBHOOK_SIGNING_SECRET: 'webhook-v1' };
    for (const [name, id] of Object.entries(names)) {
      expect(readFileSync(join(out, name), 'utf8')).toBe(open(id).toString('hex'));
      expect(readFileSync(join(out, `${name}_ID`), 'utf8')).toBe(id);
    }
  });
});
