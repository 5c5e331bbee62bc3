/**
 * Issue 13: the engine trusts nothing the ceremony folder holds. Tried as someone with write access
 * to the folder would (a shared USB stick, a folder prepared the day before):
 *  - a planted, hash-chained but unauthenticated log (a foreign script digest; this script's digest
 *    with invented check values; one that claims the ceremony finished) is refused, and nothing is
 *    signed or written;
 *  - a planted export folder, a symlink at each output name, a planted token-store configuration,
 *    an unrelated file: refused by code, never exit 3, nothing outside the folder touched;
 *  - after a real interruption (kill -9), the resume proves each done step from the tokens and
 *    files: a key deleted from its token, a sealed secret replaced, an export folder changed, a
 *    journal entry changed by one byte or one added, a drill report that does not verify: each
 *    stops the run with its code.
 */
import { createHash, generateKeyPairSync } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { appendFileSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { formatEntry, GENESIS } from '../../src/audit/log.js';
import type { AuditEntry } from '../../src/audit/log.js';
import { encrypt } from '../../src/age/age.js';
import { DEMO_TEMPLATE } from '../../src/ceremony/demo.js';
import { parseScript } from '../../src/ceremony/script.js';
import { templateText } from '../../src/ceremony/templates.js';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { seedDeployment, seedKeks } from '../support/ceremony-state.js';
import { softHsmModule } from '../support/softhsm.js';

const TEMPLATE = templateText(DEMO_TEMPLATE) as string;
const script = parseScript(new TextEncoder().encode(TEMPLATE));
let root: string;
let outside: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'kc-planted-'));
  outside = join(root, 'elsewhere');
  mkdirSync(outside);
  writeFileSync(join(outside, 'keep.txt'), 'not the ceremony\'s');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

/**
 * A demo folder as a user prepares it: the script, its KMS keys and the test deployment whose
 * recipient the script seals its secrets to (the demo would write them). For `ceremony run`, the
 * recipient only: the deployment's identity is never in a ceremony folder.
 */
function prepared(name: string, o: { identity?: boolean } = {}): string {
  const dir = join(root, name);
  seedKeks(dir);
  seedDeployment(dir, o);
  writeFileSync(join(dir, 'ceremony.json'), TEMPLATE);
  return dir;
}

/** Every path under dir (links not followed) with its content's SHA-256: what "nothing written" compares. */
function snapshot(dir: string): Record<string, string> {
  const out: Record<string, string> = {};
  const walk = (rel: string): void => {
    for (const n of readdirSync(join(dir, rel)).sort()) {
      const r = rel === '' ? n : `${rel}/${n}`;
      const st = lstatSync(join(dir, r));
      if (st.isDirectory()) walk(r);
      else out[r] = st.isSymbolicLink() ? 'link' : createHash('sha256').update(readFileSync(join(dir, r))).digest('hex');
    }
  };
  walk('');
  return out;
}

function demo(dir: string, env: NodeJS.ProcessEnv = {}, force = false): { status: number | null; code: string | null; stderr: string } {
  const r = runCli(['demo', '--dir', dir, ...(force ? ['--force'] : [])], { ...process.env, ...env });
  return { status: r.status, code: /^keyceremony: ([A-Z0-9_]+):/.exec(r.stderr)?.[1] ?? null, stderr: r.stderr };
}

/** A hash-chained log anyone can write: valid chain, no MACs. */
function plantLog(dir: string, drafts: readonly Omit<AuditEntry, 'seq' | 'prev' | 'hash' | 'time'>[]): void {
  let prev = GENESIS;
  const lines = drafts.map((d, i) => {
    const { line, hash } = formatEntry({ seq: i + 1, time: '2026-11-30T06:00:00Z', actor: d.actor, action: d.action, keys: d.keys, details: d.details, prev });
    prev = hash;
    return line;
  });
  writeFileSync(join(dir, 'audit.jsonl'), `${lines.join('\n')}\n`);
}

const forged = (digest: string) => [
  { actor: 'admin', action: 'log.create', keys: [], details: { log: 'ab'.repeat(16) } },
  { actor: 'admin', action: 'ceremony.start', keys: [], details: { ceremony: script.id, script: digest, clock: '2026-11-30T06:00:00Z', simulation: true } },
  ...script.steps.slice(0, 3).map((s) => ({ actor: s.actor, action: 'step.done', keys: s.id === 'master-key' ? ['master-v1'] : [], details: { step: s.id, title: 'done', outcome: 'kcv ecb:ffffff', lines: [], ...(s.id === 'master-key' ? { kcv: 'ffffff' } : {}) } })),
];

