/**
 * Deleting and listing inside a folder (issue 14 items 5–6): stale temporaries, staging folders
 * and half-written outputs are removed without ever descending into a linked folder or removing
 * anything outside the folder, and link loops (`.a -> .`, `.b -> .`) neither hang nor recurse.
 * The loops are walked in a child process with a time limit: a walk that followed them would
 * block, and a blocked synchronous call cannot be stopped from inside the test's own process.
 */
import { existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { buildFolderAtomically, filesUnder, Folder, removeStaleTemporaries } from '../../src/files.js';
import { expectCode, expectCodeAsync } from '../support/expect-code.js';
import { inChild, mkfifo, snapshot } from './helpers.js';

let base: string;
let root: string;
let outside: string;
let before: Record<string, string>;

const TMP = '0123456789ab'; // the 12 hex digits of writeFileAtomic's temporary names

beforeEach(() => {
  base = mkdtempSync(join(tmpdir(), 'kc-deletes-'));
  root = join(base, 'root');
  outside = join(base, 'outside');
  mkdirSync(root);
  mkdirSync(join(outside, 'dir'), { recursive: true });
  // what a hostile folder's links point at: files named like temporaries, a folder holding more
  writeFileSync(join(outside, `.file.json.${TMP}.tmp`), 'not ours');
  writeFileSync(join(outside, 'dir', `.x.json.${TMP}.tmp`), 'not ours either');
  writeFileSync(join(outside, 'dir', 'keep.txt'), 'keep');
  before = snapshot(outside);
});
afterEach(() => {
  expect(snapshot(outside)).toEqual(before);
  rmSync(base, { recursive: true, force: true });
});

describe('stale temporaries', () => {
  test('only regular temporaries inside the folder are removed; links named like them and linked folders are left', () => {
    mkdirSync(join(root, 'exports'));
    writeFileSync(join(root, `.rotation.json.${TMP}.tmp`), 'half');
    writeFileSync(join(root, 'exports', `.export.json.${TMP}.tmp`), 'half');
    symlinkSync(join(outside, `.file.json.${TMP}.tmp`), join(root, `.x.${TMP}.tmp`));
    symlinkSync(join(outside, 'dir'), join(root, 'linked'));
    symlinkSync(join(outside, 'dir'), join(root, `.linked.${TMP}.tmp`));
    const removed = removeStaleTemporaries(root);
    expect(removed.sort()).toEqual([`.rotation.json.${TMP}.tmp`, `exports/.export.json.${TMP}.tmp`]);
    expect(lstatSync(join(root, `.x.${TMP}.tmp`)).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(root, 'linked')).isSymbolicLink()).toBe(true);
  });
  test('the skipped folders are not entered', () => {
    mkdirSync(join(root, 'softhsm'));
    writeFileSync(join(root, 'softhsm', `.token.${TMP}.tmp`), 'the token store\'s own');
    expect(removeStaleTemporaries(root, ['softhsm'])).toEqual([]);
    expect(existsSync(join(root, 'softhsm', `.token.${TMP}.tmp`))).toBe(true);
  });
  test('.a -> . and .b -> . loops: no hang, nothing outside touched', () => {
    symlinkSync('.', join(root, '.a'));
    symlinkSync('.', join(root, '.b'));
    symlinkSync('..', join(root, '.up'));
    writeFileSync(join(root, `.half.json.${TMP}.tmp`), 'half');
    const r = inChild(`f.removeStaleTemporaries(${JSON.stringify(root)})`);
    expect(r).toEqual({ timedOut: false, value: [`.half.json.${TMP}.tmp`] });
    expect(readdirSync(root).sort()).toEqual(['.a', '.b', '.up']);
  });
  test('a missing folder has none', () => {
    expect(removeStaleTemporaries(join(base, 'none'))).toEqual([]);
  });
});

