/**
 * A deployment's inputs, made as the ceremony would leave them: a custodian set, a chain of signed
 * rotation manifests whose secret entries carry `binding` (computed here with node:crypto, not with
 * the code under test), and one sealed age file per secret version, `<id>.age`, sealed to the
 * deployment's identity half by the Debian `age` CLI and half by src/age.
 *
 * The story (one manifest a day, 2026-11-0d, effective at issue):
 *   1-3  prepare, dual-publish, cutover of webhook-v1, jwt-v1, redis-auth-v1 and master-v1
 *        (master-v1: AES-256-GCM, kept in the HSM, no binding, no sealed file)
 *   4    prepare webhook-v2      5  dual-publish webhook-v2
 *   6    cutover webhook-v2      7  revoke webhook-v1
 */
import { createHmac, randomBytes } from 'node:crypto';
import { cpSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { encrypt } from '../../src/age/age.js';
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';
import { ageEncrypt, keygen, tempDir } from '../age/support.js';
import { chain, day, digest, entry, SET1 } from '../state/support.js';
import type { KeyEntry, RawEnvelope, Step } from '../state/support.js';

export { day, digest, entry, SET1 };
export type { KeyEntry, Step };

/** FORMATS.md §4 binding, by node:crypto: HMAC-SHA256 under the secret of `keyceremony/binding@1` 0x00 id. */
export function binding(secret: Uint8Array, id: string): string {
  const message = Buffer.concat([Buffer.from('keyceremony/binding@1', 'ascii'), Buffer.of(0), Buffer.from(id, 'ascii')]);
  return `hmac-sha256:${createHmac('sha256', secret).update(message).digest('hex')}`;
}

export const AT_PENDING = day(4);
export const AT_DUAL = day(5);
export const AT_CUTOVER = day(6);
export const AT_REVOKED = day(8);

/** The secret versions of the story, with their key names and algorithms. */
export const VERSIONS = {
  'webhook-v1': { name: 'WEBHOOK_SIGNING_SECRET', algorithm: 'HMAC-SHA256', bytes: 32, sealer: 'cli' },
  'webhook-v2': { name: 'WEBHOOK_SIGNING_SECRET', algorithm: 'HMAC-SHA256', bytes: 32, sealer: 'module' },
  'jwt-v1': { name: 'JWT_SIGNING_SECRET', algorithm: 'JWT-HS256', bytes: 64, sealer: 'cli' },
  'redis-auth-v1': { name: 'REDIS_AUTH_TOKEN', algorithm: 'TOKEN', bytes: 24, sealer: 'module' },
} as const;
export type VersionId = keyof typeof VERSIONS;

export interface Scenario {
  readonly dir: string;
  readonly setFile: string;
  readonly manifests: RawEnvelope[];
  readonly manifestFiles: string[];
  readonly secretsDir: string;
  readonly identity: ReturnType<typeof keygen>;
  readonly secrets: Record<VersionId, Buffer>;
}

/** A secret entry of the story: name and algorithm from VERSIONS, and its binding unless `bound` is false. */
export function secretEntry(phase: KeyEntry['phase'], id: VersionId, secrets: Record<VersionId, Buffer>, bound = phase === 'prepare'): KeyEntry {
  const v = VERSIONS[id];
  return entry(phase, id, { name: v.name, algorithm: v.algorithm, ...(bound ? { binding: binding(secrets[id], id) } : {}) });
}

export function storySteps(s: Record<VersionId, Buffer>): Step[] {
  const first = (phase: KeyEntry['phase']) => [secretEntry(phase, 'webhook-v1', s), secretEntry(phase, 'jwt-v1', s, true), secretEntry(phase, 'redis-auth-v1', s), entry(phase, 'master-v1')];
  return [
    { keys: first('prepare') }, { keys: first('dual-publish') }, { keys: first('cutover') },
    { keys: [{ ...secretEntry('prepare', 'webhook-v2', s), kcv: binding(s['webhook-v2'], 'webhook-v2').slice(12, 18) }] },
    { keys: [secretEntry('dual-publish', 'webhook-v2', s)] },
    { keys: [secretEntry('cutover', 'webhook-v2', s)] },
    { keys: [secretEntry('revoke', 'webhook-v2', s)] },
  ];
}

/** The story's files in a new folder; `steps` replaces the story's manifests (given the secrets). */
export function scenario(steps: (s: Record<VersionId, Buffer>) => Step[] = storySteps): Scenario {
  const dir = tempDir('kc-deploy-');
  const identity = keygen(dir, 'deployment-identity.txt');
  const secrets = Object.fromEntries(Object.entries(VERSIONS).map(([id, v]) => [id, randomBytes(v.bytes)])) as Record<VersionId, Buffer>;
  const manifests = chain(steps(secrets));
  const setFile = join(dir, 'custodians.v1.json');
  writeFileSync(setFile, JSON.stringify(SET1));
  const manifestFiles = manifests.map((m, i) => {
    const p = join(dir, `rotation-${i + 1}.json`);
    writeFileSync(p, JSON.stringify(m));
    return p;
  });
  const secretsDir = join(dir, 'sealed');
  mkdirSync(secretsDir);
  for (const [id, v] of Object.entries(VERSIONS)) {
    const pt = secrets[id as VersionId];
    const sealed = v.sealer === 'cli' ? ageEncrypt(dir, pt, [identity.recipient]) : encrypt(pt, [identity.recipient]);
    writeFileSync(join(secretsDir, `${id}.age`), sealed);
  }
  return { dir, setFile, manifests, manifestFiles, secretsDir, identity, secrets };
}

/** A copy of the scenario's secrets folder, changed by `alter` (given the copy's path). */
export function secretsCopy(sc: Scenario, alter: (dir: string) => void): string {
  const copy = join(tempDir('kc-sealed-'), 'sealed');
  cpSync(sc.secretsDir, copy, { recursive: true });
  alter(copy);
  return copy;
}

export const IDENTITY_VAR = 'KC_TEST_AGE_IDENTITY';

/** The scenario's manifest files issued at or before `at`: the chain as it stood then (deploy refuses a T before the chain's last manifest). */
export function chainAt(sc: Scenario, at: string): string[] {
  const issued = (e: RawEnvelope) => Date.parse((JSON.parse(Buffer.from(e.payload, 'base64').toString('utf8')) as { issued: string }).issued);
  return sc.manifestFiles.filter((_, i) => issued(sc.manifests[i] as RawEnvelope) <= Date.parse(at));
}

/** The usual arguments: the scenario's chain as it stood at `at` (unless given), root pinned, its secrets folder, the identity variable. */
export function baseArgs(sc: Scenario, at: string, o: { secretsDir?: string; manifestFiles?: string[] } = {}): string[] {
  return ['--custodians', sc.setFile, '--root-digest', digest(SET1), '--manifests', ...(o.manifestFiles ?? chainAt(sc, at)), '--at', at, '--secrets', o.secretsDir ?? sc.secretsDir, '--identity-env', IDENTITY_VAR];
}

export interface Result { status: number; stdout: string; stderr: string }

/** `keyceremony deploy …` in this process, through main() with captured streams and the environment given. */
export async function deployCli(args: readonly string[], env: NodeJS.ProcessEnv): Promise<Result> {
  let stdout = '';
  let stderr = '';
  const sink = (add: (s: string) => void) => new Writable({ write(chunk, _enc, cb) { add(String(chunk)); cb(); } });
  const io: Io = { stdout: sink((s) => { stdout += s; }), stderr: sink((s) => { stderr += s; }), stdin: process.stdin, env };
  const status = await main(['deploy', ...args], io);
  return { status, stdout, stderr };
}

/** `NAME=value` lines of an env file, comments and blank lines skipped. */
export function parseEnvFile(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.indexOf('=');
    out[line.slice(0, at)] = line.slice(at + 1);
  }
  return out;
}

