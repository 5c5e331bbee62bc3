/**
 * Issue 18, fast start: `keyceremony` runs a prebuilt bundle of the command line, built by the
 * install (package.json `prepare`) or at the first start, and again whenever the sources change,
 * so a clone works right after `npm ci` and an edit shows at the next start. Run in a copy of the
 * sources (its node_modules a link to ours), so that building and breaking it touches nobody else.
 */
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BIN, ERROR_LINE } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import { envelope, keyNamed, manifestPayload, setPayload, TYPES } from '../support/independent.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let copy: string;
let docs: string[];

const run = (bin: string, args: readonly string[]): CliResult => {
  const r = spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
const copyBin = (): string => join(copy, 'bin', 'keyceremony.cjs');
const stamp = (): { bundle: string; mtimes: string; content: string } => JSON.parse(readFileSync(join(copy, 'dist', 'cli', 'stamp.json'), 'utf8')) as { bundle: string; mtimes: string; content: string };

beforeAll(() => {
  copy = mkdtempSync(join(tmpdir(), 'kc-fast-start-'));
  for (const p of ['bin', 'src', 'scripts/entries', 'scripts/build-cli.mjs', 'package.json', 'tsconfig.json']) cpSync(join(ROOT, p), join(copy, p), { recursive: true });
  symlinkSync(join(ROOT, 'node_modules'), join(copy, 'node_modules'));
  const [alice, bob] = [keyNamed('alice'), keyNamed('bob')];
  mkdirSync(join(copy, 'docs'));
  const set = join(copy, 'docs', 'set.json');
  const manifest = join(copy, 'docs', 'rotation.json');
  writeFileSync(set, JSON.stringify(envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob]]), [alice, bob])));
  writeFileSync(manifest, JSON.stringify(envelope(TYPES.rotation, manifestPayload(), [alice, bob])));
  docs = ['verify', manifest, '--custodians', set, '--at', '2026-12-01T00:00:00Z', '--json'];
});
afterAll(() => rmSync(copy, { recursive: true, force: true }));

describe('the command runs a bundle, built when there is none and when the sources change', () => {
  test('package.json: the command is bin/keyceremony.cjs, and the install builds the bundle (npm ci runs prepare)', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { bin: Record<string, string>; scripts: Record<string, string> };
    expect(pkg.bin).toEqual({ keyceremony: 'bin/keyceremony.cjs' });
    expect(pkg.scripts.prepare).toMatch(/^node scripts\/build-cli\.mjs\b/);
    expect(readFileSync(join(ROOT, 'bin', 'keyceremony.cjs'), 'utf8')).not.toMatch(/\btsx\b/);
  });

  test('a fresh clone without dist/: the first start builds, answers as the CLI does, and leaves a code cache', () => {
    expect(existsSync(join(copy, 'dist'))).toBe(false);
    const first = run(copyBin(), docs);
    expect(first).toEqual(run(BIN, docs));
    expect(first.status).toBe(0);
    const s = stamp();
    expect(s.bundle).toMatch(/^keyceremony-[0-9a-f]{16}\.cjs$/);
    const cache = join(copy, 'dist', 'cli', s.bundle.replace(/\.cjs$/, '.v8cache'));
    expect(statSync(cache).size).toBeGreaterThan(0);
    // the next start runs the same bundle through that cache, which V8 accepts (so it is not written again)
    const before = statSync(cache).mtimeMs;
    expect(run(copyBin(), docs)).toEqual(first);
    expect(stamp().bundle).toBe(s.bundle);
    expect(statSync(cache).mtimeMs).toBe(before);
  });

  test('a source file with a new time and the same bytes (a checkout): no build, the stamp learns the time', () => {
    const s = stamp();
    const file = join(copy, 'src', 'cli', 'main.ts');
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    expect(run(copyBin(), docs).status).toBe(0);
    const t = stamp();
    expect(t.bundle).toBe(s.bundle);
    expect(t.content).toBe(s.content);
    expect(t.mtimes).not.toBe(s.mtimes);
  });

  test('an edited source shows at the next start; the earlier bundle and its cache are removed', () => {
    const old = stamp().bundle;
    const file = join(copy, 'src', 'cli', 'commands', 'verify.ts');
    writeFileSync(file, readFileSync(file, 'utf8').replace("'keyceremony verify FILE --custodians SET", "'keyceremony verify EDITED-FILE --custodians SET"));
    const r = run(copyBin(), ['verify', '--help']);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('keyceremony verify EDITED-FILE --custodians SET');
    expect(stamp().bundle).not.toBe(old);
    expect(existsSync(join(copy, 'dist', 'cli', old))).toBe(false);
    expect(existsSync(join(copy, 'dist', 'cli', old.replace(/\.cjs$/, '.v8cache')))).toBe(false);
  });

  test('sources that do not build: CLI_BUILD_FAILED on one line, exit 3, nothing on stdout', () => {
    const file = join(copy, 'src', 'cli', 'commands', 'verify.ts');
    const good = readFileSync(file, 'utf8');
    writeFileSync(file, `${good}\nexport const broken = ;\n`);
    try {
      const r = run(copyBin(), docs);
      expect([r.status, r.stdout, r.stderr.match(ERROR_LINE)?.[1]]).toEqual([3, '', 'CLI_BUILD_FAILED']);
      expect(r.stderr).toContain('verify.ts');
    } finally {
      writeFileSync(file, good);
    }
    expect(run(copyBin(), docs).status).toBe(0);
  });

  test('without src/ (an installed copy of the build), the bundle named by the stamp runs as it is', () => {
    const moved = join(copy, 'src-away');
    cpSync(join(copy, 'src'), moved, { recursive: true });
    rmSync(join(copy, 'src'), { recursive: true });
    try {
      expect(run(copyBin(), docs)).toEqual(run(BIN, docs));
    } finally {
      cpSync(moved, join(copy, 'src'), { recursive: true });
    }
  });
});
