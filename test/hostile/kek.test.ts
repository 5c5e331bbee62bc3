/**
 * Issue 14, item 10: a KMS wrapping key with public exponent 1 was accepted (only "RSA" and the
 * size were checked); with e = 1 the export writes the master key in clear onto the drive. A
 * wrapping key must have e = 65537 and a modulus of exactly 2048, 3072 or 4096 bits (top bit set),
 * odd, with no prime factor below 1,000; each refusal has its own code, exit 1, before anything is
 * written. node:crypto cannot make such keys, so the test writes their DER SubjectPublicKeyInfo
 * with a small ASN.1 writer of its own (X.690 DER; RFC 8017 A.1.1 RSAPublicKey; RFC 5280 SPKI).
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { checkKekForTarget } from '../../src/export/export.js';
import { parseKek } from '../../src/export/kek.js';
import { findTarget } from '../../src/export/targets.js';
import type { Target } from '../../src/export/targets.js';
import { expectCode } from '../support/expect-code.js';
import { ERROR_LINE } from '../support/cli.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { expectErrorLine, put, runCli, runUnchanged, tempDir } from './support.js';

/** DER: a definite length in the shortest form (X.690 §10.1). */
function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let x = n; x > 0; x = Math.floor(x / 256)) bytes.unshift(x % 256);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, body: Buffer): Buffer => Buffer.concat([Buffer.from([tag]), derLength(body.length), body]);
/** A non-negative INTEGER: minimal two's complement, a leading 0x00 when the top bit is set (X.690 §8.3). */
function derInteger(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2 === 1) hex = `0${hex}`;
  const b = Buffer.from(hex, 'hex');
  return tlv(0x02, (b[0] as number) & 0x80 ? Buffer.concat([Buffer.from([0]), b]) : b);
}
const RSA_ALGORITHM = tlv(0x30, Buffer.concat([tlv(0x06, Buffer.from('2a864886f70d010101', 'hex')), Buffer.from([0x05, 0x00])])); // rsaEncryption, NULL parameters
/** SubjectPublicKeyInfo { rsaEncryption, BIT STRING (no unused bits) { RSAPublicKey { n, e } } }. */
const spki = (n: bigint, e: bigint): Buffer => tlv(0x30, Buffer.concat([RSA_ALGORITHM, tlv(0x03, Buffer.concat([Buffer.from([0]), tlv(0x30, Buffer.concat([derInteger(n), derInteger(e)]))]))]));

const modulusOf = (bits: number): bigint => {
  const jwk = generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ format: 'jwk' });
  return BigInt(`0x${Buffer.from(jwk.n as string, 'base64url').toString('hex')}`);
};
/** n with a factor p, still odd and of the same length. */
const withFactor = (n: bigint, p: bigint): bigint => {
  const m = n - (n % p);
  return m % 2n === 0n ? m - p : m;
};

let n2048: bigint;
let n3072: bigint;
let hostile: [string, Buffer, string][];
beforeAll(() => {
  n2048 = modulusOf(2048);
  n3072 = modulusOf(3072);
  hostile = [
    ['e = 1', spki(n2048, 1n), 'EXPORT_KEK_EXPONENT'],
    ['e = 3', spki(n2048, 3n), 'EXPORT_KEK_EXPONENT'],
    ['e = 65539', spki(n3072, 65539n), 'EXPORT_KEK_EXPONENT'],
    ['e = 2^64 + 1', spki(n3072, (1n << 64n) + 1n), 'EXPORT_KEK_EXPONENT'],
    ['an even modulus', spki(n2048 + 1n, 65537n), 'EXPORT_KEK_MODULUS_EVEN'],
    ['a modulus divisible by 3', spki(withFactor(n2048, 3n), 65537n), 'EXPORT_KEK_MODULUS_SMALL_FACTOR'],
    ['a modulus divisible by 997', spki(withFactor(n3072, 997n), 65537n), 'EXPORT_KEK_MODULUS_SMALL_FACTOR'],
    ['a 2047-bit modulus', spki((n2048 >> 1n) | 1n, 65537n), 'EXPORT_KEK_SIZE'],
    ['a 2049-bit modulus', spki((n2048 << 1n) | 1n, 65537n), 'EXPORT_KEK_SIZE'],
    ['a 1024-bit key', generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'der' }), 'EXPORT_KEK_SIZE'],
  ];
});

