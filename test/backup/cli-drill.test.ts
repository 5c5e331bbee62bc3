/**
 * Issue 6 through the real command line, on SoftHSM2 tokens: `keyceremony backup split` puts a
 * backup key 3-of-5 on five custodian cards; three custodians sign the custody manifest (here
 * with the independent FORMATS.md implementation); `keyceremony drill` passes with every
 * 3-subset of the 5 shares and with --all-shares, and fails, each with its own code and nothing
 * left on the drill token, for: two shares; one share twice; a share from another ceremony; a
 * corrupted share; a wrong PIN; a blob changed by one byte; a manifest whose KCV differs; a
 * canary that does not decrypt. `--restore` keeps the restored key in its token.
 * OpenSC's pkcs11-tool is the independent witness of what the tokens hold.
 * A paper share (issue 14, item 11) is split on a real pseudo-terminal: keyceremony shows 8 words,
 * the custodian types them back (a wrong word is named, then retyped), and the drill takes them from
 * a variable or its prompt; a chosen passphrase, a missing terminal, words never confirmed, a
 * version 1 share and scrypt parameters beyond the bound are each refused by their own code.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { BIN, ERROR_LINE, runCli } from '../support/cli.js';
import type { CliResult } from '../support/cli.js';
import { envelope, keyNamed, setPayload, TYPES } from '../support/independent.js';
import type { Key } from '../support/independent.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm, TestToken } from '../support/softhsm.js';

const ids = ['alice', 'bob', 'carol', 'dave', 'erin'] as const;
const keys = new Map<string, Key>(ids.map((id) => [id, keyNamed(id)]));
const tok = (label: string, pin: string): TestToken => ({ label, pin, soPin: '12345678' });
const HSM = tok('Ceremony HSM', '55443322');
const OTHER_HSM = tok('Other HSM', '55443323');
const DRILL = tok('Drill token', '66778899');
const RESTORE = tok('Restore token', '66778800');
const cards = ids.map((id, i) => tok(`card-${id}`, `${i + 1}${i + 1}${i + 1}${i + 1}00`));
const foreignCards = [tok('card-x', '909090'), tok('card-y', '919191')];
const TAMPERED = tok('card-tampered', '929292');
const PAPER_HSM = tok('Paper HSM', '55443324');
const paperCards = [tok('card-p-alice', '939393'), tok('card-p-bob', '949494')];

let hsm: SoftHsm;
let work: string;
let setFile: string;
let custody: string;
let env: NodeJS.ProcessEnv;

function pkcs11Tool(t: TestToken, args: readonly string[]): string {
  return execFileSync('pkcs11-tool', ['--module', hsm.module, '--token-label', t.label, '--login', '--pin', t.pin, ...args], { env: hsm.env, encoding: 'latin1', stdio: ['ignore', 'pipe', 'pipe'] });
}
const objectsOn = (t: TestToken): string[] => [...pkcs11Tool(t, ['--list-objects']).matchAll(/label:\s+(.*)/g)].map((m) => (m[1] ?? '').trim().replace(/^'(.*)'$/, '$1'));

const pinEnv = (t: TestToken): string => `PIN_${t.label.replace(/[^A-Za-z0-9]/g, '_').toUpperCase()}`;
const share = (custodian: string, t: TestToken): string[] => ['--share', `custodian=${custodian},token=${t.label},pin-env=${pinEnv(t)}`];

function sign(unsignedFile: string, signers: readonly string[], out: string, change?: (payload: Record<string, unknown>) => void): void {
  const env0 = JSON.parse(readFileSync(unsignedFile, 'utf8')) as { payload: string };
  let payload: Buffer = Buffer.from(env0.payload, 'base64');
  if (change !== undefined) {
    const p = JSON.parse(payload.toString('utf8')) as Record<string, unknown>;
    change(p);
    payload = Buffer.from(JSON.stringify(p, null, 2));
  }
  writeFileSync(out, JSON.stringify(envelope(TYPES.rotation, payload, signers.map((s) => keys.get(s) as Key))));
}

function drill(args: readonly string[], manifest = join(custody, 'signed.json')): CliResult & { out: string } {
  const out = join(mkdtempSync(join(work, 'report-')), 'drill.json');
  const r = runCli(['drill', '--manifest', manifest, '--custodians', setFile, '--token', DRILL.label, '--pin-env', pinEnv(DRILL), '--out', out, '--json', ...args], env);
  return { ...r, out };
}

function expectRefused(r: CliResult, code: string): void {
  expect(r.stderr).toMatch(ERROR_LINE);
  expect(r.stderr.split(': ')[1]).toBe(code);
  expect(r.status).toBe(1);
  expect(objectsOn(DRILL)).toEqual([]);
}

beforeAll(() => {
  const all = [HSM, OTHER_HSM, PAPER_HSM, DRILL, RESTORE, ...cards, ...foreignCards, TAMPERED, ...paperCards];
  hsm = createSoftHsm(all);
  env = { ...hsm.env, KEYCEREMONY_PKCS11_MODULE: hsm.module, ...Object.fromEntries(all.map((t) => [pinEnv(t), t.pin])) };
  work = mkdtempSync(join(tmpdir(), 'kc-drill-cli-'));
  setFile = join(work, 'custodians.v1.json');
  writeFileSync(setFile, JSON.stringify(envelope(TYPES.custodians, setPayload(1, 3, ids.map((id) => [id, keys.get(id) as Key])), [...keys.values()])));
  for (const [t, label] of [[HSM, 'master-v1'], [OTHER_HSM, 'master-v1'], [PAPER_HSM, 'master-v3']] as const) {
    const r = runCli(['keygen', 'master', `pkcs11:token=${encodeURIComponent(t.label)};object=${label}`, '--extractable', '--pin-env', pinEnv(t)], env);
    expect(r.stderr).toBe('');
  }
  custody = join(work, 'custody');
  const split = runCli(['backup', 'split', '--hsm', HSM.label, '--pin-env', pinEnv(HSM), '--backup-key', 'backup-v1', '--key', 'master-v1', '--threshold', '3',
    ...cards.flatMap((c, i) => ['--card', `custodian=${ids[i]},token=${c.label},pin-env=${pinEnv(c)}`]), '--ceremony', 'q4-custody', '--actor', 'alice',
    '--custodians', setFile, '--out', custody, '--json'], env);
  expect(split.stderr).toBe('');
  expect(split.status).toBe(0);
  sign(join(custody, 'rotation.json'), ['alice', 'bob', 'carol'], join(custody, 'signed.json'));
  // another ceremony's split of a backup key with the same id, onto two other cards
  const other = runCli(['backup', 'split', '--hsm', OTHER_HSM.label, '--pin-env', pinEnv(OTHER_HSM), '--backup-key', 'backup-v1', '--key', 'master-v1', '--threshold', '2',
    ...foreignCards.map((c, i) => `--card=custodian=${ids[i]},token=${c.label},pin-env=${pinEnv(c)}`), '--ceremony', 'other-custody', '--actor', 'alice',
    '--custodians', setFile, '--out', join(work, 'other-custody'), '--json'], env);
  expect(other.stderr).toBe('');
  // a corrupted copy of alice's share, on a card of its own: one base64 character of the share changed
  const shareFile = join(work, 'alice.share');
  pkcs11Tool(cards[0] as TestToken, ['--read-object', '--type', 'data', '--label', 'share:backup-v1', '--output-file', shareFile]);
  const text = readFileSync(shareFile, 'utf8');
  const at = text.indexOf('"share":"') + 12;
  writeFileSync(shareFile, `${text.slice(0, at)}${text[at] === 'A' ? 'B' : 'A'}${text.slice(at + 1)}`);
  pkcs11Tool(TAMPERED, ['--write-object', shareFile, '--type', 'data', '--label', 'share:backup-v1', '--private']);
}, 120_000);
afterAll(() => hsm.cleanup());

describe('backup split', () => {
  test('puts one private share on each card, writes blob and receipts, and an unsigned manifest listing them with the KCVs', () => {
    for (const c of cards) expect(objectsOn(c)).toEqual(['share:backup-v1']);
    const publicView = execFileSync('pkcs11-tool', ['--module', hsm.module, '--token-label', cards[0]!.label, '--list-objects'], { env: hsm.env, encoding: 'latin1' });
    expect(publicView).not.toContain('share:backup-v1'); // CKA_PRIVATE: invisible without the PIN
    const v = runCli(['verify', join(custody, 'signed.json'), '--custodians', setFile, '--artifacts', custody, '--json'], env);
    const result = JSON.parse(v.stdout) as { valid: boolean; signers: string[] };
    expect(result).toMatchObject({ valid: true, signers: ['alice', 'bob', 'carol'] });
    const receipt = JSON.parse(readFileSync(join(custody, 'shares', 'backup-v1', 'dave.receipt.json'), 'utf8')) as Record<string, unknown>;
    expect(receipt).toMatchObject({ custodian: 'dave', index: 4, threshold: 3, total: 5, holder: { kind: 'token', token: 'card-dave' } });
    // the commitment is the SHA-256 of exactly what dave's card holds
    const daveShare = join(work, 'dave.share');
    pkcs11Tool(cards[3]!, ['--read-object', '--type', 'data', '--label', 'share:backup-v1', '--output-file', daveShare]);
    expect(receipt.commitment).toBe(`sha256:${createHash('sha256').update(readFileSync(daveShare)).digest('hex')}`);
  });
});

describe('bad arguments are refused before any token is touched, and nothing is written', () => {
  test.each([
    [['--threshold', '1'], 'USAGE'],
    [['--threshold', '9'], 'USAGE'],
    [['--card', 'custodian=alice,token=card-alice,pin=1234'], 'USAGE'],
    [['--paper', 'custodian=erin'], 'USAGE'],
    [['--backup-key', 'master-v1'], 'USAGE'],
    [['--pin', '1234'], 'PIN_ON_COMMAND_LINE'],
  ])('backup split %j', (extra, code) => {
    const out = join(work, `never-${code}-${extra.join('').replace(/[^a-z0-9]/gi, '')}`);
    const base = ['backup', 'split', '--hsm', HSM.label, '--backup-key', 'backup-v9', '--key', 'master-v1', '--threshold', '2', '--card', `custodian=alice,token=${cards[0]!.label}`,
      '--card', `custodian=bob,token=${cards[1]!.label}`, '--ceremony', 'bad-args', '--actor', 'alice', '--custodians', setFile, '--out', out];
    const r = runCli([...base, ...extra], env);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr.split(': ')[1]).toBe(code);
    expect(existsSync(out)).toBe(false);
  });
  test('a holder who is not a custodian of the newest set: the set says no (exit 1, the code the app gives too), nothing written', () => {
    const out = join(work, 'never-not-member');
    const r = runCli(['backup', 'split', '--hsm', HSM.label, '--backup-key', 'backup-v9', '--key', 'master-v1', '--threshold', '2', '--card', `custodian=alice,token=${cards[0]!.label}`,
      '--card', 'custodian=mallory,token=card-alice', '--ceremony', 'bad-args', '--actor', 'alice', '--custodians', setFile, '--out', out], env);
    expect(r.status).toBe(1);
    expect(r.stderr.split(': ')[1]).toBe('CUSTODIAN_NOT_MEMBER');
    expect(existsSync(out)).toBe(false);
  });
  test.each([
    [['--share', 'custodian=alice'], 'USAGE'],
    [['--share', 'custodian=alice,token=card-alice,paper=x.json'], 'USAGE'],
    [['--share', 'custodian=alice,paper=x.json,pin-env=X'], 'USAGE'],
    [['--id', '../escape'], 'USAGE'],
  ])('drill %j', (extra, code) => {
    const r = drill([...share('bob', cards[1]!), ...share('carol', cards[2]!), ...share('dave', cards[3]!), ...extra]);
    expect(r.stderr.split(': ')[1]).toBe(code);
    expect(r.status).toBe(2);
    expect(existsSync(r.out)).toBe(false);
  });
});

describe('drills from the command line', () => {
  const subsets: number[][] = [];
  for (let a = 0; a < 5; a++) for (let b = a + 1; b < 5; b++) for (let c = b + 1; c < 5; c++) subsets.push([a, b, c]);
  test('every 3-subset of the 5 shares passes, and leaves nothing on the drill token', () => {
    for (const subset of subsets) {
      const r = drill(subset.flatMap((i) => share(ids[i]!, cards[i]!)));
      expect(r.stderr).toBe('');
      expect(JSON.parse(r.stdout)).toMatchObject({ result: 'pass', failures: [], restored: [{ id: 'master-v1', kcvMatches: true, canary: true }] });
      expect(objectsOn(DRILL)).toEqual([]);
    }
  }, 120_000);
  test('--all-shares checks all five against their commitments; four are not enough', () => {
    expect(JSON.parse(drill(['--all-shares', ...ids.flatMap((id, i) => share(id, cards[i]!))]).stdout)).toMatchObject({ result: 'pass' });
    expectRefused(drill(['--all-shares', ...ids.slice(0, 4).flatMap((id, i) => share(id, cards[i]!))]), 'SHARE_THRESHOLD_NOT_MET');
  });
  test('two shares of three needed', () => expectRefused(drill([...share('alice', cards[0]!), ...share('bob', cards[1]!)]), 'SHARE_THRESHOLD_NOT_MET'));
  test('one share entered twice (the same card under two names)', () => {
    expectRefused(drill([...share('alice', cards[0]!), ...share('bob', cards[0]!), ...share('carol', cards[2]!)]), 'SHARE_DUPLICATE');
  });
  test('a share from another ceremony', () => expectRefused(drill([...share('alice', foreignCards[0]!), ...share('bob', cards[1]!), ...share('carol', cards[2]!)]), 'SHARE_FOREIGN'));
  test('a corrupted share', () => expectRefused(drill([...share('alice', TAMPERED), ...share('bob', cards[1]!), ...share('carol', cards[2]!)]), 'SHARE_COMMITMENT_MISMATCH'));
  test('a wrong PIN', () => {
    const r = runCli(['drill', '--manifest', join(custody, 'signed.json'), '--custodians', setFile, '--token', DRILL.label, '--pin-env', pinEnv(DRILL), '--out', join(work, 'never.json'),
      ...share('alice', cards[0]!), '--share', `custodian=bob,token=${cards[1]!.label},pin-env=WRONG_PIN`, ...share('carol', cards[2]!)], { ...env, WRONG_PIN: '000000' });
    expectRefused(r, 'HSM_PIN_INCORRECT');
  });
  test('a backup blob changed by one byte', () => {
    const copy = join(work, 'custody-flipped');
    cpSync(custody, copy, { recursive: true });
    const blobFile = join(copy, 'backup', 'master-v1.blob.json');
    const b = readFileSync(blobFile);
    const i = b.indexOf('"wrapped": "') + 15;
    b[i] = b[i] === 0x41 ? 0x42 : 0x41;
    writeFileSync(blobFile, b);
    const r = drill([...share('alice', cards[0]!), ...share('bob', cards[1]!), ...share('carol', cards[2]!)], join(copy, 'signed.json'));
    expectRefused(r, 'DRILL_BLOB_CORRUPTED');
  });
  test('a manifest whose KCV differs: the drill runs, reports fail, restores nothing', () => {
    const wrong = join(custody, 'wrong-kcv.json');
    sign(join(custody, 'rotation.json'), ['alice', 'bob', 'carol'], wrong, (p) => {
      const k = (p.keys as { id: string; kcv: string }[]).find((x) => x.id === 'master-v1')!;
      k.kcv = k.kcv === 'abcdef' ? 'abcdee' : 'abcdef';
    });
    const r = drill([...share('alice', cards[0]!), ...share('bob', cards[1]!), ...share('carol', cards[2]!)], wrong);
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ result: 'fail', failures: ['DRILL_KCV_MISMATCH'] });
    expect(r.stderr.split(': ')[1]).toBe('DRILL_KCV_MISMATCH');
    expect(objectsOn(DRILL)).toEqual([]);
  });
  test('a canary that does not decrypt (in a blob the manifest signed as it is)', () => {
    const copy = join(work, 'custody-canary');
    cpSync(custody, copy, { recursive: true });
    const blobFile = join(copy, 'backup', 'master-v1.blob.json');
    const blob = JSON.parse(readFileSync(blobFile, 'utf8')) as { canary: { ciphertext: string } };
    const ct = Buffer.from(blob.canary.ciphertext, 'base64');
    ct[0] = ct[0]! ^ 1;
    blob.canary.ciphertext = ct.toString('base64');
    const text = `${JSON.stringify(blob, null, 2)}\n`;
    writeFileSync(blobFile, text);
    sign(join(copy, 'rotation.json'), ['alice', 'bob', 'carol'], join(copy, 'signed.json'), (p) => {
      const a = (p.artifacts as { path: string; sha256: string; bytes: number }[]).find((x) => x.path === 'backup/master-v1.blob.json')!;
      a.sha256 = createHash('sha256').update(text).digest('hex');
      a.bytes = Buffer.byteLength(text);
    });
    const r = drill([...share('alice', cards[0]!), ...share('bob', cards[1]!), ...share('carol', cards[2]!)], join(copy, 'signed.json'));
    expect(r.status).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ result: 'fail', failures: ['DRILL_CANARY_FAILED'] });
    expect(objectsOn(DRILL)).toEqual([]);
  });
  test('a manifest not signed by the threshold is refused before any token is touched', () => {
    const weak = join(custody, 'weak.json');
    sign(join(custody, 'rotation.json'), ['alice', 'bob'], weak);
    expectRefused(drill([...share('alice', cards[0]!), ...share('bob', cards[1]!), ...share('carol', cards[2]!)], weak), 'DRILL_MANIFEST_INVALID');
  });
  test('the drill report, signed 3-of-5, verifies with keyceremony verify', () => {
    const r = drill([...share('bob', cards[1]!), ...share('dave', cards[3]!), ...share('erin', cards[4]!)]);
    expect(r.status).toBe(0);
    const signed = join(work, 'drill.signed.json');
    const env1 = JSON.parse(readFileSync(r.out, 'utf8')) as { payload: string };
    writeFileSync(signed, JSON.stringify(envelope(TYPES.drill, Buffer.from(env1.payload, 'base64'), ['bob', 'dave', 'erin'].map((s) => keys.get(s) as Key))));
    const v = runCli(['verify', signed, '--custodians', setFile, '--json'], env);
    expect(JSON.parse(v.stdout)).toMatchObject({ valid: true, type: 'drill', signers: ['bob', 'dave', 'erin'] });
    const report = JSON.parse(Buffer.from(env1.payload, 'base64').toString('utf8')) as Record<string, unknown>;
    expect(report).toMatchObject({ sharesPresented: ['bob', 'dave', 'erin'], threshold: 3, result: 'pass', backupKey: { id: 'backup-v1' } });
  });
  test('--restore keeps the restored key in its token, labelled with its id; its report says restore', () => {
    const out = join(work, 'restore.json');
    const r = runCli(['drill', '--restore', '--manifest', join(custody, 'signed.json'), '--custodians', setFile, '--token', RESTORE.label, '--pin-env', pinEnv(RESTORE), '--out', out, '--json',
      ...share('alice', cards[0]!), ...share('carol', cards[2]!), ...share('erin', cards[4]!)], env);
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ result: 'pass', restore: true });
    expect(objectsOn(RESTORE)).toEqual(['master-v1']);
    const payload = JSON.parse(Buffer.from((JSON.parse(readFileSync(out, 'utf8')) as { payload: string }).payload, 'base64').toString('utf8')) as { drill: string };
    expect(payload.drill).toMatch(/^restore-/);
  });
});

/** A command on a real pseudo-terminal, answered as a custodian would (test/support/pty-run.py). */
interface PtyReport { readonly status: number; readonly output: string; readonly words: Record<string, string> }
function onTerminal(args: readonly string[], plan: { answers?: string[]; stdoutFile?: string; words?: Record<string, string> }, extraEnv: NodeJS.ProcessEnv = {}): PtyReport {
  const driver = fileURLToPath(new URL('../support/pty-run.py', import.meta.url));
  const r = spawnSync('python3', [driver, JSON.stringify(plan), process.execPath, BIN, ...args], { env: { ...env, ...extraEnv }, encoding: 'utf8', timeout: 150_000 });
  expect(r.stderr).toBe('');
  return JSON.parse(r.stdout) as PtyReport;
}
/** Every file under `dir`, as text. */
const filesUnder = (dir: string): string[] => readdirSync(dir, { recursive: true, withFileTypes: true }).filter((d) => d.isFile()).map((d) => readFileSync(join(d.parentPath, d.name), 'latin1'));
/** The code of the error line the terminal showed last. */
const lastCode = (output: string): string | undefined => [...output.matchAll(/keyceremony: ([A-Z0-9_]+): /g)].at(-1)?.[1];

