/**
 * Issue 14 item 9: the renderer names folders only by the handles the main process gave out, from
 * its drive list and its folder dialog (src/api/folders.ts). The handler table over a real
 * SoftHSM2 token; a temporary folder stands in for the removable drive (KEYCEREMONY_REMOVABLE_ROOTS),
 * and the folder dialog is a function that answers with a folder this test made.
 */
import { generateKeyPairSync, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { Result } from '../../src/api/contract.js';
import { child, FOLDER_DIALOGS } from '../../src/api/folders.js';
import { createHandlers } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { expectCode } from '../support/expect-code.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { ok } from '../support/result.js';

const HSM = { label: 'Folder HSM', pin: '24681357', soPin: '12345678' };
const TARGET = 'gcp-rsa-oaep-3072-sha256-aes-256';
const HANDLE = /^[0-9a-f]{32}$/;

let hsm: SoftHsm;
let work: string;
let drive: string;
let fixed: string;
let kekPem: string;
let h: Handlers;
const env: NodeJS.ProcessEnv = {};
/** What the folder dialog answers next (null: cancelled), and the titles it was opened with. */
const dialog = { next: null as string | null, titles: [] as string[] };

const codeOf = (r: Result<unknown>): string => (r.ok ? 'ok' : r.error.code);
const forged = (): string => randomBytes(16).toString('hex');

/** The user chooses `dir` in the dialog opened for `purpose`; the renderer gets its handle. */
async function choose(dir: string, purpose: 'ceremony' | 'stand-in-drive'): Promise<string> {
  dialog.next = dir;
  const r = ok(await h['folders.choose']({ purpose }));
  if (r.folder === null) throw new Error('cancelled');
  return r.folder.handle;
}
async function driveHandle(): Promise<string> {
  const media = ok(await h['media.list']({})).media;
  expect(media.map((m) => m.mountPoint)).toEqual([drive]);
  return media[0]!.handle;
}
const exportTo = (driveHandle: string, folder: string, more: Record<string, unknown> = {}) =>
  h['export.run']({ token: { label: HSM.label }, keyLabel: 'master-x', target: TARGET, wrappingKey: kekPem, drive: driveHandle, folder, pin: HSM.pin, ...more });

beforeAll(async () => {
  hsm = createSoftHsm([HSM]);
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-api-folders-')));
  drive = join(work, 'usb');
  fixed = join(work, 'fixed');
  for (const d of [drive, fixed]) mkdirSync(d);
  Object.assign(env, { KEYCEREMONY_PKCS11_MODULE: hsm.module, KEYCEREMONY_REMOVABLE_ROOTS: drive });
  kekPem = generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
  h = createHandlers({ env, version: 'test', interfaces: () => [], rehearsals: join(work, 'rehearsals.jsonl'),
    spawnCli: () => { throw new Error('no rehearsal may start in this file'); },
    chooseFolder: async ({ title }) => { dialog.titles.push(title); return dialog.next; } });
  ok(await h['keys.generate']({ kind: 'master', token: { label: HSM.label }, label: 'master-x', pin: HSM.pin, extractable: true }));
}, 60_000);
afterAll(() => { hsm.cleanup(); rmSync(work, { recursive: true, force: true }); });

describe('the renderer cannot name a folder', () => {
  test('a path string where a folder is expected is a malformed request, on every channel that takes a folder', async () => {
    const script = templateText('monthly-jwt-rotation')!;
    for (const path of [drive, '/etc', '../usb', 'usb', `${drive}/`, forged().toUpperCase(), `${forged()}/..`]) {
      const requests: [keyof Handlers, Record<string, unknown>][] = [
        ['export.run', { token: { label: HSM.label }, keyLabel: 'master-x', target: TARGET, wrappingKey: kekPem, drive: path, folder: 'p', pin: HSM.pin }],
        ['backup.splitFinish', { splitId: forged(), hsm: { label: HSM.label }, hsmPin: HSM.pin, chain: ['{}'], actor: 'alice', drive: path, folder: 'p' }],
        ['drill.begin', { manifest: '{}', chain: ['{}'], drive: path, folder: 'p', allowFixedDisk: true }],
        ['ceremony.rehearse', { script, ceremonyFolder: path, allowNetwork: true }],
        ['ceremony.start', { script, ceremonyFolder: path, noRehearsal: true }],
      ];
      for (const [channel, request] of requests) expect([channel, path, codeOf(await h[channel](request))]).toEqual([channel, path, 'IPC_BAD_REQUEST']);
    }
    // the members that carried paths before are gone, not ignored
    const d = await driveHandle();
    expect(codeOf(await exportTo(d, 'p', { mountPoint: drive }))).toBe('IPC_BAD_REQUEST');
    expect(codeOf(await h['ceremony.start']({ script, dir: work, noRehearsal: true }))).toBe('IPC_BAD_REQUEST');
    expect(readdirSync(drive)).toEqual([]);
  });
  test('a folder made on a drive is named by one plain path segment', async () => {
    const d = await driveHandle();
    for (const name of ['', '.', '..', '../x', 'a/b', 'a\\b', '/abs', 'a\u0000b', 'a\nb', 'a\u007fb', '.hidden', 'x'.repeat(65)]) {
      expect([name, codeOf(await exportTo(d, name))]).toEqual([name, 'IPC_BAD_REQUEST']);
    }
    // and again where the name is used, whatever let it through
    for (const name of ['', '.', '..', 'a/b', 'a\\b', 'a\u0001b']) expectCode(() => child(drive, name), 'IPC_FOLDER_INVALID');
    expect(child(drive, 'export-1')).toBe(join(drive, 'export-1'));
    expect(readdirSync(drive)).toEqual([]);
  });
  test('a forged or unknown handle is IPC_FOLDER_UNKNOWN, before a token or a file is touched', async () => {
    const script = templateText('monthly-jwt-rotation')!;
    for (const handle of [forged(), '0'.repeat(32)]) {
      expect(codeOf(await exportTo(handle, 'f'))).toBe('IPC_FOLDER_UNKNOWN');
      expect(codeOf(await exportTo(handle, 'f', { allowFixedDisk: true }))).toBe('IPC_FOLDER_UNKNOWN');
      expect(codeOf(await h['backup.splitFinish']({ splitId: forged(), hsm: { label: HSM.label }, hsmPin: HSM.pin, chain: ['{}'], actor: 'alice', drive: handle, folder: 'f' }))).toBe('IPC_FOLDER_UNKNOWN');
      expect(codeOf(await h['drill.begin']({ manifest: '{}', chain: ['{}'], drive: handle, folder: 'f', allowFixedDisk: true }))).toBe('IPC_FOLDER_UNKNOWN');
      expect(codeOf(await h['ceremony.rehearse']({ script, ceremonyFolder: handle, allowNetwork: true }))).toBe('IPC_FOLDER_UNKNOWN');
      expect(codeOf(await h['ceremony.start']({ script, ceremonyFolder: handle, noRehearsal: true }))).toBe('IPC_FOLDER_UNKNOWN');
    }
    expect(readdirSync(drive)).toEqual([]);
  });
});

describe('handles the main process gave out', () => {
  test('a handle from the drive list works: the export lands in the named folder on that drive, and the drive keeps its handle while it is listed', async () => {
    const d = await driveHandle();
    expect(d).toMatch(HANDLE);
    const r = ok(await exportTo(d, 'listed'));
    expect(r.dir).toBe(join(drive, 'listed'));
    expect(existsSync(join(drive, 'listed', 'wrapped-key.bin'))).toBe(true);
    expect(await driveHandle()).toBe(d);
  });
  test('a drive that leaves the list: EXPORT_DRIVE_MISSING, and once the list is read again its handle is withdrawn; back in the list, it has a new one', async () => {
    const d = await driveHandle();
    env.KEYCEREMONY_REMOVABLE_ROOTS = '';
    try {
      expect(codeOf(await exportTo(d, 'gone'))).toBe('EXPORT_DRIVE_MISSING');
      expect(ok(await h['media.list']({})).media).toEqual([]);
      expect(codeOf(await exportTo(d, 'gone'))).toBe('IPC_FOLDER_UNKNOWN');
    } finally {
      env.KEYCEREMONY_REMOVABLE_ROOTS = drive;
    }
    const again = await driveHandle();
    expect(again).not.toBe(d);
    expect(codeOf(await exportTo(d, 'gone'))).toBe('IPC_FOLDER_UNKNOWN');
    expect(existsSync(join(drive, 'gone'))).toBe(false);
  });
  test('a fixed-disk folder: only one the user chose in the dialog to stand in for the drive, and only for a rehearsal (allowFixedDisk)', async () => {
    const standIn = await choose(fixed, 'stand-in-drive');
    expect(dialog.titles.at(-1)).toBe(FOLDER_DIALOGS['stand-in-drive'].title);
    expect(standIn).toMatch(HANDLE);
    expect(codeOf(await exportTo(standIn, 'rehearsal'))).toBe('EXPORT_FIXED_DISK');
    expect(existsSync(join(fixed, 'rehearsal'))).toBe(false);
    expect(ok(await exportTo(standIn, 'rehearsal', { allowFixedDisk: true })).dir).toBe(join(fixed, 'rehearsal'));
    // the drill reads a custody folder from it under the same rule (its manifest is what is wrong here)
    expect(codeOf(await h['drill.begin']({ manifest: '{}', chain: ['{}'], drive: standIn, folder: 'rehearsal' }))).toBe('EXPORT_FIXED_DISK');
    expect(codeOf(await h['drill.begin']({ manifest: '{}', chain: ['{}'], drive: standIn, folder: 'rehearsal', allowFixedDisk: true }))).toMatch(/^(DOCUMENT|CHAIN)_/);
    // allowFixedDisk does not open any other folder: a ceremony folder is not a drive
    const ceremony = await choose(fixed, 'ceremony');
    expect(codeOf(await exportTo(ceremony, 'other', { allowFixedDisk: true }))).toBe('IPC_FOLDER_UNKNOWN');
    expect(existsSync(join(fixed, 'other'))).toBe(false);
  });
  test('each handle serves its own use: a drive or a stand-in is not a ceremony folder, and a ceremony folder is not a drive', async () => {
    const script = templateText('monthly-jwt-rotation')!;
    for (const handle of [await driveHandle(), await choose(fixed, 'stand-in-drive')]) {
      expect(codeOf(await h['ceremony.start']({ script, ceremonyFolder: handle, noRehearsal: true }))).toBe('IPC_FOLDER_UNKNOWN');
      expect(codeOf(await h['ceremony.rehearse']({ script, ceremonyFolder: handle, allowNetwork: true }))).toBe('IPC_FOLDER_UNKNOWN');
    }
    const ceremony = await choose(fixed, 'ceremony');
    expect(dialog.titles.at(-1)).toBe(FOLDER_DIALOGS.ceremony.title);
    expect(codeOf(await h['backup.splitFinish']({ splitId: forged(), hsm: { label: HSM.label }, hsmPin: HSM.pin, chain: ['{}'], actor: 'alice', drive: ceremony, folder: 'f', allowFixedDisk: true })))
      .toBe('IPC_FOLDER_UNKNOWN');
    // the ceremony folder itself gets past the folder check (the script's tokens, not on this module, are what stops it now: no PIN is asked at the start)
    expect(codeOf(await h['ceremony.start']({ script, ceremonyFolder: ceremony, noRehearsal: true }))).toBe('HSM_TOKEN_NOT_FOUND');
  });
  test('a ceremony folder removed after it was chosen is CEREMONY_FOLDER_INVALID', async () => {
    const dir = join(work, 'removed');
    mkdirSync(dir);
    const handle = await choose(dir, 'ceremony');
    rmSync(dir, { recursive: true });
    expect(codeOf(await h['ceremony.start']({ script: templateText('monthly-jwt-rotation')!, ceremonyFolder: handle, noRehearsal: true }))).toBe('CEREMONY_FOLDER_INVALID');
  });
  test('a folder name that is a link on the drive (a hostile drive) is refused, and nothing is written where it points', async () => {
    const elsewhere = join(work, 'elsewhere');
    mkdirSync(elsewhere);
    symlinkSync(elsewhere, join(drive, 'link'));
    try {
      expect(codeOf(await exportTo(await driveHandle(), 'link'))).toBe('IPC_FOLDER_INVALID');
      expect(readdirSync(elsewhere)).toEqual([]);
    } finally {
      rmSync(join(drive, 'link'));
    }
  });
});

describe('the folder dialog (folders.choose)', () => {
  test('cancelled: no folder, and no handle', async () => {
    dialog.next = null;
    expect(ok(await h['folders.choose']({ purpose: 'ceremony' }))).toEqual({ folder: null });
  });
  test('the folder chosen comes back by its real path, with a new handle each time it is chosen', async () => {
    symlinkSync(fixed, join(work, 'fixed-link'));
    dialog.next = join(work, 'fixed-link');
    const a = ok(await h['folders.choose']({ purpose: 'ceremony' })).folder;
    expect(a).toEqual({ handle: expect.stringMatching(HANDLE), path: fixed });
    const b = ok(await h['folders.choose']({ purpose: 'ceremony' })).folder;
    expect(b?.handle).not.toBe(a?.handle);
  });
  test('what a broken dialog may give is refused: a relative path, a file, nothing there', async () => {
    writeFileSync(join(work, 'a-file'), 'x');
    for (const p of ['relative/folder', join(work, 'a-file'), join(work, 'nothing-here'), '']) {
      dialog.next = p;
      expect([p, codeOf(await h['folders.choose']({ purpose: 'ceremony' }))]).toEqual([p, 'IPC_FOLDER_INVALID']);
    }
  });
  test('a purpose the main process does not know is a malformed request', async () => {
    for (const purpose of ['drive', 'export', '', 'CEREMONY']) expect(codeOf(await h['folders.choose']({ purpose }))).toBe('IPC_BAD_REQUEST');
    expect(codeOf(await h['folders.choose']({ purpose: 'ceremony', path: fixed }))).toBe('IPC_BAD_REQUEST');
  });
  test('without a dialog (a table built with none), choosing is IPC_FOLDER_UNAVAILABLE', async () => {
    const bare = createHandlers({ env, version: 'test', interfaces: () => [] });
    expect(codeOf(await bare['folders.choose']({ purpose: 'ceremony' }))).toBe('IPC_FOLDER_UNAVAILABLE');
  });
  test('folders chosen long ago are withdrawn: at most 32 are kept, the oldest goes first', async () => {
    const first = await choose(fixed, 'ceremony');
    const handles = [];
    for (let i = 0; i < 32; i++) handles.push(await choose(fixed, 'ceremony'));
    expect(codeOf(await h['ceremony.start']({ script: templateText('monthly-jwt-rotation')!, ceremonyFolder: first, noRehearsal: true }))).toBe('IPC_FOLDER_UNKNOWN');
    expect(codeOf(await h['ceremony.start']({ script: templateText('monthly-jwt-rotation')!, ceremonyFolder: handles[0]!, noRehearsal: true }))).toBe('HSM_TOKEN_NOT_FOUND');
  });
});
