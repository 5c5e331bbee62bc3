/**
 * dist/keyceremony-verify.mjs: `verify` and `state` of the command line (CLI.md) in one file with
 * no dependencies, for a pipeline to vendor and pin by its SHA-256:
 *
 *   node keyceremony-verify.mjs verify FILE --custodians SET … [--json]
 *   node keyceremony-verify.mjs state --custodians SET … --manifests FILE … [--json]
 *
 * The commands are the CLI's own (src/cli/commands/verify.ts and state.ts), so options, outputs
 * and exit codes are the same; around them this does what src/cli/main.ts does: usage, --help,
 * the one-line error `keyceremony: CODE: what; fix` (a stack only with --debug) and exit 3 for a
 * bug. Nothing here reaches pkcs11js (the build refuses a bundle that names it).
 */
import { stateCommand, STATE_USAGE } from '../../src/cli/commands/state.js';
import { verifyCommand, VERIFY_USAGE } from '../../src/cli/commands/verify.js';
import type { Io } from '../../src/cli/io.js';
import { runCommandLine } from '../../src/cli/run.js';

const COMMANDS = new Map([
  ['verify', { run: verifyCommand, usage: VERIFY_USAGE, what: 'verify a signed document against a custodian-set chain' }],
  ['state', { run: stateCommand, usage: STATE_USAGE, what: 'the key state at a time from a chain of rotation manifests' }],
]);

function usage(): string {
  const lines = [...COMMANDS.values()].map((c) => `  ${c.usage}\n      ${c.what}`);
  return `usage: node keyceremony-verify.mjs <command> [options]\n\n${lines.join('\n')}\n\nThe other commands are in the keyceremony package. --debug shows stack traces.\n`;
}

async function main(argv: readonly string[], io: Io): Promise<number> {
  return runCommandLine({ commands: COMMANDS, usage, others: ' (the others are in the keyceremony package)' }, argv, io);
}

/** processIo(), except that process.stdin is made only if read (verify and state never do): creating it costs about 2 ms. */
const io: Io = { stdout: process.stdout, stderr: process.stderr, get stdin() { return process.stdin; }, env: process.env };

void main(process.argv.slice(2), io).then((code) => { process.exitCode = code; });