function expectRefused(r: { status: number | null; code: string | null; stderr: string }, code: string): void {
  expect(r.code).toBe(code);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(ERROR_LINE);
}

describe('a fresh folder with planted contents is refused, and nothing is signed or written', () => {
  test.each([
    ['a foreign script digest', `sha256:${'0'.repeat(64)}`, 'CEREMONY_LOG_FOREIGN'],
    ["this script's digest and invented check values", script.digest, 'CEREMONY_LOG_UNAUTHENTIC'],
  ])('a hash-chained, unauthenticated log with %s', (_what, digest, code) => {
    const dir = prepared(`log-${code}`);
    plantLog(dir, forged(digest));
    const before = snapshot(dir);
    expectRefused(demo(dir), code);
    expect(snapshot(dir)).toEqual(before); // no token store made, nothing signed
  });

  test('a planted log that claims the ceremony finished (ending in a checkpoint)', () => {
    const dir = prepared('log-finished');
    plantLog(dir, [...forged(script.digest), { actor: 'admin', action: 'checkpoint', keys: [], details: { envelope: '{}', custodianSet: 1 } }]);
    const before = snapshot(dir);
    expectRefused(demo(dir), 'CEREMONY_LOG_UNAUTHENTIC');
    expect(snapshot(dir)).toEqual(before);
  });

  test.each([
    ['export.json is null', 'null'],
    ['export.json claims another check value', JSON.stringify({ target: 'aws-rsaes-oaep-sha1', kcv: 'ffffff', files: [] })],
  ])('a planted export folder: %s', (_what, text) => {
    const dir = prepared(`export-${text.length}`);
    mkdirSync(join(dir, 'export', 'aws-rsaes-oaep-sha1'), { recursive: true });
    writeFileSync(join(dir, 'export', 'aws-rsaes-oaep-sha1', 'export.json'), text);
    const before = snapshot(dir);
    expectRefused(demo(dir, {}, true), 'CEREMONY_FOLDER_UNEXPECTED');
    expect(snapshot(dir)).toEqual(before);
  });

  test.each(['audit.jsonl', 'custodians.v1.json', 'rotation.1.json', 'rotation.2.json', 'rotation.3.json', 'sealed', 'export', 'custody', 'drill.json', 'audit.checkpoint.json', 'transcript.md', 'transcript.html', 'softhsm'])('a symlink at the output name %s', (name) => {
    const dir = prepared(`link-${name}`);
    symlinkSync(['export', 'custody', 'sealed', 'softhsm'].includes(name) ? outside : join(outside, 'keep.txt'), join(dir, name));
    const before = [snapshot(dir), snapshot(outside)];
    const r = demo(dir, {}, true);
    expect(['FOLDER_LINK_REFUSED', 'CEREMONY_LOG_FOREIGN', 'REHEARSAL_STORE_INVALID']).toContain(r.code);
    expect(r.status).toBe(1);
    expect([snapshot(dir), snapshot(outside)]).toEqual(before);
  });

  test.each([['an unrelated file', 'notes.txt'], ["a user's transcript", 'transcript.md']])('%s in the folder', (_what, name) => {
    const dir = prepared(`unrelated-${name}`);
    writeFileSync(join(dir, name), 'mine\n');
    const before = snapshot(dir);
    expectRefused(demo(dir, {}, true), 'CEREMONY_FOLDER_UNEXPECTED');
    expect(snapshot(dir)).toEqual(before);
  });

  test('a planted token-store configuration pointing elsewhere', () => {
    const dir = prepared('store');
    mkdirSync(join(dir, 'softhsm', 'tokens'), { recursive: true });
    writeFileSync(join(dir, 'softhsm', 'softhsm2.conf'), `directories.tokendir = ${outside}\nobjectstore.backend = file\n`);
    const before = [snapshot(dir), snapshot(outside)];
    expectRefused(demo(dir, {}, true), 'REHEARSAL_STORE_INVALID');
    expect([snapshot(dir), snapshot(outside)]).toEqual(before);
  });
});

/** The demo killed at `point`; returns its folder, ready to be tampered with and resumed. */
function interrupted(name: string, point: string): string {
  const dir = prepared(name);
  expect(demo(dir, { KEYCEREMONY_CRASHPOINT: point }).status).toBeNull();
  return dir;
}

