/**
 * Splitting the backup key onto the custodians' cards or paper (issue 6, points 1–3), shared by
 * the CLI, the app and the demo:
 *   1. in the HSM: the backup key drawn from its RNG, split M-of-N, imported (wrap/unwrap only),
 *      the host copy zeroed; a blob (AES-KWP + canary) for each key to back up;
 *   2. each share written to its custodian's card as a private data object and read back in a
 *      new session, or sealed on paper and opened again, and compared with its commitment;
 *   3. the creation check: one M-subset of the read-back shares recombined in the HSM and its
 *      KCV compared with the backup key's.
 * The result is what the custody folder holds (blobs and receipts), the KCVs the custody
 * manifest records, and the sealed paper shares. writeCustodyFolder writes, all or nothing.
 */
import { createHash } from 'node:crypto';
import { zero } from '../bytes.js';
import { formatTime } from '../docs/fields.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { serializeEnvelope } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { defaultSupersedes, SEED_INVENTORY } from '../manifest/inventory.js';
import { buildManifest, splitKeyId } from '../manifest/manifest.js';
import type { Artifact } from '../manifest/manifest.js';
import { Folder } from '../files.js';
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
  (event: { step: 'generated'; backupKcv: string } | { step: 'stored'; custodian: string; token: string } | { step: 'sealed'; custodian: string } | { step: 'recombined'; kcv: string }): void;
}

/**
 * One split, step by step, so that a screen can take the custodians one at a time: begin (in the
 * HSM), then each share stored on its card (written, then read back in a fresh session and
 * compared with its commitment) or sealed on paper (and opened again), then finish (M of the
 * read-back shares recombined in the HSM and compared by KCV). Shares live in this object's
 * memory between steps and are zeroed by finish or dispose.
 */
export class BackupSplit {
  private readonly receipts = new Map<string, ShareReceipt>();
  private readonly readBack = new Map<string, Uint8Array>();
  private readonly paper: PaperShare[] = [];
  private disposed = false;

  private constructor(
    readonly ceremony: string,
    readonly backupKey: string,
    readonly backupKcv: string,
    readonly threshold: number,
    readonly custodians: readonly string[],
    private readonly hsmSerial: string,
    private readonly shares: readonly SplitShare[],
    private readonly blobs: SplitResult['blobs'],
  ) {}

  /** The backup key drawn in the HSM, split, imported (wrap/unwrap only); a blob for each key in `keys`. */
  static async begin(opts: { hsm: Token; hsmPin: Uint8Array; ceremony: string; backupKey: string; threshold: number; custodians: readonly string[]; keys: readonly string[] }): Promise<BackupSplit> {
    const { custody, blobs } = await withSession(opts.hsm, opts.hsmPin, async (s) => {
      const c = await createBackupCustody(s, { backupKey: opts.backupKey, ceremony: opts.ceremony, custodians: opts.custodians, threshold: opts.threshold });
      const made = [];
      for (const keyId of opts.keys) {
        const b = await makeBackupBlob(s, keyId, c.backupKey);
        made.push({ keyId, kcv: b.kcv, text: encodeBlob(b) });
      }
      return { custody: c, blobs: made };
    });
    return new BackupSplit(opts.ceremony, custody.backupKey, custody.kcv, opts.threshold, opts.custodians, opts.hsm.info.serial, custody.shares, blobs);
  }

  get total(): number {
    return this.custodians.length;
  }

  /** The custodian whose share comes next, in the order of the split, or null when all are placed. */
  get next(): string | null {
    return this.custodians.find((c) => !this.receipts.has(c)) ?? null;
  }

  get placed(): readonly ShareReceipt[] {
    return this.custodians.flatMap((c) => this.receipts.get(c) ?? []);
  }

  private take(custodian: string): { i: number; share: SplitShare } {
    if (this.disposed) throw new KeyceremonyError('SPLIT_FINISHED', 'this split is finished or was cancelled', 'start a new split');
    const i = this.custodians.indexOf(custodian);
    const share = this.shares[i];
    if (i < 0 || share === undefined) throw new KeyceremonyError('SPLIT_UNKNOWN_CUSTODIAN', `${custodian} holds no share of this split`, `the custodians of this split are ${this.custodians.join(', ')}`);
    if (this.receipts.has(custodian)) throw new KeyceremonyError('SHARE_DUPLICATE', `the share of ${custodian} was placed already`, `the next custodian is ${this.next ?? 'nobody: finish the split'}`);
    return { i, share };
  }

  private receipt(i: number, share: SplitShare, holder: ShareHolder): ShareReceipt {
    return Object.freeze({ ceremony: this.ceremony, backupKey: this.backupKey, custodian: this.custodians[i] as string, index: i + 1, threshold: this.threshold, total: this.total, commitment: share.commitment, holder });
  }

  /** Written to the custodian's card, then read back in a new session (logged in again) and compared with the commitment. */
  async storeOnCard(custodian: string, card: Token, pin: Uint8Array): Promise<ShareReceipt> {
    const { i, share } = this.take(custodian);
    if (card.info.serial === this.hsmSerial) throw new KeyceremonyError('SHARES_SAME_CARD', 'a share would be stored on the HSM that holds the backup key', 'shares go on the custodians\' own cards');
    if (this.placed.some((r) => r.holder.kind === 'token' && r.holder.serial === card.info.serial)) {
      throw new KeyceremonyError('SHARES_SAME_CARD', `the card "${card.label}" holds another custodian's share already`, 'each custodian presents their own card');
    }
    await withSession(card, pin, async (s) => writeShare(s, this.backupKey, share.bytes, share.commitment));
    const back = await withSession(card, pin, async (s) => readShare(s, this.backupKey));
    if (shareCommitment(back) !== share.commitment) {
      zero(back);
      throw new KeyceremonyError('SHARE_READBACK_MISMATCH', `the share on "${card.label}" (${custodian}) reads back differently in a new session`, 'do not use this card for custody: remove its share object and use another card');
    }
    this.readBack.set(custodian, back);
    const r = this.receipt(i, share, { kind: 'token', token: card.label, serial: card.info.serial });
    this.receipts.set(custodian, r);
    return r;
  }

