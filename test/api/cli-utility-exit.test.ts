/**
 * Issue 15 item 11: the bundled command line (dist/electron/cli.cjs), run as the app runs it for a
 * rehearsal, ends by itself. In Electron it runs in a utility process whose parent port keeps the
 * event loop alive, so a script that only sets process.exitCode never exits (electron#47228). Here
 * a stand-in parent port, preloaded with --require, does the same: `process.parentPort` and an
 * open handle. The handler side: a rehearsal that never ends is stopped, killed, and its folder freed.
 */
import { execFileSync, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ceremonyHandlers } from '../../src/api/ceremony-handlers.js';
import type { CliProcess } from '../../src/api/ceremony-handlers.js';
import { FolderHandles } from '../../src/api/folders.js';
import { templateText } from '../../src/ceremony/templates.js';

const REPO = realpathSync(new URL('../..', import.meta.url).pathname);
let work: string;
let cli: string;
let standIn: string;

/** Electron's parentPort as far as the event loop sees it: a port object on process, and an open handle that never closes. */
const STAND_IN = `
const { EventEmitter } = require('node:events');
const port = new EventEmitter();
port.postMessage = () => {};
Object.defineProperty(process, 'parentPort', { value: port, enumerable: true });
setInterval(() => {}, 1 << 30);
`;

beforeAll(() => {
  // the bundle as the app ships it (`npm run build`), built into a folder of this file's inside the
  // repository (it finds pkcs11js in node_modules from where it lies), so no other test's build rewrites it mid-run
  mkdirSync(join(REPO, 'test-results'), { recursive: true });
  const here = mkdtempSync(join(REPO, 'test-results', 'cli-exit-'));
  execFileSync(process.execPath, ['scripts/build.mjs'], { cwd: REPO, stdio: 'pipe', env: { ...process.env, KEYCEREMONY_BUILD_OUT: join(here, 'dist') } });
  cli = join(here, 'dist', 'electron', 'cli.cjs');
  standIn = join(here, 'parent-port.cjs');
  writeFileSync(standIn, STAND_IN);
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-cli-exit-')));
}, 120_000);
afterAll(() => {
  rmSync(work, { recursive: true, force: true });
  if (cli !== undefined) rmSync(join(cli, '..', '..', '..'), { recursive: true, force: true });
});

interface Ended { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** Runs `node --require parent-port.cjs FILE -- ARGS` and waits for it to end by itself, or kills it after `limitMs` (then code is null). */
function underParentPort(file: string, args: readonly string[], limitMs: number): Promise<Ended> {
  const t0 = Date.now();
  const child: ChildProcess = spawn(process.execPath, ['--require', standIn, file, '--', ...args], { stdio: ['ignore', 'pipe', 'pipe'], cwd: work });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (c: Buffer) => { stdout += c.toString('utf8'); });
  child.stderr?.on('data', (c: Buffer) => { stderr += c.toString('utf8'); });
  const killer = setTimeout(() => child.kill('SIGKILL'), limitMs);
  return new Promise((resolve) => child.once('close', (code, signal) => { clearTimeout(killer); resolve({ code, signal, stdout, stderr, ms: Date.now() - t0 }); }));
}

