// Whether dist/cli holds a bundle of the sources as they are now. Shared by the command
// (bin/keyceremony.cjs, at every start, so it must cost about a millisecond) and the build
// (scripts/build-cli.mjs, which writes the stamp). CommonJS: node loads it faster than a module.
//
// The stamp records, taken before the bundle was built, two fingerprints of the inputs:
// - `mtimes`: each input file's path, size and modification time: cheap, checked at every start;
// - `content`: the SHA-256 of every input file's path and bytes, checked only when `mtimes`
//   differs (a checkout or an unpacked copy gives unchanged files new times; only a change of
//   content builds again).
'use strict';
/* eslint-disable @typescript-eslint/no-require-imports -- a CommonJS file: require is how it imports */
const { readdirSync, readFileSync, renameSync, statSync, writeFileSync } = require('node:fs');
const { join } = require('node:path');

/** What the command-line bundle is built from (besides node_modules: package.json pins the versions; the lock is not in a packed copy). */
const INPUT_DIRS = ['src', 'scripts/entries'];
const INPUT_FILES = ['package.json', 'scripts/build-cli.mjs', 'bin/stamp.cjs'];
const STAMP = 'dist/cli/stamp.json';

/**
 * Each input file's path relative to root, in the order the directories list them (the content
 * fingerprint sorts); [] when src/ is absent (an install without sources). Plain string paths, no
 * path.join: this runs at every start.
 */
function inputFiles(root) {
  const files = [];
  const walk = (rel) => {
    for (const e of readdirSync(`${root}/${rel}`, { withFileTypes: true })) {
      if (e.isDirectory()) walk(`${rel}/${e.name}`);
      else files.push(`${rel}/${e.name}`);
    }
  };
  for (const dir of INPUT_DIRS) {
    try {
      walk(dir);
    } catch (err) {
      if (dir === 'src' && err.code === 'ENOENT') return [];
      if (err.code !== 'ENOENT') throw err;
    }
  }
  return [...files, ...INPUT_FILES];
}

/** A line per input file: path, size, mtime (a file that is gone leaves none). */
function mtimeFingerprint(root, files = inputFiles(root)) {
  let out = '';
  for (const f of files) {
    const st = statSync(`${root}/${f}`, { throwIfNoEntry: false });
    if (st !== undefined && st.isFile()) out += `${f}\0${st.size}\0${st.mtimeMs}\n`;
  }
  return out;
}

/** sha256:<hex> over each input file's path, length and bytes. */
function contentFingerprint(root, files = inputFiles(root)) {
  const h = require('node:crypto').createHash('sha256'); // loaded only when the times differ
  for (const f of [...files].sort()) {
    let bytes;
    try { bytes = readFileSync(join(root, f)); } catch (err) { if (err.code === 'ENOENT' || err.code === 'EISDIR') continue; throw err; }
    h.update(`${f}\0${bytes.length}\0`).update(bytes);
  }
  return `sha256:${h.digest('hex')}`;
}

function readStamp(root) {
  try {
    const s = JSON.parse(readFileSync(join(root, STAMP), 'utf8'));
    return typeof s?.bundle === 'string' && /^keyceremony-[0-9a-f]{16}\.cjs$/.test(s.bundle) ? s : null;
  } catch {
    return null;
  }
}

/** Written to a temporary name and renamed: a reader sees the old stamp or the new one, never half. */
function writeStamp(root, stamp) {
  const tmp = join(root, `${STAMP}.${process.pid}.tmp`);
  writeFileSync(tmp, `${JSON.stringify(stamp, null, 1)}\n`);
  renameSync(tmp, join(root, STAMP));
}

/**
 * The stamp, when the bundle it names was built from the inputs as they are now; else null.
 * Without sources (src/ absent) a stamp is taken as it is.
 */
function freshStamp(root) {
  const stamp = readStamp(root);
  if (stamp === null) return null;
  const files = inputFiles(root);
  if (files.length === 0) return stamp;
  const mtimes = mtimeFingerprint(root, files);
  if (stamp.mtimes === mtimes) return stamp;
  if (stamp.content !== contentFingerprint(root, files)) return null;
  // the same bytes with new times (a checkout, a copy): keep the times, so the next start is cheap again
  const again = { ...stamp, mtimes };
  try { writeStamp(root, again); } catch { /* read-only: the content is compared at each start */ }
  return again;
}

module.exports = { STAMP, inputFiles, mtimeFingerprint, contentFingerprint, readStamp, writeStamp, freshStamp };
