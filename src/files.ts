/**
 * Reading inputs and writing outputs the way CLI.md asks: inputs bounded in size, a missing or
 * unreadable input is a usage error (exit 2); outputs are never overwritten without --force and
 * are written to a temporary name, synced, renamed and the folder synced, so a crash leaves the
 * old file or the complete new one, never half of one.
 *
 * Files in a ceremony folder or on removable media are hostile until verified (issue 13 §2,
 * issue 14 items 5–6). Every write, delete, listing and read inside a folder the tool was given
 * goes through a `Folder`: the folder's own path is what the user named (links in it are followed
 * once, by realpath, when it is opened), and every component below it is checked with lstat, so
 * that a symbolic link is never written, deleted or read through (FOLDER_LINK_REFUSED) and a FIFO,
 * socket or device is never opened (FOLDER_NOT_REGULAR).
 *
 * What remains, and why: Node has no openat(2), so each operation checks the path from the
 * folder's root with lstat and then uses the path. Between the check and the use (TOCTOU) a process
 * that can write in the folder could swap a checked folder for a link. The last component is
 * covered where the kernel allows it: temporaries are created with O_CREAT|O_EXCL (never through a
 * link), reads open with O_NOFOLLOW, rename(2) replaces a link at its destination rather than
 * following it, and mkdir(2) fails on an existing link. The window is the cost of a plain Node
 * build; the threat it leaves is a live attacker on this machine racing the tool, not a crafted
 * drive or folder, which is what these checks refuse.
 */
import { closeSync, constants, existsSync, fstatSync, fsyncSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readSync, realpathSync, renameSync, rmdirSync, statSync, unlinkSync, writeSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crashpoint } from './crashpoint.js';
import { KeyceremonyError, usageError } from './errors.js';

// Windows has no O_NOFOLLOW, O_NONBLOCK or O_DIRECTORY; there the lstat checks stand alone.
const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0;
const O_NONBLOCK = constants.O_NONBLOCK ?? 0;
const O_DIRECTORY = constants.O_DIRECTORY ?? 0;
/** A file inside a folder: never through a link at its name, and a FIFO swapped in cannot block the open. */
const READ_IN_FOLDER = constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK;

const errnoOf = (err: unknown): string => (err as NodeJS.ErrnoException | undefined)?.code ?? 'error';
const errno = (code: string): NodeJS.ErrnoException => Object.assign(new Error(code), { code });

/** What a non-regular file is, for messages. */
function kindOf(st: Stats): string {
  if (st.isSymbolicLink()) return 'a symbolic link';
  if (st.isDirectory()) return 'a folder';
  if (st.isFIFO()) return 'a FIFO (named pipe)';
  if (st.isSocket()) return 'a socket';
  if (st.isCharacterDevice() || st.isBlockDevice()) return 'a device';
  return st.isFile() ? 'a file' : 'not a regular file';
}

// ---------------------------------------------------------------------------------------------
// Inputs the user names

/**
 * Reads at most `limit + 1` bytes, so an oversized or endless input cannot exhaust memory. A path
 * the user typed may go through links; what it names must be a regular file (INPUT_NOT_REGULAR,
 * exit 2: an unreadable input, CLI.md). It is looked at before it is opened, because opening a
 * device can act (a tape rewinds, a watchdog starts); it is opened with O_NONBLOCK, so a FIFO put
 * there meanwhile cannot block the open, and the descriptor is checked again with fstat before a
 * byte is read.
 */
export function readInput(path: string, what: string, limit: number): Uint8Array {
  const notRegular = (st: Stats) => usageError('INPUT_NOT_REGULAR', `${what} ${path} is ${kindOf(st)}, not a regular file`, 'give the path of a regular file');
  let st: Stats | undefined;
  try { st = statSync(path); } catch { /* reported by the open below, with its cause */ }
  if (st !== undefined && !st.isFile()) throw notRegular(st);
  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY | O_NONBLOCK);
  } catch (err) {
    const code = errnoOf(err);
    throw usageError('INPUT_UNREADABLE', `${what} ${path} cannot be read (${code === 'ENOENT' ? 'no such file' : code})`, 'check the path and the permissions', err);
  }
  try {
    const fst = fstatSync(fd);
    if (!fst.isFile()) throw notRegular(fst);
    return readBounded(fd, limit);
  } catch (err) {
    if (err instanceof KeyceremonyError) throw err;
    throw usageError('INPUT_UNREADABLE', `${what} ${path} cannot be read (${errnoOf(err)})`, 'check the path and the permissions', err);
  } finally {
    closeSync(fd);
  }
}

