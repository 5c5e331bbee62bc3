/**
 * `keyceremony export` with the HSM on NSS softokn (issue 16), through the command line as CLI.md
 * says: `--module …/libsoftokn3.so --module-params "…"`. NSS offers OAEP with SHA-1 and SHA-256
 * and RFC 5649 as 0x210B, so every target is written entirely in the token, the three direct
 * SHA-256 targets included; openssl decrypts each and the KCV equals the token's. A library
 * without its parameters is refused with a code and the fix; and one command uses two
 * libraries: a SoftHSM2 token named by a module-path URI and NSS as the default.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TARGETS } from '../../src/export/targets.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { blobOf, makeKeks, opensslUnwrap as unwrapWithOpenssl } from './openssl.js';
import type { TestKek } from './openssl.js';
import { envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const PIN = '24681357';
let nss: Nss;
let hsm: SoftHsm;
let dir: string;
let env: NodeJS.ProcessEnv;
let kcv: string;
let keks: Record<number, TestKek>;

/** CLI.md's own form: the library and its parameters as flags. */
const lib = (): string[] => ['--module', nss.module, '--module-params', nss.params];
const KEY = 'pkcs11:token=NSS%20HSM;object=master-v7';

beforeAll(() => {
  nss = createNss({ label: 'NSS HSM', pin: PIN });
  hsm = createSoftHsm([{ label: 'Soft HSM', pin: PIN, soPin: '12345678' }], { setProcessEnv: false });
  dir = mkdtempSync(join(tmpdir(), 'kc-export-nss-'));
  // no KEYCEREMONY_PKCS11_MODULE: the library is named on the command line
  env = { ...hsm.env, HSM_PIN: PIN, KEYCEREMONY_REMOVABLE_ROOTS: dir };
  delete env.KEYCEREMONY_PKCS11_MODULE;
  delete env.KEYCEREMONY_PKCS11_MODULE_PARAMS;
  keks = makeKeks(dir);
  const m = runCli(['keygen', 'master', KEY, '--extractable', ...lib(), '--pin-env', 'HSM_PIN', '--json'], env);
  expect(m.stderr).toBe('');
  expect(m.status).toBe(0);
  kcv = (JSON.parse(m.stdout) as { kcv: string }).kcv.slice(4);
}, 120_000);
afterAll(() => { nss.cleanup(); hsm.cleanup(); rmSync(dir, { recursive: true, force: true }); });

const kcvOf = (key: Buffer): string => execFileSync('openssl', ['enc', '-aes-256-ecb', '-nopad', '-K', key.toString('hex')], { input: Buffer.alloc(16) }).subarray(0, 3).toString('hex');

/** The independent unwrap with the openssl CLI (KMS-NOTES.md commands): test/export/openssl.ts. */
const opensslUnwrap = (blob: Buffer, bits: number, hash: string, kwp: boolean): Buffer => unwrapWithOpenssl(blob, keks[bits]!, hash, kwp, dir);

interface ExportJson { target: string; kcv: string; wrap: string; mechanisms: string[]; files: { path: string }[] }

