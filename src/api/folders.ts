/**
 * Folder handles (issue 14 item 9): the renderer never names a folder. Folders come from the main
 * process only: the drive list (`media.list`, a handle per removable drive) and the folder dialog
 * the shell provides (`folders.choose`, a handle per folder the user chose there). The renderer
 * holds opaque handles, 32 hex digits from crypto.randomBytes that mean something only to this
 * handler table, and a handler resolves a handle for one use:
 *
 * - a drive from the list is where the export, the custody folder and the drill go; a folder
 *   chosen in the dialog "to stand in for the removable drive" serves there too, but only when
 *   the request says it is a rehearsal (allowFixedDisk), as `--allow-fixed-disk` does in the CLI;
 * - a folder chosen in the dialog "as the ceremony folder" is where a ceremony runs or resumes;
 * - a drive from the list, or a folder chosen in the dialog "to read a chain from", is where the
 *   custodian sets and rotation manifests of a chain are read (Keys over time); nothing is written.
 *
 * A handle never given out, withdrawn (its drive left the list), or given out for another use is
 * IPC_FOLDER_UNKNOWN. A folder made inside a drive is named by one path segment, checked again
 * here and refused if it is a link (a hostile drive could hold one pointing elsewhere).
 * Handles live as long as this handler table (one app session); nothing of them is persisted.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, realpathSync, statSync } from 'node:fs';
import { basename, isAbsolute, join } from 'node:path';
import { KeyceremonyError } from '../errors.js';
import { listMedia } from '../export/media.js';
import type { Medium } from '../export/media.js';
import type { ChannelHandlers, FolderView, Requests } from './contract.js';

export type FolderPurpose = Requests['folders.choose']['purpose'];

/**
 * The main process's folder dialog: the folder the user chose, or null if they cancelled.
 * Electron's dialog.showOpenDialog (openDirectory, createDirectory) in the app; tests inject one.
 */
export type ChooseFolder = (o: { readonly title: string; readonly buttonLabel: string }) => Promise<string | null>;

/** What the dialog says, per use: the user sees what the folder will be used for before choosing it. */
export const FOLDER_DIALOGS: Readonly<Record<FolderPurpose, { readonly title: string; readonly buttonLabel: string }>> = Object.freeze({
  ceremony: { title: 'Choose the ceremony folder (a new folder, or the folder of an interrupted run)', buttonLabel: 'Use as the ceremony folder' },
  'stand-in-drive': { title: 'Rehearsal only: choose a folder on this computer to stand in for the removable drive', buttonLabel: 'Use for the rehearsal' },
  chain: { title: 'Choose the folder that holds the custodian sets and rotation manifests of the chain (read only)', buttonLabel: 'Read the chain from this folder' },
});

type Kind = 'drive' | FolderPurpose;
interface Entry { readonly kind: Kind; readonly path: string; readonly device: string | null }

/** Folders chosen in the dialog kept at once; the oldest handle is withdrawn first. */
const MAX_CHOSEN = 32;

const unknown = (): KeyceremonyError => new KeyceremonyError('IPC_FOLDER_UNKNOWN', 'no folder of this kind was given out under that handle (it is forged, from an earlier session, or its drive has left the list)',
  'choose the drive from the list again, or choose the folder again');
const isDir = (p: string): boolean => statSync(p, { throwIfNoEntry: false })?.isDirectory() === true;
const sameDrive = (m: Medium, e: Entry): boolean => e.kind === 'drive' && m.mountPoint === e.path && m.device === e.device;

export class FolderHandles {
  private readonly entries = new Map<string, Entry>();
  constructor(private readonly env: NodeJS.ProcessEnv) {}

  /** The removable drives listed now, each with its handle: a drive keeps its handle while it stays listed; drives no longer listed lose theirs. */
  drives(): { handle: string; medium: Medium }[] {
    const media = listMedia(this.env);
    for (const [h, e] of this.entries) if (e.kind === 'drive' && !media.some((m) => sameDrive(m, e))) this.entries.delete(h);
    return media.map((medium) => ({ handle: [...this.entries].find(([, e]) => sameDrive(medium, e))?.[0] ?? this.mint({ kind: 'drive', path: medium.mountPoint, device: medium.device }), medium }));
  }

  /** A folder the user chose in the dialog for `purpose`: its real path gets a handle of its own. */
  chosen(path: string, purpose: FolderPurpose): FolderView {
    if (!isAbsolute(path) || !isDir(path)) throw new KeyceremonyError('IPC_FOLDER_INVALID', `the folder dialog gave ${JSON.stringify(path)}, which is not a folder`, 'choose an existing folder, or make one in the dialog');
    const real = realpathSync(path);
    const chosen = [...this.entries].filter(([, e]) => e.kind !== 'drive');
    for (const [h] of chosen.slice(0, Math.max(0, chosen.length - MAX_CHOSEN + 1))) this.entries.delete(h);
    return { handle: this.mint({ kind: purpose, path: real, device: null }), path: real };
  }