function readBounded(fd: number, limit: number): Uint8Array {
  const chunks: Buffer[] = [];
  let total = 0;
  for (;;) {
    const buf = Buffer.alloc(Math.min(65536, limit + 1 - total));
    if (buf.length === 0) break;
    const n = readSync(fd, buf, 0, buf.length, null);
    if (n === 0) break;
    chunks.push(buf.subarray(0, n));
    total += n;
  }
  return new Uint8Array(Buffer.concat(chunks));
}

// ---------------------------------------------------------------------------------------------
// The folder layer

/** writeFileAtomic's temporary names: `.NAME.<12 hex>.tmp`. */
const TEMPORARY = /^\..+\.[0-9a-f]{12}\.tmp$/;

/** The forward-slash segments of a relative path; `..`, `.`, empty segments and absolute paths are refused. */
function segments(rel: string): string[] {
  if (rel === '') return [];
  const parts = rel.split('/');
  const bad = (p: string) => p === '' || p === '.' || p === '..' || p.includes('\0') || (sep === '\\' && (p.includes('\\') || p.includes(':')));
  if (parts.some(bad)) {
    throw new KeyceremonyError('FOLDER_PATH_INVALID', `${JSON.stringify(rel)} is not a relative path inside the folder`, 'a path inside a folder is made of plain names separated by "/", with no "..", "." or empty part');
  }
  return parts;
}

function lstatOrAbsent(abs: string): Stats | undefined {
  try {
    return lstatSync(abs);
  } catch (err) {
    if (errnoOf(err) === 'ENOENT') return undefined;
    throw err;
  }
}

function linkRefused(shown: string): KeyceremonyError {
  return new KeyceremonyError('FOLDER_LINK_REFUSED', `${shown} is a symbolic link`, 'remove the link and put the file or folder itself there: the tool never writes, deletes or reads through links');
}

/** A link, or anything that is neither a regular file nor a folder, is never used (FOLDER_LINK_REFUSED, FOLDER_NOT_REGULAR). */
export function refuseSpecial(st: Stats, shown: string): void {
  if (st.isSymbolicLink()) throw linkRefused(shown);
  if (!st.isFile() && !st.isDirectory()) {
    throw new KeyceremonyError('FOLDER_NOT_REGULAR', `${shown} is ${kindOf(st)}`, 'remove it: the tool reads and writes only regular files and folders');
  }
}

function wrongKind(shown: string, found: 'a file' | 'a folder', wanted: 'a file' | 'a folder'): KeyceremonyError {
  return new KeyceremonyError('FOLDER_WRONG_KIND', `${shown} is ${found} where ${wanted} is expected`, `move it away, or choose another place`);
}

function writeFailed(shown: string, err: unknown): KeyceremonyError {
  return new KeyceremonyError('OUTPUT_WRITE_FAILED', `${shown} could not be written (${errnoOf(err)}); nothing was left behind`, 'check the folder exists, is writable and has space', { cause: err });
}

function unreadable(shown: string, what: string, err: unknown): KeyceremonyError {
  const code = errnoOf(err);
  return usageError('INPUT_UNREADABLE', `${what} ${shown} cannot be read (${code === 'ENOENT' ? 'no such file' : code})`, 'check the path and the permissions', err);
}

/** Runs `fn`; an error that is not already a KeyceremonyError becomes `wrap(err)`. */
function guarded<T>(fn: () => T, wrap: (err: unknown) => KeyceremonyError): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof KeyceremonyError) throw err;
    throw wrap(err);
  }
}

