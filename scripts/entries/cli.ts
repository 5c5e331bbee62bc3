/**
 * The command line as one bundle (dist/cli/keyceremony-<hash>.cjs): bin/keyceremony.cjs runs it,
 * and so can `node` directly. Every command of src/cli/main.ts, nothing else.
 */
import { main } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';

/** processIo(), except that process.stdin is made only when a command reads it: creating it costs about 2 ms of every start. */
const io: Io = { stdout: process.stdout, stderr: process.stderr, get stdin() { return process.stdin; }, env: process.env };

void main(process.argv.slice(2), io).then((code) => { process.exitCode = code; });
