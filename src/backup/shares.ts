/**
 * Custody of the backup key (issue 6): M-of-N Shamir shares over GF(256), with the audited
 * `shamir-secret-sharing` implementation (Cure53 and Zellic audits), each share wrapped in a
 * small record naming its ceremony, backup key, custodian, index, M and N. The SHA-256 of each
 * record's bytes is its commitment, listed in the signed manifest, so a wrong, corrupted,
 * duplicated or foreign share is named when it is presented, before anything is combined:
 * combining the wrong shares does not fail, it silently yields a wrong key.
 *
 * Shares are secrets: records are zeroed by the collector after combination, and the combined
 * key is the caller's to import into a token at once and zero. Share bytes live in buffers of
 * their own, never in Node's shared pool, and every buffer handed to or received from the Shamir
 * library is zeroed (test/backup/zeroed.test.ts records them). A record is JSON text: encoding or
 * parsing one makes JavaScript strings of its base64, which cannot be zeroed (README, "What
 * JavaScript cannot promise").
 */
import { createHash } from 'node:crypto';
import { combine, split } from 'shamir-secret-sharing';
import { zero } from '../bytes.js';
import { CUSTODIAN_ID } from '../custodians/set.js';
import { Fields } from '../docs/fields.js';
import type { JsonObject } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { decodeBase64Strict, encodeBase64, readJson } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { CEREMONY_ID, KEY_ID } from '../manifest/manifest.js';

export const SHARE_SPEC = 'keyceremony/backup-share@1';
const MAX_SHARE_BYTES = 4096;

/** Who holds which share of which split: the fields a share record, its receipt and its paper copy all carry. */
export interface ShareHeader {
  readonly ceremony: string;
  readonly backupKey: string;
  readonly custodian: string;
  /** 1..N, the custodian's place in the split (the GF(256) x-coordinate is inside a record's `share`). */
  readonly index: number;
  readonly threshold: number;
  readonly total: number;
}

export interface ShareRecord extends ShareHeader {
  readonly share: Uint8Array;
}

export function encodeShare(r: ShareRecord): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ spec: SHARE_SPEC, ceremony: r.ceremony, backupKey: r.backupKey, custodian: r.custodian, index: r.index, threshold: r.threshold, total: r.total, share: encodeBase64(r.share) }));
}

