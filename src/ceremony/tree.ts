/**
 * Walking a ceremony folder without trusting it (issue 13): every entry is looked at with lstat
 * through the file layer's one rule (no link, no FIFO, socket or device), a name that is not UTF-8
 * is refused, and a step's output folder must hold exactly what the step wrote.
 */
import { lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { sanitizeText } from '../docs/sanitize.js';
import { KeyceremonyError } from '../errors.js';
import { refuseSpecial } from '../files.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true });

/** The names in a folder, sorted; a name that is not UTF-8 (no file the tool writes has one) is refused, shown escaped. */
function names(path: string): string[] {
  return readdirSync(path, { encoding: 'buffer' }).map((raw) => {
    try {
      return UTF8.decode(raw);
    } catch {
      throw unexpectedThing(path, [sanitizeText(raw.toString('latin1'))], 'remove it: a ceremony folder holds only what the ceremony wrote');
    }
  }).sort();
}

/** Every entry below `rel`, checked: no link or special file anywhere (the caller's own trees included). */
export function walk(dir: string, rel: string, visit: (rel: string, isDir: boolean) => boolean): void {
  for (const name of names(join(dir, rel))) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(join(dir, r));
    refuseSpecial(st, join(dir, r));
    if (visit(r, st.isDirectory()) && st.isDirectory()) walk(dir, r, visit);
  }
}

/** Every file below `rel` in `dir`, hidden ones too, as paths relative to `rel`; links and special files refused. */
export function everyFileUnder(dir: string, rel: string): string[] {
  const out: string[] = [];
  walk(dir, rel, (r, isDir) => { if (!isDir) out.push(r.slice(rel.length + 1)); return true; });
  return out.sort();
}

export function unexpectedThing(where: string, unexpected: readonly string[], fix: string): KeyceremonyError {
  const shown = unexpected.slice(0, 10).map((u) => JSON.stringify(u)).join(', ');
  return new KeyceremonyError('CEREMONY_FOLDER_UNEXPECTED', `${where} holds ${unexpected.length} thing(s) it should not: ${shown}${unexpected.length > 10 ? ', …' : ''}`, fix);
}

/**
 * An output folder of a step holds exactly what the step wrote (`found`, listed by the caller
 * through the file layer, against `expected`): a file planted beside a proven export or custody
 * manifest would otherwise be carried off with it, and listed in the transcript.
 */
export function requireExactly(found: readonly string[], expected: readonly string[], where: string): void {
  const extra = found.filter((f) => !expected.includes(f));
  const missing = expected.filter((e) => !found.includes(e));
  if (extra.length === 0 && missing.length === 0) return;
  throw unexpectedThing(where, [...extra, ...missing.map((m) => `${m} (missing)`)], 'stop: the folder was changed since the step wrote it; keep it as evidence and start again in a new folder');
}

