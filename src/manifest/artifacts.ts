/**
 * Checking a manifest's artifacts on media (CLI.md `verify --artifacts DIR`): each listed file
 * exists under DIR as a regular file (no symlink anywhere on its path, so nothing outside DIR is
 * read), with the listed size and SHA-256.
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';
import type { Artifact } from './manifest.js';

export function sha256File(path: string): { sha256: string; bytes: number } {
  const h = createHash('sha256');
  const fd = openSync(path, 'r');
  let bytes = 0;
  try {
    const buf = Buffer.alloc(1 << 20);
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
      bytes += n;
    }
  } finally {
    closeSync(fd);
  }
  return { sha256: h.digest('hex'), bytes };
}

export function checkArtifacts(dir: string, artifacts: readonly Artifact[]): Problem[] {
  const out: Problem[] = [];
  artifacts.forEach((a, i) => {
    const path = `artifacts[${i}]`;
    const segs = a.path.split('/');
    let p = dir;
    for (let k = 0; k < segs.length; k++) {
      p = join(p, segs[k] as string);
      let st;
      try {
        st = lstatSync(p);
      } catch {
        out.push(problem('ARTIFACT_MISSING', path, `${a.path} is not on the media`));
        return;
      }
      const last = k === segs.length - 1;
      if (st.isSymbolicLink() || (last ? !st.isFile() : !st.isDirectory())) {
        out.push(problem('ARTIFACT_NOT_REGULAR_FILE', path, `${a.path} is ${st.isSymbolicLink() ? 'behind a symbolic link' : 'not a regular file'}`));
        return;
      }
      if (last && st.size !== a.bytes) {
        out.push(problem('ARTIFACT_SIZE_MISMATCH', path, `${a.path} has ${st.size} bytes, the manifest says ${a.bytes}`));
        return;
      }
    }
    const got = sha256File(p);
    if (got.sha256 !== a.sha256) out.push(problem('ARTIFACT_DIGEST_MISMATCH', path, `${a.path} has SHA-256 ${got.sha256}, the manifest says ${a.sha256}`));
  });
  return out;
}
