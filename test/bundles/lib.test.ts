/**
 * Issue 18, one import: `import { verifyDocument, verifyChain, keyState, checkSecrets } from
 * 'keyceremony'` for a Node service (package.json `exports`, built to dist/lib with declarations),
 * so it can check at start that the secrets it loaded are the approved ones. The logic is tested on
 * src/lib.ts; the packaging on a build installed as node_modules/keyceremony in a throw-away
 * project, imported by name from JavaScript and type-checked from TypeScript.
 */
import { spawnSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkSecrets, keyState, verifyChain, verifyDocument } from '../../src/lib.js';
import { digest, envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import type { RawEnvelope } from '../support/independent.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const [alice, bob, carol] = [keyNamed('alice'), keyNamed('bob'), keyNamed('carol')];
const setEnv = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob], ['carol', carol]]), [alice, bob]);
const bytes = (e: RawEnvelope): Uint8Array => new Uint8Array(Buffer.from(JSON.stringify(e)));
const SET = bytes(setEnv);
const AT = Date.parse('2026-12-01T00:00:00Z');

const WEBHOOK = Buffer.alloc(32, 0x5a);
const REDIS = Buffer.from('redis-password-from-the-vault');
/** FORMATS.md §4 binding, computed from the spec text. */
const binding = (secret: Buffer, id: string): string => `hmac-sha256:${createHmac('sha256', secret).update(Buffer.concat([Buffer.from('keyceremony/binding@1'), Buffer.of(0), Buffer.from(id)])).digest('hex')}`;
const entry = (name: string, id: string, algorithm: string, phase: string, secret: Buffer | null, over: Record<string, unknown> = {}): Record<string, unknown> => {
  const b = secret === null ? null : binding(secret, id);
  return { name, id, supersedes: null, algorithm, phase, kcv: b === null ? (algorithm === 'AES-256-GCM' ? '1a2b3c' : null) : b.slice(12, 18), notBefore: '2026-11-28T10:00:00Z', ...(b === null ? {} : { binding: b }), ...over };
};

/** Manifests 1..n, each chained to the one before, signed by alice and bob. */
function chain(keysPerManifest: Record<string, unknown>[][]): RawEnvelope[] {
  const out: RawEnvelope[] = [];
  keysPerManifest.forEach((keys, i) => {
    const payload = { spec: 'keyceremony/rotation-manifest@1', ceremony: `svc-${i + 1}`, sequence: i + 1, previous: i === 0 ? null : digest(out[i - 1] as RawEnvelope), custodianSet: 1,
      issued: '2026-11-28T10:00:00Z', expires: '2026-12-28T10:00:00Z', actor: 'alice', keys, artifacts: [] };
    out.push(envelope(TYPES.rotation, payload, [alice, bob]));
  });
  return out;
}
/** WEBHOOK_SIGNING_SECRET webhook-v1 current and REDIS_URL redis-auth-v1 accepted (both bound), MASTER_KEY master-v1 current (no binding). */
const history = (): RawEnvelope[] => chain([
  [entry('WEBHOOK_SIGNING_SECRET', 'webhook-v1', 'HMAC-SHA256', 'prepare', WEBHOOK), entry('REDIS_URL', 'redis-auth-v1', 'TOKEN', 'prepare', REDIS), entry('MASTER_KEY', 'master-v1', 'AES-256-GCM', 'prepare', null)],
  [entry('WEBHOOK_SIGNING_SECRET', 'webhook-v1', 'HMAC-SHA256', 'dual-publish', WEBHOOK), entry('REDIS_URL', 'redis-auth-v1', 'TOKEN', 'dual-publish', REDIS), entry('MASTER_KEY', 'master-v1', 'AES-256-GCM', 'dual-publish', null)],
  [entry('WEBHOOK_SIGNING_SECRET', 'webhook-v1', 'HMAC-SHA256', 'cutover', WEBHOOK), entry('MASTER_KEY', 'master-v1', 'AES-256-GCM', 'cutover', null)],
]);

