#!/usr/bin/env node
// What runs outside Electron, bundled with esbuild (the app's bundles are scripts/build.mjs's):
//
//   dist/cli/keyceremony-<hash>.cjs   the whole command line, one CommonJS file that
//                                     bin/keyceremony.cjs runs (stamp.json says which, and from
//                                     which sources); pkcs11js stays outside, loaded only by a
//                                     command that touches a token
//   dist/keyceremony-verify.mjs       `verify` and `state` in one file with no dependencies, to
//                                     vendor into a pipeline; its SHA-256 is printed to pin it
//   dist/lib/keyceremony.mjs          the library entry (src/lib.ts) for Node applications, with
//   dist/lib/types/                   its declarations (package.json `exports`)
//
// `npm ci` runs this as the package's `prepare` script; bin/keyceremony.cjs runs `--cli` itself
// when the sources changed since. Options:
//   --cli               the command-line bundle and its stamp only
//   --verify-out FILE   the single file only, written to FILE
//   --lib-out DIR       the library only (bundle and declarations), written to DIR
//   --link              also link node_modules/.bin/keyceremony to bin/keyceremony.cjs, as npm
//                       links a dependency's command (npm links none for the project itself)
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdirSync, readdirSync, readlinkSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { build } from 'esbuild';
import stampJs from '../bin/stamp.cjs';

const { contentFingerprint, inputFiles, mtimeFingerprint, writeStamp } = stampJs;

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const NODE_TARGET = 'node20';

/** Settings every bundle here shares: Node, everything but native code inside, no comments kept. */
const COMMON = { absWorkingDir: ROOT, bundle: true, platform: 'node', target: NODE_TARGET, logLevel: 'silent', legalComments: 'none', minifyWhitespace: true, minifySyntax: true, write: false };

/** Writes bytes to a temporary name beside `file`, then renames: readers never see half a file. */
function writeAtomic(file, bytes) {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, bytes);
  renameSync(tmp, file);
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');

/** esbuild's first error as one line, for the messages below. */
function firstError(err) {
  const e = err?.errors?.[0];
  return e === undefined ? String(err?.message ?? err).split('\n')[0] : `${e.location ? `${e.location.file}:${e.location.line}: ` : ''}${e.text}`;
}

/**
 * The command line. CommonJS so that bin/keyceremony.cjs can run it through a V8 code cache; the
 * core finds pkcs11js with createRequire(import.meta.url), so import.meta.url is the bundle's own URL.
 */
