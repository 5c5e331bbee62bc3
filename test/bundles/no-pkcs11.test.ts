/**
 * Issue 18: verifying needs no native build. pkcs11js is an optional dependency, loaded only by a
 * command that touches a token; the bundle does not require it at start. Here the command-line
 * bundle runs from a copy in a folder with no node_modules above it, where require('pkcs11js')
 * fails: verify, state, audit verify and deploy answer exactly as the installed command does, and
 * token commands fail with PKCS11_UNAVAILABLE on one line, exit 2.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ERROR_LINE, runCli } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import { envelope, keyNamed, manifestPayload, setPayload, TYPES } from '../support/independent.js';
import { auditLogText, K, members, setDoc } from '../hostile/support.js';
import { softHsmModule } from '../support/softhsm.js';
import { AT_REVOKED, baseArgs, IDENTITY_VAR, parseEnvFile, scenario } from '../deploy/support.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
let dir: string;
let bundle: string;
const f: Record<string, string> = {};

const put = (name: string, text: string): string => {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
};
/** The bundle in the folder without node_modules, with no NODE_PATH either. */
function isolated(args: readonly string[], env: NodeJS.ProcessEnv = {}): CliResult {
  const { NODE_PATH: _np, ...rest } = process.env;
  const r = spawnSync(process.execPath, [bundle, ...args], { cwd: dir, env: { ...rest, ...env }, encoding: 'utf8', timeout: 120_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kc-no-pkcs11-'));
  expect(runCli(['--help'], process.env).status).toBe(0); // the installed command: its bundle is current
  const { bundle: name } = JSON.parse(readFileSync(join(ROOT, 'dist', 'cli', 'stamp.json'), 'utf8')) as { bundle: string };
  bundle = join(dir, 'keyceremony.cjs');
  copyFileSync(join(ROOT, 'dist', 'cli', name), bundle);
  const [alice, bob, carol] = [keyNamed('alice'), keyNamed('bob'), keyNamed('carol')];
  f.set = put('set.json', JSON.stringify(envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob], ['carol', carol]]), [alice, bob])));
  const prepare = manifestPayload({ artifacts: [] });
  prepare.keys = (prepare.keys as Record<string, unknown>[]).map((k) => ({ ...k, phase: 'prepare' })); // a history §8 accepts from its start
  f.good = put('good.json', JSON.stringify(envelope(TYPES.rotation, prepare, [alice, bob])));
  f.short = put('short.json', JSON.stringify(envelope(TYPES.rotation, manifestPayload({ artifacts: [] }), [carol])));
  f.auditSet = put('audit-set.json', JSON.stringify(setDoc(1, 2, members('alice', 'bob', 'carol'), [K.alice, K.bob])));
  f.log = put('audit.jsonl', auditLogText(6));
  f.cut = put('cut.jsonl', auditLogText(6).split('\n').slice(0, 3).join('\n'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the command-line bundle where pkcs11js cannot be loaded', () => {
  test('there, require("pkcs11js") fails', () => {
    const r = spawnSync(process.execPath, ['-e', "require('pkcs11js')"], { cwd: dir, env: { ...process.env, NODE_PATH: '' }, encoding: 'utf8' });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("Cannot find module 'pkcs11js'");
  });

  const at = ['--at', '2026-12-01T00:00:00Z'];
  const cases: [string, () => string[]][] = [
    ['verify, valid', () => ['verify', f.good as string, '--custodians', f.set as string, ...at]],
    ['verify --json, threshold not met', () => ['verify', f.short as string, '--custodians', f.set as string, ...at, '--json']],
    ['verify, a file that is not there', () => ['verify', join(dir, 'missing.json'), '--custodians', f.set as string]],
    ['state --json', () => ['state', '--custodians', f.set as string, '--manifests', f.good as string, ...at, '--json']],
    ['state, not valid', () => ['state', '--custodians', f.set as string, '--manifests', f.short as string, ...at]],
    ['audit verify --json', () => ['audit', 'verify', f.log as string, '--custodians', f.auditSet as string, '--json']],
    ['audit verify, a log cut short', () => ['audit', 'verify', f.cut as string, '--custodians', f.auditSet as string]],
  ];
  test.each(cases)('%s: the same exit, stdout and stderr as the installed command', (_what, args) => {
    const a = args();
    const want = runCli(a, process.env);
    expect(isolated(a)).toEqual(want);
  });
  test('and the results are the expected ones, not two equal failures', () => {
    expect(isolated(cases[0]![1]()).status).toBe(0);
    expect(isolated(cases[1]![1]()).status).toBe(1);
    expect(isolated(cases[2]![1]()).status).toBe(2);
    expect(JSON.parse(isolated(cases[3]![1]()).stdout)).toMatchObject({ valid: true, sequence: 1 });
    expect(JSON.parse(isolated(cases[5]![1]()).stdout)).toMatchObject({ valid: true, state: 'checkpointed' });
  });

  test('deploy: the sealed secrets opened and written as by the installed command', () => {
    const sc = scenario();
    try {
      const env = { [IDENTITY_VAR]: sc.identity.text };
      const run = (who: 'isolated' | 'installed') => {
        const out = join(sc.dir, `${who}.env`);
        const args = ['deploy', ...baseArgs(sc, AT_REVOKED), '--format', 'env', '--out', out, '--json'];
        const r = who === 'isolated' ? isolated(args, env) : runCli(args, { ...process.env, ...env });
        return { r: { ...r, stdout: r.stdout.split(out).join('OUT') }, file: parseEnvFile(readFileSync(out, 'utf8')) };
      };
      const a = run('isolated');
      const b = run('installed');
      expect(a.r.status).toBe(0);
      expect(a).toEqual(b);
      expect(a.file.WEBHOOK_SIGNING_SECRET).toBe(sc.secrets['webhook-v2'].toString('hex'));
    } finally {
      rmSync(sc.dir, { recursive: true, force: true });
    }
  });

  test.each([
    ['tokens', ['tokens']],
    ['tokens --json', ['tokens', '--json']],
    ['keygen', ['keygen', 'master', 'pkcs11:token=Ceremony%20HSM;object=master-v1', '--pin-env', 'HSM_PIN']],
  ])('%s: PKCS11_UNAVAILABLE on one line with the fix, exit 2, nothing on stdout', (_what, args) => {
    const r = isolated(args, { KEYCEREMONY_PKCS11_MODULE: softHsmModule(), HSM_PIN: '1234' });
    expect([r.status, r.stdout, r.stderr.match(ERROR_LINE)?.[1]]).toEqual([2, '', 'PKCS11_UNAVAILABLE']);
    expect(r.stderr).toContain('npm rebuild pkcs11js');
  });
});