describe('src/lib.ts', () => {
  test('verifyDocument, verifyChain and keyState: the functions the CLI runs', () => {
    const m = history();
    expect(verifyChain([SET], { at: AT, rootDigest: digest(setEnv) })).toMatchObject({ reasons: [], warnings: [] });
    expect(verifyDocument(bytes(m[0] as RawEnvelope), [SET], { at: AT })).toMatchObject({ valid: true, type: 'rotation', signers: ['alice', 'bob'] });
    const s = keyState([SET], m.map(bytes), { at: AT, rootDigest: digest(setEnv) });
    expect(s).toMatchObject({ valid: true, sequence: 3, keys: { WEBHOOK_SIGNING_SECRET: { current: 'webhook-v1' }, REDIS_URL: { current: null, accept: ['redis-auth-v1'] } } });
  });

  test('checkSecrets: the secrets the custodians approved are approved, the current one says so', () => {
    const r = checkSecrets([SET], history().map(bytes), { WEBHOOK_SIGNING_SECRET: WEBHOOK, REDIS_URL: REDIS }, { at: AT, rootDigest: digest(setEnv) });
    expect(r.valid).toBe(true);
    expect(r.secrets).toEqual({
      WEBHOOK_SIGNING_SECRET: { id: 'webhook-v1', approved: true, current: true, reason: null },
      REDIS_URL: { id: 'redis-auth-v1', approved: true, current: false, reason: null },
    });
    expect(r.state.valid).toBe(true);
  });

  test('checkSecrets refuses, each with its code: another secret, a name without an accepted version or a binding, a chain that is not valid', () => {
    const m = history().map(bytes);
    const o = { at: AT };
    const code = (r: ReturnType<typeof checkSecrets>, name: string): string | undefined => r.secrets[name]?.reason?.split(':')[0];
    const wrong = checkSecrets([SET], m, { WEBHOOK_SIGNING_SECRET: Buffer.alloc(32, 0x5b) }, o);
    expect([wrong.valid, code(wrong, 'WEBHOOK_SIGNING_SECRET'), wrong.secrets.WEBHOOK_SIGNING_SECRET?.approved]).toEqual([false, 'SECRET_NOT_APPROVED', false]);
    expect(code(checkSecrets([SET], m, { JWT_SIGNING_SECRET: WEBHOOK }, o), 'JWT_SIGNING_SECRET')).toBe('SECRET_NOT_ACCEPTED');
    expect(code(checkSecrets([SET], m, { MASTER_KEY: WEBHOOK }, o), 'MASTER_KEY')).toBe('SECRET_NO_BINDING');
    const gap = checkSecrets([SET], [m[0] as Uint8Array, m[2] as Uint8Array], { WEBHOOK_SIGNING_SECRET: WEBHOOK }, o);
    expect([gap.valid, gap.state.valid, code(gap, 'WEBHOOK_SIGNING_SECRET')]).toEqual([false, false, 'CHAIN_INVALID']);
    // a pinned root that is not this one: nothing is approved
    expect(checkSecrets([SET], m, { WEBHOOK_SIGNING_SECRET: WEBHOOK }, { at: AT, rootDigest: `sha256:${'0'.repeat(64)}` }).valid).toBe(false);
  });

  test('checkSecrets: two different bindings for one id in a signed history approve neither', () => {
    const m = chain([
      [entry('WEBHOOK_SIGNING_SECRET', 'webhook-v1', 'HMAC-SHA256', 'prepare', WEBHOOK)],
      [entry('WEBHOOK_SIGNING_SECRET', 'webhook-v1', 'HMAC-SHA256', 'dual-publish', REDIS)],
    ]).map(bytes);
    const r = checkSecrets([SET], m, { WEBHOOK_SIGNING_SECRET: WEBHOOK }, { at: AT });
    expect(r.state.valid).toBe(true);
    expect(r.secrets.WEBHOOK_SIGNING_SECRET?.reason?.split(':')[0]).toBe('SECRET_BINDING_CONFLICT');
  });

  test('checkSecrets checks its arguments where they enter', () => {
    const m = history().map(bytes);
    expect(() => checkSecrets([SET], m, { X: 'secret' as unknown as Uint8Array }, { at: AT })).toThrow(TypeError);
    expect(() => checkSecrets([SET], m, { X: new Uint8Array(0) }, { at: AT })).toThrow(RangeError);
    expect(() => checkSecrets([SET], m, null as unknown as Record<string, Uint8Array>, { at: AT })).toThrow(TypeError);
  });
});

