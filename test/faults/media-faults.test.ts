/**
 * Issue 8: media faults, injected at the file layer (this machine cannot mount a small file
 * system): node:fs functions are swapped in the test process and pushed to every ES module that
 * imported them with module.syncBuiltinESMExports(), Node's own mechanism for this. A full drive
 * (ENOSPC), an I/O error (EIO) on write or on fsync, media pulled mid-write (every later call
 * failing with ENODEV), and a byte flipped on the way back: no file is ever left that claims to be
 * complete, the error names the cause, and the same write works once the fault is gone.
 */
import fs from 'node:fs';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import { writeCustodyFolder } from '../../src/backup/split.js';
import type { SplitResult } from '../../src/backup/split.js';
import { KeyceremonyError } from '../../src/errors.js';
import { writeExport } from '../../src/export/export.js';
import { parseKek } from '../../src/export/kek.js';
import { findTarget } from '../../src/export/targets.js';
import { writeFileAtomic } from '../../src/files.js';
import { generateKeyPairSync } from 'node:crypto';

type FsName = 'writeSync' | 'fsyncSync' | 'renameSync' | 'readFileSync' | 'openSync';
const original = { writeSync: fs.writeSync, fsyncSync: fs.fsyncSync, renameSync: fs.renameSync, readFileSync: fs.readFileSync, openSync: fs.openSync };
let root: string;

function errno(code: string): NodeJS.ErrnoException {
  const e = new Error(`${code}: injected`) as NodeJS.ErrnoException;
  e.code = code;
  return e;
}

/** `name` fails with `code` from its nth call on (once, or for good when `sticky`). */
function fault(name: FsName, nth: number, code: string, sticky = false): void {
  let n = 0;
  const real = original[name] as (...a: unknown[]) => unknown;
  (fs as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
    n++;
    if (n === nth || (sticky && n > nth)) throw errno(code);
    return real.apply(fs, args);
  };
  syncBuiltinESMExports();
}

/** The media is pulled: from the nth write on, every write, fsync, rename and open fails. */
function pulled(nth: number): void {
  let writes = 0;
  let gone = false;
  const wrap = (name: FsName, counts: boolean) => {
    const real = original[name] as (...a: unknown[]) => unknown;
    (fs as unknown as Record<string, unknown>)[name] = (...args: unknown[]) => {
      if (counts && ++writes >= nth) gone = true;
      if (gone) throw errno('ENODEV');
      return real.apply(fs, args);
    };
  };
  wrap('writeSync', true);
  for (const n of ['fsyncSync', 'renameSync', 'openSync'] as const) wrap(n, false);
  syncBuiltinESMExports();
}

function heal(): void {
  Object.assign(fs, original);
  syncBuiltinESMExports();
}

/** What is on the media: a file either complete or absent; no staging or temporary file left. */
function listing(dir: string): string[] {
  try {
    return readdirSync(dir, { recursive: true }).map(String).sort();
  } catch {
    return [];
  }
}

async function refused(p: Promise<unknown> | (() => unknown), code: string): Promise<KeyceremonyError> {
  try {
    await (typeof p === 'function' ? p() : p);
  } catch (err) {
    heal();
    expect(err).toBeInstanceOf(KeyceremonyError);
    expect((err as KeyceremonyError).code).toBe(code);
    return err as KeyceremonyError;
  }
  heal();
  throw new Error(`expected ${code}`);
}

const kek = parseKek(generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'der' }));
const wrapped = { bytes: Buffer.alloc(424, 7), performed: 'token' as const, mechanisms: ['CKM_RSA_PKCS_OAEP', 'CKM_AES_KEY_WRAP_PAD'], kcv: { method: 'ecb' as const, value: 'abcdef' } };
const target = findTarget('aws-rsa-aes-key-wrap-sha256')!;
const plan = (outDir: string) => ({ target, hash: 'sha256' as const, kek, keyUri: 'pkcs11:token=HSM;object=master-v1;type=secret-key', outDir, force: false, importToken: new Uint8Array(64).fill(1) });
const split: SplitResult = {
  ceremony: 'media', backupKey: 'backup-v1', backupKcv: 'abcdef', threshold: 2, paper: [],
  receipts: ['alice', 'bob', 'carol'].map((c, i) => ({ ceremony: 'media', backupKey: 'backup-v1', custodian: c, index: i + 1, threshold: 2, total: 3, commitment: `sha256:${String(i).repeat(64)}`, holder: { kind: 'token' as const, token: `card-${c}`, serial: `${i}` } })),
  blobs: [{ keyId: 'master-v1', kcv: 'abcdef', text: '{"spec":"keyceremony/backup-blob@1"}\n' }],
};

