/**
 * The refusals of the age module, each with its stable code. A sealed file that is malformed,
 * tampered with, truncated, too large or not for these identities is a document saying no (exit 1);
 * a recipient or identity that does not parse is a bad argument (exit 2). No message ever quotes
 * an identity: it is a secret.
 */
import { KeyceremonyError } from '../errors.js';

export const AGE_CODES = {
  /** The header does not follow age v1 (version line, stanzas, canonical base64, MAC line), or is too large. */
  header: 'AGE_HEADER_INVALID',
  /** The header MAC does not verify under the file key: the header was altered. */
  mac: 'AGE_MAC_INVALID',
  /** The payload is truncated, extended or altered (a STREAM chunk fails to authenticate). */
  payload: 'AGE_PAYLOAD_INVALID',
  /** No stanza of the header opens with the identities given. */
  noMatch: 'AGE_NO_IDENTITY_MATCH',
  /** The file is larger than the caller's bound. */
  tooLarge: 'AGE_FILE_TOO_LARGE',
  recipient: 'AGE_RECIPIENT_INVALID',
  identity: 'AGE_IDENTITY_INVALID',
} as const;

const CHECK_FILE = 'the file is not one sealed by the ceremony for this deployment: ask for it again from the ceremony\'s media';

export function headerInvalid(what: string): KeyceremonyError {
  return new KeyceremonyError(AGE_CODES.header, `the age header is invalid: ${what}`, CHECK_FILE);
}

export function macInvalid(): KeyceremonyError {
  return new KeyceremonyError(AGE_CODES.mac, 'the age header MAC does not verify: the header was altered after it was sealed', CHECK_FILE);
}

export function payloadInvalid(what: string): KeyceremonyError {
  return new KeyceremonyError(AGE_CODES.payload, `the age payload is invalid: ${what}`, CHECK_FILE);
}

export function noIdentityMatch(what: string): KeyceremonyError {
  return new KeyceremonyError(AGE_CODES.noMatch, `no identity given opens the file: ${what}`, 'give the age identity of the deployment the secrets were sealed to');
}

export function tooLarge(size: number, limit: number): KeyceremonyError {
  return new KeyceremonyError(AGE_CODES.tooLarge, `the age file has ${size} bytes, more than the ${limit} allowed`, 'check the file: it is larger than a file of its kind can be');
}

export function recipientInvalid(what: string): KeyceremonyError {
  return new KeyceremonyError(AGE_CODES.recipient, `the age recipient is invalid: ${what}`, 'give an X25519 recipient as age-keygen prints it (age1…, lowercase)', { exit: 2 });
}

export function identityInvalid(what: string): KeyceremonyError {
  return new KeyceremonyError(AGE_CODES.identity, `the age identity is invalid: ${what}`, 'give an X25519 identity as age-keygen writes it (AGE-SECRET-KEY-1…), alone or with the comment lines of its file', { exit: 2 });
}
