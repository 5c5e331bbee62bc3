/**
 * `keyceremony deploy` (issue 17 §3): from a verified chain, the key state at T, the sealed files
 * and the deployment's age identity, it writes an env file, a folder of files or a Kubernetes
 * Secret; NAME is the current version, NAME_NEXT the accepted next one, each with its id; values
 * are the lowercase hex of the secret's bytes. Every refusal has its code, an exit status that is
 * never 3, and leaves nothing written.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, statSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, test } from 'vitest';
import { encrypt } from '../../src/age/age.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { ageDecrypt, ageEncrypt, keygen, tempDir } from '../age/support.js';
import { AT_CUTOVER, AT_DUAL, AT_PENDING, AT_REVOKED, baseArgs, binding, day, deployCli, entry, IDENTITY_VAR, parseEnvFile, parseSecretYaml, scenario, secretEntry, secretsCopy, storySteps } from './support.js';
import type { Result, Scenario, VersionId } from './support.js';

let sc: Scenario;
let env: NodeJS.ProcessEnv;
const hex = (id: VersionId) => sc.secrets[id].toString('hex');
const mode = (p: string) => statSync(p).mode & 0o777;

beforeAll(() => {
  sc = scenario();
  env = { ...process.env, [IDENTITY_VAR]: sc.identity.text };
});

/** A fresh empty folder and an output path inside it that does not exist. */
function outIn(name = 'out'): { parent: string; out: string } {
  const parent = tempDir('kc-deploy-out-');
  return { parent, out: join(parent, name) };
}

/** The refusal: its code on one stderr line, its exit status (never 3), nothing on stdout, and the output's parent as it was. */
function expectRefused(r: Result, code: string, exit: 1 | 2, parent: string, before: string[] = []): void {
  expect(r.stderr).toMatch(ERROR_LINE);
  expect((ERROR_LINE.exec(r.stderr) as RegExpExecArray)[1]).toBe(code);
  expect(r.status).toBe(exit);
  expect(r.stdout).toBe('');
  expect(readdirSync(parent)).toEqual(before);
}

/** No secret of the scenario, in hex or base64, appears in `text`. */
function expectNoValue(text: string): void {
  for (const s of Object.values(sc.secrets)) {
    expect(text).not.toContain(s.toString('hex'));
    expect(text).not.toContain(s.toString('base64').slice(0, 20));
  }
}

