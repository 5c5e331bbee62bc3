/**
 * Issue 13 §2, issue 14 items 5–6: the tool never writes, creates or deletes through a link in a
 * folder it was given, and refuses FIFOs, sockets and devices where it writes. Every test builds
 * a real folder with the link or special file in it, next to an "outside" folder holding what a
 * link points at, and checks the code, the exit, and that nothing outside changed.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildFolderAtomically, checkOutputDir, Folder, prepareOutputDir, refuseExisting, writeFileAtomic } from '../../src/files.js';
import { expectCode, expectCodeAsync } from '../support/expect-code.js';
import { mkfifo, snapshot } from './helpers.js';

let base: string;
let root: string;
let outside: string;
let before: Record<string, string>;

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'kc-writes-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(join(outside, 'elsewhere'), { recursive: true });
  writeFileSync(join(outside, 'victim.txt'), 'keep me');
  writeFileSync(join(outside, 'elsewhere', 'kept.json'), '{}');
  before = snapshot(outside);
});
afterEach(() => {
  expect(snapshot(outside)).toEqual(before); // nothing outside the folder under test changed
  rmSync(base, { recursive: true, force: true });
});

/** The links a hostile folder may hold at the name of a file the tool writes: what they point at. */
const DESTINATIONS = {
  'absolute, to a file': () => join(outside, 'victim.txt'),
  'relative, to a file': () => '../outside/victim.txt',
  dangling: () => join(outside, 'not-yet.json'),
  'to a folder': () => join(outside, 'elsewhere'),
};
const destinations = Object.entries(DESTINATIONS);

function noTemporaries(dir: string): void {
  expect(readdirSync(dir).filter((n) => n.endsWith('.tmp'))).toEqual([]);
}

describe('a link at the destination of a write is refused, with or without --force', () => {
  test.each(destinations)('Folder.write: %s', (_what, target) => {
    symlinkSync(target(), join(root, 'out.json'));
    const folder = Folder.open(root);
    for (const force of [false, true]) {
      const err = expectCode(() => folder.write('out.json', '{"new":1}', { force }), 'FOLDER_LINK_REFUSED');
      expect(err.exit).toBe(1);
    }
    expect(lstatSync(join(root, 'out.json')).isSymbolicLink()).toBe(true);
    expect(existsSync(join(outside, 'not-yet.json'))).toBe(false);
    noTemporaries(root);
  });
  test.each(destinations)('writeFileAtomic and refuseExisting: %s', (_what, target) => {
    symlinkSync(target(), join(root, 'out.json'));
    for (const force of [false, true]) {
      expect(expectCode(() => writeFileAtomic(join(root, 'out.json'), 'x', force), 'FOLDER_LINK_REFUSED').exit).toBe(1);
      expectCode(() => refuseExisting(join(root, 'out.json'), force), 'FOLDER_LINK_REFUSED');
    }
    expect(lstatSync(join(root, 'out.json')).isSymbolicLink()).toBe(true);
    noTemporaries(root);
  });
});