describe('paper shares from the command line (issue 14, item 11: the words are generated, shown once, typed back)', () => {
  let paperCustody: string;
  let pages: string;
  let split: PtyReport;
  let splitStdout: string;
  let words: string;
  const paperSplit = (o: { out: string; pages: string; backupKey: string; paper?: string }) => ['backup', 'split', '--hsm', PAPER_HSM.label, '--pin-env', pinEnv(PAPER_HSM), '--backup-key', o.backupKey, '--key', 'master-v3', '--threshold', '2',
    '--card', `custodian=alice,token=${paperCards[0]!.label},pin-env=${pinEnv(paperCards[0]!)}`, '--card', `custodian=bob,token=${paperCards[1]!.label},pin-env=${pinEnv(paperCards[1]!)}`,
    '--paper', o.paper ?? 'custodian=carol', '--paper-out', o.pages, '--ceremony', 'paper-custody', '--actor', 'bob', '--custodians', setFile, '--out', o.out, '--json'];
  const hsmKeys = (): string[] => objectsOn(PAPER_HSM);
  beforeAll(() => {
    paperCustody = join(work, 'paper-custody');
    pages = join(work, 'paper-pages');
    splitStdout = join(work, 'paper-split.stdout');
    // carol reads the words, presses Enter, types them back wrong once, then right (in capitals, with stray spaces)
    split = onTerminal(paperSplit({ out: paperCustody, pages, backupKey: 'backup-v3' }), { answers: ['', '{wrong:carol}', '{messy:carol}'], stdoutFile: splitStdout });
    expect(split.status).toBe(0);
    words = split.words.carol!;
    expect(words.split(' ')).toHaveLength(8);
    expect(JSON.parse(readFileSync(splitStdout, 'utf8'))).toMatchObject({ threshold: 2, total: 3 });
    sign(join(paperCustody, 'rotation.json'), ['alice', 'bob', 'carol'], join(paperCustody, 'signed.json'));
  }, 90_000);
  const paperDrill = (args: readonly string[], extraEnv: NodeJS.ProcessEnv = {}) => {
    const out = join(mkdtempSync(join(work, 'paper-report-')), 'drill.json');
    return runCli(['drill', '--manifest', join(paperCustody, 'signed.json'), '--custodians', setFile, '--token', DRILL.label, '--pin-env', pinEnv(DRILL), '--out', out, '--json', ...args], { ...env, ...extraEnv });
  };
  const carolPaper = (file = join(pages, 'carol.paper-share.json'), variable = 'CAROL_WORDS') => ['--share', `custodian=carol,paper=${file},passphrase-env=${variable}`];

  test('the words were shown on the terminal only (stderr): not on stdout, in the custody folder or the pages; the screen was cleared; a wrong word was named and retyped', () => {
    expect(split.output).toContain(words.split(' ').map((w, i) => `${String(i + 1).padStart(4)} ${w.padEnd(10)}`).slice(0, 4).join(''));
    expect(split.output).toContain('\x1b[2J');
    expect(split.output).toContain('keyceremony: SHARE_PASSPHRASE_NOT_CONFIRMED: ');
    for (const text of [readFileSync(splitStdout, 'utf8'), ...filesUnder(paperCustody), ...filesUnder(pages)]) {
      for (const w of [words, words.toUpperCase(), Buffer.from(words).toString('base64'), Buffer.from(words).toString('hex')]) expect(text).not.toContain(w);
    }
    expect(JSON.parse(readFileSync(join(paperCustody, 'shares', 'backup-v3', 'carol.receipt.json'), 'utf8'))).toMatchObject({ index: 3, holder: { kind: 'paper' } });
    expect(JSON.parse(readFileSync(join(pages, 'carol.paper-share.json'), 'utf8'))).toMatchObject({ spec: 'keyceremony/paper-share@2' });
    expect(statSync(join(pages, 'carol.paper-share.json')).mode & 0o077).toBe(0);
  });
  test('a paper share and a card restore the key: the words from a variable, in any case and spacing, or typed at the drill\'s prompt', () => {
    const r = paperDrill([...share('alice', paperCards[0]!), ...carolPaper()], { CAROL_WORDS: ` ${words.toUpperCase().replaceAll(' ', '\t  ')} ` });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toMatchObject({ result: 'pass', restored: [{ id: 'master-v3', kcvMatches: true, canary: true }] });
    const out = join(mkdtempSync(join(work, 'paper-report-')), 'drill.json');
    const typed = onTerminal(['drill', '--manifest', join(paperCustody, 'signed.json'), '--custodians', setFile, '--token', DRILL.label, '--pin-env', pinEnv(DRILL), '--out', out, '--json',
      ...share('bob', paperCards[1]!), '--share', `custodian=carol,paper=${join(pages, 'carol.paper-share.json')}`], { answers: ['{words:carol}'], words: { carol: words } });
    expect(typed.output).toContain('Passphrase for the paper share of carol: ');
    expect(typed.output).not.toContain(words);
    expect(typed.status).toBe(0);
    expect(JSON.parse(readFileSync(out, 'utf8'))).toHaveProperty('payload');
  });
  test('a chosen passphrase, other words, a damaged paper, a KDF beyond the bound, a version 1 share: each refused by its own code (exit 1), nothing restored', () => {
    const refused = (extra: readonly string[], code: string, extraEnv: NodeJS.ProcessEnv = {}) => expectRefused(paperDrill([...share('bob', paperCards[1]!), ...extra], { CAROL_WORDS: words, ...extraEnv }), code);
    refused(carolPaper(undefined, 'CHOSEN'), 'SHARE_PASSPHRASE_NOT_WORDS', { CHOSEN: 'passwordpassword' });
    refused(carolPaper(undefined, 'CHOSEN'), 'SHARE_PASSPHRASE_NOT_WORDS', { CHOSEN: 'aaaaaaaaaaaaaaaa' });
    refused(carolPaper(undefined, 'OTHER'), 'SHARE_PASSPHRASE_INCORRECT', { OTHER: words.split(' ').reverse().join(' ') });
    const sealed = JSON.parse(readFileSync(join(pages, 'carol.paper-share.json'), 'utf8')) as { ciphertext: string; kdf: Record<string, number>; spec: string };
    const variant = (name: string, change: (o: typeof sealed) => void): string => {
      const o = JSON.parse(JSON.stringify(sealed)) as typeof sealed;
      change(o);
      writeFileSync(join(work, name), JSON.stringify(o));
      return join(work, name);
    };
    refused(carolPaper(variant('damaged.paper-share.json', (o) => { o.ciphertext = `${o.ciphertext[0] === 'A' ? 'B' : 'A'}${o.ciphertext.slice(1)}`; })), 'SHARE_PAPER_DAMAGED');
    refused(carolPaper(variant('kdf.paper-share.json', (o) => { o.kdf.N = 1 << 20; o.kdf.r = 16; })), 'SHARE_KDF_UNSUPPORTED');
    refused(carolPaper(variant('v1.paper-share.json', (o) => { o.spec = 'keyceremony/paper-share@1'; })), 'SHARE_PAPER_OUTDATED');
  });
  test('backup split refuses a chosen passphrase (passphrase-env=) and a missing terminal before any token is touched; nothing written', () => {
    const before = hsmKeys();
    for (const [paper, code] of [['custodian=carol,passphrase-env=CAROL_WORDS', 'SHARE_PASSPHRASE_CHOSEN'], ['custodian=carol', 'SHARE_PASSPHRASE_NO_TERMINAL']] as const) {
      const out = join(work, `never-${code}`);
      const never = join(work, `never-pages-${code}`);
      const r = runCli(paperSplit({ out, pages: never, backupKey: 'backup-v4', paper }), { ...env, CAROL_WORDS: words });
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(ERROR_LINE);
      expect(r.stderr.split(': ')[1]).toBe(code);
      expect([existsSync(out), existsSync(never)]).toEqual([false, false]);
    }
    expect(hsmKeys()).toEqual(before);
  });
  test('words not typed back after three tries, or ^C while they are shown: the split stops with nothing made, and never exit 3', () => {
    const before = hsmKeys();
    for (const [answers, code] of [[['', '{wrong:carol}', 'passwordpassword', '{wrong:carol}'], 'SHARE_PASSPHRASE_NOT_CONFIRMED'], [['{ctrl-c}'], 'PIN_ENTRY_CANCELLED']] as const) {
      const out = join(work, `never-${code}`);
      const never = join(work, `never-pages-${code}`);
      const r = onTerminal(paperSplit({ out, pages: never, backupKey: 'backup-v4' }), { answers: [...answers] });
      expect([r.status, lastCode(r.output)]).toEqual([1, code]);
      expect([existsSync(out), existsSync(never)]).toEqual([false, false]);
    }
    expect(hsmKeys()).toEqual(before);
  });
});
