/**
 * Issue 17: the templates follow FORMATS.md §8. Read as one deployment's story, their manifests
 * form one chain (each template's first manifest follows the last of the template before, and the
 * file names count the sequence); the manifest step's rules for `supersedes` (nothing for a key
 * joining the chain, at any version) and `notBefore` (a delay after the previous manifest's, never
 * before the issue time), and its refusals before signing; and, on SoftHSM2, the keys-in-use
 * template adapted to keys in use at version 3: before the fix its entries superseded v2, which
 * §8 refuses at the cutover; now `keyceremony state` has every v3 current.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { DEMO_TEMPLATE } from '../../src/ceremony/demo.js';
import { parseScript } from '../../src/ceremony/script.js';
import type { Step } from '../../src/ceremony/script.js';
import { checkSchedule, notBeforeOf, supersedesOf } from '../../src/ceremony/steps/manifest.js';
import { TEMPLATES, templateText } from '../../src/ceremony/templates.js';
import type { Manifest } from '../../src/manifest/manifest.js';
import { runCli } from '../support/cli.js';

type ManifestStep = Extract<Step, { action: 'manifest' }>;
const parsed = (name: string) => parseScript(new TextEncoder().encode(templateText(name)!));
const manifests = (name: string): ManifestStep[] => parsed(name).steps.filter((s): s is ManifestStep => s.action === 'manifest');
const H = 3600_000;

describe('the templates as one deployment\'s story', () => {
  test('every template parses', () => {
    for (const name of Object.keys(TEMPLATES)) expect(() => parsed(name)).not.toThrow();
    expect(DEMO_TEMPLATE).toBe('new-deployment');
  });

  test('each begins where the one before ended: rotation.N.json follows rotation.(N-1).json, from 1 to 19', () => {
    const story = ['keys-in-use', 'quarterly-master-rotation', 'quarterly-master-dual-publish', 'quarterly-master-cutover', 'quarterly-master-revoke', 'monthly-jwt-rotation', 'webhook-rotation', 'incident-response'];
    const steps = story.flatMap(manifests);
    expect(steps.map((s) => [s.previous, s.out])).toEqual(Array.from({ length: 19 }, (_, i) => [i === 0 ? null : `rotation.${i}.json`, `rotation.${i + 1}.json`]));
    // a new deployment begins the same chain, as keys-in-use does
    expect(manifests('new-deployment').map((s) => [s.previous, s.out, s.phase])).toEqual([[null, 'rotation.1.json', 'prepare'], ['rotation.1.json', 'rotation.2.json', 'dual-publish'], ['rotation.2.json', 'rotation.3.json', 'cutover']]);
    // no two manifests of the story move the same version the same way
    const moves = steps.flatMap((s) => s.keys.map((k) => `${k}@${s.keyVersion} ${s.phase}`));
    expect(new Set(moves).size).toBe(moves.length);
  });

  test('the quarterly rotation moves master-v2, superseding master-v1, through every phase; the backup key stays out of the key chain', () => {
    const q = ['quarterly-master-rotation', 'quarterly-master-dual-publish', 'quarterly-master-cutover', 'quarterly-master-revoke'].flatMap(manifests);
    expect(q.map((s) => [s.keys, s.keyVersion, s.phase, s.supersedes, s.notBefore])).toEqual([
      [['MASTER_KEY'], 2, 'prepare', 'previous', null], [['MASTER_KEY'], 2, 'dual-publish', 'previous', 'PT0S'], [['MASTER_KEY'], 2, 'cutover', 'previous', 'PT24H'], [['MASTER_KEY'], 2, 'revoke', 'previous', 'PT0S']]);
    const made = parsed('quarterly-master-rotation').steps.filter((s) => s.action === 'generate-key' || s.action === 'split-backup');
    expect(made).toMatchObject([{ label: 'master-v2' }, { backupKey: 'backup-v2', keys: ['master-v2'] }]);
    for (const name of Object.keys(TEMPLATES)) for (const s of manifests(name)) expect(s.keys).not.toContain('BACKUP_KEY');
  });

  test('the secrets rotations make what they approve: one make-secret step per version, sealed to the deployment', () => {
    for (const [name, made] of [['monthly-jwt-rotation', ['JWT_SIGNING_SECRET@2', 'JWT_REFRESH_SALT@2']], ['webhook-rotation', ['WEBHOOK_SIGNING_SECRET@2']],
      ['incident-response', ['WEBHOOK_SIGNING_SECRET@3', 'JWT_SIGNING_SECRET@3', 'JWT_REFRESH_SALT@3']],
      ['new-deployment', ['SECRET_KEY@1', 'WEBHOOK_SIGNING_SECRET@1', 'REDIS_AUTH_TOKEN@1', 'CELERY_BROKER_TOKEN@1', 'JWT_SIGNING_SECRET@1', 'JWT_REFRESH_SALT@1']]] as const) {
      const secrets = parsed(name).steps.filter((s): s is Extract<Step, { action: 'make-secret' }> => s.action === 'make-secret');
      expect(secrets.map((s) => `${s.name}@${s.keyVersion}`)).toEqual(made);
      expect(secrets.every((s) => s.keep === 'deliver' && s.recipients === 'deployment/recipients.txt' && s.out === 'sealed')).toBe(true);
    }
  });
});

/** A manifest step of a template, changed. */
const stepOf = (over: Partial<ManifestStep>): ManifestStep => ({ ...manifests('keys-in-use')[0]!, supersedes: 'previous', notBefore: null, ...over });
/** What the step needs of a previous manifest: its entries. */
const prior = (keys: { id: string; phase: string; notBefore: number; supersedes?: string | null }[]): Manifest =>
  ({ keys: keys.map((k) => ({ name: 'X', algorithm: 'TOKEN', kcv: null, binding: null, supersedes: null, ...k })) }) as unknown as Manifest;

