/**
 * One export (CLI.md `export`) for the CLI's `export` and `bundle`, the app's export screen and
 * the ceremony's export step: the KMS wrapping key checked for the target (its size, and for
 * Azure BYOK the KEK id, EXPORT_KEK_ID_MISSING, exit 2, everywhere), then, on the token, the key
 * wrapped and the files written and read back. Returns the export record (export.json).
 * Everything that can be refused without a token is refused by `checkKek` before a PIN is used.
 */
import { checkKekForTarget, writeExport } from '../export/export.js';
import type { ExportRecord } from '../export/export.js';
import type { Kek } from '../export/kek.js';
import { checkFreeSpace } from '../export/media.js';
import type { OaepHash, Target } from '../export/targets.js';
import { wrapKey } from '../export/wrap.js';
import type { Wrapped } from '../export/wrap.js';
import { usageError } from '../errors.js';
import { checkOutputDir } from '../files.js';
import type { ObjectQuery } from '../pkcs11/keys.js';
import { withSession } from '../pkcs11/session.js';
import type { Session } from '../pkcs11/session.js';
import type { Token } from '../pkcs11/tokens.js';
import { formatPkcs11Uri } from '../pkcs11/uri.js';

/** A Key Vault key id with its version: `https://<vault>.vault.azure.net/keys/<name>/<version>` (KMS-NOTES.md). */
export const KEK_ID = /^https:\/\/[^\s/]+\/keys\/\S+$/;

/** The room an export needs on its drive, with margin (the largest file is a few KiB). */
const EXPORT_BYTES = 64 * 1024;

/** Azure BYOK names the Key Vault KEK in key.byok, so an Azure export needs its id (and the others ignore it). */
export function checkKekId(target: Target, kekId: string | undefined): void {
  if (target.cloud !== 'azure' || (kekId !== undefined && KEK_ID.test(kekId))) return;
  throw usageError('EXPORT_KEK_ID_MISSING', `${target.name} needs the key id (URL) of the Key Vault KEK, including its version${kekId === undefined ? '' : `, and ${JSON.stringify(kekId.slice(0, 80))} is not one`}`,
    'copy it from the KEK: https://<vault>.vault.azure.net/keys/<name>/<version> (--kek-id on the command line, the KEK id field in the app, kekId in a script)');
}

/** The wrapping key fits the target (EXPORT_KEK_SIZE) and an Azure target has its KEK id (EXPORT_KEK_ID_MISSING). */
export function checkKek(target: Target, kek: Kek, kekId: string | undefined): void {
  checkKekForTarget(kek, target);
  checkKekId(target, kekId);
}

/** The export folder can be written (absent or empty unless forced) and its drive has room. */
export function checkExportFolder(outDir: string, force: boolean): void {
  checkOutputDir(outDir, force);
  checkFreeSpace(outDir, EXPORT_BYTES);
}

export interface ExportRequest {
  /** The secret key on the token, by label and/or CKA_ID (hex). */
  readonly key: ObjectQuery;
  readonly target: Target;
  readonly kek: Kek;
  readonly kekId?: string | undefined;
  /** AWS: copied to ImportToken.bin. */
  readonly importToken?: Uint8Array | undefined;
  /** The OAEP hash asked for; a target that fixes its own (all but Vault) uses that. */
  readonly hash?: OaepHash | undefined;
  readonly outDir: string;
  /** The drive (or ceremony folder) outDir lies in: every folder below it is checked, none followed as a link. */
  readonly drive?: string | undefined;
  readonly force: boolean;
  /** The export's creation time, ms; now by default. */
  readonly now?: number | undefined;
}

/** The hash an export uses: the target's own, else the one asked for, else SHA-256. */
export function exportHash(target: Target, asked: OaepHash | undefined): OaepHash {
  return target.hash ?? asked ?? 'sha256';
}

/** The key's URI in export.json: its token by label and serial, the object, never a PIN. */
export function exportKeyUri(token: Token, key: ObjectQuery): string {
  return formatPkcs11Uri({ token: token.label, serial: token.info.serial, ...(key.label === undefined ? {} : { object: key.label }), ...(key.id === undefined ? {} : { id: key.id }), type: 'secret-key' });
}

/** The key wrapped for the target on a session already open, nothing written (the ceremony probes a target so, before it writes). */
export async function wrapForExport(s: Session, r: ExportRequest): Promise<{ readonly wrapped: Wrapped; readonly hash: OaepHash }> {
  checkKek(r.target, r.kek, r.kekId);
  const hash = exportHash(r.target, r.hash);
  return { wrapped: await wrapKey(s, r.key, r.kek, r.target.construction, hash), hash };
}

/** The export on a session already open (a bundle wraps one key for several targets in one). */
export async function exportInSession(s: Session, r: ExportRequest): Promise<ExportRecord> {
  const { wrapped, hash } = await wrapForExport(s, r);
  return writeExport({ target: r.target, hash, kek: r.kek, kekId: r.target.cloud === 'azure' ? r.kekId : undefined, importToken: r.importToken, keyUri: exportKeyUri(s.token, r.key),
    outDir: r.outDir, drive: r.drive, force: r.force, ...(r.now === undefined ? {} : { now: r.now }) }, wrapped);
}

/** The whole export: checked before the token is logged in to, then wrapped and written in one session. */
export async function exportKey(token: Token, pin: Uint8Array, r: ExportRequest): Promise<ExportRecord> {
  checkKek(r.target, r.kek, r.kekId);
  return withSession(token, pin, (s) => exportInSession(s, r));
}
