#!/usr/bin/env node
// The `keyceremony` command. Runs the prebuilt bundle of the command line (dist/cli, built by
// `npm ci`'s prepare step, scripts/build-cli.mjs), so a start costs little more than node's own;
// when the sources changed since that build (bin/stamp.cjs compares), it builds again first, so a
// clone works right after `npm ci` and an edit shows at the next start. A V8 code cache beside
// the bundle, written by the first run of each build, spares compiling it at every start.
// CommonJS, like the bundle: node starts an ES module entry more slowly.
//
// Nothing here loads pkcs11js: only a command that touches a token does.
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file: require is how it imports */
const { readFileSync, renameSync, writeFileSync } = require('node:fs');
const { createRequire } = require('node:module');
const { dirname, join } = require('node:path');
const { Script } = require('node:vm');
const { freshStamp, readStamp } = require('./stamp.cjs');

const ROOT = join(__dirname, '..');
const DIST = join(ROOT, 'dist', 'cli');

/** scripts/build-cli.mjs --cli in a process of its own; what it prints is not this command's output. (child_process is loaded only here: it costs 4 ms.) */
function rebuild() {
  const r = require('node:child_process').spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs'), '--cli'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'], encoding: 'utf8' });
  const stamp = r.status === 0 ? readStamp(ROOT) : null;
  if (stamp !== null) return stamp;
  const why = (r.stderr || r.error?.message || `exit ${r.status}`).trim().split('\n')[0].replace(/^keyceremony build: /, '');
  process.stderr.write(`keyceremony: CLI_BUILD_FAILED: the command line could not be built from src/ (${why}); run npm ci (the build needs esbuild), or see node scripts/build-cli.mjs --cli\n`);
  process.exit(3);
}

/** The bundle the stamp names; if a newer build removed it since the stamp was read, the newer one. */
function load() {
  for (let attempt = 1; ; attempt++) {
    const file = join(DIST, (freshStamp(ROOT) ?? rebuild()).bundle);
    try {
      return { file, source: readFileSync(file, 'utf8') };
    } catch (err) {
      if (err.code !== 'ENOENT' || attempt === 3) throw err;
    }
  }
}

/**
 * Runs the bundle as CommonJS through vm.Script, with V8's code cache when there is one for this
 * very bundle (its name carries the bundle's SHA-256; V8 itself refuses a cache made by another
 * V8 or under other flags). Without one, the cache is written at exit with every function the
 * run compiled.
 */
function run(file, source) {
  const cacheFile = file.replace(/\.cjs$/, '.v8cache');
  let cachedData;
  try { cachedData = readFileSync(cacheFile); } catch { /* the first run of this build */ }
  const script = new Script(`(function (exports, require, module, __filename, __dirname) {${source}\n})`, { filename: file, cachedData });
  if (cachedData === undefined || script.cachedDataRejected === true) {
    process.once('exit', () => {
      try {
        const tmp = `${cacheFile}.${process.pid}.tmp`;
        writeFileSync(tmp, script.createCachedData());
        renameSync(tmp, cacheFile);
      } catch { /* read-only: runs without the cache */ }
    });
  }
  const module = { exports: {} };
  script.runInThisContext()(module.exports, createRequire(file), module, file, dirname(file));
}

const { file, source } = load();
run(file, source);
