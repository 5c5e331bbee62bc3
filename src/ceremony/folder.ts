/**
 * What a ceremony folder may hold (issue 13). Before a first run: the script, the files the caller
 * read from it (a profile, the rehearsal record), the input files the script names, and what the
 * caller made there for this run (a rehearsal's token store); anything else is refused by name.
 * When a run resumes: those, plus what the script's steps write, the journal, the checkpoint,
 * the transcripts, and the hidden temporaries an interruption left. Nowhere a link, a FIFO, a
 * device: a folder the tool writes in is never followed elsewhere.
 */
import { join, relative, resolve, sep } from 'node:path';
import type { CeremonyScript } from './script.js';
import { kindOf } from './steps/index.js';
import { unexpectedThing, walk } from './tree.js';

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
