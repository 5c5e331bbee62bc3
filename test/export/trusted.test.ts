/**
 * Trusted wrapping end to end on the command line (issue 16, Build 2): `keygen master --extractable
 * --wrap-with-trusted` makes the key only where the token's probe shows it enforces
 * CKA_WRAP_WITH_TRUSTED (SoftHSM2 2.6.1; NSS softokn 3.87 is refused); `keyceremony trust` lets the
 * security officer import the KMS wrapping key as trusted, its SPKI SHA-256 printed first and its
 * file read through the file layer; `export` then wraps the key by direct RSAES-OAEP under that
 * trusted key, and the KMS's private half (openssl, independent of the code under test) recovers a
 * key whose KCV is the one the token gave at keygen. Every other way out is refused with its code
 * and nothing written: before the SO trusted the key, under a KMS key the SO did not trust, and
 * through an ephemeral AES key (the RSA-AES targets).
 */
import { execFileSync } from 'node:child_process';
import { createCipheriv, createHash, createPublicKey } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { makeKeks, opensslUnwrap } from './openssl.js';
import type { TestKek } from './openssl.js';

const HSM = { label: 'Trusted HSM', pin: '13572468', soPin: '86427531' };
const KEY = 'pkcs11:token=Trusted%20HSM;object=master-v1';
const TOKEN = 'pkcs11:token=Trusted%20HSM';
let root: string;
let hsm: SoftHsm;
let nss: Nss;
let env: NodeJS.ProcessEnv;
/** The KMS key the SO trusts (3072 bits), and one the SO never trusts (2048 bits). */
let kek: TestKek;
let other: TestKek;
let kcv: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kc-trusted-'));
  hsm = createSoftHsm([HSM], { setProcessEnv: false });
  nss = createNss({ label: 'NSS HSM' });
  const keks = makeKeks(root, [2048, 3072]);
  kek = keks[3072]!;
  other = keks[2048]!;
  env = { ...hsm.env, KEYCEREMONY_PKCS11_MODULE: hsm.module, HSM_PIN: HSM.pin, SO_PIN: HSM.soPin, KEYCEREMONY_REMOVABLE_ROOTS: root };
}, 60_000);
afterAll(() => { rmSync(root, { recursive: true, force: true }); hsm?.cleanup(); nss?.cleanup(); });

/** The SHA-256 of the DER SubjectPublicKeyInfo, computed here with node:crypto. */
const spkiSha256 = (pem: string): string => createHash('sha256').update(createPublicKey(readFileSync(pem)).export({ type: 'spki', format: 'der' })).digest('hex');
const codeOf = (stderr: string): string | undefined => ERROR_LINE.exec(stderr.split('\n').filter((l) => l.startsWith('keyceremony: ') && !l.startsWith('keyceremony: warning')).join('\n') + '\n')?.[1];
const exportTo = (name: string, target: string, wrapping: TestKek, key = KEY) =>
  runCli(['export', '--key', key, '--target', target, '--wrapping-key', wrapping.pub, '--out', join(root, name), '--pin-env', 'HSM_PIN', '--json'], env);
const trust = (args: readonly string[], e: NodeJS.ProcessEnv = env) => runCli(['trust', TOKEN, ...args], e);
/** AES-ECB of the zero block, first 3 bytes: the KCV of the key bytes openssl recovered. */
const kcvOf = (key: Buffer): string => createCipheriv('aes-256-ecb', key, null).setAutoPadding(false).update(Buffer.alloc(16)).subarray(0, 3).toString('hex');