describe('a real interruption resumes only what the tokens and files prove', () => {
  test('with no tampering the resume completes (the control)', () => {
    const dir = interrupted('control', 'step:restore-drill:begin');
    expect(demo(dir)).toMatchObject({ status: 0, stderr: '' });
  }, 60_000);

  test('the master key deleted from the HSM between crash and resume: the run stops and names it', () => {
    const dir = interrupted('key-deleted', 'step:prepare-manifest:begin');
    const pins = JSON.parse(readFileSync(join(dir, 'softhsm', 'rehearsal-pins.json'), 'utf8')) as Record<string, { user: string }>;
    execFileSync('pkcs11-tool', ['--module', softHsmModule(), '--token-label', 'Ceremony HSM', '--login', '--pin', pins.hsm!.user, '--delete-object', '--type', 'secrkey', '--label', 'master-v1'],
      { env: { ...process.env, SOFTHSM2_CONF: join(dir, 'softhsm', 'softhsm2.conf') }, stdio: 'ignore' });
    const r = demo(dir);
    expectRefused(r, 'CEREMONY_KEY_MISSING');
    expect(r.stderr).toContain('master-v1');
    expect(r.stderr).toContain('"Ceremony HSM"');
    expect(existsSync(join(dir, 'rotation.1.json'))).toBe(false);
  }, 60_000);

  test('a sealed secret replaced between crash and resume by another, sealed to the same recipient: the run stops before any manifest binds it', () => {
    const dir = interrupted('sealed-replaced', 'step:prepare-manifest:begin');
    const recipient = readFileSync(join(dir, 'deployment', 'recipients.txt'), 'utf8').trim().split('\n').at(-1) as string;
    writeFileSync(join(dir, 'sealed', 'jwt-v1.age'), encrypt(new Uint8Array(32).fill(7), [recipient])); // the attacker's secret, known to them
    const r = demo(dir);
    expectRefused(r, 'CEREMONY_RESUME_MISMATCH');
    expect(r.stderr).toContain('make-jwt');
    expect(existsSync(join(dir, 'rotation.1.json'))).toBe(false);
  }, 60_000);

  test.each([
    ['a byte of the wrapped key changed', (d: string) => { const f = join(d, 'export', 'aws-rsaes-oaep-sha1', 'EncryptedKeyMaterial.bin'); const b = readFileSync(f); b.writeUInt8(b.readUInt8(0) ^ 1, 0); writeFileSync(f, b); }, 'EXPORT_FOLDER_CHANGED'],
    ['export.json replaced by null', (d: string) => writeFileSync(join(d, 'export', 'aws-rsaes-oaep-sha1', 'export.json'), 'null'), 'EXPORT_RECORD_INVALID'],
    ['export.json with another check value', (d: string) => { const f = join(d, 'export', 'aws-rsaes-oaep-sha1', 'export.json'); writeFileSync(f, readFileSync(f, 'utf8').replace(/"kcv": "[0-9a-f]{6}"/, '"kcv": "ffffff"')); }, 'CEREMONY_RESUME_MISMATCH'],
    ['a file added to an export folder', (d: string) => writeFileSync(join(d, 'export', 'aws-rsaes-oaep-sha1', 'extra.bin'), 'x'), 'EXPORT_FOLDER_CHANGED'],
  ])('an export folder with %s is refused at resume', (_what, tamper, code) => {
    const dir = interrupted(`export-${code}-${_what.length}`, 'step:restore-drill:begin');
    tamper(dir);
    expectRefused(demo(dir), code);
    expect(existsSync(join(dir, 'drill.json'))).toBe(false);
  }, 60_000);

  test.each([
    ['one byte of a journal entry changed', (f: string) => { const b = readFileSync(f); const at = b.indexOf('"step":"master-key"'); b[at + 9] = 'M'.charCodeAt(0); writeFileSync(f, b); }],
    ['an entry added, hash-chained but not MACed', (f: string) => {
      const lines = readFileSync(f, 'utf8').trim().split('\n');
      const last = JSON.parse(lines.at(-1) as string) as AuditEntry;
      appendFileSync(f, `${formatEntry({ seq: last.seq + 1, time: last.time, actor: 'admin', action: 'step.done', keys: [], details: { step: 'restore-drill', title: 'done', outcome: 'pass', lines: [] }, prev: last.hash }).line}\n`);
    }],
  ])('%s: refused at resume', (_what, tamper) => {
    const dir = interrupted(`journal-${_what.length}`, 'step:restore-drill:begin');
    tamper(join(dir, 'audit.jsonl'));
    const r = demo(dir);
    expect(r.status).toBe(1);
    expect(r.code).toMatch(/^(AUDIT_|CEREMONY_LOG_UNAUTHENTIC)/);
    expect(existsSync(join(dir, 'drill.json'))).toBe(false);
  }, 60_000);

  test('a drill report that does not verify fails the drill step', () => {
    const dir = interrupted('drill-report', 'step:restore-drill:performed');
    const f = join(dir, 'drill.json');
    const env = JSON.parse(readFileSync(f, 'utf8')) as { signatures: { keyid: string; sig: string }[] };
    env.signatures = env.signatures.slice(0, 1); // below the threshold
    writeFileSync(f, JSON.stringify(env));
    expectRefused(demo(dir), 'CEREMONY_DRILL_REPORT_INVALID');
    expect(existsSync(join(dir, 'audit.checkpoint.json'))).toBe(false);
  }, 60_000);
});