describe('the built package, imported by name as a service does', () => {
  let project: string;
  beforeAll(() => {
    project = mkdtempSync(join(tmpdir(), 'kc-lib-'));
    const pkg = join(project, 'node_modules', 'keyceremony');
    mkdirSync(pkg, { recursive: true });
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs'), '--lib-out', join(pkg, 'dist', 'lib')], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const { name, version, type, exports } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(join(pkg, 'package.json'), JSON.stringify({ name, version, type, exports }));
    symlinkSync(join(ROOT, 'node_modules', '@types'), join(project, 'node_modules', '@types'));
    writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'a-service', private: true, type: 'module' }));
    const docs = join(project, 'docs');
    mkdirSync(docs);
    writeFileSync(join(docs, 'custodians.v1.json'), JSON.stringify(setEnv));
    history().forEach((e, i) => writeFileSync(join(docs, `rotation.${i + 1}.json`), JSON.stringify(e)));
  }, 120_000);
  afterAll(() => rmSync(project, { recursive: true, force: true }));

  test('the bundle names no dependency and never pkcs11js', () => {
    const text = readFileSync(join(project, 'node_modules', 'keyceremony', 'dist', 'lib', 'keyceremony.mjs'), 'utf8');
    expect(text).not.toContain('pkcs11js');
    const specifiers = [...text.matchAll(/\bimport\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+)["']/g)].map((m) => m[1]);
    expect(specifiers.filter((s) => !s?.startsWith('node:'))).toEqual([]);
  });

  test('JavaScript: import from "keyceremony" and check the loaded secrets at start', () => {
    writeFileSync(join(project, 'start.mjs'), `
import { readFileSync, readdirSync } from 'node:fs';
import { checkSecrets, keyState, verifyChain, verifyDocument } from 'keyceremony';
const read = (f) => readFileSync(new URL('docs/' + f, import.meta.url));
const chain = [read('custodians.v1.json')];
const manifests = readdirSync(new URL('docs/', import.meta.url)).filter((f) => f.startsWith('rotation.')).map(read);
const at = Date.parse('2026-12-01T00:00:00Z');
const r = checkSecrets(chain, manifests, { WEBHOOK_SIGNING_SECRET: Buffer.from(process.env.WEBHOOK_SIGNING_SECRET, 'hex') }, { at, rootDigest: process.env.ROOT_DIGEST });
console.log(JSON.stringify({ secrets: r.secrets, current: keyState(chain, manifests, { at }).keys.WEBHOOK_SIGNING_SECRET.current,
  document: verifyDocument(manifests[0], chain, { at }).valid, chain: verifyChain(chain, { at }).reasons.length }));
process.exitCode = r.valid ? 0 : 1;
`);
    const run = (secret: Buffer) => spawnSync(process.execPath, ['start.mjs'], { cwd: project, env: { ...process.env, WEBHOOK_SIGNING_SECRET: secret.toString('hex'), ROOT_DIGEST: digest(setEnv) }, encoding: 'utf8' });
    const ok = run(WEBHOOK);
    expect(ok.stderr).toBe('');
    expect(ok.status).toBe(0);
    expect(JSON.parse(ok.stdout)).toEqual({ secrets: { WEBHOOK_SIGNING_SECRET: { id: 'webhook-v1', approved: true, current: true, reason: null } }, current: 'webhook-v1', document: true, chain: 0 });
    expect(run(Buffer.alloc(32, 1)).status).toBe(1);
  });

  test('TypeScript: the declarations type-check a service that uses them (NodeNext, strict)', () => {
    writeFileSync(join(project, 'start.ts'), `
import { checkSecrets, keyState, verifyDocument } from 'keyceremony';
import type { KeyStateResult, SecretsResult, VerifyResult } from 'keyceremony';
const chain: Uint8Array[] = [];
const s: KeyStateResult = keyState(chain, [], { at: Date.now() });
const current: string | null | undefined = s.keys.WEBHOOK_SIGNING_SECRET?.current;
const v: VerifyResult = verifyDocument(new Uint8Array(), chain, { at: Date.now(), rootDigest: 'sha256:00' });
const r: SecretsResult = checkSecrets(chain, [], { WEBHOOK_SIGNING_SECRET: new Uint8Array(32) }, { at: 0 });
export const out = [current, v.valid, r.secrets.WEBHOOK_SIGNING_SECRET?.approved];
// @ts-expect-error: keyState takes bytes, not paths
keyState(['custodians.v1.json'], [], { at: 0 });
`);
    writeFileSync(join(project, 'tsconfig.json'), JSON.stringify({ compilerOptions: { module: 'NodeNext', moduleResolution: 'NodeNext', target: 'ES2022', strict: true, noEmit: true, types: ['node'], skipLibCheck: false }, files: ['start.ts'] }));
    const tsc = spawnSync(process.execPath, [join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', project], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    expect(tsc.stdout + tsc.stderr).toBe('');
    expect(tsc.status).toBe(0);
  }, 120_000);
});