describe('keygen --wrap-with-trusted', () => {
  test('is for a master key made extractable only; --so-pin-env goes with it; usage errors, exit 2, nothing made', () => {
    for (const args of [['keygen', 'master', KEY, '--wrap-with-trusted'], ['keygen', 'backup', 'pkcs11:token=Trusted%20HSM;object=backup-v1', '--extractable', '--wrap-with-trusted'],
      ['keygen', 'master', KEY, '--extractable', '--so-pin-env', 'SO_PIN']]) {
      const r = runCli([...args, '--pin-env', 'HSM_PIN'], env);
      expect([r.status, codeOf(r.stderr), r.stdout]).toEqual([2, 'USAGE', '']);
    }
  });

  test('a wrong SO PIN is refused as such (HSM_PIN_INCORRECT, exit 1), and nothing is made', () => {
    const r = runCli(['keygen', 'master', KEY, '--extractable', '--wrap-with-trusted', '--so-pin-env', 'WRONG', '--pin-env', 'HSM_PIN'], { ...env, WRONG: '11111111' });
    expect([r.status, codeOf(r.stderr), r.stdout]).toEqual([1, 'HSM_PIN_INCORRECT', '']);
  });

  test('on SoftHSM2 the probe passes and the key is made wrap-with-trusted', () => {
    const r = runCli(['keygen', 'master', KEY, '--extractable', '--wrap-with-trusted', '--so-pin-env', 'SO_PIN', '--pin-env', 'HSM_PIN', '--json'], env);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { extractable: boolean; wrapWithTrusted: boolean; kcv: string; trustedWrapProbe: { supported: boolean; enforced: boolean } };
    expect(out).toMatchObject({ extractable: true, wrapWithTrusted: true, trustedWrapProbe: { supported: true, enforced: true } });
    kcv = out.kcv.slice('ecb:'.length);
  });

  test('on NSS softokn, which accepts the attribute and enforces none of it: refused (HSM_TRUSTED_WRAP_UNENFORCED, exit 1), nothing made', () => {
    const nssEnv = { ...nss.env, HSM_PIN: nss.pin, SO_PIN: '' };
    const uri = 'pkcs11:token=NSS%20HSM;object=master-v1';
    const r = runCli(['keygen', 'master', uri, '--extractable', '--wrap-with-trusted', '--so-pin-env', 'NSS_SO_PIN', '--pin-env', 'HSM_PIN'], { ...nssEnv, NSS_SO_PIN: 'anything' });
    expect([r.status, codeOf(r.stderr), r.stdout]).toEqual([1, 'HSM_TRUSTED_WRAP_UNENFORCED', '']);
    expect(r.stderr).toContain('a user session could set CKA_TRUSTED');
    // the label is still free: nothing was made
    expect(runCli(['keygen', 'master', uri, '--extractable', '--pin-env', 'HSM_PIN'], nssEnv).status).toBe(0);
    // and its security officer cannot trust a KMS key there either
    const t = runCli(['trust', 'pkcs11:token=NSS%20HSM', '--wrapping-key', kek.pub, '--so-pin-env', 'NSS_SO_PIN'], { ...nssEnv, NSS_SO_PIN: 'anything' });
    expect([t.status, codeOf(t.stderr)]).toEqual([1, 'HSM_SO_LOGIN_UNAVAILABLE']);
  });
});

describe('before the security officer trusts the KMS key', () => {
  test('export is refused (EXPORT_TRUSTED_REQUIRED, exit 1) naming the fix, and nothing is written', () => {
    const r = exportTo('early', 'aws-rsaes-oaep-sha1', kek);
    expect([r.status, codeOf(r.stderr), r.stdout]).toEqual([1, 'EXPORT_TRUSTED_REQUIRED', '']);
    expect(r.stderr).toContain(spkiSha256(kek.pub));
    expect(r.stderr).toContain('keyceremony trust');
    expect(existsSync(join(root, 'early'))).toBe(false);
  });
});

describe('keyceremony trust', () => {
  test('refuses a link or a FIFO at the key file\'s name, a PIN on the command line, the user\'s --pin-env, and a wrong SO PIN', () => {
    const link = join(root, 'link.pem');
    symlinkSync(kek.pub, link);
    const fifo = join(root, 'fifo.pem');
    execFileSync('mkfifo', [fifo]);
    const cases: [readonly string[], NodeJS.ProcessEnv, number, string][] = [
      [['--wrapping-key', link, '--so-pin-env', 'SO_PIN'], env, 1, 'FOLDER_LINK_REFUSED'],
      [['--wrapping-key', fifo, '--so-pin-env', 'SO_PIN'], env, 1, 'FOLDER_NOT_REGULAR'],
      [['--wrapping-key', join(root, 'absent.pem'), '--so-pin-env', 'SO_PIN'], env, 2, 'INPUT_UNREADABLE'],
      [['--wrapping-key', kek.pub, '--so-pin', HSM.soPin], env, 2, 'PIN_ON_COMMAND_LINE'],
      [['--wrapping-key', kek.pub, '--pin-env', 'HSM_PIN'], env, 2, 'USAGE'],
      [['--so-pin-env', 'SO_PIN'], env, 2, 'USAGE'],
      [['--wrapping-key', kek.pub, '--so-pin-env', 'UNSET_SO_PIN'], env, 2, 'PIN_ENV_UNSET'],
      [['--wrapping-key', kek.pub, '--so-pin-env', 'WRONG'], { ...env, WRONG: '11111111' }, 1, 'HSM_PIN_INCORRECT'],
    ];
    for (const [args, e, status, code] of cases) {
      const r = trust(args, e);
      expect([args, r.status, codeOf(r.stderr), r.stdout]).toEqual([args, status, code, '']);
    }
    // an unset SO PIN variable is named as the SO PIN's, by the option that named it
    const unset = trust(['--wrapping-key', kek.pub, '--so-pin-env', 'UNSET_SO_PIN'], env).stderr;
    expect(unset).toContain('named by --so-pin-env');
    expect(unset).toContain('SO PIN of token');
    // none of them trusted anything: the key still cannot leave
    expect(codeOf(exportTo('still-early', 'aws-rsaes-oaep-sha1', kek).stderr)).toBe('EXPORT_TRUSTED_REQUIRED');
  });

  test('prints the key\'s SPKI SHA-256 before the SO PIN is used, imports it as trusted; run again, makes nothing', () => {
    const r = trust(['--wrapping-key', kek.pub, '--so-pin-env', 'SO_PIN', '--json']);
    expect(r.status).toBe(0);
    expect(r.stderr).toContain(`SPKI SHA-256 ${spkiSha256(kek.pub)}`);
    expect(JSON.parse(r.stdout)).toMatchObject({ token: HSM.label, created: true, wrappingKeySha256: spkiSha256(kek.pub), wrappingKeyBits: 3072, label: `kms-wrapping-${spkiSha256(kek.pub).slice(0, 16)}` });
    const again = trust(['--wrapping-key', kek.pub, '--so-pin-env', 'SO_PIN', '--json']);
    expect(again.status).toBe(0);
    expect(JSON.parse(again.stdout)).toMatchObject({ created: false });
  });
});

