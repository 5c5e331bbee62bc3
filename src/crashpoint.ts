/**
 * Fault injection for crash-safety tests: the process kills itself with SIGKILL, as a power cut or
 * `kill -9` would, when KEYCEREMONY_CRASHPOINT names the point reached, or when
 * KEYCEREMONY_CRASH_AT=N and this is the Nth point reached in the process (seeded random kills).
 * KEYCEREMONY_CRASH_TRACE=FILE appends each point's name to FILE, so a test can count them.
 * Unset in real use, where it costs a few comparisons.
 */
import { appendFileSync } from 'node:fs';

let reached = 0;

export function crashpoint(name: string): void {
  const env = process.env;
  if (env.KEYCEREMONY_CRASH_TRACE !== undefined) appendFileSync(env.KEYCEREMONY_CRASH_TRACE, `${name}\n`);
  reached++;
  if (env.KEYCEREMONY_CRASHPOINT === name || (env.KEYCEREMONY_CRASH_AT !== undefined && reached === Number(env.KEYCEREMONY_CRASH_AT))) process.kill(process.pid, 'SIGKILL');
}