  /** Sealed under the custodian's passphrase for printing, then opened again and compared with the commitment. */
  sealOnPaper(custodian: string, passphrase: Uint8Array): { receipt: ShareReceipt; paper: PaperShare } {
    checkPassphrase(passphrase);
    const { i, share } = this.take(custodian);
    const paper = sealPaperShare(share.bytes, passphrase, { ceremony: this.ceremony, backupKey: this.backupKey, custodian, index: i + 1, threshold: this.threshold, total: this.total });
    const back = openPaperShare(paper, passphrase);
    if (shareCommitment(back) !== share.commitment) {
      zero(back);
      throw new KeyceremonyError('SHARE_READBACK_MISMATCH', `the sealed paper share of ${custodian} does not open to its share`, 'this is a bug: report it, and split again');
    }
    this.readBack.set(custodian, back);
    this.paper.push(paper);
    const receipt = this.receipt(i, share, { kind: 'paper' });
    this.receipts.set(custodian, receipt);
    return { receipt, paper };
  }

  /** The creation check: M of the read-back shares recombined in the HSM must give the backup key's KCV. */
  async finish(hsm: Token, hsmPin: Uint8Array): Promise<SplitResult> {
    if (this.next !== null) throw new KeyceremonyError('SPLIT_INCOMPLETE', `the share of ${this.next} is not placed yet`, `${this.next} stores their share before the split can finish`);
    try {
      const collector = new ShareCollector({ ceremony: this.ceremony, backupKey: this.backupKey, threshold: this.threshold, total: this.total, commitments: new Map(this.placed.map((r) => [r.custodian, r.commitment])) });
      for (const c of this.custodians.slice(0, this.threshold)) collector.present(this.readBack.get(c) as Uint8Array);
      const kcv = await withSession(hsm, hsmPin, (s) => recombinedKcv(s, collector));
      if (kcv !== this.backupKcv) throw custodyCheckFailed(this.threshold, kcv, this.backupKcv);
      return { ceremony: this.ceremony, backupKey: this.backupKey, backupKcv: this.backupKcv, threshold: this.threshold, receipts: this.placed, blobs: this.blobs, paper: [...this.paper] };
    } finally {
      this.dispose();
    }
  }

  dispose(): void {
    this.disposed = true;
    for (const sh of this.shares) zero(sh.bytes);
    zero(...this.readBack.values());
    this.readBack.clear();
  }
}

export async function splitBackupKey(opts: {
  hsm: Token; hsmPin: Uint8Array; ceremony: string; backupKey: string; threshold: number; cards: readonly CustodianCard[]; paper?: readonly PaperHolder[]; keys: readonly string[]; progress?: SplitProgress;
}): Promise<SplitResult> {
  const progress = opts.progress ?? (() => undefined);
  const paperHolders = opts.paper ?? [];
  for (const h of paperHolders) checkPassphrase(h.passphrase);
  const serials = opts.cards.map((c) => c.token.info.serial);
  if (new Set(serials).size !== serials.length) {
    throw new KeyceremonyError('SHARES_SAME_CARD', 'two custodians would hold their shares on the same card', 'give each custodian their own card', { exit: 2 });
  }
  if (serials.includes(opts.hsm.info.serial)) throw new KeyceremonyError('SHARES_SAME_CARD', 'a share would be stored on the HSM that holds the backup key', 'shares go on the custodians\' own cards');
  const split = await BackupSplit.begin({ ...opts, custodians: [...opts.cards.map((c) => c.custodian), ...paperHolders.map((h) => h.custodian)] });
  try {
    progress({ step: 'generated', backupKcv: split.backupKcv });
    for (const card of opts.cards) {
      await split.storeOnCard(card.custodian, card.token, card.pin);
      progress({ step: 'stored', custodian: card.custodian, token: card.token.label });
    }
    for (const h of paperHolders) {
      split.sealOnPaper(h.custodian, h.passphrase);
      progress({ step: 'sealed', custodian: h.custodian });
    }
    const result = await split.finish(opts.hsm, opts.hsmPin);
    progress({ step: 'recombined', kcv: result.backupKcv });
    return result;
  } finally {
    split.dispose();
  }
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
 * with their KCVs and every file with its SHA-256, for the custodians to sign M-of-N. Written
 * through the folder layer: the custody folder and its subfolders are never links; with `drive`
 * (the removable drive's mount point), no folder on the way from the drive is one either.
 */
export async function writeCustodyFolder(outDir: string, r: SplitResult, m: CustodyManifestOptions, drive?: string): Promise<Artifact[]> {
  const { folder, rel: out } = Folder.anchor(outDir, drive);
  return folder.buildFolderAtomically(out, (staging) => {
    const artifacts: Artifact[] = [];
    const put = (rel: string, text: string): void => {
      const slash = rel.lastIndexOf('/');
      if (slash > 0) staging.mkdir(rel.slice(0, slash), { parents: true });
      staging.write(rel, text);
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
    staging.write(CUSTODY_MANIFEST, serializeEnvelope({ payloadType: PAYLOAD_TYPES.rotation, payload, signatures: [] }));
    return artifacts;
  });
}
