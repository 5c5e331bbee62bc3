/**
 * `keyceremony tokens URI…` (issue 16): the tokens of several libraries in one listing, each under
 * its library (the default one and each URI's module-path), a URI's token= narrowing its library's
 * list; a library that will not open is named with its code and fix while the others are listed.
 */
import { afterAll, beforeAll, expect, test } from 'vitest';
import { ERROR_LINE, runCli } from '../support/cli.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

let soft: SoftHsm;
let nss: Nss;
const CARDS = ['custodian-alice', 'custodian-bob'];

beforeAll(() => {
  soft = createSoftHsm(CARDS.map((label) => ({ label, pin: '1234', soPin: '12345678' })), { setProcessEnv: false });
  nss = createNss({ label: 'NSS HSM' });
}, 60_000);
afterAll(() => { soft?.cleanup(); nss?.cleanup(); });

interface Listing {
  module: { path: string } | null;
  libraries: { path: string; implementation?: string; error: { code: string } | null }[];
  tokens: { label: string; library: string }[];
}

const at = (path: string) => `pkcs11:?module-path=${path}`;

test('the HSM on NSS (the default library, with its parameters) and the cards on SoftHSM2 (by module-path): each token under its own library', () => {
  const r = runCli(['tokens', at(soft.module), '--json'], { ...soft.env, ...nss.env });
  expect([r.status, r.stderr]).toEqual([0, '']);
  const out = JSON.parse(r.stdout) as Listing;
  expect(out.libraries.map((l) => [l.path, l.implementation, l.error])).toEqual([[nss.module, 'nss-softokn', null], [soft.module, 'softhsm2', null]]);
  expect(out.tokens.filter((t) => t.label === nss.label).map((t) => t.library)).toEqual([nss.module]);
  for (const c of CARDS) expect(out.tokens.filter((t) => t.label === c).map((t) => t.library)).toEqual([soft.module]);
  const text = runCli(['tokens', `pkcs11:token=custodian-bob?module-path=${soft.module}`], { ...soft.env, ...nss.env });
  expect(text.status).toBe(0);
  expect(text.stdout).toContain(`module ${nss.module}: Mozilla Foundation`);
  expect(text.stdout).toContain('token "custodian-bob"');
  expect(text.stdout).not.toContain('token "custodian-alice"'); // narrowed by the URI's token=
  expect(text.stdout).toMatch(/token "custodian-bob"[^\n]*\n {2}library [^\n]*libsofthsm2\.so/);
});

test('a library that will not open is named with its code and fix, and the others are still listed: NSS by module-path (no parameters there) exits 1, a missing library 2', () => {
  const env = { ...soft.env, KEYCEREMONY_PKCS11_MODULE: soft.module };
  const r = runCli(['tokens', at(nss.module), '--json'], env);
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(ERROR_LINE);
  expect(r.stderr).toContain('HSM_MODULE_NEEDS_PARAMS');
  const out = JSON.parse(r.stdout) as Listing;
  expect(out.libraries.map((l) => l.error?.code ?? null)).toEqual([null, 'HSM_MODULE_NEEDS_PARAMS']);
  expect(out.tokens.map((t) => t.label)).toEqual(expect.arrayContaining(CARDS));
  const missing = runCli(['tokens', at('/opt/vendor/libmissing.so')], env);
  expect(missing.status).toBe(2);
  expect(missing.stderr).toContain('HSM_MODULE_NOT_FOUND');
  expect(missing.stdout).toContain('token "custodian-alice"');
  expect(missing.stdout).toContain('module /opt/vendor/libmissing.so: not opened (HSM_MODULE_NOT_FOUND)');
});
