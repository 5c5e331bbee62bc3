/**
 * The writers that moved to the folder layer (issue 13 §2): an export and a custody folder refuse
 * an output folder that is a link, and an export with --force refuses a link at the name of a file
 * it writes; nothing outside the output changes. No token is needed: the wrapped key is given.
 */
import { generateKeyPairSync } from 'node:crypto';
import { lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { writeCustodyFolder } from '../../src/backup/split.js';
import type { SplitResult } from '../../src/backup/split.js';
import { checkExportFolder, writeExport } from '../../src/export/export.js';
import { parseKek } from '../../src/export/kek.js';
import { findTarget } from '../../src/export/targets.js';
import { expectCode, expectCodeAsync } from '../support/expect-code.js';
import { snapshot } from './helpers.js';

const kek = parseKek(generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'der' }));
const wrapped = { bytes: Buffer.alloc(424, 7), performed: 'token' as const, mechanisms: ['CKM_RSA_PKCS_OAEP', 'CKM_AES_KEY_WRAP_PAD'], kcv: { method: 'ecb' as const, value: 'abcdef' } };
const target = findTarget('aws-rsa-aes-key-wrap-sha256')!;
const plan = (outDir: string, force = false) => ({ target, hash: 'sha256' as const, kek, keyUri: 'pkcs11:token=HSM;object=master-v1;type=secret-key', outDir, force, importToken: new Uint8Array(64).fill(1) });
const split: SplitResult = {
  ceremony: 'links', backupKey: 'backup-v1', backupKcv: 'abcdef', threshold: 2, paper: [],
  receipts: ['alice', 'bob'].map((c, i) => ({ ceremony: 'links', backupKey: 'backup-v1', custodian: c, index: i + 1, threshold: 2, total: 2, commitment: `sha256:${String(i).repeat(64)}`, holder: { kind: 'token' as const, token: `card-${c}`, serial: `${i}` } })),
  blobs: [{ keyId: 'master-v1', kcv: 'abcdef', text: '{"spec":"keyceremony/backup-blob@1"}\n' }],
};
const custody = { custodianSet: 1, actor: 'alice', now: Date.parse('2026-11-28T10:00:00Z') };

let base: string;
let drive: string;
let outside: string;
let before: Record<string, string>;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'kc-outputs-'));
  drive = join(base, 'drive');
  outside = join(base, 'outside');
  mkdirSync(drive);
  mkdirSync(join(outside, 'empty'), { recursive: true });
  writeFileSync(join(outside, 'victim.bin'), 'keep me');
  before = snapshot(outside);
});
afterEach(() => {
  expect(snapshot(outside)).toEqual(before);
  rmSync(base, { recursive: true, force: true });
});

describe('an output folder that is a link', () => {
  test.each([['to an empty folder', 'empty'], ['dangling', 'gone']])('export, %s: FOLDER_LINK_REFUSED, exit 1', async (_what, name) => {
    symlinkSync(join(outside, name), join(drive, 'export'));
    expect(expectCode(() => checkExportFolder(join(drive, 'export'), true), 'FOLDER_LINK_REFUSED').exit).toBe(1);
    for (const force of [false, true]) {
      expect((await expectCodeAsync(writeExport(plan(join(drive, 'export'), force), wrapped), 'FOLDER_LINK_REFUSED')).exit).toBe(1);
    }
    expect(readdirSync(drive)).toEqual(['export']);
  });
  test('an export below a linked folder (exports -> elsewhere): dangling, or on the drive it was given', async () => {
    symlinkSync(join(outside, 'gone'), join(drive, 'exports'));
    await expectCodeAsync(writeExport(plan(join(drive, 'exports', 'aws')), wrapped), 'FOLDER_LINK_REFUSED');
    rmSync(join(drive, 'exports'));
    symlinkSync(join(outside, 'empty'), join(drive, 'exports'));
    expectCode(() => checkExportFolder(join(drive, 'exports', 'aws'), false, drive), 'FOLDER_LINK_REFUSED');
    await expectCodeAsync(writeExport({ ...plan(join(drive, 'exports', 'aws')), drive }, wrapped), 'FOLDER_LINK_REFUSED');
    await expectCodeAsync(writeCustodyFolder(join(drive, 'exports', 'custody'), split, custody, drive), 'FOLDER_LINK_REFUSED');
  });
  test('custody folder: FOLDER_LINK_REFUSED, exit 1, nothing staged', async () => {
    symlinkSync(join(outside, 'empty'), join(drive, 'custody'));
    expect((await expectCodeAsync(writeCustodyFolder(join(drive, 'custody'), split, custody), 'FOLDER_LINK_REFUSED')).exit).toBe(1);
    expect(readdirSync(drive)).toEqual(['custody']);
  });
});

describe('export --force into a folder that has files', () => {
  test('a link at the name of a file it writes is refused; what it wrote is removed, the rest stays', async () => {
    const out = join(drive, 'export');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    symlinkSync(join(outside, 'victim.bin'), join(out, 'ImportToken.bin'));
    await expectCodeAsync(writeExport(plan(out, true), wrapped), 'FOLDER_LINK_REFUSED');
    expect(readdirSync(out).sort()).toEqual(['ImportToken.bin', 'notes.txt']);
    expect(lstatSync(join(out, 'ImportToken.bin')).isSymbolicLink()).toBe(true);
  });
  test('without --force a non-empty folder is refused (exit 1); with it, files of the same name are replaced and others kept', async () => {
    const out = join(drive, 'export');
    mkdirSync(out);
    writeFileSync(join(out, 'notes.txt'), 'mine');
    writeFileSync(join(out, 'export.json'), 'old');
    expect(expectCode(() => checkExportFolder(out, false), 'OUTPUT_NOT_EMPTY').exit).toBe(1);
    await expectCodeAsync(writeExport(plan(out), wrapped), 'OUTPUT_NOT_EMPTY');
    checkExportFolder(out, true);
    const record = await writeExport(plan(out, true), wrapped);
    expect(readdirSync(out).sort()).toEqual(['EncryptedKeyMaterial.bin', 'ImportToken.bin', 'export.json', 'notes.txt']);
    expect(JSON.parse(readFileSync(join(out, 'export.json'), 'utf8'))).toMatchObject({ files: record.files });
    expect(readFileSync(join(out, 'notes.txt'), 'utf8')).toBe('mine');
  });
  test('a custody folder is written whole, its subfolders real folders', async () => {
    const files = await writeCustodyFolder(join(drive, 'new', 'custody'), split, custody);
    expect(files.map((f) => f.path).sort()).toEqual(['backup/master-v1.blob.json', 'shares/backup-v1/alice.receipt.json', 'shares/backup-v1/bob.receipt.json']);
    expect(readdirSync(join(drive, 'new', 'custody')).sort()).toEqual(['backup', 'rotation.json', 'shares']);
  });
});
