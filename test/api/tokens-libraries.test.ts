/**
 * The app's libraries (issue 16), through the handler table over real tokens in one process: the
 * default library (SoftHSM2, KEYCEREMONY_PKCS11_MODULE) and a ceremony profile (KEYCEREMONY_PROFILE,
 * the file of `ceremony run --profile`) that puts the HSM on NSS softokn and names a library that is
 * not a PKCS#11 library. tokens.list gives every library and each token under its own; the broken
 * library is reported with its code and the fix in the profile while the others work; keys, export
 * and a live run's script tokens find each token in the library it lives in; the same label in two
 * libraries is refused as ambiguous, naming both, unless the serial, the library or the profile says
 * which. Requests naming a library are checked at the boundary.
 *
 * One NSS database token per process (test/support/nss.ts), so NSS without its parameters is in
 * ./tokens-library-params.test.ts.
 */
import { constants, createCipheriv, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { CeremonyStatusView } from '../../src/api/contract.js';
import { createHandlers } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { ok, writeProfile } from '../support/result.js';

/** The NSS token and a SoftHSM2 token share the label "Ceremony HSM": a simulation HSM left on the machine, and the real one. */
const HSM_LABEL = 'Ceremony HSM';
const CARDS = [{ label: 'card-alice', pin: '11112222', soPin: '12345678' }, { label: 'card-bob', pin: '33334444', soPin: '12345678' }];
const SPARE = { label: HSM_LABEL, pin: '99998888', soPin: '12345678' };
const NSS_SERIAL = '0000000000000000';

let soft: SoftHsm;
let nss: Nss;
let work: string;
let notPkcs11: string;
let chosen: string | null = null;

const profile = (name: string, body: object): string => writeProfile(work, name, body);

const table = (env: NodeJS.ProcessEnv, extra: Partial<Parameters<typeof createHandlers>[0]> = {}): Handlers =>
  createHandlers({ env, version: 'test', interfaces: () => [], chooseFolder: async () => chosen, ...extra });

beforeAll(() => {
  soft = createSoftHsm([...CARDS, SPARE]);
  nss = createNss({ label: HSM_LABEL });
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-api-libraries-')));
  // a file named like a library that is none: it will not load
  notPkcs11 = join(work, 'libvendor-pkcs11.so');
  writeFileSync(notPkcs11, 'this is not a shared object\n');
}, 60_000);
afterAll(() => { soft?.cleanup(); nss?.cleanup(); rmSync(work, { recursive: true, force: true }); });

/** The room: the default library SoftHSM2 (the cards), and a profile with the HSM on NSS and a vendor library that will not load. */
const room = () => {
  const file = profile('room', { module: soft.module, tokens: { hsm: { pinEnv: null, module: nss.module, moduleParams: nss.params }, 'card-alice': { pinEnv: null }, 'card-bob': { pinEnv: null },
    vendor: { pinEnv: null, module: notPkcs11 } } });
  return table({ KEYCEREMONY_PKCS11_MODULE: soft.module, KEYCEREMONY_PROFILE: file, KEYCEREMONY_REMOVABLE_ROOTS: work });
};

describe('tokens.list: every library, each token under its own, a broken library beside the others', () => {
  test('SoftHSM2 (the default library and the profile\'s module, one library), NSS from the profile with its parameters, and a file that is no PKCS#11 library', async () => {
    const h = room();
    const list = ok(await h['tokens.list']({}));
    expect(list.profile).toEqual({ path: join(work, 'room.profile.json'), error: null });
    expect(list.libraries.map((l) => [l.path, l.implementation, l.simulation, l.error?.code ?? null])).toEqual([
      [soft.module, 'softhsm2', true, null], [nss.module, 'nss-softokn', false, null], [notPkcs11, null, false, 'HSM_MODULE_LOAD_FAILED']]);
    const [softLib, nssLib, broken] = list.libraries;
    // one library named twice (the environment and the profile's top-level module) is listed once, named by both
    expect(softLib!.configured).toContain('KEYCEREMONY_PKCS11_MODULE');
    expect(softLib!.configured).toContain('the profile (module, for card-alice and card-bob)');
    expect(softLib!.description).toBe(`Implementation of PKCS11 ${/PKCS11 (\d+\.\d+) by/.exec(softLib!.description!)![1]} by SoftHSM, ${soft.module}`);
    expect(nssLib!.description).toBe(`NSS Internal Crypto Services 3.${/3\.(\d+) by/.exec(nssLib!.description!)![1]} by Mozilla Foundation, ${nss.module}`);
    expect(nssLib!.configured).toBe('the profile (tokens.hsm.module, for hsm)');
    // the fix says where the library goes in the profile, and which tokens need it
    expect(broken).toMatchObject({ description: null, configured: 'the profile (tokens.vendor.module, for vendor)' });
    expect(broken!.error!.message).toContain('the library of vendor in the profile');
    expect(broken!.error!.fix).toContain('name the vendor\'s PKCS#11 library in the profile');
    // each token under its library: the HSM label in both, each once
    const at = (label: string) => list.tokens.filter((t) => t.label === label).map((t) => t.library).sort();
    expect(at(HSM_LABEL)).toEqual([soft.module, nss.module].sort());
    expect(at('card-alice')).toEqual([soft.module]);
    expect(at('NSS Generic Crypto Services')).toEqual([nss.module]);
    expect(list.tokens.find((t) => t.library === nss.module && t.label === HSM_LABEL)).toMatchObject({ serial: NSS_SERIAL, loginRequired: true, capabilities: { aes256: true, rsaOaep: true } });
    // app.info: the default library
    expect(ok(await h['app.info']({}))).toMatchObject({ module: soft.module, simulation: true, moduleError: null });
  });

  test('a missing library and a profile that cannot be used are reported the same way, and the default library still lists', async () => {
    const bad = profile('bad', { module: soft.module, tokens: { hsm: { pinEnv: 'not a name', moduleParams: 'x' } } });
    const h = table({ KEYCEREMONY_PKCS11_MODULE: soft.module, KEYCEREMONY_PROFILE: bad });
    const list = ok(await h['tokens.list']({}));
    expect(list.profile!.error!.code).toMatch(/^DOCUMENT_|^PROFILE_/);
    // every problem by path, and where to correct it
    expect(list.profile!.error!.message).toContain('tokens.hsm.pinEnv');
    expect(list.profile!.error!.message).toContain('tokens.hsm.moduleParams');
    expect(list.profile!.error!.fix).toContain('ceremony run --profile');
    expect(list.libraries.map((l) => [l.path, l.error])).toEqual([[soft.module, null]]);
    expect(list.tokens.map((t) => t.label)).toContain('card-bob');
    // only a profile, which cannot be used: no library at all, and the profile's error is the app's
    const alone = table({ KEYCEREMONY_PROFILE: bad });
    expect(ok(await alone['tokens.list']({})).libraries).toEqual([]);
    expect(ok(await alone['app.info']({}))).toMatchObject({ module: null, moduleError: { code: list.profile!.error!.code } });
    expect(await alone['keys.publicKey']({ token: { label: 'card-bob' }, label: 'x' })).toMatchObject({ ok: false, error: { code: list.profile!.error!.code } });
    // a relative path and a missing file
    expect(ok(await table({ KEYCEREMONY_PKCS11_MODULE: soft.module, KEYCEREMONY_PROFILE: 'room.profile.json' })['tokens.list']({})).profile!.error!.code).toBe('PROFILE_PATH_RELATIVE');
    expect(ok(await table({ KEYCEREMONY_PKCS11_MODULE: soft.module, KEYCEREMONY_PROFILE: join(work, 'none.json') })['tokens.list']({})).profile!.error!.code).toBe('INPUT_UNREADABLE');
    const missing = profile('missing', { module: soft.module, tokens: { 'card-alice': { pinEnv: null }, hsm: { pinEnv: null, module: '/opt/vendor/lib/libmissing.so' } } });
    const m = ok(await table({ KEYCEREMONY_PROFILE: missing })['tokens.list']({}));
    expect(m.libraries.map((l) => [l.path, l.error?.code ?? null])).toEqual([[soft.module, null], ['/opt/vendor/lib/libmissing.so', 'HSM_MODULE_NOT_FOUND']]);
    expect(m.libraries[1]!.error!.fix).toContain('used by hsm');
  });
});

describe('token lookups find each token in the library it lives in', () => {
  test('keys: a card by its label (only in SoftHSM2); the HSM label in two libraries refused, naming both, until the serial or the library says which', async () => {
    const h = room();
    const card = ok(await h['keys.generate']({ kind: 'custodian', token: { label: 'card-alice' }, label: 'alice-sign-v1', pin: CARDS[0]!.pin }));
    expect(ok(await h['keys.publicKey']({ token: { label: 'card-alice' }, label: 'alice-sign-v1' })).publicKey).toBe(card.publicKey);
    const amb = await h['keys.generate']({ kind: 'master', token: { label: HSM_LABEL }, label: 'master-v1', pin: nss.pin });
    expect(amb).toMatchObject({ ok: false, error: { code: 'HSM_TOKEN_AMBIGUOUS' } });
    if (!amb.ok) {
      expect(amb.error.message).toContain(nss.module);
      expect(amb.error.message).toContain(soft.module);
    }
    // by serial: NSS's
    const bySerial = ok(await h['keys.generate']({ kind: 'master', token: { label: HSM_LABEL, serial: NSS_SERIAL }, label: 'master-v1', pin: nss.pin, extractable: true }));
    expect(bySerial.kcv).toMatch(/^ecb:[0-9a-f]{6}$/);
    // by library: the key is there, and not in the SoftHSM2 token of the same label
    expect(await h['keys.generate']({ kind: 'master', token: { label: HSM_LABEL, library: nss.module }, label: 'master-v1', pin: nss.pin })).toMatchObject({ ok: false, error: { code: 'HSM_OBJECT_EXISTS' } });
    ok(await h['keys.generate']({ kind: 'master', token: { label: HSM_LABEL, library: soft.module }, label: 'master-v1', pin: SPARE.pin }));
    // a library the app does not have, and a token that is nowhere: the broken library is named, it may hold it
    expect(await h['keys.publicKey']({ token: { label: 'card-alice', library: '/usr/lib/other/libpkcs11.so' }, label: 'alice-sign-v1' })).toMatchObject({ ok: false, error: { code: 'HSM_LIBRARY_UNKNOWN' } });
    const nowhere = await h['keys.publicKey']({ token: { label: 'card-zoe' }, label: 'zoe-sign-v1' });
    expect(nowhere).toMatchObject({ ok: false, error: { code: 'HSM_TOKEN_NOT_FOUND' } });
    if (!nowhere.ok) {
      expect(nowhere.error.message).toContain(`${notPkcs11} would not open (HSM_MODULE_LOAD_FAILED)`);
      expect(nowhere.error.fix).toContain('in the profile');
    }
    // the broken library, named: its own error
    expect(await h['keys.publicKey']({ token: { label: 'card-alice', library: notPkcs11 }, label: 'x' })).toMatchObject({ ok: false, error: { code: 'HSM_MODULE_LOAD_FAILED' } });
    // with the default library alone, the label is one token again (the SoftHSM2 one)
    const alone = table({ KEYCEREMONY_PKCS11_MODULE: soft.module });
    expect(ok(await alone['tokens.list']({})).libraries.map((l) => l.path)).toEqual([soft.module]);
    expect(await alone['keys.generate']({ kind: 'master', token: { label: HSM_LABEL }, label: 'master-v1', pin: SPARE.pin })).toMatchObject({ ok: false, error: { code: 'HSM_OBJECT_EXISTS' } });
  });

  test('export: the master key made on NSS exports by direct RSAES-OAEP SHA-256 (a target SoftHSM2 lacks); the KMS\'s private key recovers it with the token\'s KCV', async () => {
    const h = room();
    const hsm = { label: HSM_LABEL, library: nss.module };
    const master = ok(await h['keys.generate']({ kind: 'master', token: hsm, label: 'master-v2', pin: nss.pin, extractable: true }));
    const kek = generateKeyPairSync('rsa', { modulusLength: 3072 });
    const drive = ok(await h['media.list']({})).media.find((m) => m.mountPoint === work)!.handle;
    const r = ok(await h['export.run']({ token: hsm, keyLabel: 'master-v2', target: 'aws-rsaes-oaep-sha256', wrappingKey: kek.publicKey.export({ type: 'spki', format: 'pem' }) as string,
      drive, folder: 'nss-export', pin: nss.pin }));
    expect(r).toMatchObject({ target: 'aws-rsaes-oaep-sha256', wrap: 'token', kcv: master.kcv!.slice('ecb:'.length) });
    const key = privateDecrypt({ key: kek.privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, readFileSync(join(work, 'nss-export', 'EncryptedKeyMaterial.bin')));
    const c = createCipheriv('aes-256-ecb', key, null);
    expect(`ecb:${c.update(Buffer.alloc(16)).subarray(0, 3).toString('hex')}`).toBe(master.kcv);
  });
});

describe('ceremony.start: the script\'s tokens, each in its library', () => {
  const trio = ['alice', 'bob'];
  const script = JSON.stringify({ spec: 'keyceremony/ceremony-script@1', id: 'two-libraries', title: 'The HSM on NSS, the cards on SoftHSM2',
    participants: [{ id: 'admin', name: 'Administrator', role: 'administrator' }, { id: 'wendy', name: 'Witness', role: 'witness' }, ...trio.map((id) => ({ id, name: id, role: 'custodian' }))],
    tokens: [{ name: 'hsm', label: HSM_LABEL, serial: null, holder: null }, ...trio.map((id) => ({ name: `card-${id}`, label: `card-${id}`, serial: null, holder: id }))],
    steps: [{ id: 'custodian-keys', action: 'custodian-keys', actor: 'admin', witness: 'wendy', custodians: trio }] });
  const folder = async (h: Handlers, name: string): Promise<string> => {
    mkdirSync(join(work, name));
    chosen = join(work, name);
    return ok(await h['folders.choose']({ purpose: 'ceremony' })).folder!.handle;
  };
  const until = async (h: Handlers, runId: string, done: (s: CeremonyStatusView) => boolean): Promise<CeremonyStatusView> => {
    let s = ok(await h['ceremony.status']({ runId }));
    for (let i = 0; i < 400 && !done(s); i++) { await new Promise((r) => setTimeout(r, 25)); s = ok(await h['ceremony.status']({ runId })); }
    return s;
  };

  test('a profile for this script puts the HSM on NSS (the label in SoftHSM2 too is no ambiguity then): the run says each token\'s library and asks for the NSS token\'s PIN', async () => {
    const fits = profile('fits', { module: soft.module, tokens: { hsm: { pinEnv: null, module: nss.module, moduleParams: nss.params }, 'card-alice': { pinEnv: null }, 'card-bob': { pinEnv: null } } });
    const h = table({ KEYCEREMONY_PKCS11_MODULE: soft.module, KEYCEREMONY_PROFILE: fits });
    const { runId } = ok(await h['ceremony.start']({ script, ceremonyFolder: await folder(h, 'run-fits'), noRehearsal: true }));
    let s = await until(h, runId, (x) => x.state !== 'running');
    expect(s).toMatchObject({ state: 'waiting', pinRequest: { token: 'hsm', label: HSM_LABEL, serial: NSS_SERIAL } });
    const lines = s.lines.join('\n');
    expect(lines).toContain(`token hsm ("${HSM_LABEL}"): NSS Internal Crypto Services`);
    expect(lines).toContain(`Mozilla Foundation, ${nss.module}`);
    for (const c of ['card-alice', 'card-bob']) expect(lines).toMatch(new RegExp(`token ${c} \\("${c}"\\): [^\\n]* by SoftHSM, ${soft.module.replace(/[.]/g, '\\.')}\\n`));
    // the NSS token takes its PIN (a trial login there), and the run goes on
    expect(ok(await h['ceremony.pin']({ runId, token: 'hsm', pin: nss.pin }))).toEqual({ token: 'hsm', accepted: true });
    s = await until(h, runId, (x) => x.state !== 'running');
    expect(s.question?.kind).toBe('clock');
    ok(await h['ceremony.stop']({ runId }));
  });

  test('a profile written for another script: each token by its label across the libraries, so the HSM label in two is refused before the run begins', async () => {
    const h = room();
    const r = await h['ceremony.start']({ script, ceremonyFolder: await folder(h, 'run-other'), noRehearsal: true });
    expect(r).toMatchObject({ ok: false, error: { code: 'HSM_TOKEN_AMBIGUOUS' } });
    // naming the serial in the script is enough
    const pinned = script.replace(`"label":"${HSM_LABEL}","serial":null`, `"label":"${HSM_LABEL}","serial":"${NSS_SERIAL}"`);
    expect(pinned).not.toBe(script);
    const { runId } = ok(await h['ceremony.start']({ script: pinned, ceremonyFolder: await folder(h, 'run-pinned'), noRehearsal: true }));
    const s = await until(h, runId, (x) => x.state !== 'running');
    expect(s.pinRequest).toMatchObject({ token: 'hsm', serial: NSS_SERIAL });
    expect(s.lines[0]).toMatch(/^The app's profile .*room\.profile\.json does not name this script's tokens \(DOCUMENT_UNKNOWN_MEMBER: tokens\.vendor/);
    ok(await h['ceremony.stop']({ runId }));
  });
});

describe('a token\'s library at the IPC boundary', () => {
  test('only an absolute path of at most 4096 characters, without NUL, in a token of any channel; a path is checked against the app\'s libraries, never opened', async () => {
    const h = room();
    const bad: unknown[] = ['', 'libsofthsm2.so', './lib.so', '/', `/${'a'.repeat(4096)}`, '/usr/lib/\u0000x.so', 42, null, ['/usr/lib/x.so'], { path: '/x' }];
    for (const library of bad) {
      for (const [channel, request] of [
        ['keys.publicKey', { token: { label: 'card-alice', library }, label: 'alice-sign-v1' }],
        ['keys.generate', { kind: 'master', token: { label: 'card-alice', library }, label: 'm', pin: '1' }],
        ['documents.sign', { document: '{}', token: { label: 'card-alice', library }, keyLabel: 'k', pin: '1' }],
        ['export.run', { token: { label: 'card-alice', library }, keyLabel: 'k', target: 'azure-byok', wrappingKey: 'x'.repeat(20), drive: '0'.repeat(32), folder: 'f', pin: '1' }],
        ['backup.splitStore', { splitId: '0'.repeat(32), custodian: 'alice', token: { label: 'card-alice', library }, pin: '1' }],
        ['drill.run', { drillId: '0'.repeat(32), token: { label: 'card-alice', library }, pin: '1' }],
      ] as const) {
        const r = await h[channel](request);
        expect([channel, library, r.ok ? 'ok' : r.error.code]).toEqual([channel, library, 'IPC_BAD_REQUEST']);
        if (!r.ok) expect(r.error.message).toContain('.token.library');
      }
    }
    // well-formed but not the app's: refused by its code, and nothing was loaded from it
    expect(await h['keys.publicKey']({ token: { label: 'card-alice', library: join(work, 'libvendor-pkcs11.so.1') }, label: 'alice-sign-v1' })).toMatchObject({ ok: false, error: { code: 'HSM_LIBRARY_UNKNOWN' } });
    expect(ok(await h['tokens.list']({})).libraries.map((l) => l.path)).toEqual([soft.module, nss.module, notPkcs11]);
    // tokens.list still takes nothing but {}
    for (const r of [{ library: nss.module }, { profile: '/x' }, null]) expect(await h['tokens.list'](r)).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
  });
});
