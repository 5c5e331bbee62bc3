import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The command as installed (package.json `bin`): the prebuilt bundle, built again first when src/ changed. */
export const BIN = fileURLToPath(new URL('../../bin/keyceremony.cjs', import.meta.url));

export interface CliResult {
  readonly status: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** Run the real `keyceremony` command in its own process (PKCS#11 state is per process). */
export function runCli(args: readonly string[], env: NodeJS.ProcessEnv, input?: string): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { env, input: input ?? '', encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** The CLI.md error line: exactly one line `keyceremony: CODE: what; fix`, no stack. */
export const ERROR_LINE = /^keyceremony: ([A-Z0-9_]+): [^\n]+; [^\n]+\n$/;