describe('the bundled command line under a parent port', () => {
  test('the stand-in holds a process open as Electron\'s port does: a script that only sets exitCode never ends', async () => {
    const script = join(work, 'exit-code-only.cjs');
    writeFileSync(script, 'process.exitCode = 0;\n');
    const r = await underParentPort(script, [], 2_000);
    expect([r.code, r.signal]).toEqual([null, 'SIGKILL']);
  });

  test('a rehearsal ends by itself with exit 0, its last line written, and records its pass', async () => {
    const dir = join(work, 'keys-in-use.rehearsal');
    const scriptFile = join(work, 'keys-in-use.json');
    writeFileSync(scriptFile, templateText('keys-in-use')!); // a first ceremony: no inputs to place beside it
    const rehearsals = join(work, 'rehearsals.jsonl');
    const r = await underParentPort(cli, ['ceremony', 'run', scriptFile, '--rehearse', '--yes', '--allow-network', '--dir', dir, '--inputs', work, '--rehearsals', rehearsals], 90_000);
    expect([r.code, r.signal, r.stderr]).toEqual([0, null, expect.any(String)]);
    // everything written before the exit reached the pipe: the last line is the record of the pass
    expect(r.stdout).toMatch(/\nRehearsal complete: \d+ steps/);
    expect(r.stdout.trimEnd().split('\n').at(-1)).toMatch(new RegExp(`^  rehearsal of sha256:[0-9a-f]{64} recorded in ${rehearsals.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`));
    expect(readFileSync(rehearsals, 'utf8')).toContain('"result":"pass"');
  }, 120_000);

  test('a failed command ends by itself with the exit code and error line it has under plain Node', async () => {
    const bad = join(work, 'bad.json');
    writeFileSync(bad, '{"spec":"x"}');
    const plain = await new Promise<number | null>((resolve) => spawn(process.execPath, [cli, '--', 'ceremony', 'validate', bad], { stdio: 'ignore' }).once('close', resolve));
    expect(plain).toBe(1);
    const r = await underParentPort(cli, ['ceremony', 'validate', bad], 30_000);
    expect([r.code, r.signal]).toEqual([1, null]);
    expect(r.stdout).toContain('DOCUMENT_');
    const usage = await underParentPort(cli, ['ceremony', 'run'], 30_000);
    expect([usage.code, usage.signal]).toEqual([2, null]);
    expect(usage.stderr).toMatch(/^keyceremony: USAGE: .+; .+\n$/);
  }, 60_000);
});

/** A command line that never exits until it is killed, as a utility process under electron#47228 did. */
class StuckProcess extends EventEmitter implements CliProcess {
  readonly stdout = new PassThrough();
  readonly stderr = new PassThrough();
  killed = 0;
  kill(): boolean { this.killed++; setTimeout(() => this.emit('exit', null), 10); return true; }
}

describe('the rehearsal handler', () => {
  test('a rehearsal that does not end in time is killed, reported as REHEARSAL_TIMEOUT, and its folder can be rehearsed again', async () => {
    const procs: StuckProcess[] = [];
    const folders = new FolderHandles({});
    const h = ceremonyHandlers({
      token: () => { throw new Error('no token is opened for a rehearsal'); }, chainOf: () => { throw new Error('unused'); }, interfaces: () => [], asError: (e) => ({ code: 'X', message: String(e), fix: '' }),
      rehearsals: join(work, 'stuck.jsonl'), spawnCli: () => { const p = new StuckProcess(); procs.push(p); return p; }, folders, rehearsalTimeoutMs: 300,
    });
    mkdirSync(join(work, 'stuck'));
    const folder = folders.chosen(join(work, 'stuck'), 'ceremony').handle;
    const script = templateText('keys-in-use')!;
    const { runId, dir } = await h['ceremony.rehearse']({ script, ceremonyFolder: folder });
    expect(existsSync(dir)).toBe(true);
    expect((await h['ceremony.status']({ runId })).state).toBe('running');
    await expect(h['ceremony.rehearse']({ script, ceremonyFolder: folder })).rejects.toMatchObject({ code: 'CEREMONY_ALREADY_RUNNING' });
    let s = await h['ceremony.status']({ runId });
    for (let i = 0; i < 100 && s.state === 'running'; i++) { await new Promise((r) => setTimeout(r, 20)); s = await h['ceremony.status']({ runId }); }
    expect(procs[0]!.killed).toBe(1);
    expect(s.state).toBe('failed');
    expect(s.error?.code).toBe('REHEARSAL_TIMEOUT');
    const again = await h['ceremony.rehearse']({ script, ceremonyFolder: folder });
    expect(again.runId).not.toBe(runId);
    procs[1]!.stdout.end('Rehearsal complete: 0 steps\n');
    procs[1]!.emit('exit', 0);
    expect((await h['ceremony.status']({ runId: again.runId })).state).toBe('done');
  });
});