describe('a link as a folder on the way is refused', () => {
  beforeEach(() => symlinkSync(join(outside, 'elsewhere'), join(root, 'export')));
  test('write, mkdir, remove, read, list and sub through export -> elsewhere', () => {
    const folder = Folder.open(root);
    expectCode(() => folder.write('export/new.json', '{}'), 'FOLDER_LINK_REFUSED');
    expectCode(() => folder.write('export/kept.json', '{}', { force: true }), 'FOLDER_LINK_REFUSED');
    expectCode(() => folder.mkdir('export/aws', { parents: true }), 'FOLDER_LINK_REFUSED');
    expectCode(() => folder.mkdir('export'), 'FOLDER_LINK_REFUSED');
    expectCode(() => folder.remove('export/kept.json'), 'FOLDER_LINK_REFUSED');
    expectCode(() => folder.read('export/kept.json', 'the file', 1024), 'FOLDER_LINK_REFUSED');
    expectCode(() => folder.list('export'), 'FOLDER_LINK_REFUSED');
    expectCode(() => folder.sub('export'), 'FOLDER_LINK_REFUSED');
    expectCode(() => folder.kind('export/kept.json'), 'FOLDER_LINK_REFUSED');
  });
  test('an output folder below the link, on a drive the tool was given: nothing is created through it', async () => {
    const { folder, rel } = Folder.anchor(join(root, 'export', 'aws'), root);
    expect(rel).toBe('export/aws');
    expectCode(() => folder.checkOutput(rel, false), 'FOLDER_LINK_REFUSED');
    expectCode(() => folder.mkdir(rel, { parents: true }), 'FOLDER_LINK_REFUSED');
    const err = await expectCodeAsync(folder.buildFolderAtomically(rel, () => 'filled'), 'FOLDER_LINK_REFUSED');
    expect(err.exit).toBe(1);
  });
  test('a path outside the drive it must be on', () => {
    for (const path of [base, join(root, '..', 'outside'), '/etc']) expectCode(() => Folder.anchor(path, root), 'FOLDER_PATH_INVALID');
  });
  test('a dangling link on the way to a new output folder: it is not created at the far end', async () => {
    symlinkSync(join(outside, 'new-drive'), join(root, 'usb'));
    expectCode(() => prepareOutputDir(join(root, 'usb', 'ceremony'), false), 'FOLDER_LINK_REFUSED');
    await expectCodeAsync(buildFolderAtomically(join(root, 'usb', 'ceremony'), () => 'filled'), 'FOLDER_LINK_REFUSED');
    expect(existsSync(join(outside, 'new-drive'))).toBe(false);
  });
});

describe('an output folder that is itself a link', () => {
  test.each([['to an empty folder', 'empty'], ['dangling', 'gone']])('%s: a code with exit 1, not ENOTDIR; nothing staged, nothing written', async (_what, name) => {
    if (name === 'empty') mkdirSync(join(outside, name));
    const snap = snapshot(outside);
    const out = join(root, 'export');
    symlinkSync(join(outside, name), out);
    for (const check of [() => checkOutputDir(out, false), () => checkOutputDir(out, true), () => prepareOutputDir(out, true)]) {
      expect(expectCode(check, 'FOLDER_LINK_REFUSED').exit).toBe(1);
    }
    const err = await expectCodeAsync(buildFolderAtomically(out, (staging) => writeFileSync(join(staging, 'a.txt'), 'a')), 'FOLDER_LINK_REFUSED');
    expect(err.exit).toBe(1);
    expect(readdirSync(root)).toEqual(['export']);
    expect(snapshot(outside)).toEqual(snap);
    rmSync(join(outside, name), { recursive: true, force: true });
  });
});

describe('special files and folders at the destination', () => {
  test('a FIFO is refused before it is opened, with or without --force', () => {
    mkfifo(join(root, 'pipe'));
    const folder = Folder.open(root);
    expectCode(() => folder.write('pipe', 'x', { force: true }), 'FOLDER_NOT_REGULAR');
    expectCode(() => writeFileAtomic(join(root, 'pipe'), 'x', false), 'FOLDER_NOT_REGULAR');
    expect(expectCode(() => checkOutputDir(join(root, 'pipe', 'out'), false), 'FOLDER_UNUSABLE').exit).toBe(2);
  });
  test('a folder where a file is written: OUTPUT_EXISTS, and --force does not replace it', () => {
    mkdirSync(join(root, 'out.json'));
    const folder = Folder.open(root);
    expectCode(() => folder.write('out.json', 'x'), 'OUTPUT_EXISTS');
    expectCode(() => folder.write('out.json', 'x', { force: true }), 'FOLDER_WRONG_KIND');
    expect(lstatSync(join(root, 'out.json')).isDirectory()).toBe(true);
  });
  test('a file where a folder is needed', () => {
    writeFileSync(join(root, 'file'), 'x');
    const folder = Folder.open(root);
    expectCode(() => folder.write('file/out.json', 'x'), 'FOLDER_WRONG_KIND');
    expectCode(() => folder.mkdir('file/sub', { parents: true }), 'FOLDER_WRONG_KIND');
    expect(expectCode(() => checkOutputDir(join(root, 'file'), false), 'OUTPUT_NOT_A_FOLDER').exit).toBe(2);
  });
});