/** `sha256:<hex>` of the record's exact bytes. */
export function shareCommitment(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

export const SHARE_HEADER_MEMBERS = ['ceremony', 'backupKey', 'custodian', 'index', 'threshold', 'total'] as const;

/** Reads and cross-checks the header fields of a share document (problems go to f); undefined when any is bad. */
export function readShareHeader(f: Fields, o: JsonObject): ShareHeader | undefined {
  const ceremony = f.string(o.ceremony, 'ceremony', { pattern: CEREMONY_ID, what: 'a ceremony id' });
  const backupKey = f.string(o.backupKey, 'backupKey', { pattern: KEY_ID, what: 'a versioned key id' });
  const custodian = f.string(o.custodian, 'custodian', { pattern: CUSTODIAN_ID, what: 'a custodian id' });
  const index = f.integer(o.index, 'index', 1);
  const threshold = f.integer(o.threshold, 'threshold', 2);
  const total = f.integer(o.total, 'total', 2);
  if (total !== undefined && total > 255) f.add('DOCUMENT_BAD_VALUE', 'total', 'at most 255 shares');
  if (threshold !== undefined && total !== undefined && threshold > total) f.add('DOCUMENT_BAD_VALUE', 'threshold', 'more than the number of shares');
  if (index !== undefined && total !== undefined && index > total) f.add('DOCUMENT_BAD_VALUE', 'index', 'more than the number of shares');
  if (ceremony === undefined || backupKey === undefined || custodian === undefined || index === undefined || threshold === undefined || total === undefined) return undefined;
  return { ceremony, backupKey, custodian, index, threshold, total };
}

export function parseShare(bytes: Uint8Array): ShareRecord {
  const json = readJson(bytes, MAX_SHARE_BYTES, 'the share');
  const f = new Fields();
  const o = f.object(json, '$', ['spec', ...SHARE_HEADER_MEMBERS, 'share']);
  if (o === undefined) throw new DocumentError(f.problems, 'the share');
  if (f.string(o.spec, 'spec') !== SHARE_SPEC) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${SHARE_SPEC}"`);
  const header = readShareHeader(f, o);
  const s64 = f.string(o.share, 'share', { max: 2048 });
  const share = s64 === undefined ? undefined : ownCopy(decodeBase64Strict(s64)) ?? f.add('DOCUMENT_BAD_BASE64', 'share', 'not standard base64');
  if (share !== undefined && (share.length < 2 || share[share.length - 1] === 0)) f.add('DOCUMENT_BAD_VALUE', 'share', 'not a share (too short, or x = 0)');
  if (f.problems.length > 0 || header === undefined || share === undefined) {
    zero(share);
    throw new DocumentError(f.problems, 'the share');
  }
  return { ...header, share };
}

/**
 * Share bytes in a buffer of their own: the decoder fills a slice of Node's shared pool, zeroed
 * here once copied, so that the share lives only where dispose() will zero it.
 */
function ownCopy(pooled: Uint8Array | null): Uint8Array | null {
  if (pooled === null) return null;
  const own = new Uint8Array(pooled.length);
  own.set(pooled);
  zero(pooled);
  return own;
}

export interface SplitShare { readonly custodian: string; readonly bytes: Uint8Array; readonly commitment: string }

/** N share records for `custodians`, in order; M of them rebuild `secret`. */
export async function splitSecret(secret: Uint8Array, opts: { ceremony: string; backupKey: string; custodians: readonly string[]; threshold: number }): Promise<SplitShare[]> {
  const n = opts.custodians.length;
  if (!Number.isSafeInteger(opts.threshold) || opts.threshold < 2 || opts.threshold > n || n > 255 || new Set(opts.custodians).size !== n) {
    throw new KeyceremonyError('SHARES_PARAMETERS_INVALID', `cannot split into ${opts.threshold} of ${n} shares`, 'choose 2 ≤ M ≤ N ≤ 255 distinct custodians', { exit: 2 });
  }
  // the library accepts exactly Uint8Array (not a Buffer): split a plain copy, zeroed below
  const plain = new Uint8Array(secret);
  let raw: Uint8Array[];
  try {
    raw = await split(plain, n, opts.threshold);
  } finally {
    zero(plain);
  }
  try {
    return opts.custodians.map((custodian, i) => {
      const bytes = encodeShare({ ceremony: opts.ceremony, backupKey: opts.backupKey, custodian, index: i + 1, threshold: opts.threshold, total: n, share: raw[i] as Uint8Array });
      return { custodian, bytes, commitment: shareCommitment(bytes) };
    });
  } finally {
    zero(...raw);
  }
}

export interface ExpectedShares {
  readonly ceremony: string;
  readonly backupKey: string;
  readonly threshold: number;
  readonly total: number;
  /** custodian id → commitment, from the signed manifest. */
  readonly commitments: ReadonlyMap<string, string>;
}

/**
 * Shares are presented one custodian at a time and each is checked on entry (issue 6):
 * malformed, foreign (another ceremony, key, or M/N), not matching its commitment (corrupted or
 * forged), or duplicated (the same custodian, index or x-coordinate twice). Combination needs M
 * accepted shares.
 */
export class ShareCollector {
  private readonly accepted = new Map<string, ShareRecord>();

  constructor(private readonly expected: ExpectedShares) {}

  get count(): number {
    return this.accepted.size;
  }

  get ready(): boolean {
    return this.accepted.size >= this.expected.threshold;
  }

  get custodians(): string[] {
    return [...this.accepted.keys()];
  }

  present(bytes: Uint8Array): { custodian: string; index: number } {
    let r: ShareRecord;
    try {
      r = parseShare(bytes);
    } catch (err) {
      throw new KeyceremonyError('SHARE_MALFORMED', 'the share cannot be read', 'the share was damaged: ask the custodian for their share again', { cause: err });
    }
    const e = this.expected;
    if (r.ceremony !== e.ceremony || r.backupKey !== e.backupKey || r.threshold !== e.threshold || r.total !== e.total) {
      zero(r.share);
      throw new KeyceremonyError('SHARE_FOREIGN', `the share of ${r.custodian} belongs to ${r.ceremony} / ${r.backupKey} (${r.threshold} of ${r.total}), not to ${e.ceremony} / ${e.backupKey} (${e.threshold} of ${e.total})`, 'present the share made for this backup key');
    }
    const expectedCommitment = e.commitments.get(r.custodian);
    if (expectedCommitment === undefined || expectedCommitment !== shareCommitment(bytes)) {
      zero(r.share);
      throw new KeyceremonyError('SHARE_COMMITMENT_MISMATCH', `the share presented for ${r.custodian} does not match the commitment in the signed manifest`, 'the share is corrupted or not the one issued to this custodian: do not use it');
    }
    const x = r.share[r.share.length - 1];
    if (this.accepted.has(r.custodian) || [...this.accepted.values()].some((a) => a.index === r.index || a.share[a.share.length - 1] === x)) {
      zero(r.share);
      throw new KeyceremonyError('SHARE_DUPLICATE', `a share of ${r.custodian} (index ${r.index}) was already presented`, 'the next custodian presents their own share');
    }
    this.accepted.set(r.custodian, r);
    return { custodian: r.custodian, index: r.index };
  }

  /**
   * The secret, from exactly M accepted shares: the first M presented, or the M custodians named
   * (the creation check recombines every subset it needs from one collector, each share parsed
   * once). The caller imports it into a token and zeroes it at once.
   */
  async combine(custodians?: readonly string[]): Promise<Uint8Array> {
    if (!this.ready) {
      throw new KeyceremonyError('SHARE_THRESHOLD_NOT_MET', `${this.count} of ${this.expected.threshold} shares presented`, `${this.expected.threshold - this.count} more custodian(s) must present their share`);
    }
    const records = custodians === undefined ? [...this.accepted.values()].slice(0, this.expected.threshold) : custodians.map((c) => this.accepted.get(c));
    if (records.length !== this.expected.threshold || new Set(records).size !== records.length || records.some((r) => r === undefined)) {
      throw new KeyceremonyError('SHARES_SUBSET_INVALID', `cannot combine the shares of ${(custodians ?? []).join(', ')}: ${this.expected.threshold} distinct presented shares are needed`, 'this is a bug: report it', { exit: 3 });
    }
    return combine(records.map((r) => (r as ShareRecord).share));
  }

  dispose(): void {
    for (const r of this.accepted.values()) zero(r.share);
    this.accepted.clear();
  }
}
