/**
 * The KMS's wrapping public key (KEK), as the operator brings it in: PEM or DER
 * SubjectPublicKeyInfo (AWS returns DER, base64 in JSON; GCP and Vault give PEM). Anything
 * else, and any key that is not RSA, is refused before a token is touched.
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
  const spki = key.export({ format: 'der', type: 'spki' });
  return Object.freeze({ key, bits: key.asymmetricKeyDetails?.modulusLength ?? modulus.length * 8, modulus, exponent, spki, spkiSha256: createHash('sha256').update(spki).digest('hex'), fingerprint: fingerprint(spki) });
}
