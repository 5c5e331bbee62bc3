/**
 * Removable media: which mounted file systems sit on a removable drive (Linux: the block
 * device's `removable` flag or a USB path in sysfs, mounts from /proc/self/mountinfo), with size
 * and free space, and a free-space check before anything is written. Other platforms report no
 * drives here (the app lists them through the OS; see README). KEYCEREMONY_REMOVABLE_ROOTS
 * (paths separated by ":") marks folders as removable media explicitly, for tests and for
 * drives the kernel does not flag.
 */
import { existsSync, readFileSync, readlinkSync, realpathSync, statfsSync } from 'node:fs';
import { dirname, join, resolve, sep } from 'node:path';
import { KeyceremonyError } from '../errors.js';

export interface Medium {
  readonly mountPoint: string;
  readonly device: string;
  readonly removable: boolean;
  readonly sizeBytes: number;
  readonly freeBytes: number;
}

function space(path: string): { sizeBytes: number; freeBytes: number } {
  const s = statfsSync(path);
  return { sizeBytes: Number(s.blocks) * Number(s.bsize), freeBytes: Number(s.bavail) * Number(s.bsize) };
}

/** /proc/self/mountinfo: mount id, parent, major:minor, root, mount point, … (proc(5)); octal escapes in paths. */
function mounts(): { mountPoint: string; majorMinor: string; source: string }[] {
  if (!existsSync('/proc/self/mountinfo')) return [];
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_m, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter(Boolean).map((line) => {
    const f = line.split(' ');
    const dash = f.indexOf('-');
    return { mountPoint: unescape(f[4] ?? ''), majorMinor: f[2] ?? '', source: unescape(f[dash + 2] ?? '') };
  });
}

function sysfsRemovable(majorMinor: string): boolean {
  const dev = `/sys/dev/block/${majorMinor}`;
  if (!existsSync(dev)) return false;
  let path: string;
  try { path = resolve(dirname(dev), readlinkSync(dev)); } catch { return false; }
  if (path.includes('/usb')) return true;
  for (const p of [join(path, 'removable'), join(path, '..', 'removable')]) {
    try { if (readFileSync(p, 'utf8').trim() === '1') return true; } catch { /* a partition has its flag on the disk */ }
  }
  return false;
}

function overrideRoots(env: NodeJS.ProcessEnv): string[] {
  return (env.KEYCEREMONY_REMOVABLE_ROOTS ?? '').split(':').filter((p) => p !== '' && existsSync(p)).map((p) => realpathSync(p));
}

export function listMedia(env: NodeJS.ProcessEnv = process.env): Medium[] {
  const out: Medium[] = [];
  for (const m of mounts()) {
    if (!m.source.startsWith('/dev/') || !sysfsRemovable(m.majorMinor)) continue;
    try { out.push({ mountPoint: m.mountPoint, device: m.source, removable: true, ...space(m.mountPoint) }); } catch { /* unmounted meanwhile */ }
  }
  for (const root of overrideRoots(env)) out.push({ mountPoint: root, device: 'KEYCEREMONY_REMOVABLE_ROOTS', removable: true, ...space(root) });
  return out;
}

/** The nearest existing folder at or above `path`. */
function existingAncestor(path: string): string {
  let p = resolve(path);
  while (!existsSync(p)) p = dirname(p);
  return realpathSync(p);
}

/** The removable medium holding `path`, or null when it is on a fixed disk. */
export function mediumOf(path: string, env: NodeJS.ProcessEnv = process.env): Medium | null {
  const real = existingAncestor(path);
  const hits = listMedia(env).filter((m) => real === m.mountPoint || real.startsWith(m.mountPoint.endsWith(sep) ? m.mountPoint : m.mountPoint + sep));
  return hits.sort((a, b) => b.mountPoint.length - a.mountPoint.length)[0] ?? null;
}

/** Refuse before writing when the file system cannot take `bytes` plus a margin. */
export function checkFreeSpace(path: string, bytes: number): void {
  const free = space(existingAncestor(path)).freeBytes;
  const need = bytes + 1024 * 1024;
  if (free < need) {
    throw new KeyceremonyError('EXPORT_NO_SPACE', `the drive holding ${path} has ${free} bytes free; the export needs about ${need}`, 'use an emptier drive; nothing was written');
  }
}
