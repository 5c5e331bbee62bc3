/**
 * The command line inside the packaged app (dist/electron/cli.cjs): the app starts it in an
 * Electron utility process for rehearsals, which need a PKCS#11 library of their own. The
 * RunAsNode fuse is off, so the app never runs itself as Node; a utility process needs no fuse.
 * The app puts "--" before the command's arguments, so they are found wherever the process
 * places its own entries in argv; `node cli.cjs ARGS` works too.
 *
 * Under a parent port (an Electron utility process) the command exits explicitly once its output
 * is flushed: the port keeps the process's event loop alive, so a utility process whose script has
 * ended keeps running (electron#47228), and the app, waiting for its `exit`, would show the
 * rehearsal running for ever and refuse the next one in that folder. Run as plain Node it only
 * sets the exit code, so nothing it writes is cut short.
 */
import { main } from '../../src/cli/main.js';

/** Resolves once everything written to the stream before has been handed to the OS (pipes are asynchronous on macOS). */
const flushed = (s: NodeJS.WriteStream): Promise<void> => new Promise((resolve) => {
  if (s.destroyed || !s.writable) { resolve(); return; }
  s.write('', () => resolve());
});

/** Exit with `code` when a parent port holds the process open; otherwise let Node end it with that code. */
async function finish(code: number, proc: NodeJS.Process = process): Promise<void> {
  proc.exitCode = code;
  if ((proc as { parentPort?: unknown }).parentPort === undefined) return;
  await Promise.all([flushed(proc.stdout), flushed(proc.stderr)]);
  proc.exit(code);
}

const sep = process.argv.indexOf('--');
void main(sep >= 0 ? process.argv.slice(sep + 1) : process.argv.slice(2)).then(
  (code) => finish(code),
  // main reports every error itself; anything that still escapes is a bug, and must not leave the process running (exit 3, as main's INTERNAL_ERROR)
  (err: unknown) => { process.stderr.write(`keyceremony: INTERNAL_ERROR: ${String(err)}; this is a bug: report it\n`); return finish(3); },
);
