/** The keyceremony command as a user runs it, on real SoftHSM2 tokens (issue 2 acceptance). */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TARGETS } from '../../src/export/targets.js';
import { BIN, ERROR_LINE, runCli } from '../support/cli.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const HSM = { label: 'CLI HSM', pin: '31415926', soPin: '27182818' };
let hsm: SoftHsm;
let env: NodeJS.ProcessEnv;

beforeAll(() => {
  hsm = createSoftHsm([HSM], { setProcessEnv: false });
  env = { ...hsm.env, KEYCEREMONY_PKCS11_MODULE: hsm.module, TEST_PIN: HSM.pin, WRONG_PIN: '00000000' };
});
afterAll(() => hsm.cleanup());

/** Objects on the token as OpenSC's pkcs11-tool sees them: an independent witness. */
function objectLabels(): string[] {
  const out = execFileSync('pkcs11-tool', ['--module', hsm.module, '--token-label', HSM.label, '--login', '--pin', HSM.pin, '--list-objects'], { env: hsm.env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  return [...out.matchAll(/label:\s+(.*)/g)].map((m) => m[1]!.trim());
}

describe('keyceremony tokens', () => {
  test('--json prints exactly one JSON object with tokens and mechanisms', () => {
    const r = runCli(['tokens', '--json'], env);
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { module: { path: string; simulation: boolean }; tokens: { label: string; serial: string; flags: Record<string, boolean>; mechanisms: { name: string; id: string; flags: string[] }[] }[] };
    expect(out.module.path).toBe(hsm.module);
    const t = out.tokens.find((x) => x.label === HSM.label)!;
    expect(t.flags.initialized).toBe(true);
    expect(t.mechanisms.map((m) => m.name)).toEqual(expect.arrayContaining(['CKM_AES_KEY_GEN', 'CKM_EDDSA', 'CKM_EC_EDWARDS_KEY_PAIR_GEN', 'CKM_AES_KEY_WRAP_PAD', 'CKM_RSA_PKCS_OAEP']));
    expect(t.mechanisms.find((m) => m.name === 'CKM_EDDSA')).toMatchObject({ id: '0x00001057', flags: expect.arrayContaining(['sign', 'verify']) });
  });
  test('text output names each token', () => {
    const r = runCli(['tokens'], env);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain(`token "${HSM.label}"`);
    expect(r.stdout).toContain('CKM_EDDSA');
  });
  test('an auto-detected SoftHSM2 is used with one warning that it is a simulation', () => {
    const { KEYCEREMONY_PKCS11_MODULE: _drop, ...noModule } = env;
    const r = runCli(['tokens', '--json'], noModule);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).module.simulation).toBe(true);
    expect(r.stderr.match(/warning: .*simulation/g)).toHaveLength(1);
  });
  test('a module path that does not exist: exit 2, naming the path', () => {
    const r = runCli(['tokens', '--module', '/opt/vendor/libmissing.so'], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain('HSM_MODULE_NOT_FOUND');
    expect(r.stderr).toContain('/opt/vendor/libmissing.so');
  });
});

describe('keyceremony keygen', () => {
  const uri = (label: string) => `pkcs11:token=CLI%20HSM;object=${label}`;
  test('master, backup and custodian keys, with KCVs and fingerprints', () => {
    const m = runCli(['keygen', 'master', uri('master-v7'), '--pin-env', 'TEST_PIN', '--json'], env);
    expect(m.stderr).toBe('');
    expect(m.status).toBe(0);
    expect(JSON.parse(m.stdout)).toMatchObject({ kind: 'master', label: 'master-v7', algorithm: 'AES-256', extractable: false, kcv: expect.stringMatching(/^ecb:[0-9a-f]{6}$/) });
    const b = runCli(['keygen', 'backup', uri('backup-v2'), '--pin-env', 'TEST_PIN', '--extractable'], env);
    expect(b.status).toBe(0);
    expect(b.stdout).toMatch(/kcv ecb:[0-9a-f]{6}\s+\(extractable: true\)/);
    const c = runCli(['keygen', 'custodian', uri('erin-sign-v1'), '--pin-env', 'TEST_PIN'], env);
    expect(c.status).toBe(0);
    expect(c.stdout).toMatch(/fingerprint [0-9a-f]{64}/);
    expect(c.stdout).toMatch(/read aloud {2}([a-z]+ ){11}[a-z]+\n/);
    expect(objectLabels()).toEqual(expect.arrayContaining(['master-v7', 'backup-v2', 'erin-sign-v1']));
  });
  test('a bare label works when one token is present', () => {
    const r = runCli(['keygen', 'custodian', 'frank-sign-v1', '--pin-env', 'TEST_PIN', '--json'], env);
    expect(r.status).toBe(0);
    expect(JSON.parse(r.stdout).token).toBe(HSM.label);
  });
  test('wrong PIN: exit 1, one line with HSM_PIN_INCORRECT, no stack trace', () => {
    const r = runCli(['keygen', 'master', uri('master-v8'), '--pin-env', 'WRONG_PIN'], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain('keyceremony: HSM_PIN_INCORRECT: ');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(r.stdout).toBe('');
    expect(objectLabels()).not.toContain('master-v8');
  });
  test('a label that already exists: exit 1, nothing created', () => {
    const before = objectLabels();
    const r = runCli(['keygen', 'master', uri('master-v7'), '--pin-env', 'TEST_PIN'], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain('HSM_OBJECT_EXISTS');
    expect(objectLabels()).toEqual(before);
  });
  test('a PIN is never taken from argv or a URI, and never shown, even with --debug', () => {
    for (const args of [['--pin', HSM.pin], ['--pin=1234'], ['--so-pin', '1']]) {
      const r = runCli(['keygen', 'master', uri('m-x'), ...args], env);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain('PIN_ON_COMMAND_LINE');
    }
    const v = runCli(['keygen', 'master', `${uri('m-x')}?pin-value=${HSM.pin}`, '--pin-env', 'TEST_PIN'], env);
    expect(v.status).toBe(2);
    expect(v.stderr).toContain('URI_PIN_VALUE_REFUSED');
    const d = runCli(['keygen', 'master', uri('master-v7'), '--pin-env', 'TEST_PIN', '--debug'], env);
    expect(d.status).toBe(1);
    expect(d.stderr).toContain('    at '); // --debug shows the stack
    for (const out of [v.stdout, v.stderr, d.stdout, d.stderr]) expect(out).not.toContain(HSM.pin);
  });
  test('no terminal and no --pin-env: exit 2 saying how to give the PIN; an unset variable likewise', () => {
    const r = runCli(['keygen', 'master', uri('m-y')], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('PIN_UNAVAILABLE');
    const u = runCli(['keygen', 'master', uri('m-y'), '--pin-env', 'NO_SUCH_VARIABLE'], env);
    expect(u.status).toBe(2);
    expect(u.stderr).toContain('PIN_ENV_UNSET');
    const bad = runCli(['keygen', 'master', uri('m-y'), '--pin-env', '1234'], env);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('PIN_ENV_INVALID');
    expect(bad.stderr).not.toContain('1234');
  });
  test('usage errors exit 2: unknown command, option, kind, missing argument, bad bits', () => {
    for (const args of [['frobnicate'], ['tokens', '--colour'], ['keygen', 'aes', uri('x')], ['keygen', 'master'], ['keygen', 'rsa', uri('x'), '--bits', '1024'], ['keygen', 'master', 'pkcs11:token=a b']]) {
      const r = runCli(args, env);
      expect([args, r.status]).toEqual([args, 2]);
      expect(r.stderr).toMatch(ERROR_LINE);
    }
    expect(runCli([], env).status).toBe(2);
    expect(runCli(['--help'], env).status).toBe(0);
  });
  test('export --help names every target, as the export refuses any other', () => {
    const r = runCli(['export', '--help'], env);
    expect(r.status).toBe(0);
    const listed = r.stdout.split('\n').filter((l) => l.startsWith('  ')).map((l) => l.trim().split(/\s+/)[0]);
    expect(listed).toEqual(TARGETS.map((t) => t.name));
    expect(listed).toContain('azure-byok');
  });
  test('the PIN prompt on a real terminal does not echo', () => {
    const helper = fileURLToPath(new URL('../support/pty-run.py', import.meta.url));
    const r = spawnSync('python3', [helper, JSON.stringify({ answers: [HSM.pin] }), process.execPath, BIN, 'keygen', 'custodian', uri('gina-sign-v1')], { env, encoding: 'utf8', timeout: 90_000 });
    const report = JSON.parse(r.stdout) as { status: number; output: string };
    expect(report.output).toContain('PIN for token "CLI HSM": ');
    expect(report.output).not.toContain(HSM.pin);
    expect(report.status).toBe(0);
    expect(report.output).toContain('generated custodian key "gina-sign-v1"');
  });
});

describe('keyceremony demo', () => {
  test('exits 0 on its own throw-away tokens, prints the KCVs and three fingerprints, leaves the real token store alone', () => {
    // A "real" SoftHSM2 store for this user, which the demo must not touch.
    const home = mkdtempSync(join(tmpdir(), 'kc-user-'));
    const userTokens = join(home, 'tokens');
    mkdirSync(userTokens);
    writeFileSync(join(home, 'softhsm2.conf'), `directories.tokendir = ${userTokens}\nobjectstore.backend = file\n`);
    const userEnv = { ...process.env, SOFTHSM2_CONF: join(home, 'softhsm2.conf') };
    execFileSync('softhsm2-util', ['--init-token', '--free', '--label', 'users-own', '--so-pin', '12345678', '--pin', '1234'], { env: userEnv });
    const before = readdirSync(userTokens, { recursive: true }).sort();
    const out = join(home, 'demo-out');
    try {
      const r = runCli(['demo', '--dir', out], userEnv);
      expect(r.stderr).toBe('');
      expect(r.status).toBe(0);
      expect(r.stdout.match(/fingerprint [0-9a-f]{64}/g)).toHaveLength(3);
      expect(r.stdout).toMatch(/master-v1 {2}kcv ecb:[0-9a-f]{6} {4}backup-v1 {2}kcv ecb:[0-9a-f]{6}/);
      // issues 7 and 17: the demo is the new-deployment template run as a rehearsal, step by step
      expect(r.stdout.match(/^Step \d+ \(/gm)).toHaveLength(15);
      expect(readdirSync(userTokens, { recursive: true }).sort()).toEqual(before);
      expect(readdirSync(out).sort()).toEqual(['audit.checkpoint.json', 'audit.jsonl', 'ceremony.json', 'custodians.v1.json', 'custody', 'deployment', 'drill.json', 'export', 'kms', 'rotation.1.json', 'rotation.2.json', 'rotation.3.json', 'sealed', 'softhsm', 'transcript.html', 'transcript.md']);
      // issue 7: the audit log verifies with its signed checkpoint; the transcript lists every file with its SHA-256
      const audit = runCli(['audit', 'verify', join(out, 'audit.jsonl'), '--custodians', join(out, 'custodians.v1.json'), '--checkpoint', join(out, 'audit.checkpoint.json'), '--json'], userEnv);
      expect(audit.status).toBe(0);
      expect(JSON.parse(audit.stdout)).toMatchObject({ valid: true, checkpoints: [{ signers: ['alice', 'bob'], verified: true }] });
      const transcript = readFileSync(join(out, 'transcript.md'), 'utf8');
      expect(transcript).toContain(`| drill.json | ${statSync(join(out, 'drill.json')).size} |`);
      expect(transcript).toMatch(/Restoration drill: .*: pass/);
      // issue 6: the drill report the demo leaves verifies against the custodian set
      const drill = runCli(['verify', join(out, 'drill.json'), '--custodians', join(out, 'custodians.v1.json'), '--json'], userEnv);
      expect(drill.status).toBe(0);
      expect(JSON.parse(drill.stdout)).toMatchObject({ valid: true, type: 'drill', signers: ['alice', 'carol'] });
      expect(readdirSync(join(out, 'export'))).toHaveLength(9);
      // the custody folder: its manifest, signed 2-of-3, lists the blob and the three receipts
      const custody = runCli(['verify', join(out, 'custody', 'rotation.json'), '--custodians', join(out, 'custodians.v1.json'), '--artifacts', join(out, 'custody'), '--json'], userEnv);
      expect(JSON.parse(custody.stdout)).toMatchObject({ valid: true, type: 'rotation', signers: ['alice', 'bob'] });
      expect(readdirSync(join(out, 'custody', 'shares', 'backup-v1')).sort()).toEqual(['alice.receipt.json', 'bob.receipt.json', 'carol.receipt.json']);
      // a non-empty --dir is refused
      const again = runCli(['demo', '--dir', out], userEnv);
      expect(again.status).toBe(1);
      expect(again.stderr).toContain('OUTPUT_NOT_EMPTY');
    } finally {
      rmSync(home, { recursive: true, force: true });
    }
  });
  test('--json prints one object; without --dir the temp folder is removed', () => {
    const r = runCli(['demo', '--json'], { ...process.env });
    expect(r.status).toBe(0);
    const out = JSON.parse(r.stdout) as { kept: boolean; dir: string; custodians: unknown[]; master: { kcv: string }; exports: { target: string; wrap: string | null; kcv: string | null; refused: string | null }[] };
    expect(out.kept).toBe(false);
    expect(out.custodians).toHaveLength(3);
    expect(out.master.kcv).toMatch(/^ecb:[0-9a-f]{6}$/);
    // every CLI.md target: exported with the master key's KCV, or (direct SHA-256 OAEP on SoftHSM2) refused
    expect(out.exports).toHaveLength(12);
    expect((out as unknown as { drill: { pass: boolean } }).drill.pass).toBe(true);
    const refused = out.exports.filter((e) => e.refused !== null).map((e) => e.target).sort();
    expect(refused).toEqual(['aws-rsaes-oaep-sha256', 'gcp-rsa-oaep-3072-sha256', 'gcp-rsa-oaep-4096-sha256']);
    for (const e of out.exports.filter((x) => x.refused === null)) expect([e.target, e.kcv]).toEqual([e.target, out.master.kcv.slice(4)]);
    expect(() => readdirSync(out.dir)).toThrow();
  });
});