describe('the manifest step: supersedes, notBefore, and what it refuses before signing', () => {
  test('supersedes: nothing for a key joining at any version, for version 1 and in a chain\'s first manifest; else what the version superseded before, or the version before it', () => {
    expect(supersedesOf(stepOf({ keyVersion: 3, supersedes: 'none', previous: 'rotation.1.json' }), 'webhook', prior([]))).toBeNull();
    expect(supersedesOf(stepOf({ keyVersion: 3 }), 'webhook', undefined)).toBeNull(); // the bug: this said webhook-v2
    expect(supersedesOf(stepOf({ keyVersion: 1, previous: 'rotation.1.json' }), 'webhook', prior([]))).toBeNull();
    expect(supersedesOf(stepOf({ keyVersion: 3, previous: 'rotation.1.json' }), 'webhook', prior([{ id: 'webhook-v3', phase: 'prepare', notBefore: 0, supersedes: null }]))).toBeNull();
    expect(supersedesOf(stepOf({ keyVersion: 3, previous: 'rotation.1.json' }), 'webhook', prior([{ id: 'jwt-v3', phase: 'prepare', notBefore: 0 }]))).toBe('webhook-v2');
  });

  test('notBefore: the issue time, or the delay after the previous manifest\'s notBefore (the issue time in a first manifest), never before the issue time', () => {
    const t = Date.UTC(2026, 11, 1);
    expect(notBeforeOf(stepOf({}), t, prior([{ id: 'a-v1', phase: 'prepare', notBefore: t + 5 * H }]))).toBe(t);
    expect(notBeforeOf(stepOf({ notBefore: 'PT1H' }), t, undefined)).toBe(t + H);
    expect(notBeforeOf(stepOf({ notBefore: 'PT24H' }), t, prior([{ id: 'a-v1', phase: 'dual-publish', notBefore: t + H }]))).toBe(t + 25 * H);
    expect(notBeforeOf(stepOf({ notBefore: 'PT0S' }), t, prior([{ id: 'a-v1', phase: 'cutover', notBefore: t + H }, { id: 'b-v1', phase: 'cutover', notBefore: t + 2 * H }]))).toBe(t + 2 * H);
    expect(notBeforeOf(stepOf({ notBefore: 'PT24H' }), t + 30 * H, prior([{ id: 'a-v1', phase: 'dual-publish', notBefore: t }]))).toBe(t + 30 * H);
  });

  test('refused: the same move again, a move before the previous one\'s, a cutover inside the overlap, a notBefore past the expiry', () => {
    const t = Date.UTC(2026, 11, 1);
    const refused = (keys: { id: string; phase: string; supersedes: string | null }[], nb: number, p: Manifest, expires = t + 720 * H): string | undefined => {
      try { checkSchedule(stepOf({ previous: 'rotation.1.json' }), keys, nb, expires, p); } catch (e) { return (e as { code: string }).code; }
      return undefined;
    };
    const dual = prior([{ id: 'a-v2', phase: 'dual-publish', notBefore: t, supersedes: 'a-v1' }]);
    expect(refused([{ id: 'a-v2', phase: 'dual-publish', supersedes: 'a-v1' }], t + 48 * H, dual)).toBe('CEREMONY_PHASE_REPEATED');
    expect(refused([{ id: 'a-v2', phase: 'cutover', supersedes: 'a-v1' }], t + 23 * H, dual)).toBe('CEREMONY_CUTOVER_EARLY');
    expect(refused([{ id: 'a-v2', phase: 'cutover', supersedes: 'a-v1' }], t + 24 * H, dual)).toBeUndefined();
    // a key joining the chain replaces no version: no overlap is owed
    expect(refused([{ id: 'a-v2', phase: 'cutover', supersedes: null }], t, dual)).toBeUndefined();
    const scheduled = prior([{ id: 'a-v2', phase: 'cutover', notBefore: t + 24 * H, supersedes: 'a-v1' }]);
    expect(refused([{ id: 'a-v2', phase: 'revoke', supersedes: 'a-v1' }], t + H, scheduled)).toBe('CEREMONY_SCHEDULE_BACKWARDS');
    expect(refused([{ id: 'a-v2', phase: 'compromise', supersedes: 'a-v1' }], t + H, scheduled)).toBe('CEREMONY_SCHEDULE_BACKWARDS');
    expect(refused([{ id: 'a-v2', phase: 'revoke', supersedes: 'a-v1' }], t + 24 * H, scheduled)).toBeUndefined();
    expect(refused([{ id: 'b-v1', phase: 'prepare', supersedes: null }], t + 721 * H, prior([]))).toBe('CEREMONY_NOT_BEFORE_LATE');
  });

  test('the script: supersedes and notBefore may be left out (a script written before them stays valid), and are checked when given', () => {
    const base = JSON.parse(templateText('keys-in-use')!) as { steps: Record<string, unknown>[] };
    const withStep = (over: Record<string, unknown>): unknown => {
      const s = structuredClone(base);
      s.steps[2] = { ...s.steps[2], ...over };
      for (const k of Object.keys(over)) if (over[k] === undefined) delete s.steps[2]![k];
      try { return parseScript(new TextEncoder().encode(JSON.stringify(s))).steps[2]; } catch (e) { return (e as { problems: { code: string; path: string }[] }).problems.map((p) => `${p.code} ${p.path}`); }
    };
    expect(withStep({ supersedes: undefined, notBefore: undefined })).toMatchObject({ supersedes: 'previous', notBefore: null });
    expect(withStep({ notBefore: 'P7D' })).toMatchObject({ notBefore: 'P7D' });
    for (const bad of ['1h', 'PT', 'P', 'P31D', 'PT1.5H', '-PT1H', 'P1W']) expect(withStep({ notBefore: bad })).toEqual(['SCRIPT_NOT_BEFORE_INVALID steps[2].notBefore']);
    expect(withStep({ notBefore: 3600 })).toEqual(['DOCUMENT_WRONG_TYPE steps[2].notBefore']);
    expect(withStep({ supersedes: 'maybe' })).toEqual(['DOCUMENT_BAD_VALUE steps[2].supersedes']);
    expect(withStep({ supersedes: null })).toEqual(['DOCUMENT_WRONG_TYPE steps[2].supersedes']);
  });
});

