import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The command as installed (package.json `bin`): the prebuilt bundle, built again first when src/ changed. */
export const BIN = fileURLToPath(new URL('../../bin/keyceremony.cjs', import.meta.url));
const ROOT = fileURLToPath(new URL('../..', import.meta.url));

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

function spawnNode(script: string, args: readonly string[], env: NodeJS.ProcessEnv, input?: string): CliResult {
  const r = spawnSync(process.execPath, [script, ...args], { env, input: input ?? '', encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The commands the single-file verifier (dist/keyceremony-verify.mjs) offers. */
export const VERIFIER_COMMANDS: ReadonlySet<string> = new Set(['verify', 'state']);

let verifierFile: string | undefined;

/**
 * The single-file verifier built from the sources as they are now: one build per content of the
 * inputs, kept in the temporary folder, so the test processes share it.
 */
export function singleFileVerifier(): string {
  if (verifierFile !== undefined) return verifierFile;
  const { contentFingerprint } = createRequire(import.meta.url)('../../bin/stamp.cjs') as { contentFingerprint: (root: string) => string };
  const file = join(tmpdir(), `keyceremony-verify-${contentFingerprint(ROOT).slice(7, 23)}.mjs`);
  if (!existsSync(file)) {
    const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs'), '--verify-out', file], { encoding: 'utf8', timeout: 120_000 });
    if (r.status !== 0) throw new Error(`the single-file verifier did not build: ${r.stderr}`);
  }
  verifierFile = file;
  return file;
}

/** `node keyceremony-verify.mjs ARGS`, as a pipeline runs the vendored file. */
export function runVerifier(args: readonly string[], env: NodeJS.ProcessEnv, input?: string): CliResult {
  return spawnNode(singleFileVerifier(), args, env, input);
}

const TIME = /\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ/g;

/**
 * Where two runs of the same command differ, or null. Times are compared apart (`state` without
 * --at prints now, which may have moved on by a second); with --debug only the first line of
 * stderr, since a stack names the file that ran.
 */
export function difference(a: CliResult, b: CliResult, args: readonly string[]): string | null {
  if (a.status !== b.status) return `exit ${a.status} against ${b.status}`;
  if (a.stdout.replace(TIME, 'T') !== b.stdout.replace(TIME, 'T')) return `stdout\n${a.stdout}\nagainst\n${b.stdout}`;
  const times = (s: string) => [...s.matchAll(TIME)].map((m) => Date.parse(m[0]));
  const [ta, tb] = [times(a.stdout), times(b.stdout)];
  if (ta.some((t, i) => Math.abs(t - (tb[i] as number)) > 5000)) return `times in stdout\n${a.stdout}\nagainst\n${b.stdout}`;
  const [ea, eb] = args.includes('--debug') ? [a.stderr.split('\n')[0], b.stderr.split('\n')[0]] : [a.stderr, b.stderr];
  if (ea !== eb) return `stderr\n${a.stderr}\nagainst\n${b.stderr}`;
  return null;
}

/**
 * Run the real `keyceremony` command in its own process (PKCS#11 state is per process). `verify`
 * and `state` run through the single-file verifier too, which must answer exactly the same: every
 * CLI test of those commands is a test of the vendored file as well.
 */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, input?: string): CliResult {
  const r = spawnNode(BIN, args, env, input);
  if (VERIFIER_COMMANDS.has(args[0] ?? '')) {
    const diff = difference(r, runVerifier(args, env, input), args);
    if (diff !== null) throw new Error(`dist/keyceremony-verify.mjs answers keyceremony ${args.join(' ')} differently from the CLI: ${diff}`);
  }
  return r;
}

/** The CLI.md error line: exactly one line `keyceremony: CODE: what; fix`, no stack. */
export const ERROR_LINE = /^keyceremony: ([A-Z0-9_]+): [^\n]+; [^\n]+\n$/;