describe('listing the files to hash and sign', () => {
  test('a link or special file is refused, not followed and not left out', () => {
    writeFileSync(join(root, 'a.json'), '{}');
    symlinkSync(join(outside, 'dir', 'keep.txt'), join(root, 'b.json'));
    expect(expectCode(() => filesUnder(root), 'FOLDER_LINK_REFUSED').exit).toBe(1);
    rmSync(join(root, 'b.json'));
    mkdirSync(join(root, 'sub'));
    symlinkSync(join(outside, 'dir'), join(root, 'sub', 'linked'));
    expectCode(() => filesUnder(root), 'FOLDER_LINK_REFUSED');
    rmSync(join(root, 'sub', 'linked'));
    mkfifo(join(root, 'sub', 'pipe'));
    expectCode(() => Folder.open(root).filesUnder(), 'FOLDER_NOT_REGULAR');
    rmSync(join(root, 'sub', 'pipe'));
    writeFileSync(join(root, 'sub', 'c.json'), '{}');
    expect(filesUnder(root)).toEqual(['a.json', 'sub/c.json']);
  });
  test('loops: hidden ones are skipped, a visible one is refused; neither hangs', () => {
    writeFileSync(join(root, 'a.json'), '{}');
    symlinkSync('.', join(root, '.a'));
    symlinkSync('.', join(root, '.b'));
    expect(inChild(`f.filesUnder(${JSON.stringify(root)})`)).toEqual({ timedOut: false, value: ['a.json'] });
    symlinkSync('.', join(root, 'loop'));
    symlinkSync('.', join(root, 'loop2'));
    expect(inChild(`f.filesUnder(${JSON.stringify(root)})`)).toEqual({ timedOut: false, code: 'FOLDER_LINK_REFUSED', exit: 1 });
  });
});

describe('removing', () => {
  test('a folder holding links to outside folders and loops: the links go, their targets stay', () => {
    const folder = Folder.open(root);
    folder.mkdir('half/sub', { parents: true });
    folder.write('half/sub/a.json', '{}');
    symlinkSync(join(outside, 'dir'), join(root, 'half', 'linked'));
    symlinkSync(join(outside, 'dir', 'keep.txt'), join(root, 'half', 'sub', 'file-link'));
    symlinkSync('.', join(root, 'half', '.a'));
    symlinkSync('..', join(root, 'half', 'sub', '.b'));
    folder.remove('half');
    expect(readdirSync(root)).toEqual([]);
  });
  test('a link named for removal is removed as a link', () => {
    symlinkSync(join(outside, 'dir'), join(root, 'export.json'));
    Folder.open(root).remove('export.json');
    expect(readdirSync(root)).toEqual([]);
  });
  test('something absent is nothing to do', () => {
    Folder.open(root).remove('none/such');
  });
});

describe('staging folders', () => {
  test('a stale staging folder is removed without following its links; a link named like one is left', async () => {
    const stale = join(root, '.out.staging-aaaaaaaaaaaa');
    mkdirSync(stale);
    symlinkSync(join(outside, 'dir'), join(stale, 'linked'));
    symlinkSync(join(outside, 'dir'), join(root, '.out.staging-bbbbbbbbbbbb'));
    symlinkSync('.', join(stale, '.a'));
    await buildFolderAtomically(join(root, 'out'), (staging) => writeFileSync(join(staging, 'x.txt'), 'x'));
    expect(readdirSync(root).sort()).toEqual(['.out.staging-bbbbbbbbbbbb', 'out']);
    expect(readdirSync(join(root, 'out'))).toEqual(['x.txt']);
  });
  test('a failed fill removes the staging folder, links in it as links', async () => {
    await expectCodeAsync(Folder.open(root).buildFolderAtomically('out', (staging) => {
      symlinkSync(join(outside, 'dir'), join(staging.root, 'linked'));
      staging.write('a.json', '{}');
      staging.write('linked/b.json', '{}'); // refused: the fill fails here
    }), 'FOLDER_LINK_REFUSED');
    expect(readdirSync(root)).toEqual([]);
  });
  test('a link put at the output name during the fill is refused, not replaced', async () => {
    mkdirSync(join(outside, 'empty'));
    const snap = snapshot(outside);
    await expectCodeAsync(Folder.open(root).buildFolderAtomically('out', (staging) => {
      staging.write('a.json', '{}');
      symlinkSync(join(outside, 'empty'), join(root, 'out'));
    }), 'FOLDER_LINK_REFUSED');
    expect(readdirSync(root)).toEqual(['out']);
    expect(lstatSync(join(root, 'out')).isSymbolicLink()).toBe(true);
    expect(snapshot(outside)).toEqual(snap);
    rmSync(join(outside, 'empty'), { recursive: true });
  });
});

test('a folder named like a staging folder but not one this layer makes is left alone (only .NAME.staging-<12 hex> is ours)', async () => {
  const root = mkdtempSync(join(tmpdir(), 'kc-staging-names-'));
  try {
    mkdirSync(join(root, '.new.staging-x'));
    writeFileSync(join(root, '.new.staging-x', 'keep.txt'), 'the user\'s');
    mkdirSync(join(root, '.new.staging-0123456789ab'));
    await Folder.open(root).buildFolderAtomically('new', (s) => { s.write('a.txt', 'a'); });
    expect(existsSync(join(root, '.new.staging-x', 'keep.txt'))).toBe(true);
    expect(existsSync(join(root, '.new.staging-0123456789ab'))).toBe(false);
    expect(existsSync(join(root, 'new', 'a.txt'))).toBe(true);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