beforeAll(() => { root = mkdtempSync(join(tmpdir(), 'kc-media-')); });
afterEach(heal);
afterAll(() => { heal(); rmSync(root, { recursive: true, force: true }); });

describe('a single file (write, fsync, rename, fsync the folder)', () => {
  test.each([['writeSync', 1, 'ENOSPC'], ['writeSync', 1, 'EIO'], ['fsyncSync', 1, 'EIO'], ['renameSync', 1, 'EXDEV']] as const)('%s failing with %s: nothing left, the cause named', async (name, nth, code) => {
    const dir = mkdtempSync(join(root, 'file-'));
    fault(name, nth, code);
    const err = await refused(() => writeFileAtomic(join(dir, 'rotation.json'), '{"x":1}', false), 'OUTPUT_WRITE_FAILED');
    expect(err.message).toContain(`(${code})`);
    expect(listing(dir)).toEqual([]);
    writeFileAtomic(join(dir, 'rotation.json'), '{"x":1}', false);
    expect(listing(dir)).toEqual(['rotation.json']);
  });
});

describe('an export folder', () => {
  test.each([1, 2, 3])('the drive full at the %ith write: no folder left, and the export works once there is room', async (nth) => {
    const out = join(root, `export-full-${nth}`);
    fault('writeSync', nth, 'ENOSPC');
    await refused(writeExport(plan(out), wrapped), 'OUTPUT_WRITE_FAILED');
    expect(listing(root).filter((f) => f.includes(`export-full-${nth}`))).toEqual([]);
    const rec = await writeExport(plan(out), wrapped);
    expect(listing(out)).toEqual(['EncryptedKeyMaterial.bin', 'ImportToken.bin', 'export.json']);
    expect(rec.files.map((f) => f.path).sort()).toEqual(['EncryptedKeyMaterial.bin', 'ImportToken.bin']);
  });
  test('the media pulled mid-write: no folder claims to be complete (staging removed when the drive returns)', async () => {
    const out = join(root, 'export-pulled');
    pulled(2);
    await refused(writeExport(plan(out), wrapped), 'OUTPUT_WRITE_FAILED');
    expect(listing(root).filter((f) => f.startsWith('export-pulled') || f.startsWith('.export-pulled'))).toEqual([]);
  });
  test('a byte flipped on the way back: the read-back catches it and nothing is left', async () => {
    const out = join(root, 'export-flip');
    const real = original.readFileSync as (...a: unknown[]) => Buffer;
    (fs as unknown as Record<string, unknown>).readFileSync = (...args: unknown[]) => {
      const b = real.apply(fs, args);
      if (String(args[0]).endsWith('EncryptedKeyMaterial.bin')) b[100] = b[100]! ^ 0x01;
      return b;
    };
    syncBuiltinESMExports();
    await refused(writeExport(plan(out), wrapped), 'EXPORT_READBACK_MISMATCH');
    expect(listing(root).filter((f) => f.includes('export-flip'))).toEqual([]);
  });
});

describe('a custody folder', () => {
  test.each([1, 4])('an I/O error at the %ith write: no custody folder left', async (nth) => {
    const out = join(root, `custody-eio-${nth}`);
    fault('writeSync', nth, 'EIO');
    await refused(writeCustodyFolder(out, split, { custodianSet: 1, actor: 'alice', now: Date.parse('2026-11-28T10:00:00Z') }), 'OUTPUT_WRITE_FAILED');
    expect(listing(root).filter((f) => f.includes(`custody-eio-${nth}`))).toEqual([]);
    await writeCustodyFolder(out, split, { custodianSet: 1, actor: 'alice', now: Date.parse('2026-11-28T10:00:00Z') });
    expect(listing(out)).toContain('rotation.json');
  });
});
