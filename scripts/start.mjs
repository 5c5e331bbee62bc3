#!/usr/bin/env node
// `npm start`: build, then launch Electron on dist/electron/main.cjs. Electron fetches its binary
// on first launch; where that cannot happen (an air-gapped or offline machine) this says so.
import { spawn, spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';

const build = spawnSync(process.execPath, ['scripts/build.mjs'], { stdio: 'inherit' });
if (build.status !== 0) process.exit(build.status ?? 1);
let electron;
try {
  electron = createRequire(import.meta.url)('electron'); // the path of the Electron binary
} catch (err) {
  process.stderr.write(`keyceremony: APP_ELECTRON_MISSING: the Electron binary is not installed and could not be fetched (${String(err.message).split('\n')[0]}); ` +
    'run npm start once on a machine with network access (Node >= 22.12), or install a packaged release; the CLI works meanwhile: npx keyceremony --help\n');
  process.exit(2);
}
const child = spawn(electron, ['.'], { stdio: 'inherit' });
child.on('exit', (code, signal) => process.exit(code ?? (signal === null ? 0 : 1)));
