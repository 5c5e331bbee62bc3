/**
 * Helpers for the folder-layer tests: a picture of a folder taken with lstat (so a test can show
 * that nothing outside the folder under test changed), FIFOs, and a call of src/files.ts in a
 * child process with a time limit, for the cases that would block the process (a FIFO opened
 * blocking, a link loop walked by stat): a blocked synchronous call cannot be interrupted by a
 * test timeout in the same process.
 */
import { spawnSync } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const FILES = pathToFileURL(join(REPO, 'src', 'files.ts')).href;

/** Every entry below `dir` (never following links): its kind, and a file's bytes or a link's target. */
export function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? name : `${rel}/${name}`;
      const abs = join(dir, r);
      const st = lstatSync(abs);
      if (st.isSymbolicLink()) out[r] = `link -> ${readlinkSync(abs)}`;
      else if (st.isDirectory()) { out[r] = 'folder'; walk(r); }
      else if (st.isFile()) out[r] = `file ${readFileSync(abs).toString('hex')}`;
      else out[r] = 'special';
    }
  };
  walk('');
  return out;
}

export function mkfifo(path: string): void {
  const r = spawnSync('mkfifo', [path]);
  if (r.status !== 0) throw new Error(`mkfifo ${path} failed: ${String(r.stderr)}`);
}

export type ChildOutcome = { readonly timedOut: true } | { readonly timedOut: false; readonly code?: string; readonly exit?: number; readonly value?: unknown };

/**
 * `expression` (using `f`, the module src/files.ts) evaluated in a child process, given at most
 * `ms` milliseconds: its value, or the code and exit of the KeyceremonyError it threw.
 */
export function inChild(expression: string, ms = 8000): ChildOutcome {
  const script = `import * as f from ${JSON.stringify(FILES)};
try { const value = await (async () => ${expression})(); console.log(JSON.stringify({ value: value ?? null })); }
catch (e) { console.log(JSON.stringify({ code: e.code, exit: e.exit })); }`;
  const r = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, encoding: 'utf8', timeout: ms, killSignal: 'SIGKILL' });
  if (r.signal === 'SIGKILL') return { timedOut: true };
  const last = r.stdout.trim().split('\n').at(-1) ?? '';
  if (r.status !== 0 || last === '') throw new Error(`the child failed (${String(r.status)}): ${r.stderr}`);
  return { timedOut: false, ...(JSON.parse(last) as { code?: string; exit?: number; value?: unknown }) };
}
