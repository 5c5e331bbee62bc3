/**
 * Hostile and awkward ways of naming the library of an NSS softokn HSM to `keyceremony export`,
 * `bundle` and `tokens` (CLI.md common rules: a URI's `module-path` names that token's library;
 * `--module`/`KEYCEREMONY_PKCS11_MODULE` the default one, which alone takes `--module-params`/
 * `KEYCEREMONY_PKCS11_MODULE_PARAMS`). The parameters here are the bare form of KMS-NOTES.md (no
 * dbTokenDescription), so the token is NSS's own "NSS Certificate DB". Every refusal is one error
 * line with its code, the exit code CLI.md gives, nothing written, and never a crash: NSS softokn
 * dies of SIGSEGV inside C_Initialize on some parameter strings, so no string may reach it
 * in the command's own process untried.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ERROR_LINE, runCli } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import { envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import { softoknModule } from '../support/nss.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { makeKeks, opensslUnwrap } from './openssl.js';
import type { TestKek } from './openssl.js';

const PIN = '24681357';
const INIT = `
const p = require(process.env.PKCS11JS);
const lib = new p.PKCS11();
lib.load(process.env.NSS_MODULE);
lib.C_Initialize({ flags: p.CKF_OS_LOCKING_OK, libraryParameters: process.env.NSS_PARAMS });
const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === 'NSS Certificate DB');
const h = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION);
lib.C_Login(h, p.CKU_SO, '');
lib.C_InitPIN(h, process.env.NSS_PIN);
lib.C_Logout(h);
lib.C_CloseSession(h);
lib.C_Finalize();
`;

let dir: string;
let db: string;
let nssLib: string;
let params: string;
let link: string;
let spaced: string;
let env: NodeJS.ProcessEnv;
let keks: Record<number, TestKek>;
let kcv: string;
let hsm: SoftHsm;
const KEY = 'pkcs11:token=NSS%20Certificate%20DB;object=master-v7';

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-nss-paths-'));
  db = join(dir, 'db');
  mkdirSync(db);
  nssLib = softoknModule();
  params = `configdir='sql:${db}' certPrefix='' keyPrefix='' secmod='secmod.db' flags=`;
  execFileSync(process.execPath, ['-e', INIT], { env: { ...process.env, PKCS11JS: createRequire(import.meta.url).resolve('pkcs11js'), NSS_MODULE: nssLib, NSS_PARAMS: params, NSS_PIN: PIN }, stdio: 'pipe' });
  link = join(dir, 'link-softokn.so');
  symlinkSync(nssLib, link);
  mkdirSync(join(dir, 'vendor libs'));
  spaced = join(dir, 'vendor libs', 'libsoftokn3.so');
  symlinkSync(nssLib, spaced);
  hsm = createSoftHsm([{ label: 'Soft HSM', pin: PIN, soPin: '12345678' }], { setProcessEnv: false });
  env = { ...hsm.env, HSM_PIN: PIN, KEYCEREMONY_REMOVABLE_ROOTS: dir };
  delete env.KEYCEREMONY_PKCS11_MODULE;
  delete env.KEYCEREMONY_PKCS11_MODULE_PARAMS;
  keks = makeKeks(dir, [2048, 3072]);
  const m = runCli(['keygen', 'master', KEY, '--extractable', '--module', nssLib, '--module-params', params, '--pin-env', 'HSM_PIN', '--json'], env);
  expect([m.status, m.stderr]).toEqual([0, '']);
  kcv = (JSON.parse(m.stdout) as { kcv: string }).kcv.slice(4);
}, 120_000);
afterAll(() => { hsm?.cleanup(); rmSync(dir, { recursive: true, force: true }); });

const exportTo = (out: string, key: string, more: readonly string[], e: NodeJS.ProcessEnv = env): CliResult =>
  runCli(['export', '--key', key, '--target', 'aws-rsaes-oaep-sha256', '--wrapping-key', keks[2048]!.pub, '--out', join(dir, out), '--pin-env', 'HSM_PIN', ...more], e);

function exported(out: string, r: CliResult): void {
  expect([r.status, r.stderr]).toEqual([0, '']);
  const key = opensslUnwrap(readFileSync(join(dir, out, 'EncryptedKeyMaterial.bin')), keks[2048]!, 'sha256', false, dir);
  expect(execFileSync('openssl', ['enc', '-aes-256-ecb', '-nopad', '-K', key.toString('hex')], { input: Buffer.alloc(16) }).subarray(0, 3).toString('hex')).toBe(kcv);
}

function refused(out: string, r: CliResult, code: string, exit: number): void {
  expect(r.stderr).toMatch(ERROR_LINE);
  expect(r.stderr).toContain(`keyceremony: ${code}: `);
  expect(r.status).toBe(exit);
  expect(r.stdout).toBe('');
  expect(existsSync(join(dir, out))).toBe(false);
}

describe('module-path in the key URI', () => {
  test('percent-encoded (RFC 7512) and with a space (%20): the same library as --module, so it takes --module-params', () => {
    exported('pct', exportTo('pct', `${KEY}?module-path=${encodeURIComponent(nssLib)}`, ['--module', nssLib, '--module-params', params]));
    exported('space', exportTo('space', `${KEY}?module-path=${spaced.split('/').map(encodeURIComponent).join('/')}`, ['--module', spaced, '--module-params', params]));
  });
  test('the same library through a link and through its real path is one library, with the default library\'s parameters, either way round', () => {
    exported('link-default', exportTo('link-default', `${KEY}?module-path=${nssLib}`, ['--module', link, '--module-params', params]));
    exported('real-default', exportTo('real-default', `${KEY}?module-path=${link}`, ['--module', nssLib, '--module-params', params]));
    exported('env-link', exportTo('env-link', `${KEY}?module-path=${nssLib}`, [], { ...env, KEYCEREMONY_PKCS11_MODULE: link, KEYCEREMONY_PKCS11_MODULE_PARAMS: params }));
  });
  test('a relative module-path is refused (exit 2) before anything is loaded: it would name whatever file the working folder holds', () => {
    const r = runCli(['export', '--key', `${KEY}?module-path=link-softokn.so`, '--target', 'aws-rsaes-oaep-sha256', '--wrapping-key', keks[2048]!.pub, '--out', join(dir, 'relative'), '--pin-env', 'HSM_PIN',
      '--module', nssLib, '--module-params', params], env);
    refused('relative', r, 'HSM_MODULE_PATH_RELATIVE', 2);
    refused('relative2', exportTo('relative2', `${KEY}?module-path=.%2Flink-softokn.so`, ['--module', nssLib, '--module-params', params]), 'HSM_MODULE_PATH_RELATIVE', 2);
  });
  test('a missing library (exit 2), a file that is not a PKCS#11 library (exit 2), a literal space (exit 2)', () => {
    const missing = exportTo('missing', `${KEY}?module-path=/opt/nowhere/libvendor.so`, ['--module', nssLib, '--module-params', params]);
    refused('missing', missing, 'HSM_MODULE_NOT_FOUND', 2);
    expect(missing.stderr).toContain("the URI's module-path"); // the fix names where the path came from
    const device = exportTo('device', `${KEY}?module-path=/dev/zero`, []);
    refused('device', device, 'HSM_MODULE_NOT_FOUND', 2);
    expect(device.stderr).toContain('/dev/zero is not a regular file');
    const junk = join(dir, 'junk.so');
    writeFileSync(junk, 'not an ELF file\n');
    refused('junk', exportTo('junk', `${KEY}?module-path=${junk}`, []), 'HSM_MODULE_LOAD_FAILED', 2);
    refused('literal', exportTo('literal', `${KEY}?module-path=${spaced}`, ['--module', spaced, '--module-params', params]), 'URI_INVALID', 2);
  });
});

describe('--module-params', () => {
  test('without a library to give them to (no --module, no KEYCEREMONY_PKCS11_MODULE): refused as a usage error, not handed to an auto-detected SoftHSM2', () => {
    refused('params-alone', exportTo('params-alone', KEY, ['--module-params', params]), 'HSM_MODULE_PARAMS_WITHOUT_MODULE', 2);
    refused('params-env-alone', exportTo('params-env-alone', KEY, [], { ...env, KEYCEREMONY_PKCS11_MODULE_PARAMS: params }), 'HSM_MODULE_PARAMS_WITHOUT_MODULE', 2);
    const t = runCli(['tokens', '--module-params', params], env);
    expect([t.status, t.stderr]).toEqual([2, expect.stringMatching(ERROR_LINE)]);
  });
  test('an empty --module-params is a usage error', () => {
    refused('params-empty', exportTo('params-empty', KEY, ['--module', nssLib, '--module-params', '']), 'USAGE', 2);
  });
  test('strings NSS cannot take (no configdir, an unquoted relative one, stray quotes and brackets) are refused with a code, never a crash', () => {
    for (const [i, p] of ['x', 'flags=', 'configdir=x', "'", '[', 'configdir= flags=', "certPrefix='configdir=' flags="].entries()) {
      const r = exportTo(`bad-${i}`, KEY, ['--module', nssLib, '--module-params', p]);
      refused(`bad-${i}`, r, 'HSM_MODULE_PARAMS_REJECTED', 1);
    }
    const t = runCli(['tokens', '--module', nssLib, '--module-params', 'x', '--json'], env);
    expect(t.status).toBe(1);
    expect(t.stderr).toMatch(ERROR_LINE);
  });
  test('parameters with quotes and brackets that NSS does take: double quotes, [ ] around the folder', () => {
    exported('dq', exportTo('dq', KEY, ['--module', nssLib, '--module-params', `configdir="sql:${db}" certPrefix="" keyPrefix="" secmod="secmod.db" flags=`]));
    exported('br', exportTo('br', KEY, ['--module', nssLib, '--module-params', `configdir=[sql:${db}] certPrefix='' keyPrefix='' secmod='secmod.db' flags=`]));
  });
  test('flags over the environment: --module over KEYCEREMONY_PKCS11_MODULE, --module-params over KEYCEREMONY_PKCS11_MODULE_PARAMS', () => {
    exported('flag-over-env', exportTo('flag-over-env', KEY, ['--module', nssLib, '--module-params', params], { ...env, KEYCEREMONY_PKCS11_MODULE: hsm.module, KEYCEREMONY_PKCS11_MODULE_PARAMS: 'x' }));
    exported('params-over-env', exportTo('params-over-env', KEY, ['--module-params', params], { ...env, KEYCEREMONY_PKCS11_MODULE: nssLib, KEYCEREMONY_PKCS11_MODULE_PARAMS: 'configdir=x' }));
  });
});

describe('two libraries', () => {
  test('`tokens --json` has the same shape with one library as with two: module, libraries, tokens (each naming its library)', () => {
    const one = JSON.parse(runCli(['tokens', '--module', nssLib, '--module-params', params, '--json'], env).stdout) as { module: { path: string }; libraries: { path: string; error: null }[]; tokens: { label: string; library: string }[] };
    expect(one.module.path).toBe(nssLib);
    expect(one.libraries.map((l) => [l.path, l.error])).toEqual([[nssLib, null]]);
    const r = runCli(['tokens', '--module', nssLib, '--module-params', params, `pkcs11:token=Soft%20HSM?module-path=${hsm.module}`, '--json'], env);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const two = JSON.parse(r.stdout) as typeof one;
    expect(Object.keys(two).sort()).toEqual(Object.keys(one).sort());
    expect(two.libraries.map((l) => [l.path, l.error])).toEqual([[nssLib, null], [hsm.module, null]]);
    expect(two.tokens.filter((t) => t.library === hsm.module).map((t) => t.label)).toEqual(['Soft HSM']);
    expect(two.tokens.filter((t) => t.library === nssLib).map((t) => t.label)).toEqual(expect.arrayContaining(['NSS Certificate DB']));
  });
  test('bundle: a key by module-path on the real file first, a key on the default library through a link second: one library, both exported', () => {
    const alice = keyNamed('alice');
    const bob = keyNamed('bob');
    writeFileSync(join(dir, 'set.json'), JSON.stringify(envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob]]), [alice, bob])));
    const k3 = runCli(['keygen', 'master', 'pkcs11:token=NSS%20Certificate%20DB;object=master-v3', '--extractable', '--module', nssLib, '--module-params', params, '--pin-env', 'HSM_PIN', '--json'], env);
    expect(k3.status).toBe(0);
    const soft = runCli(['keygen', 'master', `pkcs11:token=Soft%20HSM;object=master-v4?module-path=${hsm.module}`, '--extractable', '--pin-env', 'HSM_PIN', '--json'], env);
    expect(soft.status).toBe(0);
    const out = join(dir, 'bundle');
    const r = runCli(['bundle', '--key', `pkcs11:token=NSS%20Certificate%20DB;object=master-v3?module-path=${nssLib}`, '--key', 'pkcs11:token=NSS%20Certificate%20DB;object=master-v7',
      '--key', `pkcs11:token=Soft%20HSM;object=master-v4?module-path=${hsm.module}`, '--target', `aws-rsa-aes-key-wrap-sha256=${keks[3072]!.pub}`, '--out', out, '--custodians', join(dir, 'set.json'),
      '--ceremony', '2026-q4-export', '--actor', 'alice', '--module', link, '--module-params', params, '--pin-env', 'HSM_PIN', '--json'], env);
    expect([r.status, r.stderr]).toEqual([0, '']);
    const kcvs = (JSON.parse(r.stdout) as { kcvs: Record<string, string> }).kcvs;
    expect(kcvs).toEqual({ 'master-v3': (JSON.parse(k3.stdout) as { kcv: string }).kcv.slice(4), 'master-v7': kcv, 'master-v4': (JSON.parse(soft.stdout) as { kcv: string }).kcv.slice(4) });
    expect(execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' }).trim().split('\n')).toHaveLength(6);
  });
});
