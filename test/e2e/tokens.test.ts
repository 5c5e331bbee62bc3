/**
 * The Tokens screen with several libraries (issue 16), in headless Chromium over real tokens: the
 * cards on SoftHSM2 (KEYCEREMONY_PKCS11_MODULE) and, from a ceremony profile (KEYCEREMONY_PROFILE),
 * the HSM on NSS softokn and a vendor library that is not a PKCS#11 library. One table per library,
 * each named by what the library says of itself; the broken library shows its code and the fix in
 * its place while the others list their tokens; the Keys screen's token list names each token's
 * library, and a key is made on the NSS token. Screenshot in test-results/screens/, axe-core and
 * the contrast check with no finding.
 */
import { mkdirSync, mkdtempSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { buildRenderer, closeAll, launch, openApp, SHOTS, uiHelpers } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { createNss } from '../support/nss.js';
import type { Nss } from '../support/nss.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { axe, contrast, serveAxe } from './page-checks.js';

const CARDS = [['card-alice', '11112222'], ['card-bob', '33334444']] as const;
let soft: SoftHsm;
let nss: Nss;
let root: string;
let work: string;
let notPkcs11: string;
let browser: Browser;
let app: AppPage;
let page: Page;
const { visible, text, shot, nav, idle } = uiHelpers(() => page);

beforeAll(async () => {
  soft = createSoftHsm(CARDS.map(([label, pin]) => ({ label, pin, soPin: '87654321' })));
  nss = createNss({ label: 'Ceremony HSM' });
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-e2e-tokens-')));
  notPkcs11 = join(work, 'libvendor-pkcs11.so');
  writeFileSync(notPkcs11, 'not a shared object\n');
  const profile = join(work, 'room.profile.json');
  writeFileSync(profile, JSON.stringify({ spec: 'keyceremony/ceremony-profile@1', module: soft.module,
    tokens: { hsm: { pinEnv: null, module: nss.module, moduleParams: nss.params }, 'card-alice': { pinEnv: null }, 'card-bob': { pinEnv: null }, vendor: { pinEnv: null, module: notPkcs11 } } }));
  root = await buildRenderer();
  serveAxe(root);
  browser = await launch();
  app = await openApp(browser, root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: soft.module, KEYCEREMONY_PROFILE: profile }, version: 'e2e', interfaces: () => [] }));
  page = app.page;
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);
afterAll(async () => { await closeAll({ browser, hsm: soft, dirs: [root, work] }); nss?.cleanup(); });

test('a table per library, the broken one with its code and fix, the others listed; the Keys screen names each token\'s library and makes a key on NSS', async () => {
  await visible(page.getByRole('heading', { level: 2, name: 'Tokens' }));
  const library = (name: RegExp) => page.getByRole('region', { name });
  const softLib = library(/ by SoftHSM, /);
  const nssLib = library(/^NSS Internal Crypto Services .* by Mozilla Foundation, /);
  const broken = library(/libvendor-pkcs11\.so: not opened$/);
  await visible(broken);
  await idle();
  // each library's own tokens, in its own table
  for (const [label] of CARDS) await visible(softLib.getByRole('cell', { name: label, exact: true }));
  expect(await softLib.getByRole('cell', { name: 'Ceremony HSM' }).count()).toBe(0);
  await visible(nssLib.getByRole('cell', { name: 'Ceremony HSM', exact: true }));
  await visible(nssLib.getByRole('cell', { name: '0000000000000000' }));
  expect(await nssLib.getByRole('cell', { name: 'card-alice' }).count()).toBe(0);
  await text(softLib).toContain('Configured by KEYCEREMONY_PKCS11_MODULE; the profile (module, for card-alice and card-bob)');
  await text(softLib).toContain('Simulation tokens (SoftHSM2)');
  await text(nssLib).toContain('Configured by the profile (tokens.hsm.module, for hsm)');
  // the broken library: its code, what happened and the fix, where it is listed; no table
  await text(broken).toContain('HSM_MODULE_LOAD_FAILED');
  await text(broken).toContain("What to do: name the vendor's PKCS#11 library in the profile");
  expect(await broken.getByRole('table').count()).toBe(0);
  await text(page.getByRole('region', { name: 'Ceremony profile' })).toContain(`Libraries from the ceremony profile ${join(work, 'room.profile.json')}.`);
  await text(page.getByRole('main')).toContain('3 libraries, 1 of them not opened.');
  await shot('tokens-libraries');
  expect(await axe(page, 'Tokens, several libraries')).toEqual([]);
  expect(await contrast(page, 'Tokens, several libraries')).toEqual([]);

  // the Keys screen: each option names its library; the NSS token makes a master key
  await nav('Keys');
  const token = page.getByLabel('Token');
  await text(token.locator('option').filter({ hasText: 'Ceremony HSM' })).toBe('Ceremony HSM (serial 0000000000000000, libsoftokn3.so)');
  await text(token.locator('option').filter({ hasText: 'card-bob' })).toMatch(/^card-bob \(serial \S+, libsofthsm2\.so\)$/);
  await page.getByLabel('Kind of key').selectOption('master');
  await token.selectOption('Ceremony HSM');
  await page.getByLabel('Key label').fill('master-v1');
  await page.getByLabel('PIN').fill(nss.pin);
  await page.getByRole('button', { name: 'Generate key' }).click();
  await visible(page.getByRole('listitem').filter({ hasText: /master-v1 on Ceremony HSM: KCV/ }));
  expect(app.consoleErrors).toEqual([]);
  expect(app.blocked).toEqual([]);
}, 120_000);
