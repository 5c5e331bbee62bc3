/**
 * Where `keyceremony deploy` writes, through the folder layer (src/files.ts: links are never
 * followed, written or replaced; every write is temp, fsync, rename, fsync folder), with mode 0600
 * for every file and 0700 for a folder of files.
 *
 * CLI.md: nothing is overwritten unless --force. `checkDestination` runs before any sealed file is
 * opened, and `writeDestination` checks again as it writes, so a refusal leaves nothing behind.
 *
 * - env and k8s: one file. An existing file is refused (OUTPUT_EXISTS) unless --force, which
 *   replaces it in one rename; a folder, link or special file there is always refused.
 * - files: one folder, built complete in a hidden staging folder beside it and renamed into place
 *   (Folder.buildFolderAtomically), so the application never sees half a deployment. A non-empty
 *   folder is refused (OUTPUT_NOT_EMPTY) unless --force, and then only when deploy wrote it: it
 *   holds the marker file `.keyceremony-deploy` (written in every folder deploy writes; it holds
 *   nothing secret) and otherwise only regular files named exactly as the variables deploy writes
 *   for the chain's key names (DEPLOY_OUTPUT_FOREIGN otherwise). Names that merely look like
 *   variables are not enough: a folder holding only LICENSE and README is not deploy's to replace.
 *   The new folder replaces it whole, so a NAME_NEXT that is no longer surfaced is gone, not left
 *   stale. The replacement is two renames (old aside, new in place) and the old folder's removal.
 * - Beside the folder, only what an interrupted replacement of this very folder left is removed:
 *   names exactly `.NAME.new-<12 hex>`, `.NAME.old-<12 hex>` and the staging folder the folder
 *   layer builds `.NAME.new-<12 hex>` in, `..NAME.new-<12 hex>.staging-<12 hex>`; never a user's
 *   `.NAME.old-archive`.
 */
import { chmodSync, renameSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KeyceremonyError, usageError } from '../errors.js';
import { Folder, fsyncDir } from '../files.js';
import type { Entry, Format } from './render.js';

export const FILE_MODE = 0o600;
export const FOLDER_MODE = 0o700;
/** The file deploy writes in every folder of files, so that --force replaces only a folder deploy wrote. */
export const MARKER_FILE = '.keyceremony-deploy';
const MARKER_TEXT = 'This folder was written by keyceremony deploy (--format files); deploy --force replaces it whole.\n';
const TAG = /^[0-9a-f]{12}$/;

export interface Destination {
  readonly folder: Folder;
  readonly rel: string;
}

const parentOf = (rel: string): string => rel.split('/').slice(0, -1).join('/');
const baseOf = (rel: string): string => rel.split('/').at(-1) as string;

function forceDoes(): string {
  return 'to replace it whole (only a folder that deploy wrote, holding its marker file and nothing but the variable files of the chain\'s keys, is replaced)';
}

/**
 * The files-format folder's state: when it is not empty, refused unless it holds the marker file
 * and nothing else but regular files named as one of `variables` (every variable deploy may write
 * for the chain's key names).
 */
function checkFolder(d: Destination, force: boolean, variables: readonly string[]): 'absent' | 'empty' | 'busy' {
  const state = d.folder.checkOutput(d.rel, force, forceDoes());
  if (state === 'busy') {
    const names = d.folder.list(d.rel);
    const isFile = (n: string) => d.folder.kind(`${d.rel}/${n}`) === 'file';
    if (!names.includes(MARKER_FILE) || !isFile(MARKER_FILE)) {
      throw new KeyceremonyError('DEPLOY_OUTPUT_FOREIGN', `the output folder does not hold ${MARKER_FILE}, so deploy did not write it; nothing was written`,
        'choose a folder of its own for the deployment (a new or empty one): --force replaces only a folder that deploy wrote');
    }
    const foreign = names.filter((n) => n !== MARKER_FILE && (!variables.includes(n) || !isFile(n)));
    if (foreign.length > 0) {
      throw new KeyceremonyError('DEPLOY_OUTPUT_FOREIGN', `the output folder holds ${foreign.length} entr${foreign.length === 1 ? 'y' : 'ies'} that deploy does not write for this chain (${foreign.slice(0, 3).map((n) => JSON.stringify(n)).join(', ')}); nothing was written`,
        'choose a folder of its own for the deployment: --force replaces only a folder that deploy wrote');
    }
  }
  return state;
}