describe('paths inside a folder', () => {
  test.each(['..', '../outside/victim.txt', 'a/../../outside/victim.txt', '/etc/passwd', '/tmp', 'a//b', 'a/', './a', 'a/./b', 'nul\0x'])('%j is refused by every operation', (rel) => {
    const folder = Folder.open(root);
    for (const op of [() => folder.write(rel, 'x', { force: true }), () => folder.mkdir(rel, { parents: true }), () => folder.remove(rel), () => folder.read(rel, 'x', 10), () => folder.kind(rel), () => folder.list(rel), () => folder.sub(rel)]) {
      expect(expectCode(op, 'FOLDER_PATH_INVALID').exit).toBe(1);
    }
  });
  test('the empty path names no file to write, create or remove', async () => {
    const folder = Folder.open(root);
    expectCode(() => folder.write('', 'x'), 'FOLDER_PATH_INVALID');
    expectCode(() => folder.mkdir(''), 'FOLDER_PATH_INVALID');
    expectCode(() => folder.remove(''), 'FOLDER_PATH_INVALID');
    await expectCodeAsync(folder.buildFolderAtomically('', () => 1), 'FOLDER_PATH_INVALID');
  });
});

describe('what still works', () => {
  test('write, replace with force, mkdir, read, list, remove; nothing temporary left', () => {
    const folder = Folder.open(root);
    folder.mkdir('exports/aws', { parents: true });
    folder.write('exports/aws/export.json', '{"a":1}', { mode: 0o600 });
    expect(lstatSync(join(root, 'exports/aws/export.json')).mode & 0o777).toBe(0o600);
    expectCode(() => folder.write('exports/aws/export.json', '{"a":2}'), 'OUTPUT_EXISTS');
    folder.write('exports/aws/export.json', '{"a":2}', { force: true });
    expect(Buffer.from(folder.read('exports/aws/export.json', 'the record', 100)).toString()).toBe('{"a":2}');
    expect(folder.list('exports/aws')).toEqual(['export.json']);
    expect(folder.kind('exports')).toBe('folder');
    expect(folder.kind('exports/aws/export.json')).toBe('file');
    expect(folder.kind('exports/gcp/export.json')).toBe('absent');
    expectCode(() => folder.mkdir('a/b'), 'OUTPUT_WRITE_FAILED'); // no parents asked for
    folder.remove('exports');
    expect(readdirSync(root)).toEqual([]);
  });
  test('the folder the user named may be reached through a link (it is resolved once)', () => {
    symlinkSync(root, join(base, 'named'));
    const folder = Folder.open(join(base, 'named'));
    folder.write('a.txt', 'a');
    expect(readFileSync(join(root, 'a.txt'), 'utf8')).toBe('a');
    writeFileAtomic(join(base, 'named', 'b.txt'), 'b', false);
    expect(readFileSync(join(root, 'b.txt'), 'utf8')).toBe('b');
  });
  test('a missing or unusable folder', () => {
    expect(expectCode(() => Folder.open(join(base, 'none')), 'FOLDER_UNUSABLE').exit).toBe(2);
    expectCode(() => Folder.open(join(outside, 'victim.txt')), 'FOLDER_UNUSABLE');
    expectCode(() => writeFileAtomic(join(base, 'none', 'x.json'), 'x', false), 'OUTPUT_WRITE_FAILED');
  });
  test('prepareOutputDir creates the folders on the way, mode 0700 for the output', () => {
    prepareOutputDir(join(root, 'a', 'b'), false);
    expect(lstatSync(join(root, 'a', 'b')).mode & 0o777).toBe(0o700);
    writeFileSync(join(root, 'a', 'b', 'x'), 'x');
    expect(expectCode(() => prepareOutputDir(join(root, 'a', 'b'), false), 'OUTPUT_NOT_EMPTY').exit).toBe(1);
    prepareOutputDir(join(root, 'a', 'b'), true);
  });
  test('buildFolderAtomically: the staged folder renamed into place; an empty folder replaced', async () => {
    mkdirSync(join(root, 'out'));
    const names = await buildFolderAtomically(join(root, 'out'), (staging) => {
      writeFileAtomic(join(staging, 'a.txt'), 'a', false);
      return readdirSync(staging);
    });
    expect(names).toEqual(['a.txt']);
    expect(readdirSync(root)).toEqual(['out']);
    expect(readdirSync(join(root, 'out'))).toEqual(['a.txt']);
    await expectCodeAsync(buildFolderAtomically(join(root, 'out'), () => 1), 'OUTPUT_NOT_EMPTY');
  });
});
