/**
 * Issue 18, one file to vendor: dist/keyceremony-verify.mjs offers `verify` and `state` with the
 * CLI's options, outputs and exit codes, depends on nothing but Node's own modules, and its build
 * prints the SHA-256 to pin it by. (Every CLI test of verify and state also runs through it:
 * test/support/cli.ts requires the same answer from both.)
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ERROR_LINE, runCli } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import { digest, envelope, keyNamed, manifestPayload, setPayload, TYPES } from '../support/independent.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let file: string;
let printed: string;

function vendored(args: readonly string[]): CliResult {
  const r = spawnSync(process.execPath, [file, ...args], { cwd: dir, encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-verifier-'));
  const build = mkdtempSync(join(tmpdir(), 'kc-verifier-build-'));
  const r = spawnSync(process.execPath, [join(ROOT, 'scripts', 'build-cli.mjs'), '--verify-out', join(build, 'keyceremony-verify.mjs')], { encoding: 'utf8', timeout: 120_000 });
  expect(r.status, r.stderr).toBe(0);
  printed = r.stdout;
  // vendored: the file alone, in a folder with no node_modules anywhere above it
  file = join(dir, 'keyceremony-verify.mjs');
  copyFileSync(join(build, 'keyceremony-verify.mjs'), file);
  copyFileSync(join(build, 'keyceremony-verify.mjs.sha256'), `${file}.sha256`);
  rmSync(build, { recursive: true, force: true });
}, 120_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('dist/keyceremony-verify.mjs', () => {
  test('the build prints its SHA-256, and writes it beside the file in sha256sum format', () => {
    const hex = createHash('sha256').update(readFileSync(file)).digest('hex');
    expect(printed).toContain(hex);
    expect(readFileSync(`${file}.sha256`, 'utf8')).toBe(`${hex}  keyceremony-verify.mjs\n`);
    expect(spawnSync('sha256sum', ['-c', 'keyceremony-verify.mjs.sha256'], { cwd: dir, encoding: 'utf8' }).stdout).toBe('keyceremony-verify.mjs: OK\n');
  });

  test('one ES module that imports only node: built-ins, never pkcs11js, and runs as an executable', () => {
    const text = readFileSync(file, 'utf8');
    expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
    const specifiers = [...text.matchAll(/\bimport\s*(?:[\w*{}\s,$]+from\s*)?["']([^"']+)["']|\bimport\(\s*["']([^"']+)["']\s*\)/g)].map((m) => m[1] ?? m[2]);
    expect(specifiers.length).toBeGreaterThan(0);
    expect(specifiers.filter((s) => !s?.startsWith('node:'))).toEqual([]);
    expect(text).not.toContain('pkcs11js');
    expect(text).not.toMatch(/\brequire\(/);
  });

  const [alice, bob, carol] = [keyNamed('alice'), keyNamed('bob'), keyNamed('carol')];
  const set = envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob], ['carol', carol]]), [alice, bob]);
  const put = (name: string, text: string): string => { const p = join(dir, name); writeFileSync(p, text); return p; };
  const at = ['--at', '2026-12-01T00:00:00Z'];

  test('verify and state from the vendored copy: the CLI\'s answers, valid and not', () => {
    const s = put('set.json', JSON.stringify(set));
    const prepare = manifestPayload({ artifacts: [] });
    prepare.keys = (prepare.keys as Record<string, unknown>[]).map((k) => ({ ...k, phase: 'prepare' }));
    const good = put('good.json', JSON.stringify(envelope(TYPES.rotation, prepare, [alice, bob])));
    const short = put('short.json', JSON.stringify(envelope(TYPES.rotation, prepare, [carol])));
    for (const args of [
      ['verify', good, '--custodians', s, '--root-digest', digest(set), ...at, '--json'],
      ['verify', good, '--custodians', s, ...at],
      ['verify', short, '--custodians', s, ...at, '--json'],
      ['verify', good, '--custodians', s, '--root-digest', `sha256:${'0'.repeat(64)}`, ...at],
      ['state', '--custodians', s, '--manifests', good, ...at, '--json'],
      ['state', '--custodians', s, '--manifests', good, short, ...at],
    ]) {
      expect(vendored(args)).toEqual(runCli(args, process.env));
    }
    expect(JSON.parse(vendored(['state', '--custodians', s, '--manifests', good, ...at, '--json']).stdout)).toMatchObject({ valid: true, keys: { MASTER_KEY: { pending: ['master-v7'] } } });
  });

  test('usage: --help lists verify and state; no command is exit 2; another command is USAGE, exit 2, naming the package', () => {
    const help = vendored(['--help']);
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('keyceremony verify FILE --custodians SET');
    expect(help.stdout).toContain('keyceremony state --custodians SET');
    expect(vendored([]).status).toBe(2);
    const other = vendored(['tokens']);
    expect([other.status, other.stdout, other.stderr.match(ERROR_LINE)?.[1]]).toEqual([2, '', 'USAGE']);
    expect(other.stderr).toContain('keyceremony package');
    expect(vendored(['verify', '--help'])).toEqual(runCli(['verify', '--help'], process.env));
    for (const args of [['verify'], ['verify', 'x.json', '--bogus'], ['state', '--custodians', 'a.json'], ['verify', 'x.json', '--pin', '1234']]) {
      expect(vendored(args)).toEqual(runCli(args, process.env));
    }
  });
});
