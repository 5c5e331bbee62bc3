/**
 * The export tests' independent checks, in one place: test KMS wrapping keys (RSA key pairs written
 * as PEM files) and the unwrap of an export with the openssl CLI, exactly the commands KMS-NOTES.md
 * gives (OpenSSL 3.0): `pkeyutl -decrypt` with OAEP and MGF1 of the same hash on the first k bytes,
 * then `enc -d -id-aes256-wrap-pad` (RFC 5649) under the recovered key on the rest.
 */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/** A test KMS wrapping key: its public half (PEM SubjectPublicKeyInfo) as the KMS gives it, its private half for the unwrap. */
export interface TestKek {
  readonly bits: number;
  readonly pub: string;
  readonly priv: string;
}

/** One RSA wrapping key per size, written into `dir`. */
export function makeKeks(dir: string, sizes: readonly number[] = [2048, 3072, 4096]): Record<number, TestKek> {
  const keks: Record<number, TestKek> = {};
  for (const bits of sizes) {
    const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: bits });
    keks[bits] = { bits, pub: join(dir, `kek-${bits}.pub.pem`), priv: join(dir, `kek-${bits}.pem`) };
    writeFileSync(keks[bits].pub, publicKey.export({ type: 'spki', format: 'pem' }));
    writeFileSync(keks[bits].priv, privateKey.export({ type: 'pkcs8', format: 'pem' }));
  }
  return keks;
}

/**
 * The key material inside `blob` (the RSA part first, k bytes, then the AES-KWP part when `kwp`),
 * recovered with the openssl CLI and the wrapping key's private half; its files go to a new folder under `work`.
 */
export function opensslUnwrap(blob: Buffer, kek: TestKek, hash: string, kwp: boolean, work: string): Buffer {
  const d = mkdtempSync(join(work, 'ossl-'));
  const k = kek.bits / 8;
  writeFileSync(join(d, 'oaep.bin'), kwp ? blob.subarray(0, k) : blob);
  execFileSync('openssl', ['pkeyutl', '-decrypt', '-inkey', kek.priv, '-in', join(d, 'oaep.bin'), '-out', join(d, 'plain.bin'),
    '-pkeyopt', 'rsa_padding_mode:oaep', '-pkeyopt', `rsa_oaep_md:${hash}`, '-pkeyopt', `rsa_mgf1_md:${hash}`]);
  const plain = readFileSync(join(d, 'plain.bin'));
  if (!kwp) return plain;
  writeFileSync(join(d, 'kwp.bin'), blob.subarray(k));
  execFileSync('openssl', ['enc', '-d', '-id-aes256-wrap-pad', '-K', plain.toString('hex'), '-iv', 'A65959A6', '-in', join(d, 'kwp.bin'), '-out', join(d, 'key.bin')]);
  return readFileSync(join(d, 'key.bin'));
}

/** The wrapped bytes inside a target's file: Azure's base64url ciphertext, Vault's base64 line, AWS and GCP as written. */
export function blobOf(cloud: string, file: Buffer): Buffer {
  if (cloud === 'azure') return Buffer.from((JSON.parse(file.toString()) as { ciphertext: string }).ciphertext, 'base64url');
  if (cloud === 'vault') return Buffer.from(file.toString(), 'base64');
  return file;
}
