/**
 * `keyceremony export` on SoftHSM2 (issue 5): every target of CLI.md, each output unwrapped
 * independently (openssl CLI as KMS-NOTES.md says, and node:crypto), the key's KCV compared
 * with the token's; and every refusal exits with nothing written.
 */
import { execFileSync } from 'node:child_process';
import { constants, createCipheriv, createDecipheriv, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkFreeSpace } from '../../src/export/media.js';
import { TARGETS } from '../../src/export/targets.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { makeKeks, opensslUnwrap as unwrapWithOpenssl } from './openssl.js';
import type { TestKek } from './openssl.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const HSM = { label: 'Export HSM', pin: '13572468', soPin: '12345678' };
let hsm: SoftHsm;
let dir: string;
let env: NodeJS.ProcessEnv;
let kcv: string;
let keks: Record<number, TestKek>;

beforeAll(() => {
  hsm = createSoftHsm([HSM], { setProcessEnv: false });
  dir = mkdtempSync(join(tmpdir(), 'kc-export-'));
  // the temp folder stands in for the removable drive (explicit override, as on a real ceremony laptop the kernel flags it)
  env = { ...hsm.env, KEYCEREMONY_PKCS11_MODULE: hsm.module, HSM_PIN: HSM.pin, WRONG: '99999999', KEYCEREMONY_REMOVABLE_ROOTS: dir };
  keks = makeKeks(dir);
  writeFileSync(join(dir, 'kek-3072.der'), readPubDer(3072));
  const m = runCli(['keygen', 'master', 'pkcs11:token=Export%20HSM;object=master-v7', '--extractable', '--pin-env', 'HSM_PIN', '--json'], env);
  expect(m.status).toBe(0);
  kcv = (JSON.parse(m.stdout) as { kcv: string }).kcv.slice(4);
  expect(runCli(['keygen', 'master', 'pkcs11:token=Export%20HSM;object=sealed-v1', '--pin-env', 'HSM_PIN'], env).status).toBe(0);
}, 120_000);
afterAll(() => { hsm.cleanup(); rmSync(dir, { recursive: true, force: true }); });

function readPubDer(bits: number): Buffer {
  return execFileSync('openssl', ['pkey', '-pubin', '-in', keks[bits]!.pub, '-outform', 'DER']);
}

const KEY = 'pkcs11:token=Export%20HSM;object=master-v7';
const exportTo = (target: string, kek: string, extra: string[] = []) => {
  const out = join(dir, `out-${target}-${Math.random().toString(36).slice(2, 8)}`);
  return { out, r: runCli(['export', '--key', KEY, '--target', target, '--wrapping-key', kek, '--out', out, '--pin-env', 'HSM_PIN', ...extra], env) };
};
const kcvOf = (key: Buffer) => {
  const c = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.alloc(16)), c.final()]).subarray(0, 3).toString('hex');
};

/** The independent unwrap with the openssl CLI (KMS-NOTES.md commands): test/export/openssl.ts. */
const opensslUnwrap = (blob: Buffer, bits: number, hash: string, kwp: boolean): Buffer => unwrapWithOpenssl(blob, keks[bits]!, hash, kwp, dir);

/** And again in Node. */
function nodeUnwrap(blob: Buffer, bits: number, hash: string, kwp: boolean): Buffer {
  const k = bits / 8;
  const priv = readFileSync(keks[bits]!.priv);
  const plain = privateDecrypt({ key: priv, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: hash }, kwp ? blob.subarray(0, k) : blob);
  if (!kwp) return plain;
  const d = createDecipheriv('id-aes256-wrap-pad', plain, Buffer.from('A65959A6', 'hex'));
  return Buffer.concat([d.update(blob.subarray(k)), d.final()]);
}

