/**
 * What a ceremony folder may hold (issue 13). Before a first run: the script, the files the caller
 * read from it (a profile, the rehearsal record), the input files the script names, and what the
 * caller made there for this run (a rehearsal's token store); anything else is refused by name.
 * When a run resumes: those, plus what the script's steps write, the journal, the checkpoint,
 * the transcripts, and the hidden temporaries an interruption left. Nowhere a link, a FIFO, a
 * device: a folder the tool writes in is never followed elsewhere.
 */
import { lstatSync, readdirSync } from 'node:fs';
import type { Stats } from 'node:fs';
import { join, relative, resolve, sep } from 'node:path';
import { sanitizeText } from '../docs/sanitize.js';
import { KeyceremonyError } from '../errors.js';
import type { CeremonyScript } from './script.js';
import { kindOf } from './steps/index.js';

export const JOURNAL = 'audit.jsonl';
export const CHECKPOINT = 'audit.checkpoint.json';
export const TRANSCRIPTS = ['transcript.md', 'transcript.html'] as const;
/** The app prints the transcript beside them (Electron's printToPDF). */
export const TRANSCRIPT_PDF = 'transcript.pdf';

export interface FolderRules {
  readonly script: CeremonyScript;
  readonly dir: string;
  readonly inputs: string;
  readonly simulation: boolean;
  /** Files the caller read from the folder (the script, a profile, a rehearsal record), absolute. */
  readonly declared: readonly string[];
  /** Names the caller made in the folder for this run and checks itself (a rehearsal's `softhsm`). */
  readonly own: readonly string[];
}

/** writeFileAtomic's temporaries and buildFolderAtomically's staging folders: what an interruption leaves. */
const LEFT_BEHIND = /^\..+\.(?:[0-9a-f]{12}\.tmp|staging-[0-9a-f]{12})$/;

/** Relative forward-slash paths inside dir, from absolute paths (those outside dir dropped). */
function inside(dir: string, paths: readonly string[]): string[] {
  const root = resolve(dir);
  return paths.map((p) => resolve(p)).filter((p) => p.startsWith(root + sep)).map((p) => relative(root, p).split(sep).join('/'));
}

/** The paths a folder may hold: files (and the folders above them), and whole subtrees. */
function allowed(r: FolderRules, resume: boolean): { files: Set<string>; trees: Set<string>; dirs: Set<string> } {
  const inputs = r.script.steps.flatMap((s) => kindOf(s).inputs(s, r.script).map((p) => join(r.inputs, p)));
  const files = new Set(inside(r.dir, [...r.declared, ...inputs]));
  const trees = new Set(r.own);
  if (resume) {
    for (const s of r.script.steps) for (const o of kindOf(s).outputs(s, r.simulation)) trees.add(o);
    for (const n of [JOURNAL, CHECKPOINT, ...TRANSCRIPTS, TRANSCRIPT_PDF]) files.add(n);
  }
  const dirs = new Set<string>();
  for (const f of [...files, ...trees]) for (let i = f.indexOf('/'); i > 0; i = f.indexOf('/', i + 1)) dirs.add(f.slice(0, i));
  return { files, trees, dirs };
}

function refuseOdd(path: string, st: Stats): void {
  if (st.isSymbolicLink()) throw new KeyceremonyError('FOLDER_LINK_REFUSED', `${path} is a link: the ceremony never writes or reads through links`, 'remove the link (and check who put it there); use a folder that holds only what the ceremony wrote');
  if (!st.isFile() && !st.isDirectory()) throw new KeyceremonyError('FOLDER_NOT_REGULAR', `${path} is neither a file nor a folder`, 'remove it; a ceremony folder holds plain files only');
}

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
function walk(dir: string, rel: string, visit: (rel: string, isDir: boolean) => boolean): void {
  for (const name of names(join(dir, rel))) {
    const r = rel === '' ? name : `${rel}/${name}`;
    const st = lstatSync(join(dir, r));
    refuseOdd(join(dir, r), st);
    if (visit(r, st.isDirectory()) && st.isDirectory()) walk(dir, r, visit);
  }
}

/** Every file below `rel` in `dir`, hidden ones too, as paths relative to `rel`; links and special files refused. */
export function everyFileUnder(dir: string, rel: string): string[] {
  const out: string[] = [];
  walk(dir, rel, (r, isDir) => { if (!isDir) out.push(r.slice(rel.length + 1)); return true; });
  return out.sort();
}

function unexpectedThing(where: string, unexpected: readonly string[], fix: string): KeyceremonyError {
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

/**
 * Refuses a folder that holds anything but what it may: `resume` false for a first run (no
 * journal), true when a journal is there. Returns the hidden temporaries found (for removal).
 */
export function checkFolder(r: FolderRules, resume: boolean): string[] {
  const a = allowed(r, resume);
  const unexpected: string[] = [];
  const leftBehind: string[] = [];
  walk(r.dir, '', (rel, isDir) => {
    const name = rel.slice(rel.lastIndexOf('/') + 1);
    if (resume && LEFT_BEHIND.test(name)) { leftBehind.push(rel); return false; }
    if ([...a.trees].some((t) => rel === t || rel.startsWith(`${t}/`))) return true; // checked for links, its contents proven by its step
    if (isDir ? a.dirs.has(rel) : a.files.has(rel)) return isDir;
    unexpected.push(rel);
    return false;
  });
  if (unexpected.length > 0) {
    throw unexpectedThing(`the ceremony folder ${r.dir} (${resume ? 'beside what the interrupted run wrote' : 'besides the script and the inputs it names'})`, unexpected,
      resume ? 'nothing was done: keep the folder as evidence and run the ceremony in a new folder' : 'use a new, empty folder (with only the script and the input files it names)');
  }
  return leftBehind;
}
