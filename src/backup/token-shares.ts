/**
 * A custodian's share on their own card (issue 6): a CKO_DATA object with CKA_PRIVATE (reading it
 * needs the custodian's PIN), CKA_TOKEN, not modifiable, labelled `share:<backup key id>`, with
 * CKA_APPLICATION naming keyceremony. Read back right after writing and compared with the
 * commitment, so a card that stores it wrongly is caught at the ceremony, not at a restore.
 */
import { equalBytes, zero } from '../bytes.js';
import { KeyceremonyError } from '../errors.js';
import type { Handle } from '../pkcs11/binding.js';
import { hsmError } from '../pkcs11/errors.js';
import { assertLabelFree } from '../pkcs11/keys.js';
import { createDataObject, findByLabel, objectValue } from '../pkcs11/objects.js';
import type { Session } from '../pkcs11/session.js';
import { shareCommitment } from './shares.js';

export const SHARE_APPLICATION = 'keyceremony backup share';

export const shareLabel = (backupKey: string): string => `share:${backupKey}`;

function find(s: Session, backupKey: string): Handle[] {
  return findByLabel(s, 'data', shareLabel(backupKey), 2);
}

/** `bytes` go to the card as a view (no copy in Node's shared pool); what is read back to check them is zeroed here. */
export function writeShare(s: Session, backupKey: string, bytes: Uint8Array, commitment: string): void {
  assertLabelFree(s, shareLabel(backupKey));
  createDataObject(s, { label: shareLabel(backupKey), application: SHARE_APPLICATION, value: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) }, 'storing the share on the card');
  const back = readShare(s, backupKey);
  try {
    if (!equalBytes(back, bytes) || shareCommitment(back) !== commitment) {
      throw new KeyceremonyError('SHARE_READBACK_MISMATCH', `the share stored on token "${s.token.label}" reads back differently`, 'do not use this card for custody; remove the object and use another card');
    }
  } finally {
    zero(back);
  }
}

/**
 * The share's bytes from the card (the session must be logged in with the custodian's PIN), in a
 * buffer of their own for the caller to zero; the attribute buffer pkcs11js returned is zeroed here.
 */
export function readShare(s: Session, backupKey: string): Uint8Array {
  const hits = find(s, backupKey);
  if (hits.length !== 1) {
    throw hsmError('HSM_OBJECT_NOT_FOUND', `token "${s.token.label}" holds ${hits.length === 0 ? 'no' : 'more than one'} share for ${backupKey}`, 'present the card that received this share');
  }
  const value = objectValue(s, hits[0] as Handle);
  if (value === null) throw hsmError('HSM_ATTRIBUTE_SENSITIVE', `token "${s.token.label}" will not reveal the share`, 'log in with the custodian PIN');
  try {
    const own = new Uint8Array(value.length);
    own.set(value);
    return own;
  } finally {
    zero(value);
  }
}
