/**
 * Fault injection for crash-safety tests: when KEYCEREMONY_CRASHPOINT names a point, the process
 * kills itself with SIGKILL there, as a power cut or `kill -9` would. Unset in real use, where
 * it costs one comparison.
 */
export function crashpoint(name: string): void {
  if (process.env.KEYCEREMONY_CRASHPOINT === name) process.kill(process.pid, 'SIGKILL');
}