function fsyncFolder(abs: string): void {
  const fd = openSync(abs, constants.O_RDONLY | O_DIRECTORY | O_NOFOLLOW);
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/**
 * Deletes `abs` and, for a folder, everything in it, never descending into a link: a link is
 * removed as a link (its target is not touched), so nothing outside `abs` changes and a link
 * loop cannot make it spin. Only plain calls (lstat, readdir, unlink, rmdir), so it still works
 * when the media is failing opens and writes.
 */
function removeTree(abs: string): void {
  const st = lstatOrAbsent(abs);
  if (st === undefined) return;
  if (!st.isDirectory()) {
    unlinkSync(abs);
    return;
  }
  for (const name of readdirSync(abs)) removeTree(join(abs, name));
  rmdirSync(abs);
}

/** The state of an output folder: absent, empty, or holding files (allowed with --force). */
export type OutputState = 'absent' | 'empty' | 'busy';

/** What `--force` does, in general, for OUTPUT_NOT_EMPTY's help (a command may say it more exactly). */
export const FORCE_WRITES_INTO = 'to write into it: each file the command writes replaces any file of the same name, and other files are left as they are';

export interface WriteOptions {
  /** Replace an existing regular file of that name (never a link, folder or special file). */
  readonly force?: boolean;
  readonly mode?: number;
}

/**
 * A folder the tool was given, and the one way it writes, deletes, lists and reads in it. Paths
 * inside are forward-slash relative paths (`exports/aws/export.json`); every component is checked
 * with lstat on every use (see the module comment for the race that remains).
 */
export class Folder {
  private constructor(
    /** The folder's real path (realpath, once). */
    readonly root: string,
    /** Its path as named, for messages. */
    private readonly named: string,
  ) {}

  /** The folder at `root`, which must exist; links in `root` itself are followed (the user named it). */
  static open(root: string): Folder {
    const why = (err: unknown) => ({ ENOENT: 'no such folder', ENOTDIR: 'not a folder' } as Record<string, string>)[errnoOf(err)] ?? errnoOf(err);
    return guarded(() => Folder.at(root), (err) => usageError('FOLDER_UNUSABLE', `${root} cannot be used as a folder (${why(err)})`, 'give the path of an existing folder', err));
  }

  private static at(root: string): Folder {
    const real = realpathSync(root);
    if (!statSync(real).isDirectory()) throw errno('ENOTDIR');
    return new Folder(real, root);
  }

  /**
   * Where a path the user named for an output will be made: the nearest existing folder above it,
   * opened (the part of the path that exists, links and all, is the user's), and the rest as a
   * relative path, every part of which the tool checks or creates itself. So the output itself is
   * never a link, and a folder the tool creates is never created through one.
   *
   * With `inside` (a removable drive's mount point, a ceremony folder), the path must lie inside
   * that folder and every component below it is checked: a link on the drive is refused even
   * where it already exists, which a path the user typed alone cannot tell apart from their own.
   */
  static anchor(path: string, inside?: string): { folder: Folder; rel: string } {
    const full = resolve(path);
    if (inside !== undefined) {
      const rel = relative(resolve(inside), full);
      if (rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel)) {
        throw new KeyceremonyError('FOLDER_PATH_INVALID', `${path} is not inside ${inside}`, `choose a folder on ${inside}`);
      }
      return { folder: Folder.open(inside), rel: rel.split(sep).join('/') };
    }
    if (dirname(full) === full) return { folder: Folder.open(full), rel: '' };
    let above = dirname(full);
    // existsSync follows links: a dangling link stays in `rel`, where it is refused as a link
    while (dirname(above) !== above && !existsSync(above)) above = dirname(above);
    return { folder: Folder.open(above), rel: relative(above, full).split(sep).join('/') };
  }

  private show(rel: string): string {
    return rel === '' ? this.named : join(this.named, ...rel.split('/'));
  }

  private abs(rel: string): string {
    return rel === '' ? this.root : join(this.root, ...segments(rel));
  }

  /**
   * lstat of every component of `rel`, refusing links and special files on the way; a component
   * above the last must be a folder. `missing` is the index of the first component that is not
   * there (the rest are not looked at), or -1. With `anyLast`, the last component may be anything
   * (what is removed is the entry itself, a link as a link).
   */
  private walk(rel: string, anyLast = false): { abs: string; st: Stats | undefined; missing: number } {
    const parts = segments(rel);
    if (parts.length === 0) return { abs: this.root, st: lstatSync(this.root), missing: -1 };
    let abs = this.root;
    let st: Stats | undefined;
    for (let i = 0; i < parts.length; i++) {
      abs = join(abs, parts[i] as string);
      st = lstatOrAbsent(abs);
      if (st === undefined) return { abs: join(this.root, ...parts), st, missing: i };
      const shown = this.show(parts.slice(0, i + 1).join('/'));
      if (anyLast && i === parts.length - 1) break;
      refuseSpecial(st, shown);
      if (i < parts.length - 1 && !st.isDirectory()) throw wrongKind(shown, 'a file', 'a folder');
    }
    return { abs, st, missing: -1 };
  }

  /** 'file', 'folder' or 'absent'; a link or special file on the way is refused. */
  kind(rel: string): 'file' | 'folder' | 'absent' {
    const { st } = guarded(() => this.walk(rel), (err) => unreadable(this.show(rel), 'the path', err));
    if (st === undefined) return 'absent';
    return st.isDirectory() ? 'folder' : 'file';
  }

  exists(rel: string): boolean {
    return this.kind(rel) !== 'absent';
  }

  /** The folder at `rel` inside this one, which must be a folder (not a link to one). */
  sub(rel: string): Folder {
    const { abs, st } = guarded(() => this.walk(rel), (err) => unreadable(this.show(rel), 'the folder', err));
    if (st === undefined) throw unreadable(this.show(rel), 'the folder', errno('ENOENT'));
    if (!st.isDirectory()) throw wrongKind(this.show(rel), 'a file', 'a folder');
    return new Folder(abs, this.show(rel));
  }

  /**
   * The bytes of the regular file at `rel`, of at most `limit` bytes (FOLDER_FILE_TOO_LARGE
   * otherwise, before it is read). Missing or unreadable is INPUT_UNREADABLE (exit 2) as for
   * readInput; a link or special file is refused (exit 1). After the lstat check, readFileSync
   * opens the file with O_NOFOLLOW and O_NONBLOCK (a link or FIFO swapped in meanwhile fails or
   * reads empty) and reads the size its own fstat finds, which is checked against `limit` again.
   * (readFileSync by path, not a descriptor: the media-fault tests flip a byte there, to show that
   * an export's read-back catches it.)
   */
  read(rel: string, what: string, limit: number): Uint8Array {
    const shown = this.show(rel);
    return guarded(() => {
      const { abs, st } = this.walk(rel);
      if (st === undefined) throw unreadable(shown, what, errno('ENOENT'));
      if (st.isDirectory()) throw wrongKind(shown, 'a folder', 'a file');
      const tooLarge = () => new KeyceremonyError('FOLDER_FILE_TOO_LARGE', `${what} ${shown} has more than ${limit} bytes`, 'check the file: it is larger than a file of its kind can be');
      if (st.size > limit) throw tooLarge();
      // a flag number is what openSync takes; readFileSync passes it on
      const bytes = readFileSync(abs, { flag: READ_IN_FOLDER as unknown as string });
      if (bytes.length > limit) throw tooLarge();
      return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    }, (err) => unreadable(shown, what, err));
  }

  /** The names in the folder at `rel` (the folder itself when ''), sorted. */
  list(rel = ''): string[] {
    return guarded(() => {
      const { abs, st } = this.walk(rel);
      if (st === undefined) throw errno('ENOENT');
      if (!st.isDirectory()) throw wrongKind(this.show(rel), 'a file', 'a folder');
      return readdirSync(abs).sort();
    }, (err) => unreadable(this.show(rel), 'the folder', err));
  }

  /**
   * Write-temp, fsync, rename, fsync folder. The folder above `rel` must exist (see mkdir). An
   * existing file is refused (OUTPUT_EXISTS) unless `force`; a link, folder or special file at
   * `rel` is refused whatever `force` says, and checked again just before the rename, which would
   * otherwise replace a link put there meanwhile.
   */
  write(rel: string, data: Uint8Array | string, options: WriteOptions = {}): void {
    const force = options.force ?? false;
    const shown = this.show(rel);
    const parts = segments(rel);
    const name = parts.at(-1);
    if (name === undefined) throw segmentsError(rel);
    const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    const check = (): string => {
      const { abs, st, missing } = this.walk(rel);
      if (missing >= 0 && missing < parts.length - 1) throw writeFailed(shown, errno('ENOENT'));
      if (st !== undefined) refuseDestination(st, shown, force);
      return abs;
    };
    const abs = guarded(check, (err) => writeFailed(shown, err));
    const dir = dirname(abs);
    const tmp = join(dir, `.${name}.${randomBytes(6).toString('hex')}.tmp`);
    let fd: number | undefined;
    try {
      fd = openSync(tmp, 'wx', options.mode ?? 0o644); // O_CREAT|O_EXCL: never through a link
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
      fsyncSync(fd);
      closeSync(fd);
      fd = undefined;
      check();
      crashpoint('file:written');
      renameSync(tmp, abs);
      fsyncFolder(dir);
      crashpoint('file:renamed');
    } catch (err) {
      if (fd !== undefined) closeSync(fd);
      try { unlinkSync(tmp); } catch { /* already gone */ }
      if (err instanceof KeyceremonyError) throw err;
      throw writeFailed(shown, err);
    }
  }

  /**
   * Creates the folder at `rel` (and, with `parents`, the folders above it), one component at a
   * time and never through a link. An existing folder is fine; a link, file or special file is not.
   */
  mkdir(rel: string, options: { parents?: boolean; mode?: number } = {}): void {
    const parts = segments(rel);
    if (parts.length === 0) throw segmentsError(rel);
    const shown = this.show(rel);
    guarded(() => {
      const { st, missing } = this.walk(rel);
      if (st !== undefined) {
        if (!st.isDirectory()) throw wrongKind(shown, 'a file', 'a folder');
        return;
      }
      if (missing < parts.length - 1 && options.parents !== true) throw errno('ENOENT');
      for (let i = missing; i < parts.length; i++) {
        const at = parts.slice(0, i + 1).join('/');
        try {
          mkdirSync(this.abs(at), { mode: options.mode ?? 0o777 });
        } catch (err) {
          if (errnoOf(err) !== 'EEXIST') throw err;
          // made meanwhile: fine if it is a folder, and checked like the rest
          const again = this.walk(at).st;
          if (again !== undefined && !again.isDirectory()) throw wrongKind(this.show(at), 'a file', 'a folder');
        }
      }
    }, (err) => writeFailed(shown, err));
  }

  /**
   * Deletes the file at `rel`, or the folder at `rel` and everything in it. A link is deleted as a
   * link; nothing is ever deleted through one, so nothing outside this folder changes.
   */
  remove(rel: string): void {
    if (segments(rel).length === 0) throw segmentsError(rel);
    guarded(() => {
      const { abs, st } = this.walk(rel, true);
      if (st !== undefined) removeTree(abs);
    }, (err) => writeFailed(this.show(rel), err));
  }

  /**
   * Every regular file below the folder, as sorted forward-slash paths. Hidden names
   * (temporaries, staging folders) and the relative paths in `skip` are left out. Links and
   * special files elsewhere are refused, not followed and not skipped: the caller lists these
   * files to hash and sign them, and a file silently left out would be a file unsigned.
   */
  filesUnder(skip: readonly string[] = []): string[] {
    const out: string[] = [];
    const walk = (rel: string): void => {
      for (const name of readdirSync(this.abs(rel)).sort()) {
        const r = rel === '' ? name : `${rel}/${name}`;
        if (name.startsWith('.') || skip.includes(r)) continue;
        const st = lstatSync(this.abs(r));
        refuseSpecial(st, this.show(r));
        if (st.isDirectory()) walk(r);
        else out.push(r);
      }
    };
    guarded(() => walk(''), (err) => unreadable(this.named, 'the folder', err));
    return out;
  }

  /**
   * After a crash: temporary files that were never renamed into place are removed (they never
   * claimed to be complete: their names are hidden and temporary). Only regular files are removed
   * and only real folders are entered, so a link named like a temporary, or a link loop, is left
   * as it is. Folders named in `skip` (a token store) are left alone. Returns what was removed.
   */
  removeStaleTemporaries(skip: readonly string[] = []): string[] {
    const removed: string[] = [];
    const walk = (rel: string): void => {
      let names: string[];
      try { names = readdirSync(this.abs(rel)); } catch { return; }
      for (const n of names) {
        const r = rel === '' ? n : `${rel}/${n}`;
        if (skip.includes(r)) continue;
        let st: Stats;
        try { st = lstatSync(this.abs(r)); } catch { continue; }
        if (st.isDirectory()) walk(r);
        else if (st.isFile() && TEMPORARY.test(n)) {
          unlinkSync(this.abs(r));
          removed.push(r);
        }
      }
    };
    walk('');
    return removed;
  }

  /**
   * CLI.md: an output folder must be new or empty, or --force given. A link there is refused
   * (FOLDER_LINK_REFUSED), a file is not a folder (OUTPUT_NOT_A_FOLDER, exit 2). `forceDoes` says
   * what --force does for the command (after "pass --force "), or null when it takes none.
   */
  checkOutput(rel: string, force: boolean, forceDoes: string | null = FORCE_WRITES_INTO): OutputState {
    const shown = this.show(rel);
    return guarded(() => {
      const { abs, st } = this.walk(rel);
      if (st === undefined) return 'absent';
      if (!st.isDirectory()) throw usageError('OUTPUT_NOT_A_FOLDER', `${shown} exists and is not a folder`, 'choose a new or empty folder');
      if (readdirSync(abs).length === 0) return 'empty';
      if (!force) {
        throw new KeyceremonyError('OUTPUT_NOT_EMPTY', `the output folder ${shown} is not empty`, forceDoes === null ? 'choose a new or empty folder' : `choose a new or empty folder, or pass --force ${forceDoes}`);
      }
      return 'busy';
    }, (err) => writeFailed(shown, err));
  }

  /**
   * Build a new folder's contents in a sibling `.NAME.staging-*` folder, then rename it into place
   * in one step (replacing an empty folder), so a crash leaves `rel` complete or absent. Stale
   * staging folders of `rel` from an interrupted run are removed first (real folders only); on
   * failure the staging folder is removed. `rel` must be absent or an empty folder, not a link.
   */
  async buildFolderAtomically<T>(rel: string, fill: (staging: Folder) => T | Promise<T>, crash: (point: string) => void = (p) => crashpoint(`folder:${p}`)): Promise<T> {
    const parts = segments(rel);
    const name = parts.at(-1);
    if (name === undefined) throw segmentsError(rel);
    const parent = parts.slice(0, -1).join('/');
    const shown = this.show(rel);
    const stagingRel = guarded(() => {
      if (parent !== '') this.mkdir(parent, { parents: true });
      this.checkOutput(rel, false, null);
      for (const n of readdirSync(this.abs(parent))) {
        const r = parent === '' ? n : `${parent}/${n}`;
        // exactly the names this layer gives its staging folders: a user's `.NAME.staging-old` is not ours to delete
        if (n.startsWith(`.${name}.staging-`) && /^[0-9a-f]{12}$/.test(n.slice(name.length + 10)) && lstatSync(this.abs(r)).isDirectory()) removeTree(this.abs(r));
      }
      const s = `${parent === '' ? '' : `${parent}/`}.${name}.staging-${randomBytes(6).toString('hex')}`;
      mkdirSync(this.abs(s), { mode: 0o755 }); // fails on anything already there, a link included
      return s;
    }, (err) => writeFailed(shown, err));
    const staging = this.abs(stagingRel);
    try {
      const result = await fill(this.sub(stagingRel));
      guarded(() => {
        fsyncFolder(staging);
        crash('staged');
        // again: a link put there meanwhile is refused, not replaced
        const abs = this.abs(rel);
        if (this.checkOutput(rel, false, null) === 'empty') rmdirSync(abs);
        crash('before-rename');
        renameSync(staging, abs);
        fsyncFolder(dirname(abs));
        crash('renamed');
      }, (err) => writeFailed(shown, err));
      return result;
    } catch (err) {
      try { removeTree(staging); } catch { /* the media may be gone; the next run removes it */ }
      throw err;
    }
  }
}

