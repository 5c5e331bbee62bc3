/**
 * A library that needs initialization parameters and is not given them (issue 16): NSS softokn
 * without its `configdir=…` string refuses C_Initialize, and the app reports it with
 * HSM_MODULE_NEEDS_PARAMS and the fix where the parameters go (KEYCEREMONY_PKCS11_MODULE_PARAMS for
 * the default library, the profile's `tokens.hsm.moduleParams` for a profile's), while the cards on
 * SoftHSM2 are listed and used. NSS never opens in this process (a library is process-global: once
 * initialised with its parameters, it would be open for every later table), so this file is apart
 * from ./tokens-libraries.test.ts.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { ok, writeProfile } from '../support/result.js';

const CARD = { label: 'card-alice', pin: '11112222', soPin: '12345678' };
let soft: SoftHsm;
let nss: Nss;
let work: string;
let chosen: string | null = null;

const profile = (name: string, body: object): string => writeProfile(work, name, body);

const table = (env: NodeJS.ProcessEnv) => createHandlers({ env, version: 'test', interfaces: () => [], chooseFolder: async () => chosen });

beforeAll(() => {
  soft = createSoftHsm([CARD]);
  nss = createNss({ label: 'NSS HSM' });
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-api-params-')));
}, 60_000);
afterAll(() => { soft?.cleanup(); nss?.cleanup(); rmSync(work, { recursive: true, force: true }); });

describe('NSS without its parameters', () => {
  test('as the default library: HSM_MODULE_NEEDS_PARAMS with the environment\'s fix, in tokens.list and app.info; the profile\'s SoftHSM2 still lists and makes keys', async () => {
    const cards = profile('cards', { module: soft.module, tokens: { 'card-alice': { pinEnv: null } } });
    const h = table({ KEYCEREMONY_PKCS11_MODULE: nss.module, KEYCEREMONY_PROFILE: cards });
    const list = ok(await h['tokens.list']({}));
    expect(list.libraries.map((l) => [l.path, l.error?.code ?? null])).toEqual([[nss.module, 'HSM_MODULE_NEEDS_PARAMS'], [soft.module, null]]);
    expect(list.libraries[0]).toMatchObject({ configured: 'KEYCEREMONY_PKCS11_MODULE', description: null, implementation: null });
    expect(list.libraries[0]!.error!.fix).toContain('KEYCEREMONY_PKCS11_MODULE_PARAMS');
    expect(list.tokens.map((t) => [t.label, t.library])).toEqual([[CARD.label, soft.module]]);
    expect(ok(await h['app.info']({}))).toMatchObject({ module: null, moduleError: { code: 'HSM_MODULE_NEEDS_PARAMS' } });
    const k = ok(await h['keys.generate']({ kind: 'custodian', token: { label: CARD.label }, label: 'alice-sign-v1', pin: CARD.pin }));
    expect(k.fingerprint?.words).toHaveLength(12);
    // the NSS token is not found, and the library that may hold it is named with its fix
    const hsm = await h['keys.generate']({ kind: 'master', token: { label: 'NSS HSM' }, label: 'master-v1', pin: nss.pin });
    expect(hsm).toMatchObject({ ok: false, error: { code: 'HSM_TOKEN_NOT_FOUND' } });
    if (!hsm.ok) {
      expect(hsm.error.message).toContain(`${nss.module} would not open (HSM_MODULE_NEEDS_PARAMS)`);
      expect(hsm.error.fix).toContain('KEYCEREMONY_PKCS11_MODULE_PARAMS');
    }
    // named by its library: its own refusal
    expect(await h['keys.generate']({ kind: 'master', token: { label: 'NSS HSM', library: nss.module }, label: 'master-v1', pin: nss.pin }))
      .toMatchObject({ ok: false, error: { code: 'HSM_MODULE_NEEDS_PARAMS' } });
  });

  test('in the profile: the fix names tokens.hsm.moduleParams; a live run whose HSM is there is refused with it before it begins', async () => {
    const file = profile('no-params', { module: soft.module, tokens: { hsm: { pinEnv: null, module: nss.module }, 'card-alice': { pinEnv: null } } });
    const h = table({ KEYCEREMONY_PROFILE: file });
    const list = ok(await h['tokens.list']({}));
    // in the profile's order: its top-level module, then the token's own
    expect(list.libraries.map((l) => [l.path, l.error?.code ?? null])).toEqual([[soft.module, null], [nss.module, 'HSM_MODULE_NEEDS_PARAMS']]);
    const e = list.libraries[1]!.error!;
    expect(e.message).toContain('the library of hsm in the profile');
    expect(e.fix).toContain('give its initialization parameters in the profile, as tokens.hsm.moduleParams');
    expect(list.tokens.map((t) => t.label)).toEqual([CARD.label]);
    const script = JSON.stringify({ spec: 'keyceremony/ceremony-script@1', id: 'nss-no-params', title: 'The HSM on NSS',
      participants: [{ id: 'admin', name: 'Administrator', role: 'administrator' }, { id: 'wendy', name: 'Witness', role: 'witness' }, { id: 'alice', name: 'Alice', role: 'custodian' }],
      tokens: [{ name: 'hsm', label: 'NSS HSM', serial: null, holder: null }, { name: 'card-alice', label: CARD.label, serial: null, holder: 'alice' }],
      steps: [{ id: 'custodian-keys', action: 'custodian-keys', actor: 'admin', witness: 'wendy', custodians: ['alice'] }] });
    mkdirSync(join(work, 'run'));
    chosen = join(work, 'run');
    const ceremonyFolder = ok(await h['folders.choose']({ purpose: 'ceremony' })).folder!.handle;
    const r = await h['ceremony.start']({ script, ceremonyFolder, noRehearsal: true });
    expect(r).toMatchObject({ ok: false, error: { code: 'HSM_MODULE_NEEDS_PARAMS' } });
    if (!r.ok) expect(r.error.fix).toContain('tokens.hsm.moduleParams');
  });

  test('the same library given different parameters in the environment and in the profile: HSM_MODULE_PARAMS_CONFLICT, before it is opened', async () => {
    const file = profile('conflict', { module: soft.module, tokens: { hsm: { pinEnv: null, module: nss.module, moduleParams: `${nss.params} flags=readOnly` }, 'card-alice': { pinEnv: null } } });
    const h = table({ KEYCEREMONY_PKCS11_MODULE: nss.module, KEYCEREMONY_PKCS11_MODULE_PARAMS: nss.params, KEYCEREMONY_PROFILE: file });
    const list = ok(await h['tokens.list']({}));
    expect(list.libraries.map((l) => [l.path, l.error?.code ?? null])).toEqual([[nss.module, 'HSM_MODULE_PARAMS_CONFLICT'], [soft.module, null]]);
    expect(list.libraries[0]!.configured).toBe('KEYCEREMONY_PKCS11_MODULE with KEYCEREMONY_PKCS11_MODULE_PARAMS; the profile (tokens.hsm.module, for hsm)');
    expect(list.tokens.map((t) => t.label)).toEqual([CARD.label]);
  });
});
