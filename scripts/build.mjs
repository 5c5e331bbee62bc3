#!/usr/bin/env node
// `npm run build`: the renderer with Vite (dist/renderer), main and preload with esbuild
// (dist/electron/main.cjs, dist/electron/cli.cjs for rehearsals, dist/electron/preload.cjs: the preload is one sandboxed CommonJS file).
// KEYCEREMONY_BUILD_OUT (default dist): another folder for the same build, so that tests running side by
// side each build into their own and none reads a file another is rewriting.
import { resolve } from 'node:path';
import { build as esbuild } from 'esbuild';
import { build as vite } from 'vite';

const out = resolve(process.env.KEYCEREMONY_BUILD_OUT ?? 'dist');
await vite({ configFile: new URL('../vite.config.ts', import.meta.url).pathname, logLevel: 'warn', build: { outDir: resolve(out, 'renderer'), emptyOutDir: true } });
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node22', sourcemap: false, logLevel: 'warning', external: ['electron'] };
/** Main and the command line run the core in Node: */
const core = {
  ...common,
  // native code is loaded at run time from node_modules (asar-unpacked when packaged)
  external: ['electron', 'pkcs11js'],
  // the core finds pkcs11js with createRequire(import.meta.url); give the bundle a real URL
  define: { 'import.meta.url': '__keyceremonyModuleUrl' },
  banner: { js: "const __keyceremonyModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
};
await esbuild({ ...core, entryPoints: ['electron/main/index.ts'], outfile: resolve(out, 'electron/main.cjs') });
// the command line, for rehearsals started from the app in a utility process
await esbuild({ ...core, entryPoints: ['electron/main/cli.ts'], outfile: resolve(out, 'electron/cli.cjs') });
await esbuild({ ...common, entryPoints: ['electron/preload/index.ts'], outfile: resolve(out, 'electron/preload.cjs'), platform: 'browser' });
process.stdout.write(`built ${out}/renderer, ${out}/electron/main.cjs, cli.cjs and preload.cjs\n`);