function segmentsError(rel: string): KeyceremonyError {
  return new KeyceremonyError('FOLDER_PATH_INVALID', `${JSON.stringify(rel)} names no file inside the folder`, 'give a relative path such as "exports/export.json"');
}

/** At an output file's name: a link, folder or special file is never replaced; a file only with force. */
function refuseDestination(st: Stats, shown: string, force: boolean): void {
  refuseSpecial(st, shown);
  if (!force) throw new KeyceremonyError('OUTPUT_EXISTS', `${shown} exists already; nothing was written`, 'choose another output name, or pass --force to replace it');
  if (st.isDirectory()) throw wrongKind(shown, 'a folder', 'a file');
}

// ---------------------------------------------------------------------------------------------
// The functions callers used before the folder layer: same signatures, same checks.

/** An existing output file is refused unless `force`; a link, folder or special file always. */
export function refuseExisting(path: string, force: boolean): void {
  const st = guarded(() => lstatOrAbsent(path), (err) => writeFailed(path, err));
  if (st !== undefined) refuseDestination(st, path, force);
}

/**
 * Write-temp, fsync, rename, fsync folder, into the folder that holds `path` (links in that
 * folder's path are the user's and are followed; `path` itself is never a link). Prefer
 * `Folder.write` inside a folder the tool was given: it checks every component.
 */
