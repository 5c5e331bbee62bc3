/**
 * Running one command of a command table the way CLI.md asks, for the `keyceremony` command line
 * (src/cli/main.ts) and the vendored single-file verifier (scripts/entries/verify.ts) alike: usage,
 * --help, the one error line `keyceremony: CODE: what; fix` (a stack only with --debug) and exit 3
 * for a bug. It imports no command, so the single file stays free of token code.
 */
import { sanitizeText } from '../docs/sanitize.js';
import { KeyceremonyError } from '../errors.js';
import { Warnings } from './io.js';
import type { Io } from './io.js';

export type Command = (argv: readonly string[], io: Io, warnings: Warnings) => Promise<number>;
/** `help`: more lines `--help` prints after the usage (an export's targets). */
export interface CommandTable { readonly commands: ReadonlyMap<string, { readonly run: Command; readonly usage: string; readonly help?: readonly string[] }>; readonly usage: () => string; readonly others?: string }

/** One line, no newline, control or bidi character inside: messages may quote hostile input (issue 14). */
export function oneLine(s: string): string {
  return sanitizeText(s.replace(/[\r\n]+/g, ' '));
}

/** The error line for `err`, and the exit status (3 for anything that is not a KeyceremonyError: a bug). */
function report(err: unknown, io: Io, debug: boolean): number {
  if (err instanceof KeyceremonyError) {
    io.stderr.write(`keyceremony: ${err.code}: ${oneLine(err.message)}; ${oneLine(err.fix)}\n`);
    if (debug && err.stack !== undefined) io.stderr.write(`${err.stack}\n`);
    return err.exit;
  }
  const text = err instanceof Error ? err.message : String(err);
  io.stderr.write(`keyceremony: INTERNAL_ERROR: ${oneLine(text)}; this is a bug: run again with --debug and report the output\n`);
  if (debug && err instanceof Error && err.stack !== undefined) io.stderr.write(`${err.stack}\n`);
  return 3;
}

export async function runCommandLine(t: CommandTable, argv: readonly string[], io: Io): Promise<number> {
  const debug = argv.includes('--debug');
  const [name, ...rest] = argv;
  try {
    if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
      (name === undefined ? io.stderr : io.stdout).write(t.usage());
      return name === undefined ? 2 : 0;
    }
    const cmd = t.commands.get(name);
    if (cmd === undefined) {
      throw new KeyceremonyError('USAGE', `unknown command ${JSON.stringify(name)}`, `commands: ${[...t.commands.keys()].join(', ')}${t.others ?? ''}`, { exit: 2 });
    }
    if (rest.includes('--help') || rest.includes('-h')) {
      io.stdout.write(`usage: ${cmd.usage}\n${(cmd.help ?? []).map((l) => `${l}\n`).join('')}`);
      return 0;
    }
    return await cmd.run(rest, io, new Warnings(io));
  } catch (err) {
    return report(err, io, debug);
  }
}
