/**
 * Issue 14, item 5: a 600 MB audit log ended in "Cannot create a string longer than …" (exit 3,
 * a bug): the log's limit, 1 GiB, was above what V8 holds in one string. Every input limit is now
 * below what the runtime can hold, an input over it is refused with a code and the exit CLI.md
 * gives (1: the input is not what it should be), and the verifier walks a log line by line, never
 * as one string. Each case runs the real command on a sparse file (fs.truncateSync: no disk used)
 * of 600 MB and of one byte over the limit, and measures the process's peak memory: a refused
 * input is refused without being read whole.
 */
import { spawnSync } from 'node:child_process';
import { appendFileSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { MAX_LOG_BYTES } from '../../src/audit/log.js';
import { MAX_ENVELOPE_BYTES } from '../../src/dsse/envelope.js';
import { MAX_KEK_BYTES } from '../../src/export/kek.js';
import { MAX_PARAMS_BYTES } from '../../src/export/params.js';
import { BIN, ERROR_LINE } from '../support/cli.js';
import { manifestPayload } from '../support/independent.js';
import { auditLogText, codesOf, envelope, K, members, put, setDoc, tempDir, TYPES } from './support.js';

const MB600 = 600_000_000;
/** ceremony script limit (src/ceremony/script.ts, not exported) */
const MAX_SCRIPT_BYTES = 256 * 1024;
const AT = '2026-12-01T00:00:00Z';
/** What the CLI's process takes at rest is about 100 MB (node and tsx); reading a 600 MB file whole would take 600 MB more. */
const REFUSED_RSS_MB = 250;

let dir: string;
let setFile: string;
let goodLog: string;
beforeAll(() => {
  dir = tempDir('sizes');
  setFile = put(dir, 'custodians.v1.json', setDoc(1, 2, members('alice', 'bob', 'carol'), [K.alice, K.bob, K.carol]));
  goodLog = put(dir, 'good.jsonl', auditLogText(5));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A sparse file of `size` bytes (zeros), or `head` followed by zeros up to `size`. */
function sparse(name: string, size: number, head = ''): string {
  const path = join(dir, name);
  writeFileSync(path, head);
  truncateSync(path, size);
  return path;
}

interface Measured { status: number | null; stdout: string; stderr: string; rssMB: number }

/** The real command, with its peak resident memory (process.resourceUsage at exit, written to a file by a preloaded hook). */
function run(args: readonly string[]): Measured {
  const rssFile = join(dir, `rss-${process.pid}-${Date.now()}`);
  const hook = `import { writeFileSync } from 'node:fs'; process.on('exit', () => writeFileSync(process.env.KC_RSS_FILE, String(process.resourceUsage().maxRSS)));`;
  const r = spawnSync(process.execPath, ['--import', `data:text/javascript,${encodeURIComponent(hook)}`, BIN, ...args],
    { env: { ...process.env, KC_RSS_FILE: rssFile }, encoding: 'utf8', timeout: 120_000 });
  const rssMB = Number(readFileSync(rssFile, 'utf8')) / 1024;
  rmSync(rssFile);
  return { status: r.status, stdout: r.stdout, stderr: r.stderr, rssMB };
}

/** Refused with `code` on the CLI.md error line, exit `exit`, nothing on stdout, the file never read whole. */
function refusedLine(r: Measured, code: string, exit: 1 | 2 = 1): void {
  expect([r.status, r.stderr.match(ERROR_LINE)?.[1], r.stdout]).toEqual([exit, code, '']);
  expect(r.rssMB).toBeLessThan(REFUSED_RSS_MB);
}

describe(`audit verify: the log's limit is MAX_LOG_BYTES (${MAX_LOG_BYTES} bytes), below V8's longest string`, () => {
  test.each([['600 MB', MB600], ['one byte over the limit', MAX_LOG_BYTES + 1]])('%s: AUDIT_LOG_TOO_LARGE, exit 1, refused by its size before it is read', (_what, size) => {
    const log = sparse(`log-${size}.jsonl`, size);
    refusedLine(run(['audit', 'verify', log]), 'AUDIT_LOG_TOO_LARGE');
    refusedLine(run(['audit', 'verify', log, '--custodians', setFile, '--json']), 'AUDIT_LOG_TOO_LARGE');
  });
  test('a log of exactly the limit is read and walked line by line: good entries, then one line of 64 MiB refused unread, exit 1', () => {
    const text = auditLogText(5, { checkpoint: false });
    const log = sparse('at-limit.jsonl', MAX_LOG_BYTES - 1, text);
    appendFileSync(log, '\n');
    const r = run(['audit', 'verify', log, '--json']);
    expect(r.status).toBe(1);
    const out = JSON.parse(r.stdout) as { entries: number; firstBad: number; problems: { code: string }[] };
    expect([out.entries, out.firstBad, out.problems[0]?.code]).toEqual([5, 6, 'AUDIT_LINE_MALFORMED']);
    // the bytes are read once (64 MiB) and copied by the bounded reader; never decoded as one string
    expect(r.rssMB).toBeLessThan(REFUSED_RSS_MB + 4 * 64);
  });
  test('a 100,001-entry log with its checkpoint, 33 MB, verifies: exit 0', () => {
    const log = put(dir, 'large.jsonl', auditLogText(100_000));
    const r = run(['audit', 'verify', log, '--custodians', setFile, '--at', AT, '--json']);
    expect([r.status, (JSON.parse(r.stdout) as { valid: boolean; entries: number }).entries]).toEqual([0, 100_001]);
  });
  test('a 600 MB checkpoint file or custodian set beside a good log: refused by the document limit, exit 1', () => {
    const big = sparse('big-doc.json', MB600);
    const cp = run(['audit', 'verify', goodLog, '--custodians', setFile, '--at', AT, '--checkpoint', big, '--json']);
    expect(cp.status).toBe(1);
    const problem = (JSON.parse(cp.stdout) as { problems: { code: string; message: string }[] }).problems[0];
    expect([problem?.code, problem?.message]).toEqual(['AUDIT_CHECKPOINT_INVALID', expect.stringContaining('DOCUMENT_TOO_LARGE')]);
    expect(cp.rssMB).toBeLessThan(REFUSED_RSS_MB);
    const chain = run(['audit', 'verify', goodLog, '--custodians', big, '--at', AT]);
    refusedLine(chain, 'CHAIN_INVALID');
    expect(chain.stderr).toContain('DOCUMENT_TOO_LARGE');
  });
});

describe(`documents: the envelope limit is MAX_ENVELOPE_BYTES (${MAX_ENVELOPE_BYTES} bytes)`, () => {
  test.each([['600 MB', MB600], ['one byte over the limit', MAX_ENVELOPE_BYTES + 1]])('%s: verify says DOCUMENT_TOO_LARGE for the document, a set of the chain and --previous, exit 1; status refuses it, exit 1', (_what, size) => {
    const big = sparse(`doc-${size}.json`, size);
    const good = put(dir, 'manifest.json', envelope(TYPES.rotation, manifestPayload(), [K.alice, K.bob]));
    for (const args of [[big, '--custodians', setFile], [good, '--custodians', big], [good, '--custodians', setFile, '--previous', big]]) {
      const r = run(['verify', ...args, '--at', AT, '--json']);
      expect([r.status, codesOf((JSON.parse(r.stdout) as { reasons: string[] }).reasons)]).toEqual([1, expect.arrayContaining(['DOCUMENT_TOO_LARGE'])]);
      expect(r.rssMB).toBeLessThan(REFUSED_RSS_MB);
    }
    refusedLine(run(['status', big, '--custodians', setFile, '--at', AT]), 'DOCUMENT_TOO_LARGE');
  });
});

describe('other inputs: ceremony scripts, import parameters, wrapping keys', () => {
  /** 600 MB, or one byte over the input's own limit */
  test.each([['600 MB', (_limit: number) => MB600], ['one byte over the limit', (limit: number) => limit + 1]])('%s: each refused with its code, exit 1, before any token is opened', (what, size) => {
    const script = sparse(`script-${what}.json`, size(MAX_SCRIPT_BYTES));
    const v = run(['ceremony', 'validate', script, '--json']);
    expect([v.status, (JSON.parse(v.stdout) as { problems: { code: string }[] }).problems[0]?.code]).toEqual([1, 'DOCUMENT_TOO_LARGE']);
    expect(v.rssMB).toBeLessThan(REFUSED_RSS_MB);
    const params = sparse(`params-${what}.json`, size(MAX_PARAMS_BYTES));
    refusedLine(run(['export', '--key', 'master-v1', '--params', params, '--out', join(dir, 'out')]), 'DOCUMENT_TOO_LARGE');
    const kek = sparse(`kek-${what}.pem`, size(MAX_KEK_BYTES));
    refusedLine(run(['export', '--key', 'master-v1', '--target', 'aws-rsaes-oaep-sha256', '--wrapping-key', kek, '--out', join(dir, 'out')]), 'EXPORT_KEK_INVALID');
  });
});