describe('every target round-trips', () => {
  // SoftHSM2 2.6.1 has OAEP with SHA-1 only: direct SHA-256 OAEP targets are refused (below)
  const cases = TARGETS.filter((t) => !(t.construction === 'oaep' && t.hash === 'sha256'));
  test.each(cases.map((t) => [t.name, t]))('%s', (_n, t) => {
    const bits = t.kekBits.includes(3072) ? 3072 : 4096;
    const extra = t.cloud === 'azure' ? ['--kek-id', 'https://kv-example.vault.azure.net/keys/kek/0123456789abcdef'] : t.cloud === 'vault' ? ['--hash', 'sha256'] : [];
    const { out, r } = exportTo(t.name, keks[bits]!.pub, extra);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const record = JSON.parse(readFileSync(join(out, 'export.json'), 'utf8')) as { target: string; kcv: string; wrap: string; wrappingKeySha256: string; key: string; files: { path: string; sha256: string; bytes: number }[] };
    expect(record).toMatchObject({ target: t.name, kcv, files: [{ path: t.file }] });
    expect(record.key).not.toContain('pin');
    expect(record.wrappingKeySha256).toBe(execFileSync('openssl', ['dgst', '-sha256', '-r'], { input: readPubDer(bits) }).toString().split(' ')[0]);
    const file = readFileSync(join(out, t.file));
    expect(record.files[0]!.sha256).toBe(execFileSync('openssl', ['dgst', '-sha256', '-r', join(out, t.file)]).toString().split(' ')[0]);
    let blob: Buffer;
    if (t.cloud === 'azure') {
      const byok = JSON.parse(file.toString()) as { schema_version: string; header: { kid: string; alg: string; enc: string }; ciphertext: string; generator: string };
      expect(byok).toMatchObject({ schema_version: '1.0.0', header: { kid: 'https://kv-example.vault.azure.net/keys/kek/0123456789abcdef', alg: 'dir', enc: 'CKM_RSA_AES_KEY_WRAP' } });
      expect(byok.ciphertext).toMatch(/^[A-Za-z0-9_-]+$/); // base64url, unpadded
      blob = Buffer.from(byok.ciphertext, 'base64url');
    } else if (t.cloud === 'vault') {
      expect(file.toString()).toMatch(/^[A-Za-z0-9+/]+=*$/); // standard base64, one line
      blob = Buffer.from(file.toString(), 'base64');
      expect(blob.subarray(512).length).toBeGreaterThan(0); // Vault splits at 512 bytes: OAEP part first
    } else {
      blob = file;
    }
    const hash = t.hash ?? 'sha256';
    const kwp = t.construction === 'oaep+kwp';
    expect(record.wrap).toBe(hash === 'sha1' ? 'token' : 'hybrid');
    expect(kcvOf(opensslUnwrap(blob, bits, hash, kwp))).toBe(kcv);
    expect(kcvOf(nodeUnwrap(blob, bits, hash, kwp))).toBe(kcv);
  });
  test('a DER SubjectPublicKeyInfo (as AWS returns it) works like PEM; --import-token is copied', () => {
    const tokenFile = join(dir, 'ImportToken.src');
    writeFileSync(tokenFile, Buffer.from('opaque aws import token'));
    const { out, r } = exportTo('aws-rsa-aes-key-wrap-sha1', join(dir, 'kek-3072.der'), ['--import-token', tokenFile]);
    expect(r.status).toBe(0);
    expect(readFileSync(join(out, 'ImportToken.bin')).toString()).toBe('opaque aws import token');
    expect(readdirSync(out).sort()).toEqual(['EncryptedKeyMaterial.bin', 'ImportToken.bin', 'export.json']);
  });
});

describe('refusals: exit 1 with nothing written', () => {
  const refused = (target: string, kek: string, code: string, extra: string[] = [], key = KEY, pinEnv = 'HSM_PIN') => {
    const out = join(dir, `refused-${code}-${Math.random().toString(36).slice(2, 8)}`);
    const r = runCli(['export', '--key', key, '--target', target, '--wrapping-key', kek, '--out', out, '--pin-env', pinEnv, ...extra], env);
    expect([code, r.status]).toEqual([code, 1]);
    // --debug adds the stack after the one error line
    expect(extra.includes('--debug') ? `${r.stderr.split('\n')[0]}\n` : r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain(code);
    expect(existsSync(out)).toBe(false);
    return r;
  };
  test('a wrapping key of the wrong size for the target', () => {
    refused('gcp-rsa-oaep-4096-sha1-aes-256', keks[3072]!.pub, 'EXPORT_KEK_SIZE');
    refused('vault-transit', keks[2048]!.pub, 'EXPORT_KEK_SIZE');
  });
  test('a non-RSA wrapping key and a garbage file', () => {
    const ec = join(dir, 'ec.pub.pem');
    writeFileSync(ec, generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ type: 'spki', format: 'pem' }));
    refused('aws-rsa-aes-key-wrap-sha1', ec, 'EXPORT_KEK_INVALID');
    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'this is not a key\n');
    refused('aws-rsa-aes-key-wrap-sha1', garbage, 'EXPORT_KEK_INVALID');
    const priv = keks[3072]!.priv; // a private key is not what the KMS hands out, and is refused
    refused('aws-rsa-aes-key-wrap-sha1', priv, 'EXPORT_KEK_INVALID');
  });
  test('a missing object, a non-extractable key, a wrong PIN', () => {
    refused('aws-rsa-aes-key-wrap-sha1', keks[3072]!.pub, 'HSM_OBJECT_NOT_FOUND', [], 'pkcs11:token=Export%20HSM;object=no-such-key');
    refused('aws-rsa-aes-key-wrap-sha1', keks[3072]!.pub, 'HSM_KEY_NOT_EXTRACTABLE', [], 'pkcs11:token=Export%20HSM;object=sealed-v1');
    const r = refused('aws-rsa-aes-key-wrap-sha1', keks[3072]!.pub, 'HSM_PIN_INCORRECT', ['--debug'], KEY, 'WRONG');
    expect(`${r.stdout}${r.stderr}`).not.toContain(HSM.pin);
    expect(`${r.stdout}${r.stderr}`).not.toContain('99999999');
  });
  test('direct SHA-256 OAEP on a token without it: refused, never extracted in clear', () => {
    refused('aws-rsaes-oaep-sha256', keks[3072]!.pub, 'EXPORT_MECHANISM_UNSUPPORTED');
    refused('gcp-rsa-oaep-3072-sha256', keks[3072]!.pub, 'EXPORT_MECHANISM_UNSUPPORTED');
  });
  test('a non-empty output folder is refused and left as it was', () => {
    const out = join(dir, 'busy');
    mkdirSync(out);
    writeFileSync(join(out, 'something.txt'), 'x');
    const r = runCli(['export', '--key', KEY, '--target', 'aws-rsa-aes-key-wrap-sha1', '--wrapping-key', keks[3072]!.pub, '--out', out, '--pin-env', 'HSM_PIN'], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('OUTPUT_NOT_EMPTY');
    expect(readdirSync(out)).toEqual(['something.txt']);
  });
  test('usage errors exit 2: unknown target, unreadable wrapping key, missing --kek-id for Azure', () => {
    const out = join(dir, 'usage');
    for (const [args, code] of [
      [['--target', 'aws-rsaes-pkcs1', '--wrapping-key', keks[3072]!.pub], 'EXPORT_TARGET_UNKNOWN'],
      [['--target', 'aws-rsa-aes-key-wrap-sha1', '--wrapping-key', join(dir, 'nope.pem')], 'INPUT_UNREADABLE'],
      [['--target', 'azure-byok', '--wrapping-key', keks[3072]!.pub], 'EXPORT_KEK_ID_MISSING'], // one code for the CLI and the app (src/usecases/export.ts)
      [['--target', 'aws-rsa-aes-key-wrap-sha1', '--wrapping-key', keks[3072]!.pub, '--hash', 'sha1'], 'USAGE'],
    ] as const) {
      const r = runCli(['export', '--key', KEY, '--out', out, '--pin-env', 'HSM_PIN', ...args], env);
      expect([code, r.status]).toEqual([code, 2]);
      expect(r.stderr).toContain(code);
      expect(existsSync(out)).toBe(false);
    }
  });
});

