/**
 * Issue 16: one ceremony, several PKCS#11 libraries in one process. The quarterly template
 * rehearsed with the HSM on NSS softokn and the custodians' cards and the drill token on SoftHSM2
 * (the profile chooses each token's library, the rehearsal makes a throw-away NSS database for the
 * HSM); the backup split and drill with the HSM, and then the drill token too, on NSS; the
 * transcript names each token's library and the journal records the key wrap a known answer chose
 * on each token. A real run opens each library of its profile once and finds each token in its own
 * library, and a library that will not open is named with its code and the fix in the profile.
 * Every run is the bundled command line in a process of its own.
 */
import { spawnSync } from 'node:child_process';
import { constants, createCipheriv, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parseProfile } from '../../src/ceremony/profile.js';
import { parseScript } from '../../src/ceremony/script.js';
import { kekPath, TEMPLATES } from '../../src/ceremony/templates.js';
import { DocumentError } from '../../src/docs/problems.js';
import { TARGETS } from '../../src/export/targets.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { BIN, ERROR_LINE, runCli } from '../support/cli.js';
import { asFirstCeremony } from '../support/first-ceremony.js';
import { createNss, softoknModule } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm, softHsmModule } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const SPEC = 'keyceremony/ceremony-profile@1';
let work: string;
/** The KMS wrapping keys' private halves, by size: they stand in for the clouds, to decrypt what was exported. */
const kms = new Map<number, KeyObject>();
/** Their public halves, DER SubjectPublicKeyInfo as the clouds give them. */
const generatedSpki = new Map<number, Buffer>();

/**
 * A template written beside its inputs (the KMS wrapping keys), in a folder of its own, as the
 * deployment's first ceremony (test/support/first-ceremony.ts): every step of its own kept.
 */
function scriptIn(dir: string, template: string): string {
  mkdirSync(join(dir, 'kms'), { recursive: true });
  for (const t of TARGETS) {
    const bits = t.kekBits.includes(3072) ? 3072 : 4096;
    writeFileSync(join(dir, kekPath(t.name, bits)), generatedSpki.get(bits) as Buffer);
  }
  const file = join(dir, `${template}.json`);
  writeFileSync(file, `${JSON.stringify(asFirstCeremony(template), null, 2)}\n`);
  return file;
}

/** A profile: SoftHSM2 the default library, the named tokens on NSS softokn (a rehearsal makes their databases itself). */
function profile(dir: string, tokens: readonly string[], onNss: readonly string[], extra: Record<string, object> = {}): string {
  const file = join(dir, `profile-${onNss.join('-') || 'soft'}.json`);
  writeFileSync(file, JSON.stringify({ spec: SPEC, module: softHsmModule(), tokens: Object.fromEntries(tokens.map((t) => [t, { pinEnv: null, ...(onNss.includes(t) ? { module: softoknModule() } : {}), ...extra[t] }])) }));
  return file;
}

const rehearse = (script: string, prof: string, dir: string) => runCli(['ceremony', 'run', script, '--rehearse', '--yes', '--allow-network', '--profile', prof, '--dir', dir], process.env);
const auditVerify = (dir: string) => runCli(['audit', 'verify', join(dir, 'audit.jsonl'), '--custodians', join(dir, 'custodians.v1.json')], process.env);
const journal = (dir: string) => readFileSync(join(dir, 'audit.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { action: string; details: Record<string, unknown> });
const doneOf = (dir: string, step: string) => journal(dir).find((e) => e.action === 'step.done' && e.details.step === step)?.details ?? {};
/** The transcript's row for a token: `| name | label | library |`. */
const row = (md: string, token: string): string => md.split('\n').find((l) => l.startsWith(`| ${token} |`)) ?? '';

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'kc-two-libs-'));
  for (const bits of [3072, 4096]) {
    const pair = generateKeyPairSync('rsa', { modulusLength: bits });
    kms.set(bits, pair.privateKey);
    generatedSpki.set(bits, pair.publicKey.export({ type: 'spki', format: 'der' }));
  }
}, 60_000);
afterAll(() => { rmSync(work, { recursive: true, force: true }); });

