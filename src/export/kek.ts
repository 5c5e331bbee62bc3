/**
 * The KMS's wrapping public key (KEK), as the operator brings it in: PEM or DER
 * SubjectPublicKeyInfo (AWS returns DER, base64 in JSON; GCP and Vault give PEM). Anything
 * else, any key that is not RSA, and any RSA key that a KMS would not issue is refused before a
 * token is touched, each with its own code (issue 14). The wrapped master key is only as secret
 * as this key is sound: with e = 1, "encryption" is the identity and the export hands the key to
 * whoever reads the drive; a small exponent, an even modulus or one with a small factor is a
 * forged or broken key. Every KMS issues e = 65537 with a modulus of exactly 2048, 3072 or 4096
 * bits (NIST SP 800-56B Rev. 2 §6.4.1.4 asks 2^16 < e < 2^256, odd; we accept only the value the
 * clouds use); which of those sizes a target takes is checked by checkKekForTarget.
 */
import { createHash, createPublicKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { fingerprint } from '../crypto/fingerprint.js';
import type { Fingerprint } from '../crypto/fingerprint.js';
import { KeyceremonyError } from '../errors.js';

export const MAX_KEK_BYTES = 64 * 1024;

export interface Kek {
  readonly key: KeyObject;
  readonly bits: number;
  readonly modulus: Buffer;
  readonly exponent: Buffer;
  /** DER SubjectPublicKeyInfo and its SHA-256 (hex), to compare with the cloud console. */
  readonly spki: Buffer;
  readonly spkiSha256: string;
  readonly fingerprint: Fingerprint;
}

function refuse(message: string): KeyceremonyError {
  return new KeyceremonyError('EXPORT_KEK_INVALID', message, 'use the wrapping public key downloaded from the KMS import job (PEM or DER SubjectPublicKeyInfo, RSA)');
}

const FIX_FORGED = 'this is not a wrapping key a KMS issues: download it again from the KMS import job, and check its SHA-256 against the cloud console; nothing was written';

/** Modulus sizes a KMS issues; checkKekForTarget narrows them per target. */
export const KEK_BITS: readonly number[] = Object.freeze([2048, 3072, 4096]);

/** The primes below 1,000 (168 of them), by a sieve. */
const SMALL_PRIMES: readonly bigint[] = (() => {
  const composite = new Uint8Array(1000);
  const out: bigint[] = [];
  for (let i = 2; i < 1000; i++) {
    if (composite[i] === 1) continue;
    out.push(BigInt(i));
    for (let j = i * i; j < 1000; j += i) composite[j] = 1;
  }
  return Object.freeze(out);
})();

/** The RSA public key's own soundness, before any target is considered. */
function checkRsaPublicKey(modulus: Buffer, exponent: Buffer): number {
  const e = BigInt(`0x${exponent.toString('hex') || '0'}`);
  if (e !== 65537n) {
    throw new KeyceremonyError('EXPORT_KEK_EXPONENT', `the wrapping key's public exponent is ${e < 1n << 64n ? e.toString() : `a ${exponent.length}-byte number`}, not 65537${e === 1n ? ': with e = 1 the "wrapped" key would be the key itself' : ''}`, FIX_FORGED);
  }
  const n = BigInt(`0x${modulus.toString('hex') || '0'}`);
  const bits = n.toString(2).length;
  if (!KEK_BITS.includes(bits)) {
    throw new KeyceremonyError('EXPORT_KEK_SIZE', `the wrapping key's modulus has ${bits} bits; a KMS wrapping key has exactly ${KEK_BITS.join(', ')} bits (top bit set)`, 'download the wrapping key of the right size from the KMS import job');
  }
  if ((n & 1n) === 0n) throw new KeyceremonyError('EXPORT_KEK_MODULUS_EVEN', 'the wrapping key\'s modulus is even: it is not the product of two large primes', FIX_FORGED);
  for (const p of SMALL_PRIMES) {
    if (n % p === 0n) throw new KeyceremonyError('EXPORT_KEK_MODULUS_SMALL_FACTOR', `the wrapping key's modulus is divisible by ${p}: it is not the product of two large primes`, FIX_FORGED);
  }
  return bits;
}

export function parseKek(bytes: Uint8Array): Kek {
  if (bytes.length === 0 || bytes.length > MAX_KEK_BYTES) throw refuse(`the wrapping key file has ${bytes.length} bytes`);
  const buf = Buffer.from(bytes);
  const text = buf.toString('latin1');
  let key: KeyObject;
  try {
    if (/-----BEGIN PUBLIC KEY-----/.test(text)) key = createPublicKey({ key: text, format: 'pem', type: 'spki' });
    else if (/-----BEGIN/.test(text)) throw refuse('the PEM file holds something other than a PUBLIC KEY (SubjectPublicKeyInfo)');
    else key = createPublicKey({ key: buf, format: 'der', type: 'spki' });
  } catch (err) {
    if (err instanceof KeyceremonyError) throw err;
    throw refuse('the wrapping key file is not a PEM or DER SubjectPublicKeyInfo');
  }
  if (key.asymmetricKeyType !== 'rsa') throw refuse(`the wrapping key is ${key.asymmetricKeyType ?? 'unknown'}, not RSA`);
  const jwk = key.export({ format: 'jwk' });
  const modulus = Buffer.from(jwk.n as string, 'base64url');
  const exponent = Buffer.from(jwk.e as string, 'base64url');
  const bits = checkRsaPublicKey(modulus, exponent);
  const spki = key.export({ format: 'der', type: 'spki' });
  return Object.freeze({ key, bits, modulus, exponent, spki, spkiSha256: createHash('sha256').update(spki).digest('hex'), fingerprint: fingerprint(spki) });
}
