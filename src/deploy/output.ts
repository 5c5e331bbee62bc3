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
 *   folder is refused (OUTPUT_NOT_EMPTY) unless --force, and then only when it holds nothing but
 *   regular files named like variables (what deploy writes; DEPLOY_OUTPUT_FOREIGN otherwise): the
 *   new folder replaces it whole, so a NAME_NEXT that is no longer surfaced is gone, not left stale.
 *   The replacement is two renames (old aside, new in place) and the old folder's removal.
 */
import { chmodSync, renameSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { KeyceremonyError, usageError } from '../errors.js';
import { Folder, fsyncDir } from '../files.js';
import type { Entry, Format } from './render.js';

export const FILE_MODE = 0o600;
export const FOLDER_MODE = 0o700;
const VARIABLE_FILE = /^[A-Z][A-Z0-9_]*$/;

export interface Destination {
  readonly folder: Folder;
  readonly rel: string;
}

const parentOf = (rel: string): string => rel.split('/').slice(0, -1).join('/');
const baseOf = (rel: string): string => rel.split('/').at(-1) as string;

function forceDoes(): string {
  return 'to replace it whole (only a folder that deploy wrote, holding nothing but variable files, is replaced)';
}

/** The files-format folder's state: refused when it holds anything deploy would not have written. */
function checkFolder(d: Destination, force: boolean): 'absent' | 'empty' | 'busy' {
  const state = d.folder.checkOutput(d.rel, force, forceDoes());
  if (state === 'busy') {
    const foreign = d.folder.list(d.rel).filter((n) => !VARIABLE_FILE.test(n) || d.folder.kind(`${d.rel}/${n}`) !== 'file');
    if (foreign.length > 0) {
      throw new KeyceremonyError('DEPLOY_OUTPUT_FOREIGN', `the output folder holds ${foreign.length} entr${foreign.length === 1 ? 'y' : 'ies'} that deploy does not write (${foreign.slice(0, 3).map((n) => JSON.stringify(n)).join(', ')})`,
        'choose a folder of its own for the deployment: --force replaces only a folder that deploy wrote');
    }
  }
  return state;
}

/** The output path checked for the format before anything is decrypted; returns where to write. */
export function checkDestination(out: string, format: Format, force: boolean): Destination {
  const d = Folder.anchor(out);
  if (d.rel === '') throw usageError('USAGE', `--out ${out} names a filesystem root`, 'give the path of a new file or folder');
  if (format === 'files') {
    checkFolder(d, force);
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
}

/** Removes what an interrupted replacement left beside the folder (hidden, real folders only). */
function removeLeftovers(parent: Folder, name: string): void {
  for (const n of parent.list()) {
    if ((n.startsWith(`.${name}.new-`) || n.startsWith(`.${name}.old-`)) && parent.kind(n) === 'folder') parent.remove(n);
  }
}

/** The folder of files, built aside and renamed into place; with --force, replacing the folder deploy wrote before. */
export async function writeFolder(d: Destination, entries: readonly Entry[], force: boolean): Promise<void> {
  if (checkFolder(d, force) !== 'busy') {
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
    checkFolder(d, force); // again, just before the swap: a link or a foreign file put there meanwhile is refused
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
