/** Rehearsals from the app: `keyceremony ceremony run --rehearse` in an Electron utility process (a process of its own). */
import { utilityProcess } from 'electron';
import { join } from 'node:path';
import type { SpawnCli } from '../../src/api/ceremony-handlers.js';

export function utilitySpawnCli(here: string): SpawnCli {
  return (args) => utilityProcess.fork(join(here, 'cli.cjs'), ['--', ...args], { stdio: 'pipe', serviceName: 'keyceremony rehearsal' });
}
