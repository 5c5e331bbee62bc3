/**
 * Issue 17 item 5 end to end, by clicking, in headless Chromium: the chain `keyceremony demo`
 * leaves, loaded from its folder through the folder dialog (the screen holds only a handle), drawn
 * as keys over time; a click on a version's segment shows the manifest that moved it (sequence,
 * phase, notBefore, the digest as words with its hex one click away) and who signed it. The digest
 * and words expected are computed here from the file with node:crypto. A chain with a manifest
 * missing, read from a drive, is refused with its code beside the form, and nothing of the time
 * line before stays. A chain in which every state occurs (test/support/key-story.ts) is drawn with
 * each state in words and in its own pattern. axe-core finds no serious or critical violation, contrast holds, and the
 * screenshots go to test-results/screens/.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { toWords } from '../../src/crypto/fingerprint.js';
import { buildRenderer, closeAll, folderDialog, launch, openApp, SHOTS, uiHelpers } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { runCli } from '../support/cli.js';
import { writeChain } from '../support/key-story.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { axe, contrast, serveAxe, unexplainedDisabled } from './page-checks.js';

let hsm: SoftHsm;
let root: string;
let work: string;
let demo: string;
let usb: string;
let browser: Browser;
let app: AppPage;
let page: Page;
const { visible, text, count, shot, nav, chooseDrive, idle } = uiHelpers(() => page);
const dialog = folderDialog();

const payloadOf = (f: string): Buffer => Buffer.from((JSON.parse(readFileSync(join(demo, f), 'utf8')) as { payload: string }).payload, 'base64');
const manifestOf = (f: string): { keys: { id: string; notBefore: string }[] } => JSON.parse(payloadOf(f).toString('utf8')) as never;

beforeAll(async () => {
  hsm = createSoftHsm([{ label: 'Ceremony HSM', pin: '24681357', soPin: '87654321' }]);
  root = await buildRenderer();
  serveAxe(root);
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-e2e-kot-')));
  demo = join(work, 'demo');
  const r = runCli(['demo', '--dir', demo], process.env);
  expect(r.status).toBe(0);
  // a drive holding the same chain with its dual-publish manifest lost
  usb = join(work, 'usb');
  mkdirSync(join(usb, 'gap'), { recursive: true });
  for (const f of ['custodians.v1.json', 'rotation.1.json', 'rotation.3.json']) copyFileSync(join(demo, f), join(usb, 'gap', f));
  writeChain(join(work, 'story'));
  browser = await launch();
  app = await openApp(browser, root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module, KEYCEREMONY_REMOVABLE_ROOTS: usb }, version: 'e2e', interfaces: () => [], chooseFolder: dialog.chooseFolder }));
  page = app.page;
  mkdirSync(SHOTS, { recursive: true });
}, 180_000);
afterAll(() => closeAll({ browser, hsm, dirs: [root, work] }));

test('the demo\'s chain from its folder: keys over time, a click shows the manifest that moved a version and who signed it', async () => {
  await nav('Keys over time');
  await visible(page.getByRole('heading', { level: 2, name: 'Keys over time' }));
  const form = page.getByRole('form', { name: 'Load a chain' });
  // nothing chosen: the button says what it waits for
  await text(form.locator('.hint.missing')).toBe('To show the keys over time: choose a drive or a folder.');
  expect(await form.getByRole('button', { name: 'Show keys over time' }).isDisabled()).toBe(true);
  expect((await unexplainedDisabled(page, 'Keys over time, empty')).problems).toEqual([]);

  dialog.answer(demo);
  await form.getByRole('button', { name: 'Choose a folder…' }).click();
  await text(form.getByLabel('chosen folder')).toBe(demo);
  expect(dialog.titles.at(-1)).toContain('custodian sets and rotation manifests');
  await form.getByRole('button', { name: 'Show keys over time' }).click();
  await idle();
  const result = page.getByRole('region', { name: 'verified chain' });
  await text(result.getByRole('heading', { level: 3 })).toBe(`VALID: 3 manifests from ${demo}`);

  // seven key names, each one version: pending now, its dual-publish an hour after the prepare and its cutover a day after that, both scheduled
  const prepared = manifestOf('rotation.1.json').keys[0]!.notBefore;
  const plus = (h: number): string => new Date(Date.parse(prepared) + h * 3600_000).toISOString().replace('.000Z', 'Z');
  const names = ['CELERY_BROKER_TOKEN', 'JWT_REFRESH_SALT', 'JWT_SIGNING_SECRET', 'MASTER_KEY', 'REDIS_AUTH_TOKEN', 'SECRET_KEY', 'WEBHOOK_SIGNING_SECRET'];
  expect(await result.locator('.kot-name h4').allInnerTexts()).toEqual(names);
  const master = result.getByRole('region', { name: 'MASTER_KEY' });
  expect(await master.getByRole('columnheader').allInnerTexts()).toEqual(['Version', ...[prepared, plus(1), plus(25)].map((t) => `${t.slice(0, 10)}\n${t.slice(11, 19)} UTC`)].map((h, i) => (i === 1 ? `${h}\nnow` : h)));
  const row = master.getByRole('row', { name: /^master-v1/ });
  expect(await row.locator('button .lbl').allInnerTexts()).toEqual(['pending', 'scheduled: accepted', 'scheduled: current']);
  await text(master.locator('p').first()).toBe('Now: current none; accepted none; scheduled master-v1.');
  // each state also in words, and the scheduled ones drawn apart (dashed, not their state's fill)
  expect(await row.getByRole('button').evaluateAll((bs) => bs.map((b) => b.className))).toEqual(['seg st-pending', 'seg st-scheduled', 'seg st-scheduled']);
  expect(await result.getByRole('list', { name: 'states' }).getByRole('listitem').locator('strong').allInnerTexts())
    .toEqual(['pending', 'accepted', 'current', 'retired', 'revoked', 'compromised', 'scheduled']);

  // the cutover: manifest 3, what it did, when, its digest as words and the full hex, who signed it
  await row.getByRole('button', { name: /scheduled: current/ }).click();
  const moved = master.getByRole('region', { name: 'what moved master-v1' });
  await text(moved.getByRole('heading')).toBe(`master-v1 becomes current at ${plus(25).replace('T', ' ').replace('Z', ' UTC')} (scheduled)`);
  const entryNo = manifestOf('rotation.3.json').keys.findIndex((k) => k.id === 'master-v1') + 1;
  await text(moved.locator('.move > p')).toBe(`Manifest 3, entry ${entryNo}: cutover of master-v1; in effect from ${plus(25).replace('T', ' ').replace('Z', ' UTC')}.`);
  const digest = createHash('sha256').update(payloadOf('rotation.3.json')).digest();
  await text(moved.getByLabel('digest of manifest 3 as words')).toBe(toWords(digest.subarray(0, 12)).join(' '));
  expect(await moved.innerText()).not.toContain(digest.toString('hex').slice(0, 16));
  await moved.getByRole('button', { name: /^full hex/ }).click();
  await text(moved.locator('code.hex')).toBe(`sha256:${(digest.toString('hex').match(/.{4}/g) ?? []).join(' ')}`);
  await text(moved.locator('dd').nth(1)).toBe('alice, bob (2 of threshold 2, custodian set version 1)');
  await text(moved.locator('dd').nth(3)).toBe('rotation.3.json');
  await shot('keys-over-time');

  // the prepare of master-v1: manifest 1
  await row.getByRole('button', { name: /^master-v1: pending/ }).click();
  await text(master.getByRole('region', { name: 'what moved master-v1' }).locator('.move > p')).toContain('Manifest 1, entry');
  await text(master.getByRole('region', { name: 'what moved master-v1' }).locator('.move > p')).toContain('prepare of master-v1');
  expect(await row.getByRole('button', { pressed: true }).locator('.lbl').innerText()).toBe('pending');

  const problems = [...await axe(page, 'Keys over time, loaded'), ...await contrast(page, 'Keys over time, loaded')];
  expect(problems).toEqual([]);
  expect(app.consoleErrors).toEqual([]);
}, 120_000);

test('a chain that does not verify, read from a drive, is refused with its code beside the form, and the time line before is gone', async () => {
  const form = page.getByRole('form', { name: 'Load a chain' });
  await chooseDrive(form.getByLabel('Drive holding the chain'), usb);
  // the drive replaces the folder chosen before
  await count(form.getByLabel('chosen folder')).toBe(0);
  // a name that is not one folder is caught before it is sent
  await form.getByLabel(/^Folder on the drive/).fill('../gap');
  await text(form.locator('.hint.missing')).toContain('name one folder on the drive');
  expect(await form.getByRole('button', { name: 'Show keys over time' }).isDisabled()).toBe(true);
  await form.getByLabel(/^Folder on the drive/).fill('gap');
  await form.getByRole('button', { name: 'Show keys over time' }).click();
  const alert = form.getByRole('alert');
  await text(alert).toContain('STATE_CHAIN_INVALID');
  await text(alert).toContain('STATE_SEQUENCE_GAP');
  await count(page.locator('main > [aria-live] .banner.error')).toBe(0);
  await count(page.getByRole('region', { name: 'verified chain' })).toBe(0);
  await shot('keys-over-time-refused');
  expect(await axe(page, 'Keys over time, refused')).toEqual([]);
}, 60_000);

test('every state in words, pattern and colour: a chain of two sets and ten manifests', async () => {
  const form = page.getByRole('form', { name: 'Load a chain' });
  dialog.answer(join(work, 'story'));
  await form.getByRole('button', { name: 'Choose a folder…' }).click();
  await form.getByRole('button', { name: 'Show keys over time' }).click();
  const result = page.getByRole('region', { name: 'verified chain' });
  await text(result.getByRole('heading', { level: 3 })).toContain('VALID: 10 manifests');
  expect(await result.locator('.kot-name h4').allInnerTexts()).toEqual(['MASTER_KEY', 'WEBHOOK_SIGNING_SECRET']);
  // whether day 20 is past depends on the clock of the machine; the states drawn do not
  const words = (await result.locator('button.seg .lbl').allInnerTexts()).map((w) => w.replace(/^scheduled: /, ''));
  expect([...new Set(words)].sort()).toEqual(['accepted', 'compromised', 'current', 'pending', 'retired', 'revoked']);
  // who signed a manifest of the second set: bob and dave
  const master = result.getByRole('region', { name: 'MASTER_KEY' });
  await master.getByRole('row', { name: /^master-v1/ }).getByRole('button', { name: /compromised/ }).click();
  await text(master.getByRole('region', { name: 'what moved master-v1' }).locator('dd').nth(1)).toBe('bob, dave (2 of threshold 2, custodian set version 2)');
  // ten columns scroll inside the screen; the page itself never gets wider than the window
  expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(1280);
  await shot('keys-over-time-all-states');
  const problems = [...await axe(page, 'Keys over time, every state'), ...await contrast(page, 'Keys over time, every state')];
  expect(problems).toEqual([]);
}, 60_000);
