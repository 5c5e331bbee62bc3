/**
 * Reading (issue 13 §2): an input the user names must be a regular file, refused before it is
 * read (INPUT_NOT_REGULAR, exit 2: an unreadable input, CLI.md); a FIFO must not block the tool
 * (run in a child process with a time limit: a blocked open cannot be interrupted from inside);
 * inside a folder, links are refused as for writes.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { Folder, readInput } from '../../src/files.js';
import { expectCode } from '../support/expect-code.js';
import { inChild, mkfifo } from './helpers.js';

let dir: string;
let socket: Server;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'kc-reads-'));
  mkfifo(join(dir, 'fifo'));
  socket = createServer();
  await new Promise<void>((res) => socket.listen(join(dir, 'socket'), res));
  writeFileSync(join(dir, 'plain.json'), '{"a":1}');
  mkdirSync(join(dir, 'folder'));
  symlinkSync(join(dir, 'plain.json'), join(dir, 'link.json'));
});
afterAll(async () => {
  await new Promise<void>((res) => socket.close(() => res()));
  rmSync(dir, { recursive: true, force: true });
});

describe('readInput', () => {
  test('a FIFO is refused at once, not waited on', () => {
    const t0 = Date.now();
    expect(inChild(`f.readInput(${JSON.stringify(join(dir, 'fifo'))}, 'the script', 1024)`, 5000)).toEqual({ timedOut: false, code: 'INPUT_NOT_REGULAR', exit: 2 });
    expect(Date.now() - t0).toBeLessThan(5000);
  }, 10_000);
  test.each([['a socket', 'socket'], ['a folder', 'folder']])('%s is refused with exit 2', (_what, name) => {
    expect(expectCode(() => readInput(join(dir, name), 'the script', 1024), 'INPUT_NOT_REGULAR').exit).toBe(2);
  });
  test('a device (/dev/null, /dev/zero) is refused, not read as empty or endless', () => {
    expect(expectCode(() => readInput('/dev/null', 'the script', 1024), 'INPUT_NOT_REGULAR').exit).toBe(2);
    expect(expectCode(() => readInput('/dev/zero', 'the script', 1024), 'INPUT_NOT_REGULAR').exit).toBe(2);
  });
  test('a missing file is INPUT_UNREADABLE, exit 2', () => {
    expect(expectCode(() => readInput(join(dir, 'none.json'), 'the script', 1024), 'INPUT_UNREADABLE').exit).toBe(2);
  });
  test('a regular file, also through a link the user typed; at most limit + 1 bytes', () => {
    expect(Buffer.from(readInput(join(dir, 'plain.json'), 'the script', 1024)).toString()).toBe('{"a":1}');
    expect(Buffer.from(readInput(join(dir, 'link.json'), 'the script', 1024)).toString()).toBe('{"a":1}');
    expect(readInput(join(dir, 'plain.json'), 'the script', 3)).toHaveLength(4);
  });
});

describe('Folder.read', () => {
  test('a regular file of at most limit bytes', () => {
    const folder = Folder.open(dir);
    expect(Buffer.from(folder.read('plain.json', 'the record', 7)).toString()).toBe('{"a":1}');
    expect(expectCode(() => folder.read('plain.json', 'the record', 6), 'FOLDER_FILE_TOO_LARGE').exit).toBe(1);
  });
  test('a link is refused, even to a file inside the folder', () => {
    expect(expectCode(() => Folder.open(dir).read('link.json', 'the record', 1024), 'FOLDER_LINK_REFUSED').exit).toBe(1);
  });
  test('a FIFO, a socket: refused before they are opened', () => {
    expect(inChild(`f.Folder.open(${JSON.stringify(dir)}).read('fifo', 'the record', 1024)`, 5000)).toEqual({ timedOut: false, code: 'FOLDER_NOT_REGULAR', exit: 1 });
    expect(expectCode(() => Folder.open(dir).read('socket', 'the record', 1024), 'FOLDER_NOT_REGULAR').exit).toBe(1);
  }, 10_000);
  test('a folder where a file is expected; a missing file (exit 2, as readInput)', () => {
    expectCode(() => Folder.open(dir).read('folder', 'the record', 1024), 'FOLDER_WRONG_KIND');
    expect(expectCode(() => Folder.open(dir).read('none.json', 'the record', 1024), 'INPUT_UNREADABLE').exit).toBe(2);
    expect(expectCode(() => Folder.open(dir).read('none/none.json', 'the record', 1024), 'INPUT_UNREADABLE').exit).toBe(2);
  });
});