describe('the happy path, each format', () => {
  test('env, during the dual-publish: NAME and NAME_NEXT with their ids; the HSM key skipped with a warning; mode 0600', async () => {
    const { out } = outIn('app.env');
    const r = await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'env', '--out', out], env);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/^keyceremony: warning: DEPLOY_KEY_SKIPPED: MASTER_KEY is kept in the HSM \(AES-256-GCM\)/m);
    expect(mode(out)).toBe(0o600);
    const text = readFileSync(out, 'utf8');
    expect(parseEnvFile(text)).toEqual({
      JWT_SIGNING_SECRET: hex('jwt-v1'), JWT_SIGNING_SECRET_ID: 'jwt-v1',
      REDIS_AUTH_TOKEN: hex('redis-auth-v1'), REDIS_AUTH_TOKEN_ID: 'redis-auth-v1',
      WEBHOOK_SIGNING_SECRET: hex('webhook-v1'), WEBHOOK_SIGNING_SECRET_ID: 'webhook-v1',
      WEBHOOK_SIGNING_SECRET_NEXT: hex('webhook-v2'), WEBHOOK_SIGNING_SECRET_NEXT_ID: 'webhook-v2',
    });
    expect(text).toMatch(/^# Written by keyceremony deploy \(env\) from the rotation-manifest chain 1\.\.5, tip sha256:[0-9a-f]{64}, at 2026-11-06T00:00:00Z\.\n/);
    expectNoValue(r.stdout + r.stderr);
    // a shell reads it as it is: no quoting needed
    const sh = execFileSync('/bin/sh', ['-c', 'set -a; . "$1"; printf "%s\\n%s\\n" "$WEBHOOK_SIGNING_SECRET_NEXT" "$WEBHOOK_SIGNING_SECRET_ID"', 'sh', out], { env: {}, encoding: 'utf8' });
    expect(sh).toBe(`${hex('webhook-v2')}\nwebhook-v1\n`);
  });

  test('env, after the cutover: only the current version, no NAME_NEXT; --json reports ids, never a value', async () => {
    const { out } = outIn('app.env');
    const r = await deployCli([...baseArgs(sc, AT_CUTOVER), '--format', 'env', '--out', out, '--json'], env);
    expect(r.status).toBe(0);
    expect(r.stderr).toBe('');
    const vars = parseEnvFile(readFileSync(out, 'utf8'));
    expect(vars.WEBHOOK_SIGNING_SECRET).toBe(hex('webhook-v2'));
    expect(vars.WEBHOOK_SIGNING_SECRET_ID).toBe('webhook-v2');
    expect(Object.keys(vars).filter((k) => k.includes('NEXT'))).toEqual([]);
    expect(r.stdout.trim().split('\n')).toHaveLength(1);
    const j = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(j).toEqual({
      format: 'env', out, encoding: 'hex', at: AT_CUTOVER, sequence: 6, tip: expect.stringMatching(/^sha256:[0-9a-f]{64}$/),
      keys: { JWT_SIGNING_SECRET: { current: 'jwt-v1', next: null }, REDIS_AUTH_TOKEN: { current: 'redis-auth-v1', next: null }, WEBHOOK_SIGNING_SECRET: { current: 'webhook-v2', next: null } },
      variables: ['JWT_SIGNING_SECRET', 'JWT_SIGNING_SECRET_ID', 'REDIS_AUTH_TOKEN', 'REDIS_AUTH_TOKEN_ID', 'WEBHOOK_SIGNING_SECRET', 'WEBHOOK_SIGNING_SECRET_ID'],
      skipped: [{ name: 'MASTER_KEY', algorithms: ['AES-256-GCM'] }],
      warnings: [expect.stringMatching(/^DEPLOY_KEY_SKIPPED: MASTER_KEY /)],
    });
    expectNoValue(r.stdout);
  });

  test('files: one file per variable holding exactly the value, 0600 in a 0700 folder; --force replaces the deployment whole', async () => {
    const { parent, out } = outIn('secrets');
    const r = await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'files', '--out', out], env);
    expect(r.status).toBe(0);
    expect(mode(out)).toBe(0o700);
    expect(readdirSync(out)).toEqual(['.keyceremony-deploy', 'JWT_SIGNING_SECRET', 'JWT_SIGNING_SECRET_ID', 'REDIS_AUTH_TOKEN', 'REDIS_AUTH_TOKEN_ID', 'WEBHOOK_SIGNING_SECRET', 'WEBHOOK_SIGNING_SECRET_ID', 'WEBHOOK_SIGNING_SECRET_NEXT', 'WEBHOOK_SIGNING_SECRET_NEXT_ID']);
    for (const f of readdirSync(out)) expect(mode(join(out, f))).toBe(0o600);
    expect(readFileSync(join(out, '.keyceremony-deploy'), 'utf8')).toMatch(/^This folder was written by keyceremony deploy/);
    expect(readFileSync(join(out, 'WEBHOOK_SIGNING_SECRET_NEXT'), 'utf8')).toBe(hex('webhook-v2'));
    expect(readFileSync(join(out, 'WEBHOOK_SIGNING_SECRET_NEXT_ID'), 'utf8')).toBe('webhook-v2');
    expect(Buffer.from(readFileSync(join(out, 'JWT_SIGNING_SECRET'), 'utf8'), 'hex')).toEqual(sc.secrets['jwt-v1']);
    // without --force the deployment is not replaced
    const again = await deployCli([...baseArgs(sc, AT_CUTOVER), '--format', 'files', '--out', out], env);
    expectRefused(again, 'OUTPUT_NOT_EMPTY', 1, parent, ['secrets']);
    expect(readdirSync(out)).toHaveLength(9);
    // with --force it is, whole: the NEXT files are gone, not left stale
    const forced = await deployCli([...baseArgs(sc, AT_CUTOVER), '--format', 'files', '--out', out, '--force'], env);
    expect(forced.status).toBe(0);
    expect(readdirSync(parent)).toEqual(['secrets']);
    expect(readdirSync(out)).toEqual(['.keyceremony-deploy', 'JWT_SIGNING_SECRET', 'JWT_SIGNING_SECRET_ID', 'REDIS_AUTH_TOKEN', 'REDIS_AUTH_TOKEN_ID', 'WEBHOOK_SIGNING_SECRET', 'WEBHOOK_SIGNING_SECRET_ID']);
    expect(readFileSync(join(out, 'WEBHOOK_SIGNING_SECRET'), 'utf8')).toBe(hex('webhook-v2'));
  });

  test('k8s: a v1 Secret whose data decodes to the same values, with name, namespace and the chain tip', async () => {
    const { out } = outIn('secret.yaml');
    const r = await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'k8s', '--name', 'app-secrets', '--namespace', 'prod', '--out', out], env);
    expect(r.status).toBe(0);
    expect(mode(out)).toBe(0o600);
    const y = parseSecretYaml(readFileSync(out, 'utf8'));
    expect(y).toMatchObject({ kind: 'Secret', name: 'app-secrets', namespace: 'prod' });
    expect(y.annotations['keyceremony/chain-sequence']).toBe('5');
    expect(y.annotations['keyceremony/at']).toBe(AT_DUAL);
    expect(Object.fromEntries(Object.entries(y.data).map(([k, v]) => [k, v.toString('utf8')]))).toEqual({
      JWT_SIGNING_SECRET: hex('jwt-v1'), JWT_SIGNING_SECRET_ID: 'jwt-v1', REDIS_AUTH_TOKEN: hex('redis-auth-v1'), REDIS_AUTH_TOKEN_ID: 'redis-auth-v1',
      WEBHOOK_SIGNING_SECRET: hex('webhook-v1'), WEBHOOK_SIGNING_SECRET_ID: 'webhook-v1', WEBHOOK_SIGNING_SECRET_NEXT: hex('webhook-v2'), WEBHOOK_SIGNING_SECRET_NEXT_ID: 'webhook-v2',
    });
    const after = outIn('secret.yaml');
    expect((await deployCli([...baseArgs(sc, AT_CUTOVER), '--format', 'k8s', '--name', 'app-secrets', '--out', after.out], env)).status).toBe(0);
    const y2 = parseSecretYaml(readFileSync(after.out, 'utf8'));
    expect(y2.namespace).toBeUndefined();
    expect(Object.keys(y2.data)).toEqual(['JWT_SIGNING_SECRET', 'JWT_SIGNING_SECRET_ID', 'REDIS_AUTH_TOKEN', 'REDIS_AUTH_TOKEN_ID', 'WEBHOOK_SIGNING_SECRET', 'WEBHOOK_SIGNING_SECRET_ID']);
    expect(y2.data.WEBHOOK_SIGNING_SECRET?.toString()).toBe(hex('webhook-v2'));
  });

  test('the real command in its own process: registered, text output, env --force replaces a file', () => {
    const { out } = outIn('app.env');
    writeFileSync(out, 'OLD=1\n', { mode: 0o644 });
    const r = runCli(['deploy', ...baseArgs(sc, AT_REVOKED), '--format', 'env', '--out', out, '--force'], env);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`deployed 3 secret name(s) as an env file: ${out} (mode 0600; values are lowercase hex)\n`);
    expect(r.stdout).toMatch(/ {2}WEBHOOK_SIGNING_SECRET {2}current webhook-v2 {2}next \(none\)\n/);
    expect(r.stdout).toContain('  skipped MASTER_KEY (AES-256-GCM, kept in the HSM)\n');
    expect(mode(out)).toBe(0o600);
    expect(parseEnvFile(readFileSync(out, 'utf8')).OLD).toBeUndefined();
    expectNoValue(r.stdout + r.stderr);
  });

  test('the sealed test values open with the Debian age CLI and bind to the signed binding (recomputed with node:crypto)', () => {
    for (const id of Object.keys(sc.secrets) as VersionId[]) {
      const r = ageDecrypt(sc.dir, readFileSync(join(sc.secretsDir, `${id}.age`)), sc.identity.path);
      expect(r.status).toBe(0);
      expect(r.stdout).toEqual(sc.secrets[id]);
      const signed = sc.manifests.flatMap((m) => (JSON.parse(Buffer.from(m.payload, 'base64').toString()) as { keys: { id: string; binding?: string }[] }).keys)
        .find((k) => k.id === id && k.binding !== undefined)?.binding;
      expect(signed).toBe(binding(r.stdout, id));
    }
  });

  test('--key limits the names; a name with no surfaced version writes nothing for it', async () => {
    const { out } = outIn('app.env');
    const r = await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'env', '--out', out, '--key', 'WEBHOOK_SIGNING_SECRET', '--json'], env);
    expect(r.status).toBe(0);
    expect(Object.keys(parseEnvFile(readFileSync(out, 'utf8')))).toEqual(['WEBHOOK_SIGNING_SECRET', 'WEBHOOK_SIGNING_SECRET_ID', 'WEBHOOK_SIGNING_SECRET_NEXT', 'WEBHOOK_SIGNING_SECRET_NEXT_ID']);
    expect((JSON.parse(r.stdout) as { skipped: unknown[] }).skipped).toEqual([]);
    // before the chain's first step takes effect, nothing is surfaced
    const s0 = scenario((s) => [{ keys: storySteps(s)[0]?.keys.map((k) => ({ ...k, notBefore: day(3) })) ?? [] }]);
    const early = outIn('early.env');
    const e = await deployCli([...baseArgs(s0, day(2)), '--format', 'env', '--out', early.out, '--json'], { ...process.env, [IDENTITY_VAR]: s0.identity.text });
    expect(e.status).toBe(0);
    expect(parseEnvFile(readFileSync(early.out, 'utf8'))).toEqual({});
    expect((JSON.parse(e.stdout) as { keys: object }).keys).toEqual({ JWT_SIGNING_SECRET: { current: null, next: null }, REDIS_AUTH_TOKEN: { current: null, next: null }, WEBHOOK_SIGNING_SECRET: { current: null, next: null } });
  });
});

