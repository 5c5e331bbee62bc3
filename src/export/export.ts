/**
 * One export to one folder (CLI.md `export`): the wrapped key in the target's file format, the
 * AWS import token when given, and export.json describing it all. Files are written to a
 * temporary name, synced, renamed, read back and compared; on any failure everything this
 * export wrote is removed, so the folder holds complete, verified files or nothing.
 *
 * Into a new or empty folder, the files are first staged in a sibling folder and the whole
 * folder is renamed into place in one step, so that even a `kill -9` or a power cut leaves the
 * output folder complete or absent (a stale `.NAME.staging-*` sibling may remain; it is never
 * taken for the output, and the next export into NAME removes it). With --force into a folder
 * that has other files, each file is replaced atomically and export.json is written last.
 *
 * The output folder and everything in it go through the folder layer (src/files.ts): an output
 * folder that is a link, or a link at the name of a file the export writes, is refused.
 */
import { AZURE_BYOK_ENC } from './mechanism-names.js';
import { createHash } from 'node:crypto';
import { crashpoint } from '../crashpoint.js';
import { formatTime } from '../docs/fields.js';
import { KeyceremonyError } from '../errors.js';
import { Folder } from '../files.js';
import type { Kek } from './kek.js';
import type { Artifact } from '../manifest/manifest.js';
import type { OaepHash, Target } from './targets.js';
import type { Wrapped } from './wrap.js';

export const GENERATOR = 'keyceremony 0.1.0';

/** The bytes of the target's file (KMS-NOTES.md). */
export function targetFile(target: Target, wrapped: Uint8Array, kekId: string | undefined): Buffer {
  const bytes = Buffer.from(wrapped);
  switch (target.cloud) {
    case 'aws':
    case 'gcp':
      return bytes;
    case 'azure':
      return Buffer.from(`${JSON.stringify({ schema_version: '1.0.0', header: { kid: kekId, alg: 'dir', enc: AZURE_BYOK_ENC }, ciphertext: bytes.toString('base64url'), generator: GENERATOR })}\n`);
    case 'vault':
      return Buffer.from(bytes.toString('base64'));
  }
}

export interface ExportPlan {
  readonly target: Target;
  readonly hash: OaepHash;
  readonly kek: Kek;
  readonly kekId?: string | undefined;
  readonly importToken?: Uint8Array | undefined;
  readonly keyUri: string;
  readonly outDir: string;
  /**
   * The removable drive's mount point when the caller knows it (the app's drive chooser): outDir
   * must be inside it, and every folder on the way from it is checked, so that a link on the
   * drive is refused rather than followed off it.
   */
  readonly drive?: string | undefined;
  readonly force: boolean;
  readonly now?: number;
}

/** A file an export wrote: the same shape as a manifest artifact, which bundles list it as. */
export type ExportedFile = Artifact;

export interface ExportRecord {
  readonly target: string;
  readonly key: string;
  readonly kcv: string;
  readonly kcvMethod: string;
  readonly wrappingKeySha256: string;
  readonly wrappingKeyBits: number;
  readonly oaepHash: string;
  readonly wrap: 'token' | 'hybrid';
  readonly mechanisms: readonly string[];
  readonly kekId?: string;
  readonly created: string;
  readonly files: readonly ExportedFile[];
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** Refuse a KEK of the wrong size before anything is asked of a token (CLI.md). */
export function checkKekForTarget(kek: Kek, target: Target): void {
  if (!target.kekBits.includes(kek.bits)) {
    throw new KeyceremonyError('EXPORT_KEK_SIZE', `${target.name} takes an RSA wrapping key of ${target.kekBits.join(' or ')} bits; this one has ${kek.bits}`, 'download the wrapping key of the right size from the KMS import job');
  }
}

/**
 * What `export --force` does with a non-empty output folder (CLI.md: nothing is overwritten
 * without --force), for the OUTPUT_NOT_EMPTY help.
 */
export const EXPORT_FORCE_DOES = 'to export into it anyway: the key file, ImportToken.bin and export.json each replace a file of the same name (export.json last), other files are left as they are, and an export that fails removes the files it wrote';

/** The output folder check of `export`, before any token is asked for: new, empty, or --force (see ExportPlan.drive). */
export function checkExportFolder(outDir: string, force: boolean, drive?: string): void {
  const { folder, rel } = Folder.anchor(outDir, drive);
  folder.checkOutput(rel, force, EXPORT_FORCE_DOES);
}

/** Files and their export.json, written and read back in `out`; `written` collects their names. */
function writeFiles(plan: ExportPlan, wrapped: Wrapped, out: Folder, written: string[]): ExportRecord {
  const files: [string, Buffer][] = [[plan.target.file, targetFile(plan.target, wrapped.bytes, plan.kekId)]];
  if (plan.importToken !== undefined) files.push(['ImportToken.bin', Buffer.from(plan.importToken)]);
  const listed: ExportedFile[] = [];
  for (const [name, data] of files) {
    out.write(name, data, { force: plan.force });
    written.push(name);
    listed.push({ path: name, sha256: sha256(data), bytes: data.length });
    crashpoint(`export:wrote:${name}`);
  }
  const record: ExportRecord = {
    target: plan.target.name, key: plan.keyUri, kcv: wrapped.kcv.value, kcvMethod: wrapped.kcv.method, wrappingKeySha256: plan.kek.spkiSha256, wrappingKeyBits: plan.kek.bits,
    oaepHash: plan.hash, wrap: wrapped.performed, mechanisms: wrapped.mechanisms, ...(plan.kekId === undefined ? {} : { kekId: plan.kekId }),
    created: formatTime(plan.now ?? Date.now()), files: listed,
  };
  const json = `${JSON.stringify(record, null, 2)}\n`;
  out.write('export.json', json, { force: plan.force });
  written.push('export.json');
  crashpoint('export:wrote:export.json');
  // read back every file and compare with what was meant to be written
  for (const [name, data] of [...files, ['export.json', Buffer.from(json)] as [string, Buffer]]) {
    if (!readsBack(out, name, data)) throw new KeyceremonyError('EXPORT_READBACK_MISMATCH', `${name} reads back differently from what was written`, 'the media is faulty: use another drive; nothing was left on this one');
  }
  return record;
}

function readsBack(out: Folder, name: string, data: Buffer): boolean {
  let back: Uint8Array;
  try {
    back = out.read(name, name, data.length);
  } catch (err) {
    if (err instanceof KeyceremonyError && err.code === 'FOLDER_FILE_TOO_LARGE') return false;
    throw err;
  }
  return sha256(back) === sha256(data);
}

export async function writeExport(plan: ExportPlan, wrapped: Wrapped): Promise<ExportRecord> {
  const { folder, rel } = Folder.anchor(plan.outDir, plan.drive);
  if (folder.checkOutput(rel, plan.force, EXPORT_FORCE_DOES) !== 'busy') {
    return folder.buildFolderAtomically(rel, (staging) => writeFiles(plan, wrapped, staging, []), (point) => crashpoint(`export:${point}`));
  }
  const out = folder.sub(rel);
  const written: string[] = [];
  try {
    return writeFiles(plan, wrapped, out, written);
  } catch (err) {
    for (const name of written) {
      try { out.remove(name); } catch { /* already gone, or the media with it */ }
    }
    throw err;
  }
}
