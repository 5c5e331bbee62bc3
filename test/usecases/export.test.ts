/**
 * The export use case (src/usecases/export.ts) on a SoftHSM2 token: the KEK checked for its target,
 * the Azure KEK id refused with one code (EXPORT_KEK_ID_MISSING, exit 2) by the function, `export`,
 * `bundle` and the app's export channel alike, with nothing written; and a whole export through
 * the app's channel.
 */
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { parseKek } from '../../src/export/kek.js';
import { findTarget } from '../../src/export/targets.js';
import type { Target } from '../../src/export/targets.js';
import { checkKek, checkKekId, exportHash } from '../../src/usecases/export.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { expectCode } from '../support/expect-code.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const HSM = { label: 'Usecase HSM', pin: '24681357', soPin: '12345678' };
const KEK_ID = 'https://vault-1.vault.azure.net/keys/kek/0123456789abcdef';
let hsm: SoftHsm;
let drive: string;
let kekPem: string;
let kekFile: string;
let h: Handlers;
/** The drive's handle from the app's drive list (src/api/folders.ts): the app names a drive by it, never by its path. */
let driveHandle: string;
let kcv: string;
const target = (name: string): Target => findTarget(name) as Target;

beforeAll(async () => {
  hsm = createSoftHsm([HSM]);
  drive = realpathSync(mkdtempSync(join(tmpdir(), 'kc-usecases-export-')));
  kekPem = generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
  kekFile = join(drive, 'kek.pem');
  writeFileSync(kekFile, kekPem);
  h = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module, KEYCEREMONY_REMOVABLE_ROOTS: drive }, version: 'test', interfaces: () => [] });
  const k = await h['keys.generate']({ kind: 'master', token: { label: HSM.label }, label: 'master-v3', pin: HSM.pin, extractable: true });
  if (!k.ok) throw new Error(k.error.code);
  const media = await h['media.list']({});
  if (!media.ok || media.value.media[0] === undefined) throw new Error('the drive is not listed');
  driveHandle = media.value.media[0].handle;
  kcv = (k.value.kcv as string).slice('ecb:'.length);
}, 60_000);
afterAll(() => { hsm.cleanup(); rmSync(drive, { recursive: true, force: true }); });

describe('the KEK and its id, before any token', () => {
  const kek = () => parseKek(Buffer.from(kekPem));
  test('Azure without a KEK id, or with one that is not a Key Vault key id: EXPORT_KEK_ID_MISSING, exit 2', () => {
    for (const id of [undefined, '', 'kek-1', 'http://vault-1.vault.azure.net/keys/kek/1', 'https://vault-1.vault.azure.net/secrets/kek/1']) {
      expect(expectCode(() => checkKek(target('azure-byok'), kek(), id), 'EXPORT_KEK_ID_MISSING').exit).toBe(2);
    }
    expect(() => checkKek(target('azure-byok'), kek(), KEK_ID)).not.toThrow();
    expect(() => checkKekId(target('aws-rsa-aes-key-wrap-sha256'), undefined)).not.toThrow();
  });
  test('a KEK of the wrong size for the target is refused first', () => {
    expectCode(() => checkKek(target('vault-transit'), kek(), undefined), 'EXPORT_KEK_SIZE');
  });
  test('the hash: the target\'s own, else the one asked for, else SHA-256', () => {
    expect(exportHash(target('azure-byok'), 'sha256')).toBe('sha1');
    expect(exportHash(target('vault-transit'), 'sha1')).toBe('sha1');
    expect(exportHash(target('vault-transit'), undefined)).toBe('sha256');
  });
});

describe('Azure without its KEK id: one code from the command line and the app', () => {
  test('export, bundle and the export channel all say EXPORT_KEK_ID_MISSING, and write nothing', async () => {
    const env = { ...hsm.env, KEYCEREMONY_PKCS11_MODULE: hsm.module, HSM_PIN: HSM.pin, KEYCEREMONY_REMOVABLE_ROOTS: drive };
    const exportOut = join(drive, 'cli-export');
    const e = runCli(['export', '--key', `pkcs11:token=Usecase%20HSM;object=master-v3`, '--target', 'azure-byok', '--wrapping-key', kekFile, '--out', exportOut, '--pin-env', 'HSM_PIN'], env);
    expect([e.status, e.stderr.match(ERROR_LINE)?.[1]]).toEqual([2, 'EXPORT_KEK_ID_MISSING']);
    const bundleOut = join(drive, 'cli-bundle');
    const b = runCli(['bundle', '--key', `pkcs11:token=Usecase%20HSM;object=master-v3`, '--target', `azure-byok=${kekFile}`, '--out', bundleOut, '--custodians', kekFile,
      '--ceremony', 'c1', '--actor', 'alice', '--pin-env', 'HSM_PIN'], env);
    expect([b.status, b.stderr.match(ERROR_LINE)?.[1]]).toEqual([2, 'EXPORT_KEK_ID_MISSING']);
    const app = await h['export.run']({ token: { label: HSM.label }, keyLabel: 'master-v3', target: 'azure-byok', wrappingKey: kekPem, drive: driveHandle, folder: 'app-export', pin: HSM.pin });
    expect(app).toMatchObject({ ok: false, error: { code: 'EXPORT_KEK_ID_MISSING' } });
    const malformed = await h['export.run']({ token: { label: HSM.label }, keyLabel: 'master-v3', target: 'azure-byok', wrappingKey: kekPem, drive: driveHandle, folder: 'app-export', pin: HSM.pin, kekId: 'kek-1' });
    expect(malformed).toMatchObject({ ok: false, error: { code: 'EXPORT_KEK_ID_MISSING' } });
    for (const d of [exportOut, bundleOut, join(drive, 'app-export')]) expect(existsSync(d)).toBe(false);
  });
});

describe('a whole export through the app', () => {
  test('Azure with its KEK id: the key wrapped in the token, key.byok naming the KEK, export.json the record returned', async () => {
    const r = await h['export.run']({ token: { label: HSM.label }, keyLabel: 'master-v3', target: 'azure-byok', wrappingKey: kekPem, kekId: KEK_ID, drive: driveHandle, folder: 'azure', pin: HSM.pin });
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    expect(r.value).toMatchObject({ dir: join(drive, 'azure'), target: 'azure-byok', kcv, files: [{ path: 'key.byok' }] });
    const byok = JSON.parse(readFileSync(join(drive, 'azure', 'key.byok'), 'utf8')) as { header: { kid: string } };
    expect(byok.header.kid).toBe(KEK_ID);
    const record = JSON.parse(readFileSync(join(drive, 'azure', 'export.json'), 'utf8')) as { key: string; kekId: string; kcv: string };
    expect(record).toMatchObject({ kekId: KEK_ID, kcv });
    expect(record.key).toMatch(/^pkcs11:token=Usecase%20HSM;serial=[0-9a-f]+;object=master-v3;type=secret-key$/);
  });
  test('an AWS export ignores a KEK id it has no use for', async () => {
    const r = await h['export.run']({ token: { label: HSM.label }, keyLabel: 'master-v3', target: 'aws-rsa-aes-key-wrap-sha256', wrappingKey: kekPem, kekId: KEK_ID, drive: driveHandle, folder: 'aws', pin: HSM.pin });
    if (!r.ok) throw new Error(`${r.error.code}: ${r.error.message}`);
    expect(JSON.parse(readFileSync(join(drive, 'aws', 'export.json'), 'utf8'))).not.toHaveProperty('kekId');
  });
});