describe('versions the state does not surface are never read', () => {
  test('pending: its file present (here not even an age file) is ignored; --require of it is refused', async () => {
    const secretsDir = secretsCopy(sc, (d) => writeFileSync(join(d, 'webhook-v2.age'), 'not an age file'));
    const { out } = outIn('app.env');
    const r = await deployCli([...baseArgs(sc, AT_PENDING, { secretsDir }), '--format', 'env', '--out', out], env);
    expect(r.status).toBe(0);
    const vars = parseEnvFile(readFileSync(out, 'utf8'));
    expect(vars.WEBHOOK_SIGNING_SECRET_ID).toBe('webhook-v1');
    expect(vars.WEBHOOK_SIGNING_SECRET_NEXT).toBeUndefined();
    const req = outIn('app.env');
    const refused = await deployCli([...baseArgs(sc, AT_PENDING), '--format', 'env', '--out', req.out, '--require', 'webhook-v2'], env);
    expectRefused(refused, 'DEPLOY_NOT_SURFACED', 1, req.parent);
    expect(refused.stderr).toContain('webhook-v2 is required but is not surfaced at 2026-11-05T00:00:00Z: it is pending');
  });

  test('retired and revoked: a FIFO in place of the retired file is never opened; --require of it is refused', async () => {
    const secretsDir = secretsCopy(sc, (d) => {
      execFileSync('rm', [join(d, 'webhook-v1.age')]);
      execFileSync('mkfifo', [join(d, 'webhook-v1.age')]);
    });
    for (const at of [AT_CUTOVER, AT_REVOKED]) {
      const { out } = outIn('app.env');
      const r = await deployCli([...baseArgs(sc, at, { secretsDir }), '--format', 'env', '--out', out, '--require', 'webhook-v2'], env);
      expect(r.status).toBe(0);
      const req = outIn();
      const refused = await deployCli([...baseArgs(sc, at, { secretsDir }), '--format', 'env', '--out', req.out, '--require', 'webhook-v1'], env);
      expectRefused(refused, 'DEPLOY_NOT_SURFACED', 1, req.parent);
      expect(refused.stderr).toContain(at === AT_CUTOVER ? 'it is retired' : 'it is revoked');
    }
  });

  test('compromised: never surfaced, even when it was current', async () => {
    const s2 = scenario((s) => [...storySteps(s).slice(0, 5), { keys: [entry('compromise', 'webhook-v1', { supersedes: null })] }]);
    const { out } = outIn('app.env');
    const r = await deployCli([...baseArgs(s2, day(7)), '--format', 'env', '--out', out, '--json'], { ...process.env, [IDENTITY_VAR]: s2.identity.text });
    expect(r.status).toBe(0);
    const vars = parseEnvFile(readFileSync(out, 'utf8'));
    expect(vars.WEBHOOK_SIGNING_SECRET).toBeUndefined();
    expect(vars.WEBHOOK_SIGNING_SECRET_NEXT_ID).toBe('webhook-v2');
    expect((JSON.parse(r.stdout) as { keys: Record<string, unknown> }).keys.WEBHOOK_SIGNING_SECRET).toEqual({ current: null, next: 'webhook-v2' });
  });
});