describe('parseKek and checkKekForTarget', () => {
  test('the ASN.1 writer makes what node:crypto makes (the baseline key parses)', () => {
    const k = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    const jwk = k.export({ format: 'jwk' });
    const ours = spki(BigInt(`0x${Buffer.from(jwk.n as string, 'base64url').toString('hex')}`), 65537n);
    expect(ours.equals(k.export({ type: 'spki', format: 'der' }))).toBe(true);
    expect(parseKek(spki(n3072, 65537n))).toMatchObject({ bits: 3072 });
  });
  test('each hostile key is refused by parseKek with its own code (DER and PEM)', () => {
    for (const [what, der, code] of hostile) {
      const e = expectCode(() => parseKek(der), code);
      expect([what, e.exit]).toEqual([what, 1]);
      const pem = `-----BEGIN PUBLIC KEY-----\n${der.toString('base64').replace(/.{64}/g, '$&\n')}\n-----END PUBLIC KEY-----\n`;
      expectCode(() => parseKek(Buffer.from(pem)), code);
    }
  });
  test('checkKekForTarget: a sound key of a size the target does not take', () => {
    const kek = parseKek(spki(n2048, 65537n));
    expectCode(() => checkKekForTarget(kek, findTarget('gcp-rsa-oaep-3072-sha256-aes-256') as Target), 'EXPORT_KEK_SIZE');
    expectCode(() => checkKekForTarget(kek, findTarget('vault-transit') as Target), 'EXPORT_KEK_SIZE');
    expect(() => checkKekForTarget(kek, findTarget('aws-rsa-aes-key-wrap-sha1') as Target)).not.toThrow();
  });
});

describe('keyceremony export refuses each before anything is written', () => {
  const HSM = { label: 'KEK HSM', pin: '24681357', soPin: '12345678' };
  const KEY = 'pkcs11:token=KEK%20HSM;object=master-v1';
  let hsm: SoftHsm;
  let dir: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    hsm = createSoftHsm([HSM], { setProcessEnv: false });
    dir = tempDir('kek');
    env = { ...hsm.env, KEYCEREMONY_PKCS11_MODULE: hsm.module, HSM_PIN: HSM.pin, KEYCEREMONY_REMOVABLE_ROOTS: dir };
    expect(runCli(['keygen', 'master', KEY, '--extractable', '--pin-env', 'HSM_PIN'], env).status).toBe(0);
  }, 120_000);
  afterAll(() => hsm.cleanup());

  test('the control: a sound wrapping key exports (so each refusal below is the key\'s doing)', () => {
    const out = join(dir, 'good-out');
    const r = runCli(['export', '--key', KEY, '--target', 'aws-rsa-aes-key-wrap-sha1', '--wrapping-key', put(dir, 'good.der', spki(n2048, 65537n)), '--out', out, '--pin-env', 'HSM_PIN'], env);
    expect([r.status, r.stderr]).toEqual([0, '']);
    expect(readdirSync(out).sort()).toEqual(['EncryptedKeyMaterial.bin', 'export.json']);
  });
  test('e = 1, e = 3, an even modulus, a small factor, 2047 bits: exit 1 with the code, no output folder, nothing else changed', () => {
    for (const [what, der, code] of hostile) {
      const kek = put(dir, `${code}-${what.replace(/\W+/g, '-')}.der`, der);
      const out = join(dir, `out-${what.replace(/\W+/g, '-')}`);
      const r = runUnchanged(dir, ['export', '--key', KEY, '--target', 'aws-rsa-aes-key-wrap-sha1', '--wrapping-key', kek, '--out', out, '--pin-env', 'HSM_PIN'], env);
      expect([what, r.status, r.stderr.match(ERROR_LINE)?.[1]]).toEqual([what, 1, code]);
      expect(r.stdout).toBe('');
      expect(existsSync(out)).toBe(false);
    }
  });
  test('the same through an import-parameters file (--params): exit 1, nothing written', () => {
    const params = put(dir, 'params-e1.json', JSON.stringify({ target: 'aws-rsa-aes-key-wrap-sha1', obtained: '2026-11-30T00:00:00Z', wrappingKey: spki(n2048, 1n).toString('base64') }));
    const out = join(dir, 'out-params');
    const r = runUnchanged(dir, ['export', '--key', KEY, '--params', params, '--out', out, '--pin-env', 'HSM_PIN'], env);
    expectErrorLine(r, 'EXPORT_KEK_EXPONENT');
    expect(existsSync(out)).toBe(false);
  });
});
