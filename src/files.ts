/**
 * Reading inputs and writing outputs the way CLI.md asks: inputs bounded in size, a missing or
 * unreadable input is a usage error (exit 2); outputs are never overwritten without --force and
 * are written to a temporary name, synced, renamed and the folder synced, so a crash leaves the
 * old file or the complete new one, never half of one.
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, readSync, renameSync, rmdirSync, rmSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { crashpoint } from './crashpoint.js';
import { KeyceremonyError, usageError } from './errors.js';

/** Reads at most `limit + 1` bytes, so an oversized or endless input cannot exhaust memory. */
export function readInput(path: string, what: string, limit: number): Uint8Array {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw usageError('INPUT_UNREADABLE', `${what} ${path} cannot be read (${code === 'ENOENT' ? 'no such file' : code ?? 'error'})`, 'check the path and the permissions', err);
  }
  try {
    if (statSync(path).isDirectory()) throw usageError('INPUT_UNREADABLE', `${what} ${path} is a folder`, 'give the path of a file');
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
  } catch (err) {
    if (err instanceof KeyceremonyError) throw err;
    throw usageError('INPUT_UNREADABLE', `${what} ${path} cannot be read`, 'check the path and the permissions', err);
  } finally {
    closeSync(fd);
  }
}

export function refuseExisting(path: string, force: boolean): void {
  if (existsSync(path) && !force) {
    throw new KeyceremonyError('OUTPUT_EXISTS', `${path} exists already; nothing was written`, 'choose another output name, or pass --force to replace it');
  }
}

/** Write-temp, fsync, rename, fsync folder. */
export function writeFileAtomic(path: string, data: Uint8Array | string, force: boolean, mode = 0o644): void {
  refuseExisting(path, force);
  const dir = dirname(path);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}.tmp`);
  const bytes = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'wx', mode);
    let off = 0;
    while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    refuseExisting(path, force);
    crashpoint('file:written');
    renameSync(tmp, path);
    fsyncDir(dir);
    crashpoint('file:renamed');
  } catch (err) {
    if (fd !== undefined) closeSync(fd);
    try { unlinkSync(tmp); } catch { /* already gone */ }
    if (err instanceof KeyceremonyError) throw err;
    throw new KeyceremonyError('OUTPUT_WRITE_FAILED', `${path} could not be written (${(err as NodeJS.ErrnoException).code ?? 'error'}); nothing was left behind`, 'check the folder exists, is writable and has space', { cause: err });
  }
}

/** CLI.md: nothing is overwritten; a non-empty output folder is refused unless --force. */
/** The check alone, creating nothing: an export refused later leaves no folder behind. */
export function checkOutputDir(dir: string, force: boolean): void {
  if (!existsSync(dir)) return;
  if (!statSync(dir).isDirectory()) throw usageError('OUTPUT_NOT_A_FOLDER', `${dir} exists and is not a folder`, 'choose a new or empty folder');
  if (readdirSync(dir).length > 0 && !force) {
    throw new KeyceremonyError('OUTPUT_NOT_EMPTY', `the output folder ${dir} is not empty`, 'choose a new or empty folder, or pass --force to write beside what is there (existing files are still never overwritten)');
  }
}

export function prepareOutputDir(dir: string, force: boolean): void {
  if (existsSync(dir)) {
    if (!statSync(dir).isDirectory()) throw usageError('OUTPUT_NOT_A_FOLDER', `${dir} exists and is not a folder`, 'choose a new or empty folder for --dir');
    if (readdirSync(dir).length > 0 && !force) {
      throw new KeyceremonyError('OUTPUT_NOT_EMPTY', `the output folder ${dir} is not empty`, 'choose a new or empty folder, or pass --force to write beside what is there (existing files are still never overwritten)');
    }
  } else {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
}


export function fsyncDir(dir: string): void {
  const fd = openSync(dir, 'r');
  try { fsyncSync(fd); } finally { closeSync(fd); }
}

/**
 * Build a new folder's contents in a sibling `.NAME.staging-*` folder, then rename it into place
 * in one step (replacing an empty folder), so a crash leaves `outDir` complete or absent. Stale
 * staging folders of `outDir` from an interrupted run are removed first; on failure the staging
 * folder is removed. `outDir` must be absent or empty.
 */
export async function buildFolderAtomically<T>(outDir: string, fill: (staging: string) => T | Promise<T>, crash: (point: string) => void = (p) => crashpoint(`folder:${p}`)): Promise<T> {
  const parent = dirname(outDir);
  const name = basename(outDir);
  mkdirSync(parent, { recursive: true });
  for (const f of readdirSync(parent)) {
    if (f.startsWith(`.${name}.staging-`)) rmSync(join(parent, f), { recursive: true, force: true });
  }
  const staging = join(parent, `.${name}.staging-${randomBytes(6).toString('hex')}`);
  mkdirSync(staging, { mode: 0o755 });
  try {
    const result = await fill(staging);
    fsyncDir(staging);
    crash('staged');
    if (existsSync(outDir)) rmdirSync(outDir); // empty: the caller checked
    crash('before-rename');
    renameSync(staging, outDir);
    fsyncDir(parent);
    crash('renamed');
    return result;
  } catch (err) {
    rmSync(staging, { recursive: true, force: true });
    throw err;
  }
}

/** writeFileAtomic's temporary names: `.NAME.<12 hex>.tmp`. */
const TEMPORARY = /^\..+\.[0-9a-f]{12}\.tmp$/;

/**
 * After a crash: temporary files that were never renamed into place are removed (they never
 * claimed to be complete: their names are hidden and temporary). Folders named in `skip` (a
 * token store) are left alone. Returns what was removed.
 */
export function removeStaleTemporaries(dir: string, skip: readonly string[] = []): string[] {
  const removed: string[] = [];
  const walk = (rel: string): void => {
    let names: string[];
    try { names = readdirSync(join(dir, rel)); } catch { return; }
    for (const n of names) {
      const r = rel === '' ? n : join(rel, n);
      if (skip.includes(r)) continue;
      let st;
      try { st = statSync(join(dir, r)); } catch { continue; }
      if (st.isDirectory()) walk(r);
      else if (TEMPORARY.test(n)) { unlinkSync(join(dir, r)); removed.push(r); }
    }
  };
  walk('');
  return removed;
}

/**
 * Every regular file below `root`, as sorted forward-slash paths relative to it. Hidden names
 * (temporaries, staging folders) and the relative paths in `skip` are left out.
 */
export function filesUnder(root: string, skip: readonly string[] = []): string[] {
  const out: string[] = [];
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(root, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      if (name.startsWith('.') || skip.includes(r)) continue;
      if (statSync(join(root, r)).isDirectory()) walk(r);
      else out.push(r);
    }
  };
  walk('');
  return out;
}
