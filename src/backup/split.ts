/**
 * Splitting the backup key onto the custodians' cards (issue 6, points 1–3), in one call that
 * the CLI, the app and the demo share:
 *   1. in the HSM: the backup key drawn from its RNG, split M-of-N, imported (wrap/unwrap only),
 *      the host copy zeroed; a blob (AES-KWP + canary) for each key to back up;
 *   2. each share written to its custodian's card as a private data object, read back at once;
 *   3. the creation check: every share read back again from every card in a new session and
 *      compared with its commitment, then one M-subset of the read-back shares recombined and
 *      its KCV compared with the HSM's backup key.
 * The result is what the custody folder holds (blobs and receipts) and the KCVs the custody
 * manifest records. Nothing here writes files: writeCustodyFolder does, all or nothing.
 */
import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { zero } from '../bytes.js';
import { formatTime } from '../docs/fields.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { serializeEnvelope } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { defaultSupersedes, SEED_INVENTORY } from '../manifest/inventory.js';
import { buildManifest, splitKeyId } from '../manifest/manifest.js';
import type { Artifact } from '../manifest/manifest.js';
import { buildFolderAtomically, writeFileAtomic } from '../files.js';
import type { Token } from '../pkcs11/tokens.js';
import { withSession } from '../pkcs11/session.js';
import { encodeBlob, makeBackupBlob } from './blob.js';
import { createBackupCustody, custodyCheckFailed, recombinedKcv } from './custody.js';
import { checkPassphrase, openPaperShare, sealPaperShare } from './paper.js';
import type { PaperShare } from './paper.js';
import { encodeReceipt, receiptPath } from './receipts.js';
import type { ShareHolder, ShareReceipt } from './receipts.js';
import { ShareCollector, shareCommitment } from './shares.js';
import type { SplitShare } from './shares.js';
import { readShare, writeShare } from './token-shares.js';

export interface CustodianCard {
  readonly custodian: string;
  readonly token: Token;
  /** The custodian's user PIN; zeroed by the caller. */
  readonly pin: Uint8Array;
}

/** A custodian whose card cannot hold data objects: their share is sealed under their passphrase, for printing. */
export interface PaperHolder {
  readonly custodian: string;
  /** At least MIN_PASSPHRASE_CHARACTERS; zeroed by the caller. */
  readonly passphrase: Uint8Array;
}

export interface SplitResult {
  readonly ceremony: string;
  readonly backupKey: string;
  readonly backupKcv: string;
  readonly threshold: number;
  readonly receipts: readonly ShareReceipt[];
  /** key id → its blob file's text, and its KCV. */
  readonly blobs: readonly { readonly keyId: string; readonly kcv: string; readonly text: string }[];
  /** The sealed paper shares, to print and hand over; never part of the custody folder. */
  readonly paper: readonly PaperShare[];
}

export interface SplitProgress {
  (event: { step: 'generated'; backupKcv: string } | { step: 'stored'; custodian: string; token: string } | { step: 'sealed'; custodian: string } | { step: 'checked'; custodian: string } | { step: 'recombined'; kcv: string }): void;
}