describe('refusals: a code, an exit status that is never 3, nothing written', () => {
  const refusedWith = async (args: string[], code: string, exit: 1 | 2, e: NodeJS.ProcessEnv = env, format = 'env') => {
    const { parent, out } = outIn(format === 'files' ? 'secrets' : 'app.out');
    const r = await deployCli([...args, '--format', format, '--out', out, ...(format === 'k8s' ? ['--name', 'app'] : [])], e);
    expectRefused(r, code, exit, parent);
    return r;
  };

  test('a secret sealed by someone else to the same recipient: DEPLOY_BINDING_MISMATCH, in every format', async () => {
    const secretsDir = secretsCopy(sc, (d) => writeFileSync(join(d, 'webhook-v2.age'), ageEncrypt(d, randomBytes(32), [sc.identity.recipient])));
    for (const format of ['env', 'files', 'k8s']) await refusedWith([...baseArgs(sc, AT_DUAL, { secretsDir })], 'DEPLOY_BINDING_MISMATCH', 1, env, format);
    // another version's genuine secret under this version's name does not bind either
    const swapped = secretsCopy(sc, (d) => writeFileSync(join(d, 'webhook-v2.age'), encrypt(sc.secrets['webhook-v1'], [sc.identity.recipient])));
    await refusedWith(baseArgs(sc, AT_DUAL, { secretsDir: swapped }), 'DEPLOY_BINDING_MISMATCH', 1);
    const empty = secretsCopy(sc, (d) => writeFileSync(join(d, 'webhook-v2.age'), encrypt(new Uint8Array(0), [sc.identity.recipient])));
    await refusedWith(baseArgs(sc, AT_DUAL, { secretsDir: empty }), 'DEPLOY_BINDING_MISMATCH', 1);
  });

  test('a chain that does not verify: a gap, a manifest short of its threshold, a wrong root: DEPLOY_CHAIN_INVALID', async () => {
    const gap = await refusedWith(baseArgs(sc, AT_DUAL, { manifestFiles: sc.manifestFiles.filter((_, i) => i !== 2) }), 'DEPLOY_CHAIN_INVALID', 1);
    expect(gap.stderr).toContain('STATE_SEQUENCE_GAP');
    const { K } = await import('../state/support.js');
    const short = scenario((s) => storySteps(s).map((st, i) => (i === 4 ? { ...st, signers: [K.alice] } : st)));
    const r = await refusedWith(baseArgs(short, AT_DUAL), 'DEPLOY_CHAIN_INVALID', 1, { ...process.env, [IDENTITY_VAR]: short.identity.text });
    expect(r.stderr).toContain('THRESHOLD_NOT_MET');
    const args = baseArgs(sc, AT_DUAL);
    args[args.indexOf('--root-digest') + 1] = `sha256:${'0'.repeat(64)}`;
    await refusedWith(args, 'DEPLOY_CHAIN_INVALID', 1);
  });

  test('an output that exists, without --force: OUTPUT_EXISTS (file unchanged) and OUTPUT_NOT_EMPTY; --force never replaces a foreign folder', async () => {
    const { parent, out } = outIn('app.env');
    writeFileSync(out, 'KEEP=1\n');
    expectRefused(await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'env', '--out', out], env), 'OUTPUT_EXISTS', 1, parent, ['app.env']);
    expect(readFileSync(out, 'utf8')).toBe('KEEP=1\n');
    const folder = outIn('secrets');
    mkdirSync(folder.out);
    writeFileSync(join(folder.out, 'WEBHOOK_SIGNING_SECRET'), 'old');
    expectRefused(await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'files', '--out', folder.out], env), 'OUTPUT_NOT_EMPTY', 1, folder.parent, ['secrets']);
    writeFileSync(join(folder.out, 'notes.txt'), 'mine');
    expectRefused(await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'files', '--out', folder.out, '--force'], env), 'DEPLOY_OUTPUT_FOREIGN', 1, folder.parent, ['secrets']);
    expect(readdirSync(folder.out)).toEqual(['WEBHOOK_SIGNING_SECRET', 'notes.txt']);
    const linked = outIn('app.env');
    symlinkSync(join(linked.parent, 'elsewhere'), linked.out);
    expectRefused(await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'env', '--out', linked.out, '--force'], env), 'FOLDER_LINK_REFUSED', 1, linked.parent, ['app.env']);
    expect(existsSync(join(linked.parent, 'elsewhere'))).toBe(false);
  });

  test('the identity: a missing or empty variable (exit 2), a malformed one (exit 2), a wrong one (exit 1), one on the command line (exit 2, not echoed)', async () => {
    const noVar = { ...process.env };
    delete noVar[IDENTITY_VAR];
    await refusedWith(baseArgs(sc, AT_DUAL), 'DEPLOY_IDENTITY_MISSING', 2, noVar);
    await refusedWith(baseArgs(sc, AT_DUAL), 'DEPLOY_IDENTITY_MISSING', 2, { ...process.env, [IDENTITY_VAR]: '' });
    const bad = await refusedWith(baseArgs(sc, AT_DUAL), 'AGE_IDENTITY_INVALID', 2, { ...process.env, [IDENTITY_VAR]: sc.identity.text.replace(/AGE-SECRET-KEY-1(\w)/, (_m, c: string) => `AGE-SECRET-KEY-1${c === 'Q' ? 'P' : 'Q'}`) /* a character changed, whatever it was */ });
    expect(bad.stderr).not.toContain((/AGE-SECRET-KEY-1\w+/.exec(sc.identity.text) as RegExpExecArray)[0].slice(17, 40));
    const other = keygen(tempDir('kc-other-'), 'other.txt');
    await refusedWith(baseArgs(sc, AT_DUAL), 'AGE_NO_IDENTITY_MATCH', 1, { ...process.env, [IDENTITY_VAR]: other.text });
    const secret = (/AGE-SECRET-KEY-1\w+/.exec(sc.identity.text) as RegExpExecArray)[0];
    const onArgv = await refusedWith([...baseArgs(sc, AT_DUAL), `--identity=${secret}`], 'AGE_IDENTITY_ON_COMMAND_LINE', 2);
    expect(onArgv.stderr).not.toContain(secret.slice(16));
  });

  test('hostile sealed files: truncated, oversized, a FIFO, a link, a folder; a missing one', async () => {
    const cases: [string, (d: string) => void, string, 1 | 2][] = [
      ['truncated', (d) => truncateSync(join(d, 'webhook-v2.age'), statSync(join(d, 'webhook-v2.age')).size - 1), 'AGE_PAYLOAD_INVALID', 1],
      ['header cut', (d) => truncateSync(join(d, 'webhook-v2.age'), 40), 'AGE_HEADER_INVALID', 1],
      ['oversized', (d) => writeFileSync(join(d, 'webhook-v2.age'), encrypt(randomBytes(70 * 1024), [sc.identity.recipient])), 'FOLDER_FILE_TOO_LARGE', 1],
      ['FIFO', (d) => { execFileSync('rm', [join(d, 'webhook-v2.age')]); execFileSync('mkfifo', [join(d, 'webhook-v2.age')]); }, 'FOLDER_NOT_REGULAR', 1],
      ['link', (d) => { execFileSync('mv', [join(d, 'webhook-v2.age'), join(d, '..', 'real.age')]); symlinkSync(join(d, '..', 'real.age'), join(d, 'webhook-v2.age')); }, 'FOLDER_LINK_REFUSED', 1],
      ['folder', (d) => { execFileSync('rm', [join(d, 'webhook-v2.age')]); mkdirSync(join(d, 'webhook-v2.age')); }, 'FOLDER_WRONG_KIND', 1],
      ['missing', (d) => execFileSync('rm', [join(d, 'webhook-v2.age')]), 'DEPLOY_SECRET_MISSING', 2],
    ];
    for (const [what, alter, code, exit] of cases) {
      const secretsDir = secretsCopy(sc, alter);
      if (what === 'link') expect(lstatSync(join(secretsDir, 'webhook-v2.age')).isSymbolicLink()).toBe(true);
      await refusedWith(baseArgs(sc, AT_DUAL, { secretsDir }), code, exit);
    }
  });

  test('two accepted versions that are not current: DEPLOY_TWO_NEXT', async () => {
    const s3 = scenario((s) => [...storySteps(s).slice(0, 5), { keys: [entry('prepare', 'webhook-v3')] }, { keys: [entry('dual-publish', 'webhook-v3')] }]);
    const r = await refusedWith(baseArgs(s3, day(7)), 'DEPLOY_TWO_NEXT', 1, { ...process.env, [IDENTITY_VAR]: s3.identity.text });
    expect(r.stderr).toContain('webhook-v2, webhook-v3');
  });

  test('a surfaced secret whose entries carry no binding: DEPLOY_BINDING_MISSING; while it is only pending, nothing asks for one', async () => {
    const s4 = scenario((s) => storySteps(s).map((st, i) => (i === 3 ? { keys: [secretEntry('prepare', 'webhook-v2', s, false)] } : st)));
    const e4 = { ...process.env, [IDENTITY_VAR]: s4.identity.text };
    await refusedWith(baseArgs(s4, AT_DUAL), 'DEPLOY_BINDING_MISSING', 1, e4);
    const { out } = outIn();
    expect((await deployCli([...baseArgs(s4, AT_PENDING), '--format', 'env', '--out', out], e4)).status).toBe(0);
  });

  test('usage: --format, --name, --key naming an unknown or an HSM key, a bad Secret name', async () => {
    const y = outIn();
    expectRefused(await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'yaml', '--out', y.out], env), 'USAGE', 2, y.parent);
    await refusedWith([...baseArgs(sc, AT_DUAL), '--key', 'NOPE'], 'DEPLOY_KEY_UNKNOWN', 1);
    await refusedWith([...baseArgs(sc, AT_DUAL), '--key', 'MASTER_KEY'], 'DEPLOY_KEY_NOT_SECRET', 1);
    const { parent, out } = outIn('s.yaml');
    expectRefused(await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'k8s', '--out', out], env), 'USAGE', 2, parent);
    expectRefused(await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'k8s', '--name', 'App_Secrets', '--out', out], env), 'DEPLOY_K8S_NAME_INVALID', 2, parent);
    expectRefused(await deployCli([...baseArgs(sc, AT_DUAL), '--format', 'env', '--name', 'x', '--out', out], env), 'USAGE', 2, parent);
  });
});
