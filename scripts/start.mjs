#!/usr/bin/env node
// `npm start`: launches the desktop app with Electron. The Electron shell and React UI are
// built in issue 4; until then this says so plainly instead of failing obscurely.
import { existsSync } from 'node:fs';

const main = new URL('../dist/electron/main.cjs', import.meta.url);
if (!existsSync(main)) {
  process.stderr.write('keyceremony: APP_NOT_BUILT: the desktop app is not part of this version yet (issue 4); ' +
    'use the command line meanwhile: npx keyceremony --help, npx keyceremony demo\n');
  process.exit(2);
}