describe('removable media', () => {
  test('an export outside removable media warns (CLI.md keeps it allowed); `media` lists the drives', () => {
    const { KEYCEREMONY_REMOVABLE_ROOTS: _r, ...fixed } = env;
    const out = join(dir, 'fixed-disk-export');
    const r = runCli(['export', '--key', KEY, '--target', 'aws-rsa-aes-key-wrap-sha1', '--wrapping-key', keks[3072]!.pub, '--out', out, '--pin-env', 'HSM_PIN'], fixed);
    expect(r.status).toBe(0);
    expect(r.stderr).toMatch(/warning: .* is not on removable media/);
    const m = JSON.parse(runCli(['media', '--json'], env).stdout) as { media: { mountPoint: string; removable: boolean; freeBytes: number }[] };
    expect(m.media).toEqual([expect.objectContaining({ mountPoint: realpathSync(dir), removable: true })]);
    expect(m.media[0]!.freeBytes).toBeGreaterThan(0);
  });
  test('a drive without room is refused before anything is written', () => {
    expect(() => checkFreeSpace(dir, Number.MAX_SAFE_INTEGER)).toThrow(expect.objectContaining({ code: 'EXPORT_NO_SPACE' }));
    expect(() => checkFreeSpace(join(dir, 'not', 'yet', 'there'), 1024)).not.toThrow();
  });
});

describe('an import-parameters file (--params)', () => {
  const params = (over: Record<string, unknown>) => {
    const f = join(dir, `params-${Math.random().toString(36).slice(2, 8)}.json`);
    writeFileSync(f, JSON.stringify({ target: 'aws-rsa-aes-key-wrap-sha256', obtained: new Date(Date.now() - 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
      wrappingKey: readPubDer(3072).toString('base64'), importToken: Buffer.from('tok').toString('base64'), ...over }));
    return f;
  };
  const run = (f: string, extra: string[] = []) => runCli(['export', '--key', KEY, '--params', f, '--out', join(dir, `p-${Math.random().toString(36).slice(2, 8)}`), '--pin-env', 'HSM_PIN', ...extra], env);
  test('carries the target, the DER wrapping key and the import token; fresh parameters give no warning', () => {
    const r = run(params({}));
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('for aws-rsa-aes-key-wrap-sha256');
  });
  test('parameters past their validity window (AWS: 24 h) are exported with a warning naming the expiry', () => {
    const r = run(params({ obtained: '2026-01-01T00:00:00Z' }));
    expect(r.status).toBe(0);
    expect(r.stderr).toContain('EXPORT_PARAMS_EXPIRED');
  });
  test('malformed parameters are refused (exit 1) and mixing --params with --target is a usage error', () => {
    for (const over of [{ extra: 1 }, { wrappingKey: 'not base64!' }, { target: 'aws-rsaes-pkcs1' }, { obtained: 'yesterday' }, { importToken: 'AAA' }, { kekId: 'https://x/keys/y' }]) {
      const r = run(params(over));
      expect([over, r.status]).toEqual([over, 1]);
    }
    expect(run(params({}), ['--target', 'vault-transit']).status).toBe(2);
    const notJson = join(dir, 'params-bad.json');
    writeFileSync(notJson, '{"target":');
    expect(run(notJson).status).toBe(1);
  });
});