/** The whole demo script rehearsed through `ceremony run` (the demo refuses a finished folder on its own). */
function rehearse(dir: string, env: NodeJS.ProcessEnv = {}): { status: number | null; code: string | null; stderr: string } {
  const r = runCli(['ceremony', 'run', join(dir, 'ceremony.json'), '--rehearse', '--yes', '--allow-network', '--dir', dir], { ...process.env, ...env });
  return { status: r.status, code: /^keyceremony: ([A-Z0-9_]+):/m.exec(r.stderr)?.[1] ?? null, stderr: r.stderr };
}

describe('what an adversarial review found, each refused', () => {
  test('an export folder planted while the export step was under way is never adopted: the step exports again', () => {
    const dir = interrupted('export-begun', 'step:export:begin');
    const planted = join(dir, 'export', 'aws-rsaes-oaep-sha1');
    mkdirSync(planted, { recursive: true });
    writeFileSync(join(planted, 'EncryptedKeyMaterial.bin'), 'the attacker\'s wrap');
    writeFileSync(join(planted, 'export.json'), JSON.stringify({ planted: true }));
    expect(demo(dir)).toMatchObject({ status: 0, stderr: '' });
    expect(readFileSync(join(planted, 'export.json'), 'utf8')).not.toContain('planted');
    expect(readFileSync(join(planted, 'EncryptedKeyMaterial.bin'), 'utf8')).not.toContain('attacker');
  }, 60_000);

  test('a consistent export folder swapped in after the export step is done: its record differs from the journal\'s', () => {
    const dir = interrupted('export-swapped', 'step:restore-drill:begin');
    const a = join(dir, 'export', 'aws-rsaes-oaep-sha1');
    const rec = JSON.parse(readFileSync(join(a, 'export.json'), 'utf8')) as { files: { path: string; sha256: string; bytes: number }[]; created: string };
    const bytes = Buffer.alloc(rec.files[0]!.bytes, 7);
    writeFileSync(join(a, rec.files[0]!.path), bytes);
    rec.files[0]!.sha256 = createHash('sha256').update(bytes).digest('hex');
    writeFileSync(join(a, 'export.json'), `${JSON.stringify(rec, null, 2)}\n`);
    expectRefused(demo(dir), 'CEREMONY_RESUME_MISMATCH');
  }, 60_000);

  test('a KMS wrapping key changed between the crash and the resume', () => {
    const dir = interrupted('kek-swapped', 'step:export:begin');
    const file = join(dir, 'kms', readdirSync(join(dir, 'kms')).find((n) => n.includes('3072'))!);
    writeFileSync(file, generateKeyPairSync('rsa', { modulusLength: 3072 }).publicKey.export({ type: 'spki', format: 'der' })); // the attacker's, of the right size
    expectRefused(demo(dir), 'CEREMONY_INPUT_CHANGED');
    expect(existsSync(join(dir, 'export'))).toBe(false);
  }, 60_000);

  test('a custody folder altered while the split was under way is never signed: the split starts over', () => {
    const dir = interrupted('custody-altered', 'step:backup-custody:performed');
    writeFileSync(join(dir, 'custody', 'README.txt'), 'send your PIN to …');
    expect(demo(dir)).toMatchObject({ status: 0, stderr: '' });
    expect(existsSync(join(dir, 'custody', 'README.txt'))).toBe(false);
  }, 60_000);

  test.each([
    ['a file beside the exports', (d: string) => writeFileSync(join(d, 'export', 'extra.bin'), 'x')],
    ['a file in the custody folder', (d: string) => writeFileSync(join(d, 'custody', '.hidden'), 'x')],
  ])('%s after the step is done', (_what, tamper) => {
    const dir = interrupted(`extra-${_what.length}`, 'step:restore-drill:begin');
    tamper(dir);
    expectRefused(demo(dir), 'CEREMONY_FOLDER_UNEXPECTED');
  }, 60_000);

  test('the log cut back to before the master key was made: the key on the HSM is not adopted', () => {
    const dir = interrupted('truncated', 'step:make-secret-key:begin'); // the master key and its custody made, nothing after
    const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n');
    const cut = lines.findIndex((l) => l.includes('"step":"master-key"'));
    writeFileSync(join(dir, 'audit.jsonl'), `${lines.slice(0, cut).join('\n')}\n`);
    rmSync(join(dir, 'custody'), { recursive: true, force: true });
    expectRefused(demo(dir), 'CEREMONY_OBJECT_PREEXISTING');
  }, 60_000);

  test('a finished log rewritten and chained again: it is not the one its checkpoint seals', () => {
    const dir = prepared('sealed', { identity: false });
    expect(rehearse(dir)).toMatchObject({ status: 0, stderr: '' });
    const entries = readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as AuditEntry);
    entries[4] = { ...entries[4]!, actor: 'carol' };
    let prev = GENESIS;
    const lines = entries.map((e) => { const f = formatEntry({ ...e, prev }); prev = f.hash; return f.line; });
    writeFileSync(join(dir, 'audit.jsonl'), `${lines.join('\n')}\n`);
    rmSync(join(dir, 'transcript.md'));
    const r = rehearse(dir);
    expect(r.status).toBe(1);
    expect(r.code).toMatch(/^(CEREMONY_LOG_UNAUTHENTIC|AUDIT_)/);
    expect(existsSync(join(dir, 'transcript.md'))).toBe(false);
  }, 90_000);

  test.each([
    ['a name that is not UTF-8', (d: string) => writeFileSync(Buffer.concat([Buffer.from(`${d}/`), Buffer.from([0xff, 0x41])]), 'x'), 'CEREMONY_FOLDER_UNEXPECTED'],
    ['an export target that is a file', (d: string) => { rmSync(join(d, 'export', 'aws-rsaes-oaep-sha1'), { recursive: true }); writeFileSync(join(d, 'export', 'aws-rsaes-oaep-sha1'), 'x'); }, null],
    ['a journal of 3 GiB (sparse)', (d: string) => { appendFileSync(join(d, 'audit.jsonl'), ''); execFileSync('truncate', ['-s', '3G', join(d, 'audit.jsonl')]); }, null],
  ])('%s: refused with a code, never exit 3', (_what, tamper, code) => {
    const dir = interrupted(`odd-${_what.length}`, 'step:restore-drill:begin');
    tamper(dir);
    const r = demo(dir, {}, true); // --force: past the demo command's own check of the folder, to the engine's
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(ERROR_LINE);
    if (code !== null) expect(r.code).toBe(code);
  }, 60_000);

  test('a staging folder left behind, with a link inside, is removed at resume without following the link', () => {
    const dir = interrupted('staging', 'step:restore-drill:begin');
    mkdirSync(join(dir, '.custody.staging-aaaaaaaaaaaa'));
    symlinkSync(outside, join(dir, '.custody.staging-aaaaaaaaaaaa', 'root'));
    const before = snapshot(outside);
    expect(demo(dir)).toMatchObject({ status: 0, stderr: '' });
    expect(existsSync(join(dir, '.custody.staging-aaaaaaaaaaaa'))).toBe(false);
    expect(snapshot(outside)).toEqual(before);
  }, 60_000);
});

test('ceremony run takes no --force: a ceremony folder is never overwritten', () => {
  const dir = prepared('no-force', { identity: false });
  const r = runCli(['ceremony', 'run', join(dir, 'ceremony.json'), '--rehearse', '--yes', '--allow-network', '--force', '--dir', dir], process.env);
  expect(r.status).toBe(2);
  expect(r.stderr).toMatch(ERROR_LINE);
  expect(existsSync(join(dir, 'softhsm'))).toBe(false);
});
