/**
 * A secret kept in the HSM (make-secret, keep: token: a generic secret) has one check value
 * wherever it is exported: the first 3 bytes of its FORMATS.md §4 binding, computed in the token
 * (kcvMethod `binding`), the KCV its manifest entry carries. The key is told a generic secret by its
 * CKA_KEY_TYPE, not by its label, so:
 *  - an export step of the kept secret inside a ceremony writes that check value and proves its
 *    folder by the same rule, run through, and resumed after a kill -9 (every step then proven again
 *    from the tokens and files: no CEREMONY_RESUME_MISMATCH);
 *  - `keyceremony export` with the key named by its CKA_ID alone (no label) records the same.
 * The test recovers the secret's bytes with openssl and the KMS key's private half, and recomputes
 * the binding with node:crypto.
 */
import { execFileSync } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TEMPLATES } from '../../src/ceremony/templates.js';
import { runCli } from '../support/cli.js';
import { softHsmModule } from '../support/softhsm.js';
import { makeKeks, opensslUnwrap } from './openssl.js';
import type { TestKek } from './openssl.js';

const ID = 'secret-key-v1';
const TARGETS = [['aws-rsaes-oaep-sha1', false], ['aws-rsa-aes-key-wrap-sha1', true]] as const;
let root: string;
let inputs: string;
let kek: TestKek;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kc-kept-secret-'));
  inputs = join(root, 'inputs');
  mkdirSync(join(inputs, 'kms'), { recursive: true });
  kek = makeKeks(join(inputs, 'kms'), [3072])[3072]!;
  const t = JSON.parse(JSON.stringify(TEMPLATES['keys-in-use'])) as { steps: object[] };
  const script = {
    ...t, id: '2026-12-kept-secret-export', title: 'A secret kept in the HSM, exported in the ceremony',
    steps: [t.steps[0], t.steps[1],
      { id: 'app-secret', action: 'make-secret', actor: 'admin', witness: 'wendy', token: 'hsm', name: 'SECRET_KEY', keyVersion: 1, keep: 'token', recipients: null, out: null },
      { id: 'export-secret', action: 'export', actor: 'admin', token: 'hsm', key: ID, out: 'export', targets: TARGETS.map(([target]) => ({ target, kek: 'kms/kek-3072.pub.pem', kekId: null })) },
      { id: 'manifest', action: 'manifest', actor: 'alice', keyVersion: 1, phase: 'prepare', keys: ['SECRET_KEY'], previous: null, signers: ['alice', 'bob'], out: 'rotation.1.json' }],
  };
  writeFileSync(join(inputs, 'ceremony.json'), JSON.stringify(script, null, 2));
}, 60_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

const rehearse = (dir: string, env: NodeJS.ProcessEnv = {}) =>
  runCli(['ceremony', 'run', join(inputs, 'ceremony.json'), '--rehearse', '--yes', '--allow-network', '--dir', dir, '--inputs', inputs], { ...process.env, ...env });
/** FORMATS.md §4, computed here with node:crypto. */
const binding = (secret: Buffer, id: string): string => `hmac-sha256:${createHmac('sha256', secret).update(Buffer.concat([Buffer.from('keyceremony/binding@1'), Buffer.from([0]), Buffer.from(id)])).digest('hex')}`;
const signedEntry = (dir: string): { binding: string; kcv: string } =>
  (JSON.parse(Buffer.from((JSON.parse(readFileSync(join(dir, 'rotation.1.json'), 'utf8')) as { payload: string }).payload, 'base64').toString('utf8')) as { keys: { id: string; binding: string; kcv: string }[] }).keys.find((k) => k.id === ID)!;

/** Each export of the secret: its check value is the signed binding's, and openssl recovers the bytes the binding is of. */
function checkExports(out: string, signed: { binding: string; kcv: string }): void {
  for (const [target, kwp] of TARGETS) {
    const rec = JSON.parse(readFileSync(join(out, target, 'export.json'), 'utf8')) as { kcv: string; kcvMethod: string };
    expect([target, rec.kcvMethod, rec.kcv]).toEqual([target, 'binding', signed.kcv]);
    const secret = opensslUnwrap(readFileSync(join(out, target, 'EncryptedKeyMaterial.bin')), kek, 'sha1', kwp, root);
    try {
      expect(binding(secret, ID)).toBe(signed.binding);
    } finally {
      secret.fill(0);
    }
  }
}

describe('a kept secret exported in a ceremony', () => {
  let dir: string;

  test('run through: each export carries the binding\'s check value, proven by the same rule', () => {
    dir = join(root, 'through');
    const r = rehearse(dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const signed = signedEntry(dir);
    expect(signed.kcv).toBe(signed.binding.slice('hmac-sha256:'.length, 'hmac-sha256:'.length + 6));
    checkExports(join(dir, 'export'), signed);
  });

  test.each(['step:export-secret:performed', 'checkpoint:signed'])('killed at %s, then resumed: the export step is proven again from the token, no CEREMONY_RESUME_MISMATCH', (point) => {
    const d = join(root, point.replace(/[^a-z0-9]+/gi, '-'));
    expect(rehearse(d, { KEYCEREMONY_CRASHPOINT: point }).status).toBeNull(); // SIGKILL, as a power cut
    const again = rehearse(d);
    expect(again.stderr).toBe('');
    expect(again.status).toBe(0);
    checkExports(join(d, 'export'), signedEntry(d));
  });

  test('keyceremony export of the secret named by its CKA_ID alone: kcvMethod binding, the same check value', () => {
    const pins = JSON.parse(readFileSync(join(dir, 'softhsm', 'rehearsal-pins.json'), 'utf8')) as Record<string, { user: string }>;
    const env = { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm', 'softhsm2.conf'), KEYCEREMONY_PKCS11_MODULE: softHsmModule(), HSM_PIN: pins.hsm!.user, KEYCEREMONY_REMOVABLE_ROOTS: root };
    // the secret's CKA_ID, as OpenSC's pkcs11-tool lists it (independent of the code under test)
    const listing = execFileSync('pkcs11-tool', ['--module', softHsmModule(), '--token-label', 'Ceremony HSM', '--login', '--pin', pins.hsm!.user, '--list-objects', '--type', 'secrkey'], { env, encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
    const block = listing.split(/\n(?=\S)/).find((b) => b.includes(`label:      ${ID}`) || new RegExp(`label:\\s+'?${ID}'?`).test(b))!;
    const id = /ID:\s+([0-9a-f]+)/.exec(block)?.[1];
    expect(id).toMatch(/^[0-9a-f]{32}$/);
    const out = join(root, 'by-id');
    const r = runCli(['export', '--key', `pkcs11:token=Ceremony%20HSM;id=${id!.replace(/../g, '%$&')}`, '--target', 'aws-rsaes-oaep-sha1', '--wrapping-key', kek.pub, '--out', out, '--pin-env', 'HSM_PIN', '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const rec = JSON.parse(readFileSync(join(out, 'export.json'), 'utf8')) as { kcv: string; kcvMethod: string; key: string };
    const signed = signedEntry(dir);
    expect(rec).toMatchObject({ kcvMethod: 'binding', kcv: signed.kcv });
    expect(rec.key).not.toContain('object=');
    const secret = opensslUnwrap(readFileSync(join(out, 'EncryptedKeyMaterial.bin')), kek, 'sha1', false, root);
    expect(binding(secret, ID)).toBe(signed.binding);
    secret.fill(0);
  });
});
