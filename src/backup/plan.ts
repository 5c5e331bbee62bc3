/**
 * What a drill (or a restore) may trust, read only from a rotation manifest that verifies
 * M-of-N against the custodian chain and from the files its `artifacts` sign (issue 6): the
 * backup key's id and KCV, one receipt per custodian with the commitment of their share, and
 * the backup blobs with the KCV the manifest recorded for each key. Any file changed after
 * signing is refused by name before a token is touched.
 */
import { join } from 'node:path';
import { formatProblem } from '../docs/problems.js';
import { parseEnvelope } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { readInput } from '../files.js';
import { checkArtifacts } from '../manifest/artifacts.js';
import { parseManifest } from '../manifest/manifest.js';
import type { Manifest } from '../manifest/manifest.js';
import { verifyDocument } from '../verify/verify.js';
import type { VerifyOptions } from '../verify/verify.js';
import { parseBlob } from './blob.js';
import type { BackupBlob } from './blob.js';
import { parseReceipt, RECEIPT_PATH, receiptPath } from './receipts.js';
import type { ShareReceipt } from './receipts.js';
import type { ExpectedShares } from './shares.js';

export const BLOB_PATH = /^backup\/([a-z0-9][a-z0-9_-]*-v[1-9][0-9]*)\.blob\.json$/;

export interface CustodyPlan {
  readonly manifest: Manifest;
  readonly signers: readonly string[];
  readonly backupKey: string;
  readonly backupKcv: string;
  readonly receipts: readonly ShareReceipt[];
  readonly expected: ExpectedShares;
  readonly blobs: readonly BackupBlob[];
  /** key id → KCV recorded in the signed manifest. */
  readonly manifestKcvs: ReadonlyMap<string, string>;
}

function refuse(code: string, message: string, fix: string): never {
  throw new KeyceremonyError(code, message, fix);
}

/**
 * `manifestBytes` is the signed custody manifest; `dir` the folder its artifact paths are
 * relative to; `chainFiles` the custodian chain from the trusted root.
 */
export function loadCustodyPlan(manifestBytes: Uint8Array, chainFiles: readonly Uint8Array[], dir: string, opts: VerifyOptions): CustodyPlan {
  const result = verifyDocument(manifestBytes, chainFiles, opts);
  if (!result.valid) refuse('DRILL_MANIFEST_INVALID', `the custody manifest does not verify: ${result.reasons.join('; ')}`, 'use the manifest the custodians signed, with the whole custodian chain');
  if (result.type !== 'rotation') refuse('DRILL_MANIFEST_INVALID', `the document is a ${result.type}, not a rotation manifest`, 'pass the signed manifest written when the backup key was split');
  const manifest = parseManifest(parseEnvelope(manifestBytes).payload);
  const changed = manifest.artifacts.map((a) => ({ a, problems: checkArtifacts(dir, [a]) })).filter((x) => x.problems.length > 0);
  if (changed.length > 0) {
    refuse(changed.some((x) => BLOB_PATH.test(x.a.path)) ? 'DRILL_BLOB_CORRUPTED' : 'DRILL_FILES_CHANGED',
      `files of the custody folder differ from what the manifest signed: ${changed.map((x) => x.problems.map((p) => formatProblem({ ...p, path: x.a.path })).join('; ')).join('; ')}`,
      'restore the custody folder from its original media; never use a file the manifest does not match');
  }
  const receipts: ShareReceipt[] = [];
  const blobs: BackupBlob[] = [];
  for (const a of manifest.artifacts) {
    const r = RECEIPT_PATH.exec(a.path);
    const b = BLOB_PATH.exec(a.path);
    if (r === null && b === null) continue;
    const bytes = readInput(join(dir, ...a.path.split('/')), a.path, 64 * 1024);
    try {
      if (r !== null) {
        const receipt = parseReceipt(bytes);
        if (receipt.backupKey !== r[1] || receipt.custodian !== r[2]) refuse('DRILL_RECEIPT_INVALID', `${a.path} holds the receipt of ${receipt.custodian} for ${receipt.backupKey}`, 'the custody folder was rearranged: use the original');
        receipts.push(receipt);
      } else if (b !== null) {
        const blob = parseBlob(bytes);
        if (blob.keyId !== b[1]) refuse('DRILL_BLOB_CORRUPTED', `${a.path} holds the blob of ${blob.keyId}`, 'the custody folder was rearranged: use the original');
        blobs.push(blob);
      }
    } catch (err) {
      if (err instanceof KeyceremonyError) throw err;
      refuse(r !== null ? 'DRILL_RECEIPT_INVALID' : 'DRILL_BLOB_CORRUPTED', `${a.path} cannot be read: ${err instanceof Error ? err.message : String(err)}`, 'use the original custody folder');
    }
  }
  if (receipts.length === 0) refuse('DRILL_NO_CUSTODY', 'the manifest lists no share receipts', 'pass the manifest written when the backup key was split (keyceremony backup split)');
  const first = receipts[0] as ShareReceipt;
  for (const r of receipts) {
    if (r.ceremony !== first.ceremony || r.backupKey !== first.backupKey || r.threshold !== first.threshold || r.total !== first.total) {
      refuse('DRILL_RECEIPT_INVALID', `the receipts disagree: ${r.custodian}'s is for ${r.ceremony} / ${r.backupKey} (${r.threshold} of ${r.total})`, 'the custody folder mixes two splits: use the original');
    }
  }
  const indices = new Set(receipts.map((r) => r.index));
  if (receipts.length !== first.total || indices.size !== receipts.length || new Set(receipts.map((r) => r.custodian)).size !== receipts.length) {
    refuse('DRILL_RECEIPT_INVALID', `${receipts.length} receipts with ${indices.size} distinct indices for a split into ${first.total} shares`, 'the custody folder is incomplete: use the original');
  }
  const kcvs = new Map<string, string>();
  for (const k of manifest.keys) if (k.kcv !== null) kcvs.set(k.id, k.kcv);
  const backupKcv = kcvs.get(first.backupKey);
  if (backupKcv === undefined) refuse('DRILL_NO_CUSTODY', `the manifest records no KCV for the backup key ${first.backupKey}`, 'the custody manifest must list the backup key with its KCV');
  for (const b of blobs) {
    if (b.backupKey !== first.backupKey) refuse('BLOB_FOREIGN', `the blob of ${b.keyId} was made under ${b.backupKey}, not ${first.backupKey}`, 'restore it with its own backup key');
    if (!kcvs.has(b.keyId)) refuse('DRILL_NO_CUSTODY', `the manifest records no KCV for ${b.keyId}, whose blob it lists`, 'the custody manifest must list every backed-up key with its KCV');
  }
  return {
    manifest, signers: result.signers, backupKey: first.backupKey, backupKcv, receipts, blobs, manifestKcvs: kcvs,
    expected: { ceremony: first.ceremony, backupKey: first.backupKey, threshold: first.threshold, total: first.total, commitments: new Map(receipts.map((r) => [r.custodian, r.commitment])) },
  };
}

/** The unsigned custody manifest's inputs: which files to list. */
export function custodyFiles(backupKey: string, custodians: readonly string[], blobKeys: readonly string[]): string[] {
  return [...blobKeys.map((k) => `backup/${k}.blob.json`), ...custodians.map((c) => receiptPath(backupKey, c))];
}