describe('the quarterly rotation rehearsed with the HSM on NSS softokn and the cards on SoftHSM2, in one process', () => {
  const QUARTERLY = 'quarterly-master-rotation';
  const tokens = ['hsm', 'card-alice', 'card-bob', 'card-carol', 'drill'];
  let dir: string;
  let script: string;
  let prof: string;
  beforeAll(() => {
    const inputs = join(work, 'quarterly');
    script = scriptIn(inputs, QUARTERLY);
    prof = profile(inputs, tokens, ['hsm']);
    dir = join(work, 'q-rehearsal');
  });
  test('it passes, and `audit verify` exits 0 on its log', () => {
    const r = rehearse(script, prof, dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/token hsm \("Ceremony HSM"\): NSS [^\n]*libsoftokn3/);
    expect(r.stdout).toMatch(/token card-alice \("custodian-alice"\): [^\n]*libsofthsm2/);
    expect(auditVerify(dir).status).toBe(0);
    expect(existsSync(join(dir, 'softhsm', 'nss', 'hsm', 'key4.db'))).toBe(true); // the HSM's throw-away NSS database, inside the rehearsal's store
  }, 120_000);
  test('the transcript names each token\'s library, and the journal records each step\'s', () => {
    const md = readFileSync(join(dir, 'transcript.md'), 'utf8');
    expect(md).toContain('## Tokens and their libraries');
    expect(row(md, 'hsm')).toMatch(/^\| hsm \| Ceremony HSM \| NSS .*libsoftokn3\.so \|$/);
    for (const t of tokens.slice(1)) expect(row(md, t)).toMatch(/libsofthsm2\.so \|$/);
    expect(readFileSync(join(dir, 'transcript.html'), 'utf8')).toContain('<h2>Tokens and their libraries</h2>');
    expect(doneOf(dir, 'master-key').libraries).toEqual([expect.stringMatching(/^hsm: NSS .*libsoftokn3\.so$/)]);
    expect(doneOf(dir, 'custodian-keys').libraries).toEqual(['card-alice', 'card-bob', 'card-carol'].map((c) => expect.stringMatching(new RegExp(`^${c}: .*libsofthsm2\\.so$`))));
  });
  test('the known answer is in the journal entries of the export, split and drill steps, and in the transcript: 0x210B on NSS, 0x210A on SoftHSM2; the blob and each export.json record the same', () => {
    for (const step of ['export', 'backup-custody']) {
      expect(doneOf(dir, step)).toMatchObject({ keyWrap: 'CKM_AES_KEY_WRAP_KWP', keyWrapKnownAnswer: expect.stringMatching(/CKM_AES_KEY_WRAP_PAD \(0x210a\): not RFC 5649 \[48 bytes\]; CKM_AES_KEY_WRAP_KWP \(0x210b\): RFC 5649 \[40 bytes\]/) });
    }
    // the drill token is on SoftHSM2: the blob made with 0x210B on NSS restores with 0x210A there
    expect(doneOf(dir, 'restore-drill')).toMatchObject({ result: 'pass', keyWrap: 'CKM_AES_KEY_WRAP_PAD' });
    const md = readFileSync(join(dir, 'transcript.md'), 'utf8');
    expect(md).toContain('AES key wrap on "Ceremony HSM", by known answer: CKM\\_AES\\_KEY\\_WRAP\\_KWP gives RFC 5649');
    expect(md).toContain('AES key wrap on "Drill token", by known answer: CKM\\_AES\\_KEY\\_WRAP\\_PAD gives RFC 5649');
    const blobs = readdirSync(join(dir, 'custody', 'backup'));
    expect(blobs).toHaveLength(1);
    expect((JSON.parse(readFileSync(join(dir, 'custody', 'backup', blobs[0]!), 'utf8')) as { wrap: unknown }).wrap).toEqual({ format: 'rfc5649', mechanism: 'CKM_AES_KEY_WRAP_KWP' });
    const rec = JSON.parse(readFileSync(join(dir, 'export', 'vault-transit', 'export.json'), 'utf8')) as { wrap: string; mechanisms: string[] };
    expect(rec).toMatchObject({ wrap: 'token', mechanisms: [expect.any(String), 'CKM_AES_KEY_WRAP_KWP (RFC 5649 by known answer)'] });
  });
  test('on NSS every target is exported in the token, the three direct SHA-256 targets too: the KMS\'s private key recovers the master key, whose KCV is the one the HSM computed', () => {
    const kcv = String(doneOf(dir, 'master-key').kcv);
    expect(doneOf(dir, 'export').targets).toEqual(TARGETS.map((t) => t.name));
    for (const t of ['aws-rsaes-oaep-sha256', 'gcp-rsa-oaep-3072-sha256', 'gcp-rsa-oaep-4096-sha256']) {
      const target = TARGETS.find((x) => x.name === t)!;
      const bits = target.kekBits.includes(3072) ? 3072 : 4096;
      const file = t.startsWith('aws') ? 'EncryptedKeyMaterial.bin' : 'wrapped-key.bin';
      const clear = privateDecrypt({ key: kms.get(bits) as KeyObject, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, readFileSync(join(dir, 'export', t, file)));
      try {
        expect(createCipheriv('aes-256-ecb', clear, null).setAutoPadding(false).update(Buffer.alloc(16)).subarray(0, 3).toString('hex')).toBe(kcv);
      } finally {
        clear.fill(0);
      }
    }
  });
  test('run again over the finished folder, every step is proven again from both libraries\' tokens, and nothing differs', () => {
    const before = readFileSync(join(dir, 'transcript.md'), 'utf8');
    const r = rehearse(script, prof, dir);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('every step proven again from the tokens and files');
    expect(readFileSync(join(dir, 'transcript.md'), 'utf8')).toBe(before);
  }, 60_000);
  test('resumed without the profile it began with (the HSM now on SoftHSM2): refused, nothing changed', () => {
    const before = readFileSync(join(dir, 'audit.jsonl'), 'utf8');
    const r = runCli(['ceremony', 'run', script, '--rehearse', '--yes', '--allow-network', '--dir', dir], process.env);
    expect([r.status, r.stderr]).toEqual([1, expect.stringMatching(ERROR_LINE)]);
    expect(r.stderr).toContain('REHEARSAL_STORE_INVALID');
    expect(r.stderr).toContain('token hsm on nss-softokn');
    expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8')).toBe(before);
  });
  test('a library a rehearsal cannot make throw-away tokens in is refused by name before any store is made (exit 2)', () => {
    const other = join(work, 'quarterly', 'profile-opensc.json');
    writeFileSync(other, JSON.stringify({ spec: SPEC, module: softHsmModule(), tokens: Object.fromEntries(tokens.map((t) => [t, { pinEnv: null, ...(t === 'card-bob' ? { module: '/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so' } : {}) }])) }));
    const r = runCli(['ceremony', 'run', script, '--rehearse', '--yes', '--allow-network', '--profile', other, '--dir', join(work, 'q-opensc')], process.env);
    expect([r.status, r.stderr]).toEqual([2, expect.stringMatching(ERROR_LINE)]);
    expect(r.stderr).toContain('REHEARSAL_LIBRARY_UNSUPPORTED');
    expect(r.stderr).toContain('card-bob');
    expect(existsSync(join(work, 'q-opensc'))).toBe(false);
  });
});

describe('the backup split and drill with the HSM on NSS softokn', () => {
  test('the drill token on NSS too: two NSS databases in one library, the cards on SoftHSM2; the drill passes and the log verifies', () => {
    const inputs = join(work, 'drill');
    const script = scriptIn(inputs, 'backup-drill');
    const prof = profile(inputs, ['hsm', 'card-alice', 'card-bob', 'card-carol', 'drill'], ['hsm', 'drill']);
    const dir = join(work, 'drill-rehearsal');
    const r = rehearse(script, prof, dir);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(auditVerify(dir).status).toBe(0);
    expect(doneOf(dir, 'backup-custody')).toMatchObject({ keyWrap: 'CKM_AES_KEY_WRAP_KWP' });
    expect(doneOf(dir, 'restore-drill')).toMatchObject({ result: 'pass', keyWrap: 'CKM_AES_KEY_WRAP_KWP', libraries: expect.arrayContaining([expect.stringMatching(/^drill: NSS .*libsoftokn3\.so$/)]) });
    const md = readFileSync(join(dir, 'transcript.md'), 'utf8');
    expect(row(md, 'drill')).toMatch(/libsoftokn3\.so \|$/);
    expect(row(md, 'card-bob')).toMatch(/libsofthsm2\.so \|$/);
  }, 120_000);
});

describe('a real run: each library of the profile opened once, each token found in its own', () => {
  const DRILL = 'backup-drill';
  const cards = [['card-alice', 'custodian-alice', '1111'], ['card-bob', 'custodian-bob', '2222'], ['card-carol', 'custodian-carol', '3333'], ['drill', 'Drill token', '4444']] as const;
  const pinEnv = (token: string): string => `PIN_${token.replace('-', '_').toUpperCase()}`;
  let soft: SoftHsm;
  let nss: Nss;
  let script: string;
  let env: NodeJS.ProcessEnv;
  beforeAll(() => {
    soft = createSoftHsm(cards.map(([, label, pin]) => ({ label, pin, soPin: '12345678' })), { setProcessEnv: false });
    nss = createNss({ label: 'Ceremony HSM', pin: '24681357' });
    script = join(work, 'real', 'drill.json');
    mkdirSync(join(work, 'real'), { recursive: true });
    writeFileSync(script, `${JSON.stringify(TEMPLATES[DRILL], null, 2)}\n`);
    // the custody and drill steps write to removable media in a real run: the test's folder stands for the drive
    env = { ...process.env, ...soft.env, KEYCEREMONY_REMOVABLE_ROOTS: join(work, 'real'), PIN_HSM: nss.pin, ...Object.fromEntries(cards.map(([n, , pin]) => [pinEnv(n), pin])) };
  }, 60_000);
  afterAll(() => { soft?.cleanup(); nss?.cleanup(); });
  /** The real run, air-gapped (no interface up), unrehearsed; no terminal, so it stops when the first person is asked. */
  const real = (prof: string, dir: string) => spawnSync('unshare', ['-n', process.execPath, BIN, 'ceremony', 'run', script, '--profile', prof, '--no-rehearsal', '--dir', dir], { env, encoding: 'utf8', timeout: 60_000 });
  const write = (name: string, hsm: object, cardModule?: string): string => {
    const file = join(work, 'real', name);
    writeFileSync(file, JSON.stringify({ spec: SPEC, module: softHsmModule(), tokens: { hsm: { pinEnv: 'PIN_HSM', ...hsm }, ...Object.fromEntries(cards.map(([n]) => [n, { pinEnv: pinEnv(n), ...(n === 'card-bob' && cardModule !== undefined ? { module: cardModule } : {}) }])) } }));
    return file;
  };
  test('the HSM in NSS with its parameters from the profile, the cards in SoftHSM2 (bob\'s named through a link to the same library, which is the same library): every token is found, each in its library, before anyone is asked anything', () => {
    const link = join(work, 'real', 'libsofthsm2-link.so');
    symlinkSync(softHsmModule(), link);
    const r = real(write('two.json', { module: nss.module, moduleParams: nss.params }, link), join(work, 'real', 'run'));
    expect(r.stdout).toMatch(/token hsm \("Ceremony HSM"\): NSS [^\n]*libsoftokn3\.so/);
    for (const [n, label] of cards) expect(r.stdout).toMatch(new RegExp(`token ${n} \\("${label}"\\): [^\\n]*SoftHSM, ${softHsmModule().replace(/[.]/g, '\\.')}`));
    // past the libraries, the tokens, the PINs and the capability preflight, the clock needs a person at a terminal
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain('CEREMONY_NO_TERMINAL');
    expect(r.status).toBe(1);
  });
  test('NSS named without its parameters: HSM_MODULE_NEEDS_PARAMS, naming the token and where in the profile the parameters go', () => {
    const r = real(write('noparams.json', { module: nss.module }), join(work, 'real', 'noparams'));
    expect([r.status, r.stderr]).toEqual([1, expect.stringMatching(ERROR_LINE)]);
    expect(r.stderr).toContain('HSM_MODULE_NEEDS_PARAMS');
    expect(r.stderr).toContain('the library of hsm in the profile');
    expect(r.stderr).toContain('tokens.hsm.moduleParams');
    expect(r.stdout).not.toContain('Tokens and their libraries');
  });
  test('two libraries that will not open are listed in one refusal, each with its code', () => {
    const r = real(write('two-bad.json', { module: nss.module }, join(work, 'real', 'no-such-library.so')), join(work, 'real', 'twobad'));
    expect(r.stderr).toMatch(ERROR_LINE);
    expect(r.stderr).toContain('CEREMONY_LIBRARIES_UNAVAILABLE');
    expect(r.stderr).toContain('HSM_MODULE_NEEDS_PARAMS');
    expect(r.stderr).toContain('HSM_MODULE_NOT_FOUND');
    expect(r.status).toBe(2);
  });
});

describe('the profile', () => {
  const script = parseScript(new TextEncoder().encode(JSON.stringify(TEMPLATES['monthly-jwt-rotation'])));
  const parse = (o: unknown) => parseProfile(new TextEncoder().encode(JSON.stringify(o)), script);
  const problems = (o: unknown): string[] => {
    try { parse(o); } catch (err) { if (err instanceof DocumentError) return err.problems.map((p) => `${p.code} ${p.path}`); throw err; }
    return [];
  };
  const tokens = (per: Record<string, object> = {}) => Object.fromEntries(script.tokens.map((t) => [t.name, { pinEnv: null, ...per[t.name] }]));
  test('the first form, one module for every token, is still read as before', () => {
    const p = parse({ spec: SPEC, module: '/usr/lib/softhsm/libsofthsm2.so', tokens: tokens() });
    expect(p.module).toBe('/usr/lib/softhsm/libsofthsm2.so');
    expect(p.libraries).toEqual([{ path: '/usr/lib/softhsm/libsofthsm2.so', params: undefined, tokens: script.tokens.map((t) => t.name) }]);
  });
  test('each library once, with its parameters, wherever they are given; a token may name its own', () => {
    const p = parse({ spec: SPEC, module: '/lib/a.so', moduleParams: 'p=1', tokens: tokens({ hsm: { module: '/lib/nss.so', moduleParams: "configdir='sql:/x'" }, 'card-bob': { module: '/lib/nss.so' } }) });
    expect(p.libraries).toEqual([
      { path: '/lib/a.so', params: 'p=1', tokens: ['card-alice', 'card-carol'] },
      { path: '/lib/nss.so', params: "configdir='sql:/x'", tokens: ['hsm', 'card-bob'] },
    ]);
    expect(p.tokens.get('card-bob')).toEqual({ pinEnv: null, library: '/lib/nss.so' });
  });
  test('every bad field by its path: two parameter strings for one library, parameters without a library, a token with no library, unknown members', () => {
    expect(problems({ spec: SPEC, module: '/lib/a.so', moduleParams: 'x', tokens: tokens({ hsm: { module: '/lib/a.so', moduleParams: 'y' } }) })).toEqual(['PROFILE_PARAMS_CONFLICT tokens.hsm.moduleParams']);
    expect(problems({ spec: SPEC, tokens: tokens({ hsm: { module: '/lib/a.so' }, 'card-bob': { moduleParams: 'x', pin: '1234' } }) })).toEqual([
      'PROFILE_NO_MODULE tokens.card-alice.module', 'DOCUMENT_UNKNOWN_MEMBER tokens.card-bob.pin', 'PROFILE_NO_MODULE tokens.card-carol.module',
    ]);
    expect(problems({ spec: SPEC, tokens: tokens({ hsm: { module: '/lib/a.so' }, 'card-alice': { module: '/lib/a.so' }, 'card-bob': { moduleParams: 'x' }, 'card-carol': { module: 'relative.so' } }) })).toEqual([
      'PROFILE_PARAMS_WITHOUT_MODULE tokens.card-bob.moduleParams', 'PROFILE_NO_MODULE tokens.card-bob.module', 'DOCUMENT_BAD_VALUE tokens.card-carol.module',
    ]);
    expect(problems({ spec: SPEC, moduleParams: 'x', extra: 1, tokens: tokens({ hsm: { module: '/lib/a.so' } }) })).toEqual(expect.arrayContaining(['DOCUMENT_UNKNOWN_MEMBER $.extra']));
  });
  test('a link to an open library is that library: one instance, one C_Initialize', () => {
    const soft = createSoftHsm([]);
    const link = join(work, 'libsofthsm2-in-process.so');
    symlinkSync(softHsmModule(), link);
    const a = Pkcs11Module.open(softHsmModule());
    try {
      expect(Pkcs11Module.open(link)).toBe(a);
    } finally {
      a.close();
      soft.cleanup();
    }
  });
});