  /**
   * The folder `name` on the drive a handle stands for: a drive still in the list, or (only with
   * allowFixedDisk, a rehearsal) a folder chosen in the dialog to stand in for one.
   */
  onDrive(handle: string, name: string, o: { readonly allowFixedDisk: boolean }): string {
    const e = this.entries.get(handle);
    // a folder chosen as the ceremony folder, or to read a chain from, is never written to as a drive
    if (e === undefined || (e.kind !== 'drive' && e.kind !== 'stand-in-drive')) throw unknown();
    if (e.kind === 'stand-in-drive' && !o.allowFixedDisk) {
      throw new KeyceremonyError('EXPORT_FIXED_DISK', `${e.path} is a folder on this computer, not a removable drive`, 'insert the removable drive and choose it from the list; a folder on this computer is only for a rehearsal');
    }
    const present = e.kind === 'drive' ? listMedia(this.env).some((m) => sameDrive(m, e)) && isDir(e.path) : isDir(e.path);
    if (!present) throw new KeyceremonyError('EXPORT_DRIVE_MISSING', `${e.path} is no longer mounted`, 'insert and mount the drive, then choose it from the list again');
    return child(e.path, name);
  }

  /** The ceremony folder a handle stands for: one chosen in the dialog as the ceremony folder, and nothing else. */
  ceremonyFolder(handle: string): string {
    const e = this.entries.get(handle);
    if (e === undefined || e.kind !== 'ceremony') throw unknown();
    return e.path;
  }

  /**
   * The folder a chain is read from: a drive still in the list, or a folder chosen in the dialog to
   * read a chain from; with `name`, the folder of that name on it (one segment, not a link).
   * Reading only: a ceremony folder or a rehearsal's stand-in is not named here.
   */
  chainFolder(handle: string, name: string | undefined): string {
    const e = this.entries.get(handle);
    if (e === undefined || (e.kind !== 'drive' && e.kind !== 'chain')) throw unknown();
    const present = e.kind === 'drive' ? listMedia(this.env).some((m) => sameDrive(m, e)) && isDir(e.path) : isDir(e.path);
    if (!present) throw new KeyceremonyError('IPC_FOLDER_MISSING', `${e.path} is no longer there`, 'insert and mount the drive, or choose the folder again');
    if (name === undefined) return e.path;
    const path = child(e.path, name);
    if (!isDir(path)) throw new KeyceremonyError('IPC_FOLDER_MISSING', `${path} is not a folder`, `check the folder's name on ${e.path}, or leave the name empty to read the drive's top folder`);
    return path;
  }

  private mint(e: Entry): string {
    const handle = randomBytes(16).toString('hex');
    this.entries.set(handle, e);
    return handle;
  }
}

/** `name` inside `base`: one path segment (the schema's rule, checked again here), and not a link out of `base`. */
export function child(base: string, name: string): string {
  if (name === '' || name === '.' || name === '..' || basename(name) !== name || /[/\\\u0000-\u001f\u007f]/u.test(name)) {
    throw new KeyceremonyError('IPC_FOLDER_INVALID', `${JSON.stringify(name)} is not a single folder name`, 'name the new folder with letters, digits, . _ and -');
  }
  const path = join(base, name);
  if (lstatSync(path, { throwIfNoEntry: false })?.isSymbolicLink() === true) {
    throw new KeyceremonyError('IPC_FOLDER_INVALID', `${path} is a link, which could lead off the drive`, 'choose another folder name, or another drive');
  }
  return path;
}

/** The two channels that give out handles. */
export function folderHandlers(folders: FolderHandles, chooseFolder: ChooseFolder | undefined): ChannelHandlers<'media.list' | 'folders.choose'> {
  return {
    'media.list': async () => ({ media: folders.drives().map(({ handle, medium: m }) => ({ handle, mountPoint: m.mountPoint, device: m.device, sizeBytes: m.sizeBytes, freeBytes: m.freeBytes })) }),
    'folders.choose': async (r) => {
      if (chooseFolder === undefined) throw new KeyceremonyError('IPC_FOLDER_UNAVAILABLE', 'this build of the app has no folder dialog', 'run this step from the command line, which takes the folder as an argument');
      const path = await chooseFolder(FOLDER_DIALOGS[r.purpose]);
      return { folder: path === null ? null : folders.chosen(path, r.purpose) };
    },
  };
}