describe('keys in use at version 3 join a chain (rehearsed on SoftHSM2)', () => {
  let root: string;
  let dir: string;
  beforeAll(() => {
    root = mkdtempSync(join(tmpdir(), 'kc-joining-'));
    const t = JSON.parse(templateText('keys-in-use')!) as { steps: Record<string, unknown>[] };
    for (const s of t.steps) if (s.action === 'manifest') s.keyVersion = 3;
    mkdirSync(join(root, 'inputs'));
    writeFileSync(join(root, 'inputs', 'ceremony.json'), JSON.stringify(t, null, 2));
    dir = join(root, 'run');
    const r = runCli(['ceremony', 'run', join(root, 'inputs', 'ceremony.json'), '--rehearse', '--yes', '--allow-network', '--dir', dir, '--inputs', join(root, 'inputs')], process.env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  }, 120_000);
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  test('every entry supersedes nothing, and after the one notBefore every v3 is current', () => {
    const payload = (f: string) => JSON.parse(Buffer.from((JSON.parse(readFileSync(join(dir, f), 'utf8')) as { payload: string }).payload, 'base64').toString('utf8')) as { keys: { id: string; supersedes: string | null; notBefore: string }[] };
    const entries = ['rotation.1.json', 'rotation.2.json', 'rotation.3.json'].flatMap((f) => payload(f).keys);
    expect(entries.every((k) => k.supersedes === null && k.id.endsWith('-v3'))).toBe(true);
    const at = entries[0]!.notBefore;
    const r = runCli(['state', '--custodians', join(dir, 'custodians.v1.json'), '--manifests', ...['rotation.1.json', 'rotation.2.json', 'rotation.3.json'].map((f) => join(dir, f)), '--at', at, '--json'], process.env);
    expect(r.status).toBe(0);
    const keys = (JSON.parse(r.stdout) as { keys: Record<string, { current: string | null; accept: string[] }> }).keys;
    expect(Object.fromEntries(Object.entries(keys).map(([n, k]) => [n, [k.current, k.accept]]))).toEqual({
      CELERY_BROKER_TOKEN: ['celery-broker-v3', ['celery-broker-v3']], JWT_REFRESH_SALT: ['jwt-refresh-salt-v3', ['jwt-refresh-salt-v3']], JWT_SIGNING_SECRET: ['jwt-v3', ['jwt-v3']],
      MASTER_KEY: ['master-v3', ['master-v3']], REDIS_AUTH_TOKEN: ['redis-auth-v3', ['redis-auth-v3']], SECRET_KEY: ['secret-key-v3', ['secret-key-v3']], WEBHOOK_SIGNING_SECRET: ['webhook-v3', ['webhook-v3']],
    });
  });
});
