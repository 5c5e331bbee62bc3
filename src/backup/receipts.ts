/**
 * Share receipts (issue 6): the public record of one custodian's share, written to the custody
 * folder and listed with its SHA-256 in the rotation manifest's `artifacts`. FORMATS.md §4 is a
 * closed format with no field for share commitments, so the manifest signs each commitment
 * through the receipt that carries it: a custodian signing the manifest signs every receipt's
 * bytes, and `keyceremony verify --artifacts DIR` checks them like any other file. A receipt
 * holds no secret: the commitment is a SHA-256 of a share record that contains 32 random bytes.
 */
import { Fields } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { readJson } from '../dsse/envelope.js';
import { readShareHeader, SHARE_HEADER_MEMBERS } from './shares.js';
import type { ShareHeader } from './shares.js';

export const RECEIPT_SPEC = 'keyceremony/share-receipt@1';
const MAX_RECEIPT_BYTES = 4096;
const COMMITMENT = /^sha256:[0-9a-f]{64}$/;

/** Where the share lives: a custodian's token (CKO_DATA, private) or a passphrase-sealed paper share. */
export type ShareHolder = { readonly kind: 'token'; readonly token: string; readonly serial: string } | { readonly kind: 'paper' };

export interface ShareReceipt extends ShareHeader {
  readonly commitment: string;
  readonly holder: ShareHolder;
}

/** The receipt's path in the custody folder (and in the manifest's artifacts). */
export const receiptPath = (backupKey: string, custodian: string): string => `shares/${backupKey}/${custodian}.receipt.json`;
export const RECEIPT_PATH = /^shares\/([a-z0-9][a-z0-9_-]*-v[1-9][0-9]*)\/([a-z0-9][a-z0-9._-]{0,63})\.receipt\.json$/;

export function encodeReceipt(r: ShareReceipt): string {
  return `${JSON.stringify({ spec: RECEIPT_SPEC, ceremony: r.ceremony, backupKey: r.backupKey, custodian: r.custodian, index: r.index, threshold: r.threshold,
    total: r.total, commitment: r.commitment, holder: r.holder.kind === 'token' ? { kind: 'token', token: r.holder.token, serial: r.holder.serial } : { kind: 'paper' } }, null, 2)}\n`;
}

export function parseReceipt(bytes: Uint8Array): ShareReceipt {
  const json = readJson(bytes, MAX_RECEIPT_BYTES, 'the share receipt');
  const f = new Fields();
  const o = f.object(json, '$', ['spec', ...SHARE_HEADER_MEMBERS, 'commitment', 'holder']);
  if (o === undefined) throw new DocumentError(f.problems, 'the share receipt');
  if (f.string(o.spec, 'spec') !== RECEIPT_SPEC) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${RECEIPT_SPEC}"`);
  const header = readShareHeader(f, o);
  const commitment = f.string(o.commitment, 'commitment', { pattern: COMMITMENT, what: 'sha256:<64 lowercase hex>' });
  let holder: ShareHolder | undefined;
  const kind = (o.holder !== null && typeof o.holder === 'object' && !Array.isArray(o.holder)) ? o.holder.kind : undefined;
  if (kind === 'paper') {
    if (f.object(o.holder, 'holder', ['kind']) !== undefined) holder = { kind: 'paper' };
  } else {
    const h = f.object(o.holder, 'holder', ['kind', 'token', 'serial']);
    if (h !== undefined) {
      if (h.kind !== 'token') f.add('DOCUMENT_BAD_VALUE', 'holder.kind', 'expected "token" or "paper"');
      const token = f.string(h.token, 'holder.token', { max: 32 });
      const serial = f.string(h.serial, 'holder.serial', { max: 16 });
      if (h.kind === 'token' && token !== undefined && serial !== undefined) holder = { kind: 'token', token, serial };
    }
  }
  if (f.problems.length > 0 || header === undefined || commitment === undefined || holder === undefined) throw new DocumentError(f.problems, 'the share receipt');
  return Object.freeze({ ...header, commitment, holder });
}
