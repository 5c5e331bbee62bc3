/**
 * Issue 17: a secret kept in the HSM for a cloud KMS's HMAC import. A ceremony makes SECRET_KEY
 * v1 on the HSM (make-secret, keep: token: CKM_GENERIC_SECRET_KEY_GEN, sensitive, extractable only
 * wrapped) and binds it in its signed manifest; `keyceremony export` wraps it for AWS KMS (a KMS
 * key of KeySpec HMAC_256 and Origin EXTERNAL imports the secret's raw bytes, wrapped like any
 * symmetric key material: KMS-NOTES.md). The test unwraps each export with the openssl CLI and the
 * wrapping key's private half, and the HMAC-SHA256 (node:crypto) under the recovered bytes of
 * `keyceremony/binding@1` 00 id is the binding the custodians signed.
 */
import { createHmac } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { TEMPLATES } from '../../src/ceremony/templates.js';
import { findTarget } from '../../src/export/targets.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { softHsmModule } from '../support/softhsm.js';
import { makeKeks, opensslUnwrap } from './openssl.js';
import type { TestKek } from './openssl.js';

const ID = 'secret-key-v1';
const KEY = `pkcs11:token=Ceremony%20HSM;object=${ID}`;
let root: string;
let dir: string;
let env: NodeJS.ProcessEnv;
let kek: TestKek;
let signed: { binding: string; kcv: string };

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kc-hmac-'));
  kek = makeKeks(root, [3072])[3072]!;
  // the opening of a deployment's first ceremony, then the secret kept in the HSM and its manifest
  const t = JSON.parse(JSON.stringify(TEMPLATES['keys-in-use'])) as { steps: object[] };
  const script = {
    ...t, id: '2026-12-hmac-import', title: 'An HMAC key made in the HSM for AWS KMS',
    steps: [t.steps[0], t.steps[1],
      { id: 'app-secret', action: 'make-secret', actor: 'admin', witness: 'wendy', token: 'hsm', name: 'SECRET_KEY', keyVersion: 1, keep: 'token', recipients: null, out: null },
      { id: 'manifest', action: 'manifest', actor: 'alice', keyVersion: 1, phase: 'prepare', keys: ['SECRET_KEY'], previous: null, signers: ['alice', 'bob'], out: 'rotation.1.json' }],
  };
  const inputs = join(root, 'inputs');
  mkdirSync(inputs);
  writeFileSync(join(inputs, 'ceremony.json'), JSON.stringify(script, null, 2));
  dir = join(root, 'ceremony');
  const r = runCli(['ceremony', 'run', join(inputs, 'ceremony.json'), '--rehearse', '--yes', '--allow-network', '--dir', dir, '--inputs', inputs], process.env);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  const payload = JSON.parse(Buffer.from((JSON.parse(readFileSync(join(dir, 'rotation.1.json'), 'utf8')) as { payload: string }).payload, 'base64').toString('utf8')) as { keys: { id: string; binding: string; kcv: string }[] };
  signed = payload.keys.find((k) => k.id === ID)!;
  // the rehearsal's HSM, as an export after the ceremony opens it
  const pins = JSON.parse(readFileSync(join(dir, 'softhsm', 'rehearsal-pins.json'), 'utf8')) as Record<string, { user: string }>;
  env = { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm', 'softhsm2.conf'), KEYCEREMONY_PKCS11_MODULE: softHsmModule(), HSM_PIN: pins.hsm!.user, KEYCEREMONY_REMOVABLE_ROOTS: root };
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** FORMATS.md §4, computed here with node:crypto over the recovered bytes. */
const binding = (secret: Buffer, id: string): string => `hmac-sha256:${createHmac('sha256', secret).update(Buffer.concat([Buffer.from('keyceremony/binding@1'), Buffer.from([0]), Buffer.from(id)])).digest('hex')}`;

describe('a generic secret made on the HSM, exported for AWS KMS HMAC_256 import', () => {
  test.each([['aws-rsaes-oaep-sha1', 'token'], ['aws-rsa-aes-key-wrap-sha1', 'token'], ['aws-rsa-aes-key-wrap-sha256', 'hybrid']] as const)('%s: openssl recovers the bytes the signed binding is of', (name, wrap) => {
    const target = findTarget(name)!;
    const out = join(root, name);
    const r = runCli(['export', '--key', KEY, '--target', name, '--wrapping-key', kek.pub, '--out', out, '--pin-env', 'HSM_PIN', '--json'], env);
    expect(r.status).toBe(0);
    const record = JSON.parse(readFileSync(join(out, 'export.json'), 'utf8')) as { kcv: string; kcvMethod: string; wrap: string; key: string };
    // the check value of a kept secret is its binding's first 3 bytes, as its manifest entry's
    expect(record).toMatchObject({ kcv: signed.kcv, kcvMethod: 'binding', wrap, key: expect.stringContaining(`object=${ID}`) });
    const secret = opensslUnwrap(readFileSync(join(out, target.file)), kek, target.hash!, target.construction === 'oaep+kwp', root);
    expect(secret).toHaveLength(32);
    expect(binding(secret, ID)).toBe(signed.binding);
    expect(signed.kcv).toBe(signed.binding.slice('hmac-sha256:'.length, 'hmac-sha256:'.length + 6));
  });

  test('RSAES-OAEP with SHA-256 directly is refused on SoftHSM2 (OAEP SHA-1 only), nothing written: the secret never leaves the token in clear', () => {
    const out = join(root, 'refused');
    const r = runCli(['export', '--key', KEY, '--target', 'aws-rsaes-oaep-sha256', '--wrapping-key', kek.pub, '--out', out, '--pin-env', 'HSM_PIN'], env);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain('EXPORT_MECHANISM_UNSUPPORTED');
    expect(existsSync(join(out, 'export.json'))).toBe(false);
  });
});