export async function splitBackupKey(opts: {
  hsm: Token; hsmPin: Uint8Array; ceremony: string; backupKey: string; threshold: number; cards: readonly CustodianCard[]; paper?: readonly PaperHolder[]; keys: readonly string[]; progress?: SplitProgress;
}): Promise<SplitResult> {
  const progress = opts.progress ?? (() => undefined);
  const paperHolders = opts.paper ?? [];
  for (const h of paperHolders) checkPassphrase(h.passphrase);
  const custodians = [...opts.cards.map((c) => c.custodian), ...paperHolders.map((h) => h.custodian)];
  const total = custodians.length;
  const serials = opts.cards.map((c) => c.token.info.serial);
  if (new Set(serials).size !== serials.length) {
    throw new KeyceremonyError('SHARES_SAME_CARD', 'two custodians would hold their shares on the same card', 'give each custodian their own card', { exit: 2 });
  }
  if (opts.cards.some((c) => c.token.info.serial === opts.hsm.info.serial)) {
    throw new KeyceremonyError('SHARES_SAME_CARD', 'a share would be stored on the HSM that holds the backup key', 'shares go on the custodians\' own cards');
  }
  const { custody, blobs } = await withSession(opts.hsm, opts.hsmPin, async (s) => {
    const c = await createBackupCustody(s, { backupKey: opts.backupKey, ceremony: opts.ceremony, custodians, threshold: opts.threshold });
    progress({ step: 'generated', backupKcv: c.kcv });
    const made = [];
    for (const keyId of opts.keys) {
      const b = await makeBackupBlob(s, keyId, c.backupKey);
      made.push({ keyId, kcv: b.kcv, text: encodeBlob(b) });
    }
    return { custody: c, blobs: made };
  });
  const receipts: ShareReceipt[] = [];
  const paper: PaperShare[] = [];
  const receipt = (i: number, holder: ShareHolder): ShareReceipt => Object.freeze({ ceremony: opts.ceremony, backupKey: custody.backupKey, custodian: custodians[i] as string,
    index: i + 1, threshold: opts.threshold, total, commitment: (custody.shares[i] as SplitShare).commitment, holder });
  try {
    for (const [j, h] of paperHolders.entries()) {
      const i = opts.cards.length + j;
      const sh = custody.shares[i] as SplitShare;
      paper.push(sealPaperShare(sh.bytes, h.passphrase, { ceremony: opts.ceremony, backupKey: custody.backupKey, custodian: h.custodian, index: i + 1, threshold: opts.threshold, total }));
      receipts.push(receipt(i, { kind: 'paper' }));
      progress({ step: 'sealed', custodian: h.custodian });
    }
    for (const [i, card] of opts.cards.entries()) {
      const share = custody.shares[i];
      if (share === undefined) throw new Error('one share per card');
      await withSession(card.token, card.pin, async (s) => writeShare(s, custody.backupKey, share.bytes, share.commitment));
      receipts.splice(i, 0, receipt(i, { kind: 'token', token: card.token.label, serial: card.token.info.serial }));
      progress({ step: 'stored', custodian: card.custodian, token: card.token.label });
    }
  } finally {
    for (const sh of custody.shares) zero(sh.bytes);
  }
  // The creation check, from what the cards hold now.
  const collector = new ShareCollector({ ceremony: opts.ceremony, backupKey: custody.backupKey, threshold: opts.threshold, total, commitments: new Map(receipts.map((r) => [r.custodian, r.commitment])) });
  const readBack: Uint8Array[] = [];
  try {
    for (const card of opts.cards) {
      const bytes = await withSession(card.token, card.pin, async (s) => readShare(s, custody.backupKey));
      readBack.push(bytes);
      const expected = receipts.find((r) => r.custodian === card.custodian)?.commitment;
      if (shareCommitment(bytes) !== expected) {
        throw new KeyceremonyError('SHARE_READBACK_MISMATCH', `the share on "${card.token.label}" (${card.custodian}) no longer matches its commitment`, 'do not use this card for custody: split again with another card');
      }
      progress({ step: 'checked', custodian: card.custodian });
    }
    for (const [j, h] of paperHolders.entries()) {
      const bytes = openPaperShare(paper[j] as PaperShare, h.passphrase);
      readBack.push(bytes);
      if (shareCommitment(bytes) !== receipts[opts.cards.length + j]?.commitment) {
        throw new KeyceremonyError('SHARE_READBACK_MISMATCH', `the sealed paper share of ${h.custodian} does not open to its share`, 'this is a bug: report it, and split again');
      }
      progress({ step: 'checked', custodian: h.custodian });
    }
    for (const bytes of readBack.slice(0, opts.threshold)) collector.present(bytes);
  } finally {
    zero(...readBack);
  }
  const kcv = await withSession(opts.hsm, opts.hsmPin, (s) => recombinedKcv(s, collector));
  if (kcv !== custody.kcv) throw custodyCheckFailed(opts.threshold, kcv, custody.kcv);
  progress({ step: 'recombined', kcv });
  return { ceremony: opts.ceremony, backupKey: custody.backupKey, backupKcv: custody.kcv, threshold: opts.threshold, receipts, blobs, paper };
}

/** What the unsigned custody manifest needs besides the split. */
export interface CustodyManifestOptions {
  readonly custodianSet: number;
  readonly actor: string;
  readonly now: number;
  readonly expiresDays?: number;
}

export const CUSTODY_MANIFEST = 'rotation.json';

/**
 * The custody folder, all or nothing: backup/<key>.blob.json, shares/<backup key>/<custodian>.receipt.json,
 * and rotation.json, an unsigned rotation manifest listing the backup key and every backed-up key
 * with their KCVs and every file with its SHA-256, for the custodians to sign M-of-N.
 */
export async function writeCustodyFolder(outDir: string, r: SplitResult, m: CustodyManifestOptions): Promise<Artifact[]> {
  return buildFolderAtomically(outDir, (staging) => {
    const artifacts: Artifact[] = [];
    const put = (rel: string, text: string): void => {
      const abs = join(staging, ...rel.split('/'));
      mkdirSync(dirname(abs), { recursive: true });
      writeFileAtomic(abs, text, false);
      artifacts.push({ path: rel, sha256: createHash('sha256').update(text, 'utf8').digest('hex'), bytes: Buffer.byteLength(text, 'utf8') });
    };
    for (const b of r.blobs) put(`backup/${b.keyId}.blob.json`, b.text);
    for (const rc of r.receipts) put(receiptPath(r.backupKey, rc.custodian), encodeReceipt(rc));
    const issued = formatTime(m.now);
    const entry = (id: string, kcv: string) => {
      const inv = SEED_INVENTORY.find((e) => e.prefix === splitKeyId(id)?.prefix);
      return { name: inv?.name ?? 'MASTER_KEY', id, supersedes: defaultSupersedes(id), algorithm: 'AES-256-GCM', phase: 'prepare', kcv, notBefore: issued };
    };
    const payload = buildManifest({ ceremony: r.ceremony, sequence: 1, previous: null, custodianSet: m.custodianSet, issued, expires: formatTime(m.now + (m.expiresDays ?? 365) * 24 * 3600 * 1000),
      actor: m.actor, artifacts, keys: [entry(r.backupKey, r.backupKcv), ...r.blobs.map((b) => entry(b.keyId, b.kcv))] });
    writeFileAtomic(join(staging, CUSTODY_MANIFEST), serializeEnvelope({ payloadType: PAYLOAD_TYPES.rotation, payload, signatures: [] }), false);
    return artifacts;
  });
}