export function writeFileAtomic(path: string, data: Uint8Array | string, force: boolean, mode = 0o644): void {
  const full = resolve(path);
  let folder: Folder;
  try {
    folder = Folder.open(dirname(full));
  } catch (err) {
    throw writeFailed(path, err instanceof KeyceremonyError ? err.cause : err);
  }
  folder.write(basename(full), data, { force, mode });
}

/** CLI.md: nothing is overwritten; a non-empty output folder is refused unless --force. The check alone, creating nothing. */
export function checkOutputDir(dir: string, force: boolean, forceDoes: string | null = FORCE_WRITES_INTO): void {
  const { folder, rel } = Folder.anchor(dir);
  folder.checkOutput(rel, force, forceDoes);
}

/** checkOutputDir, then the folder created (mode 0700) when absent, never through a link. */
export function prepareOutputDir(dir: string, force: boolean, forceDoes: string | null = FORCE_WRITES_INTO): void {
  const { folder, rel } = Folder.anchor(dir);
  if (folder.checkOutput(rel, force, forceDoes) === 'absent') folder.mkdir(rel, { parents: true, mode: 0o700 });
}

/** fsync a folder the caller named (O_DIRECTORY: a FIFO there fails instead of blocking). */
export function fsyncDir(dir: string): void {
  const fd = openSync(dir, constants.O_RDONLY | O_DIRECTORY);
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/** Folder.buildFolderAtomically for an output folder the user named; `fill` gets the staging folder's path. */
export async function buildFolderAtomically<T>(outDir: string, fill: (staging: string) => T | Promise<T>, crash: (point: string) => void = (p) => crashpoint(`folder:${p}`)): Promise<T> {
  const { folder, rel } = Folder.anchor(outDir);
  return folder.buildFolderAtomically(rel, (staging) => fill(staging.root), crash);
}

/** Folder.removeStaleTemporaries in a folder the user named; nothing when it does not exist. */
export function removeStaleTemporaries(dir: string, skip: readonly string[] = []): string[] {
  if (!existsSync(dir)) return [];
  return Folder.open(dir).removeStaleTemporaries(skip);
}

/** Folder.filesUnder in a folder the user named. */
export function filesUnder(root: string, skip: readonly string[] = []): string[] {
  return Folder.open(root).filesUnder(skip);
}