describe('after the security officer trusted the KMS key', () => {
  test('aws-rsaes-oaep-sha1: wrapped under the trusted key; openssl recovers a key whose KCV is the token\'s', () => {
    const r = exportTo('aws-oaep', 'aws-rsaes-oaep-sha1', kek);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rec = JSON.parse(readFileSync(join(root, 'aws-oaep', 'export.json'), 'utf8')) as { kcv: string; kcvMethod: string; wrap: string; mechanisms: string[]; wrappingKeySha256: string };
    expect(rec).toMatchObject({ kcv, kcvMethod: 'ecb', wrap: 'token', mechanisms: ['CKM_RSA_PKCS_OAEP(sha1) under the SO-trusted key'], wrappingKeySha256: spkiSha256(kek.pub) });
    const key = opensslUnwrap(readFileSync(join(root, 'aws-oaep', 'EncryptedKeyMaterial.bin')), kek, 'sha1', false, root);
    try {
      expect(key).toHaveLength(32);
      expect(kcvOf(key)).toBe(kcv);
    } finally {
      key.fill(0);
    }
  });

  test.each([
    ['aws-rsa-aes-key-wrap-sha1', 'kek', 'EXPORT_TRUSTED_REQUIRED'], // through an ephemeral AES key, which no one can trust
    ['azure-byok', 'kek', 'EXPORT_TRUSTED_REQUIRED'],
    ['aws-rsaes-oaep-sha1', 'other', 'EXPORT_TRUSTED_REQUIRED'], // under a KMS key the SO never trusted
    ['gcp-rsa-oaep-3072-sha256', 'kek', 'EXPORT_MECHANISM_UNSUPPORTED'], // SoftHSM2 2.6.1 does OAEP with SHA-1 only
  ] as const)('%s under the %s key: refused (%s, exit 1), nothing written', (target, which, code) => {
    const name = `refused-${target}-${which}`;
    const args = target === 'azure-byok' ? ['--kek-id', 'https://vault.example.net/keys/kek/1'] : [];
    const r = runCli(['export', '--key', KEY, '--target', target, '--wrapping-key', (which === 'kek' ? kek : other).pub, '--out', join(root, name), '--pin-env', 'HSM_PIN', ...args], env);
    expect([r.status, codeOf(r.stderr), r.stdout]).toEqual([1, code, '']);
    expect(existsSync(join(root, name))).toBe(false);
  });

  test('an ordinary master key wraps under the trusted copy too (RSA-AES as well), and the trusted key stays on the token', () => {
    const made = runCli(['keygen', 'master', 'pkcs11:token=Trusted%20HSM;object=master-v2', '--extractable', '--pin-env', 'HSM_PIN', '--json'], env);
    expect(made.status).toBe(0);
    const r = exportTo('aws-rsa-aes', 'aws-rsa-aes-key-wrap-sha1', kek, 'pkcs11:token=Trusted%20HSM;object=master-v2');
    expect(r.status).toBe(0);
    const rec = JSON.parse(readFileSync(join(root, 'aws-rsa-aes', 'export.json'), 'utf8')) as { kcv: string; mechanisms: string[] };
    expect(rec.mechanisms).toEqual(['CKM_RSA_PKCS_OAEP(sha1) under the SO-trusted key', 'CKM_AES_KEY_WRAP_PAD (RFC 5649 by known answer)']);
    const key = opensslUnwrap(readFileSync(join(root, 'aws-rsa-aes', 'EncryptedKeyMaterial.bin')), kek, 'sha1', true, root);
    expect(kcvOf(key)).toBe((JSON.parse(made.stdout) as { kcv: string }).kcv.slice(4));
    key.fill(0);
    // the exports never destroyed the SO's key: trusting it again finds it
    expect(JSON.parse(trust(['--wrapping-key', kek.pub, '--so-pin-env', 'SO_PIN', '--json']).stdout)).toMatchObject({ created: false });
    // and the wrap-with-trusted key still leaves under it
    expect(exportTo('aws-oaep-again', 'aws-rsaes-oaep-sha1', kek).status).toBe(0);
  });
});