export async function buildCli() {
  const files = inputFiles(ROOT);
  const stamp = { mtimes: mtimeFingerprint(ROOT, files), content: contentFingerprint(ROOT, files) }; // before the build: an edit during it rebuilds next time
  const out = await build({
    ...COMMON,
    entryPoints: ['scripts/entries/cli.ts'],
    outfile: 'dist/cli/keyceremony.cjs',
    format: 'cjs',
    external: ['pkcs11js'],
    define: { 'import.meta.url': '__keyceremonyModuleUrl' },
    banner: { js: "'use strict';\nconst __keyceremonyModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  });
  const bytes = out.outputFiles[0].contents;
  const hash = sha256(bytes);
  const name = `keyceremony-${hash.slice(0, 16)}.cjs`;
  const dir = join(ROOT, 'dist', 'cli');
  writeAtomic(join(dir, name), bytes);
  writeStamp(ROOT, { bundle: name, sha256: hash, ...stamp });
  // earlier bundles and their code caches: a process that read the old stamp just now retries
  for (const f of readdirSync(dir)) {
    if (/^keyceremony-[0-9a-f]{16}\.(cjs|v8cache)$/.test(f) && !f.startsWith(name.slice(0, -4))) rmSync(join(dir, f), { force: true });
  }
  return join(dir, name);
}

/**
 * One ES module, no dependencies, `verify` and `state` only. Nothing in it may load pkcs11js:
 * the build fails if the name appears at all.
 */
export async function buildVerifier(outfile = join(ROOT, 'dist', 'keyceremony-verify.mjs')) {
  const out = await build({
    ...COMMON,
    entryPoints: ['scripts/entries/verify.ts'],
    outfile,
    format: 'esm',
    banner: { js: '#!/usr/bin/env node' },
  });
  const bytes = out.outputFiles[0].contents;
  const text = Buffer.from(bytes).toString('utf8');
  if (text.includes('pkcs11js')) throw new Error('the single-file verifier would load pkcs11js: something verify or state imports reaches src/pkcs11/binding.ts');
  if (/\brequire\(/.test(text.replace(/\/\/.*$/gm, ''))) throw new Error('the single-file verifier calls require(): an ES module has none; a dependency in it is CommonJS');
  writeAtomic(outfile, bytes);
  const hex = sha256(bytes);
  writeAtomic(`${outfile}.sha256`, `${hex}  ${relative(dirname(outfile), outfile)}\n`);
  return { file: outfile, sha256: hex };
}

/** src/lib.ts as one ES module, and its declarations by tsc (a development dependency: skipped without it). */
export async function buildLib(outdir = join(ROOT, 'dist', 'lib')) {
  const out = await build({ ...COMMON, entryPoints: ['src/lib.ts'], outfile: join(outdir, 'keyceremony.mjs'), format: 'esm' });
  const text = Buffer.from(out.outputFiles[0].contents).toString('utf8');
  if (text.includes('pkcs11js')) throw new Error('the library would load pkcs11js: something src/lib.ts imports reaches src/pkcs11/binding.ts');
  writeAtomic(join(outdir, 'keyceremony.mjs'), out.outputFiles[0].contents);
  let tsc;
  try {
    tsc = fileURLToPath(import.meta.resolve('typescript/bin/tsc'));
  } catch {
    return { dir: outdir, types: false };
  }
  const types = join(outdir, 'types');
  rmSync(types, { recursive: true, force: true });
  const r = spawnSync(process.execPath, [tsc, '-p', join(ROOT, 'scripts', 'tsconfig.lib.json'), '--outDir', types], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tsc could not write the library's declarations:\n${r.stdout}${r.stderr}`);
  return { dir: outdir, types: true };
}

/** node_modules/.bin/keyceremony → ../../bin/keyceremony.cjs; a file there that is not our link is left alone. */
function linkBin() {
  const bin = join(ROOT, 'node_modules', '.bin');
  if (!existsSync(bin)) return null;
  const link = join(bin, 'keyceremony');
  const target = relative(bin, join(ROOT, 'bin', 'keyceremony.cjs'));
  let st;
  try { st = lstatSync(link); } catch { /* not there yet */ }
  if (st !== undefined) {
    if (!st.isSymbolicLink() || !/^keyceremony\.(c|m)js$/.test(basename(readlinkSync(link))) || readlinkSync(link) === target) return link;
    rmSync(link);
  }
  symlinkSync(target, link);
  return link;
}

async function cli(argv) {
  const { values } = parseArgs({ args: argv, options: { cli: { type: 'boolean' }, 'verify-out': { type: 'string' }, 'lib-out': { type: 'string' }, link: { type: 'boolean' } } });
  const say = (s) => process.stdout.write(`${s}\n`);
  if (values.cli === true) {
    say(`built ${relative(ROOT, await buildCli())}`);
    return;
  }
  if (values['verify-out'] !== undefined || values['lib-out'] !== undefined) {
    if (values['verify-out'] !== undefined) { const v = await buildVerifier(resolve(values['verify-out'])); say(`${v.sha256}  ${v.file}`); }
    if (values['lib-out'] !== undefined) { const l = await buildLib(resolve(values['lib-out'])); say(`built ${l.dir}${l.types ? '' : ' (no declarations: typescript is not installed)'}`); }
    return;
  }
  say(`built ${relative(ROOT, await buildCli())} (the keyceremony command runs it)`);
  const lib = await buildLib();
  say(`built ${relative(ROOT, lib.dir)}/keyceremony.mjs${lib.types ? ` and ${relative(ROOT, lib.dir)}/types/` : ' (no declarations: typescript, a development dependency, is not installed)'}`);
  const v = await buildVerifier();
  say(`built ${relative(ROOT, v.file)}, the single-file verifier; pin it by its SHA-256 (also in ${relative(ROOT, v.file)}.sha256):`);
  say(`${v.sha256}  keyceremony-verify.mjs`);
  if (values.link === true) {
    const l = linkBin();
    if (l !== null) say(`linked ${relative(ROOT, l)}`);
  }
}

if (process.argv[1] !== undefined && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await cli(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`keyceremony build: ${firstError(err)}\n`);
    process.exitCode = 1;
  }
}
