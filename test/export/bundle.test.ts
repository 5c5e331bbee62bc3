/** `keyceremony bundle` (issue 5): media for several keys and targets, SHA256SUMS, an unsigned manifest listing every file. */
import { execFileSync } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { runCli } from '../support/cli.js';
import { envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

let hsm: SoftHsm;
let dir: string;
let media: string;
let env: NodeJS.ProcessEnv;
const alice = keyNamed('alice');
const bob = keyNamed('bob');
const kcvs: Record<string, string> = {};

beforeAll(() => {
  hsm = createSoftHsm([{ label: 'Bundle HSM', pin: '10203040', soPin: '12345678' }], { setProcessEnv: false });
  dir = mkdtempSync(join(tmpdir(), 'kc-bundle-'));
  media = join(dir, 'usb');
  mkdirSync(media);
  env = { ...hsm.env, KEYCEREMONY_PKCS11_MODULE: hsm.module, P: '10203040', KEYCEREMONY_REMOVABLE_ROOTS: media };
  for (const bits of [3072, 4096]) writeFileSync(join(dir, `kek-${bits}.pem`), generateKeyPairSync('rsa', { modulusLength: bits }).publicKey.export({ type: 'spki', format: 'pem' }));
  writeFileSync(join(dir, 'set.json'), JSON.stringify(envelope(TYPES.custodians, setPayload(1, 2, [['alice', alice], ['bob', bob]]), [alice, bob])));
  for (const [who, k] of [['alice', alice], ['bob', bob]] as const) writeFileSync(join(dir, `${who}.seed`), k.seed.toString('hex'));
  for (const kind of ['master', 'backup']) {
    const r = runCli(['keygen', kind, `pkcs11:token=Bundle%20HSM;object=${kind}-v2`, '--extractable', '--pin-env', 'P', '--json'], env);
    expect(r.status).toBe(0);
    kcvs[`${kind}-v2`] = (JSON.parse(r.stdout) as { kcv: string }).kcv.slice(4);
  }
}, 120_000);
afterAll(() => { hsm.cleanup(); rmSync(dir, { recursive: true, force: true }); });

const bundleArgs = (out: string) => ['bundle', '--key', 'pkcs11:token=Bundle%20HSM;object=master-v2', '--key', 'pkcs11:token=Bundle%20HSM;object=backup-v2',
  '--target', `aws-rsa-aes-key-wrap-sha256=${join(dir, 'kek-3072.pem')}`, '--target', `vault-transit=${join(dir, 'kek-4096.pem')}`,
  '--out', out, '--custodians', join(dir, 'set.json'), '--ceremony', '2026-q4-export', '--actor', 'alice', '--phase', 'dual-publish', '--pin-env', 'P', '--json'];

test('media with a folder per target and key, SHA256SUMS, and a manifest that verifies once signed', () => {
  const out = join(media, 'ceremony');
  const r = runCli(bundleArgs(out), env);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  for (const t of ['aws-rsa-aes-key-wrap-sha256', 'vault-transit']) for (const k of ['master-v2', 'backup-v2']) expect(existsSync(join(out, t, k, 'export.json'))).toBe(true);
  expect(execFileSync('sha256sum', ['-c', '--strict', 'SHA256SUMS'], { cwd: out, encoding: 'utf8' }).trim().split('\n')).toHaveLength(8);
  const manifest = JSON.parse(readFileSync(join(out, 'rotation.json'), 'utf8')) as { signatures: unknown[]; payload: string };
  expect(manifest.signatures).toEqual([]);
  const payload = JSON.parse(Buffer.from(manifest.payload, 'base64').toString()) as { artifacts: { path: string }[]; keys: { id: string; kcv: string; phase: string; name: string }[] };
  expect(payload.artifacts.map((a) => a.path)).toEqual(expect.arrayContaining(['SHA256SUMS', 'vault-transit/master-v2/ciphertext.txt', 'aws-rsa-aes-key-wrap-sha256/backup-v2/EncryptedKeyMaterial.bin']));
  expect(payload.artifacts).toHaveLength(9);
  expect(payload.keys).toEqual([expect.objectContaining({ id: 'master-v2', name: 'MASTER_KEY', kcv: kcvs['master-v2'], phase: 'dual-publish' }), expect.objectContaining({ id: 'backup-v2', name: 'BACKUP_KEY', kcv: kcvs['backup-v2'] })]);
  // custodians sign, then the media is checked
  const signedA = join(dir, 'r.a.json');
  const signed = join(dir, 'r.ab.json');
  expect(runCli(['sign', join(out, 'rotation.json'), '--software-key', join(dir, 'alice.seed'), '--out', signedA], env).status).toBe(0);
  expect(runCli(['sign', signedA, '--software-key', join(dir, 'bob.seed'), '--out', signed], env).status).toBe(0);
  expect(runCli(['verify', signed, '--custodians', join(dir, 'set.json'), '--artifacts', out], env).status).toBe(0);
  const victim = join(out, 'vault-transit', 'backup-v2', 'ciphertext.txt');
  const bytes = readFileSync(victim);
  bytes[10] = bytes[10]! ^ 1;
  writeFileSync(victim, bytes);
  const bad = runCli(['verify', signed, '--custodians', join(dir, 'set.json'), '--artifacts', out, '--json'], env);
  expect(bad.status).toBe(1);
  expect(JSON.parse(bad.stdout).reasons.join()).toContain('ARTIFACT_DIGEST_MISMATCH');
});

test('a fixed disk is refused unless --allow-fixed-disk, and nothing is left', () => {
  const out = join(dir, 'fixed');
  const r = runCli(bundleArgs(out), env);
  expect(r.status).toBe(1);
  expect(r.stderr).toContain('EXPORT_FIXED_DISK');
  expect(existsSync(out)).toBe(false);
  expect(runCli([...bundleArgs(out), '--allow-fixed-disk'], env).status).toBe(0);
});