describe('every target with the HSM on NSS, wrapped entirely in the token', () => {
  test.each(TARGETS.map((t) => [t.name, t]))('%s', (_n, t) => {
    const bits = t.kekBits.includes(3072) ? 3072 : 4096;
    const extra = t.cloud === 'azure' ? ['--kek-id', 'https://kv-example.vault.azure.net/keys/kek/0123456789abcdef'] : t.cloud === 'vault' ? ['--hash', 'sha256'] : [];
    const out = join(dir, `out-${t.name}`);
    const r = runCli(['export', '--key', KEY, '--target', t.name, '--wrapping-key', keks[bits]!.pub, '--out', out, ...lib(), '--pin-env', 'HSM_PIN', ...extra], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const record = JSON.parse(readFileSync(join(out, 'export.json'), 'utf8')) as ExportJson;
    const hash = t.hash ?? 'sha256';
    const kwp = t.construction === 'oaep+kwp';
    expect(record).toMatchObject({ target: t.name, kcv, wrap: 'token', files: [{ path: t.file }] });
    // the known answer chose 0x210B on NSS (its 0x210A is PKCS#7 then RFC 3394), and export.json says so
    expect(record.mechanisms).toEqual(kwp ? [`CKM_RSA_PKCS_OAEP(${hash})`, 'CKM_AES_KEY_WRAP_KWP (RFC 5649 by known answer)'] : [`CKM_RSA_PKCS_OAEP(${hash})`]);
    const key = opensslUnwrap(blobOf(t.cloud, readFileSync(join(out, t.file))), bits, hash, kwp);
    expect(key.length).toBe(32);
    expect(kcvOf(key)).toBe(kcv);
  });
  test('the three direct SHA-256 targets, with the library from the environment instead of flags', () => {
    const fromEnv = { ...env, KEYCEREMONY_PKCS11_MODULE: nss.module, KEYCEREMONY_PKCS11_MODULE_PARAMS: nss.params };
    for (const [target, bits] of [['aws-rsaes-oaep-sha256', 2048], ['gcp-rsa-oaep-3072-sha256', 3072], ['gcp-rsa-oaep-4096-sha256', 4096]] as const) {
      const out = join(dir, `env-${target}`);
      const r = runCli(['export', '--key', KEY, '--target', target, '--wrapping-key', keks[bits]!.pub, '--out', out, '--pin-env', 'HSM_PIN', '--json'], fromEnv);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      const file = target.startsWith('aws') ? 'EncryptedKeyMaterial.bin' : 'wrapped-key.bin';
      expect(kcvOf(opensslUnwrap(readFileSync(join(out, file)), bits, 'sha256', false))).toBe(kcv);
    }
  });
});

describe('a library that needs initialization parameters', () => {
  test('without them: HSM_MODULE_NEEDS_PARAMS, exit 1, one line naming --module-params, nothing written', () => {
    for (const args of [['tokens', '--module', nss.module], ['export', '--key', KEY, '--target', 'aws-rsaes-oaep-sha256', '--wrapping-key', keks[3072]!.pub, '--out', join(dir, 'no-params'), '--module', nss.module, '--pin-env', 'HSM_PIN']]) {
      const r = runCli(args, env);
      expect(r.status).toBe(1);
      expect(r.stderr).toMatch(ERROR_LINE);
      expect(r.stderr).toContain('HSM_MODULE_NEEDS_PARAMS');
      expect(r.stderr).toContain('--module-params');
    }
    expect(existsSync(join(dir, 'no-params'))).toBe(false);
  });
  test('parameters it refuses: HSM_MODULE_PARAMS_REJECTED, exit 1', () => {
    const r = runCli(['tokens', '--module', nss.module, '--module-params', "configdir='sql:/nonexistent/kc-nss' certPrefix='' keyPrefix='' secmod='secmod.db' flags=readOnly"], env);
    expect([r.status, r.stderr]).toEqual([1, expect.stringMatching(ERROR_LINE)]);
    expect(r.stderr).toContain('HSM_MODULE_PARAMS_REJECTED');
  });
  test('`tokens` lists the NSS token with the parameters, and names the library', () => {
    const r = runCli(['tokens', ...lib(), '--json'], env);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { module: { path: string; simulation: boolean }; tokens: { label: string; serial: string; mechanisms: { name: string }[] }[] };
    expect(out.module).toMatchObject({ path: nss.module, simulation: false });
    const t = out.tokens.find((x) => x.label === 'NSS HSM');
    expect(t?.serial).toBe('0000000000000000');
    expect(t?.mechanisms.map((m) => m.name)).toEqual(expect.arrayContaining(['CKM_RSA_PKCS_OAEP', 'CKM_AES_KEY_WRAP_PAD', 'CKM_AES_KEY_WRAP_KWP']));
  });
});

describe('two libraries in one command', () => {
  test('bundle: master-v2 on SoftHSM2 by module-path, master-v3 on NSS as the default library; each export.json names the mechanism its token\'s known answer chose', () => {
    const alice = keyNamed('alice');
    const bob = keyNamed('bob');
    writeFileSync(join(dir, 'set.json'), JSON.stringify(envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob]]), [alice, bob])));
    const softUri = `pkcs11:token=Soft%20HSM;object=master-v2?module-path=${hsm.module}`;
    const soft = runCli(['keygen', 'master', softUri, '--extractable', '--pin-env', 'HSM_PIN', '--json'], env);
    expect(soft.status).toBe(0);
    const nssKey = runCli(['keygen', 'master', 'pkcs11:token=NSS%20HSM;object=master-v3', '--extractable', ...lib(), '--pin-env', 'HSM_PIN', '--json'], env);
    expect(nssKey.status).toBe(0);
    const media = join(dir, 'usb');
    mkdirSync(media);
    const out = join(media, 'two-libraries');
    const r = runCli(['bundle', '--key', softUri, '--key', 'pkcs11:token=NSS%20HSM;object=master-v3', '--target', `aws-rsa-aes-key-wrap-sha256=${keks[3072]!.pub}`,
      '--out', out, '--custodians', join(dir, 'set.json'), '--ceremony', '2026-q4-export', '--actor', 'alice', ...lib(), '--pin-env', 'HSM_PIN', '--json'], { ...env, KEYCEREMONY_REMOVABLE_ROOTS: media });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rec = (k: string) => JSON.parse(readFileSync(join(out, 'aws-rsa-aes-key-wrap-sha256', k, 'export.json'), 'utf8')) as ExportJson;
    // SoftHSM2 lacks OAEP SHA-256: hybrid, with its 0x210A (RFC 5649 there); NSS does it all with 0x210B
    expect(rec('master-v2')).toMatchObject({ wrap: 'hybrid', kcv: (JSON.parse(soft.stdout) as { kcv: string }).kcv.slice(4), mechanisms: ['RSAES-OAEP(sha256) in host code', 'CKM_AES_KEY_WRAP_PAD (RFC 5649 by known answer)'] });
    expect(rec('master-v3')).toMatchObject({ wrap: 'token', kcv: (JSON.parse(nssKey.stdout) as { kcv: string }).kcv.slice(4), mechanisms: ['CKM_RSA_PKCS_OAEP(sha256)', 'CKM_AES_KEY_WRAP_KWP (RFC 5649 by known answer)'] });
    for (const k of ['master-v2', 'master-v3']) {
      const key = opensslUnwrap(readFileSync(join(out, 'aws-rsa-aes-key-wrap-sha256', k, 'EncryptedKeyMaterial.bin')), 3072, 'sha256', true);
      expect(kcvOf(key)).toBe(rec(k).kcv);
    }
  });
});