/**
 * The output path checked for the format before anything is decrypted; returns where to write.
 * `variables`: every variable deploy may write for the chain's key names (the files format's check).
 */
export function checkDestination(out: string, format: Format, force: boolean, variables: readonly string[]): Destination {
  const d = Folder.anchor(out);
  if (d.rel === '') throw usageError('USAGE', `--out ${out} names a filesystem root`, 'give the path of a new file or folder');
  if (format === 'files') {
    checkFolder(d, force, variables);
    return d;
  }
  const kind = d.folder.kind(d.rel);
  if (kind === 'folder') throw usageError('OUTPUT_NOT_A_FILE', `${out} is a folder; the ${format} format writes one file`, 'give the path of the file to write');
  if (kind === 'file' && !force) throw new KeyceremonyError('OUTPUT_EXISTS', `${out} exists already; nothing was written`, 'choose another output name, or pass --force to replace it');
  return d;
}

/** One file at the destination, mode 0600 (folders above it made, 0700, when missing). */
export function writeFile(d: Destination, bytes: Uint8Array, force: boolean): void {
  const parent = parentOf(d.rel);
  if (parent !== '' && d.folder.kind(parent) === 'absent') d.folder.mkdir(parent, { parents: true, mode: FOLDER_MODE });
  d.folder.write(d.rel, bytes, { force, mode: FILE_MODE });
}

function fill(staging: Folder, entries: readonly Entry[]): void {
  chmodSync(staging.root, FOLDER_MODE);
  for (const e of entries) staging.write(e.variable, e.value, { mode: FILE_MODE });
  staging.write(MARKER_FILE, new TextEncoder().encode(MARKER_TEXT), { mode: FILE_MODE });
}

/** Whether `n` is exactly a name this module gives a folder beside `name`: `.NAME.new-<tag>`, `.NAME.old-<tag>`, or the folder layer's staging of the former. */
export function isLeftover(n: string, name: string): boolean {
  for (const kind of ['new', 'old']) {
    const prefix = `.${name}.${kind}-`;
    if (n.startsWith(prefix) && TAG.test(n.slice(prefix.length))) return true;
  }
  const staging = `..${name}.new-`;
  if (!n.startsWith(staging)) return false;
  const rest = n.slice(staging.length);
  return rest.length === 12 + 9 + 12 && TAG.test(rest.slice(0, 12)) && rest.slice(12, 21) === '.staging-' && TAG.test(rest.slice(21));
}

/** Removes what an interrupted replacement of this folder left beside it: exactly deploy's own names, real folders only. */
function removeLeftovers(parent: Folder, name: string): void {
  for (const n of parent.list()) {
    if (isLeftover(n, name) && parent.kind(n) === 'folder') parent.remove(n);
  }
}

/** The folder of files, built aside and renamed into place; with --force, replacing the folder deploy wrote before. */
export async function writeFolder(d: Destination, entries: readonly Entry[], force: boolean, variables: readonly string[]): Promise<void> {
  if (checkFolder(d, force, variables) !== 'busy') {
    await d.folder.buildFolderAtomically(d.rel, (staging) => fill(staging, entries));
    return;
  }
  const parentRel = parentOf(d.rel);
  const parent = parentRel === '' ? d.folder : d.folder.sub(parentRel);
  const name = baseOf(d.rel);
  removeLeftovers(parent, name);
  const tag = randomBytes(6).toString('hex');
  const [fresh, old] = [`.${name}.new-${tag}`, `.${name}.old-${tag}`];
  await parent.buildFolderAtomically(fresh, (staging) => fill(staging, entries));
  try {
    checkFolder(d, force, variables); // again, just before the swap: a link or a foreign file put there meanwhile is refused
    renameSync(join(parent.root, name), join(parent.root, old));
    renameSync(join(parent.root, fresh), join(parent.root, name));
    fsyncDir(parent.root);
  } catch (err) {
    if (parent.kind(name) === 'absent' && parent.kind(old) === 'folder') renameSync(join(parent.root, old), join(parent.root, name));
    parent.remove(fresh);
    if (err instanceof KeyceremonyError) throw err;
    throw new KeyceremonyError('OUTPUT_WRITE_FAILED', `${d.rel} could not be replaced (${(err as NodeJS.ErrnoException).code ?? 'error'}); the previous folder is left in place`, 'check the folder is writable and has space', { cause: err });
  }
  parent.remove(old);
}