/** The Secret manifest read back line by line: metadata scalars and `data` decoded from base64. */
export function parseSecretYaml(text: string): { name: string; namespace: string | undefined; kind: string; data: Record<string, Buffer>; annotations: Record<string, string> } {
  const lines = text.split('\n');
  const scalar = (key: string, indent: string) => {
    const l = lines.find((x) => x.startsWith(`${indent}${key}: `));
    return l === undefined ? undefined : JSON.parse(l.slice(indent.length + key.length + 2)) as string;
  };
  const data: Record<string, Buffer> = {};
  const annotations: Record<string, string> = {};
  let section = '';
  for (const l of lines) {
    if (/^[a-z]/i.test(l)) section = l.replace(/:.*$/, '');
    else if (l.startsWith('  annotations:')) section = 'annotations';
    const m = /^ {2}"([A-Z0-9_]+)": "([A-Za-z0-9+/=]*)"$/.exec(l);
    if (section === 'data' && m !== null) data[m[1] as string] = Buffer.from(m[2] as string, 'base64');
    const a = /^ {4}([a-z/-]+): "(.*)"$/.exec(l);
    if (section === 'annotations' && a !== null) annotations[a[1] as string] = a[2] as string;
  }
  return { name: scalar('name', '  ') as string, namespace: scalar('namespace', '  '), kind: lines.find((l) => l.startsWith('kind: '))?.slice(6) ?? '', data, annotations };
}
