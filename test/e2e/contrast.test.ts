/**
 * Contrast as the room sees it (issue 15; WCAG 2.2 AA): on every workbench screen and on the run
 * sheet's states, computed colours are read in Chromium and checked (./page-checks.ts): text at
 * least 4.5:1 against the background behind it (3:1 when large), the borders of text fields and
 * lists at least 3:1 (SC 1.4.11), and the focus ring of every element reached with Tab at least 3:1
 * against what surrounds it (SC 2.4.13; axe-core does not check focus rings). Disabled controls are
 * exempt, as WCAG says. The workbench's screens with data loaded: workbench-loaded.test.ts.
 */
import { mkdirSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { buildRenderer, closeAll, folderDialog, launch, navName, openApp, runSheetHelpers, SHOTS, uiHelpers } from '../support/browser.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { contrast } from './page-checks.js';

const tokens = [['Ceremony HSM', '24681357'], ['custodian-alice', '1111'], ['custodian-bob', '2222'], ['custodian-carol', '3333']] as const;
let hsm: SoftHsm;
let root: string;
let work: string;
let browser: Browser;
let page: Page;
const { visible, drop } = uiHelpers(() => page);
const { nowCard, handOver, confirmYes } = runSheetHelpers(() => page);
const dialog = folderDialog();

beforeAll(async () => {
  hsm = createSoftHsm(tokens.map(([label, pin]) => ({ label, pin, soPin: '87654321' })));
  root = await buildRenderer();
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-e2e-contrast-')));
  browser = await launch();
  page = (await openApp(browser, root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'e2e', rehearsals: join(work, 'rehearsals.jsonl'),
    interfaces: () => [], chooseFolder: dialog.chooseFolder }))).page;
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);
afterAll(() => closeAll({ browser, hsm, dirs: [root, work] }));

const check = (where: string): Promise<string[]> => contrast(page, where);

test('text 4.5:1, field borders and focus rings 3:1, on every workbench screen', async () => {
  const problems: string[] = [];
  for (const screen of ['Tokens', 'Keys', 'Custodians', 'Manifests', 'Verify', 'Export', 'Backup', 'Keys over time', 'Ceremony']) {
    await page.getByRole('navigation').getByRole('button', { name: navName(screen) }).click();
    await visible(page.getByRole('heading', { level: 2, name: screen }));
    problems.push(...await check(screen));
  }
  const dir = join(work, 'jwt');
  mkdirSync(dir);
  // a first ceremony (custodian keys, their set, the chain begun): the one whose live run reads fingerprints aloud
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), 'first.json', templateText('keys-in-use')!);
  dialog.answer(dir);
  await page.getByRole('button', { name: 'Choose the ceremony folder…' }).click();
  await visible(page.getByLabel('ceremony folder'));
  problems.push(...await check('Ceremony, script reviewed'));
  expect(problems).toEqual([]);
}, 120_000);

test('text 4.5:1, field borders and focus rings 3:1, on the run sheet', async () => {
  // the start, a hand-over (names; the card found and its PIN entry beside what it signs), a yes/no question, words read aloud, the witness's view
  const problems: string[] = [];
  await page.getByRole('button', { name: 'Rehearse on the run sheet' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Rehearse the whole script' }));
  problems.push(...await check('run sheet, rehearsal start'));
  await page.getByRole('button', { name: 'Workbench' }).click();
  await page.getByRole('button', { name: 'Run live on the run sheet' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Ready to start' }));
  problems.push(...await check('run sheet, ready to start'));
  await page.getByLabel('Run without a recorded rehearsal').check();
  await page.getByLabel('Reason (goes into the audit log)').fill('contrast test: no rehearsal needed');
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Hand-over to Ceremony administrator' }));
  problems.push(...await check('run sheet, hand-over'));
  await nowCard().getByRole('group', { name: 'Who is at the keyboard?' }).getByRole('button', { name: 'Ceremony administrator', exact: true }).click();
  await visible(page.getByRole('form', { name: 'PIN entry' }));
  problems.push(...await check('run sheet, PIN entry'));
  await page.getByRole('form', { name: 'PIN entry' }).getByLabel('PIN for Ceremony HSM').fill(tokens[0][1]);
  await page.getByRole('form', { name: 'PIN entry' }).getByRole('button', { name: 'Give the PIN to the card' }).click();
  await visible(nowCard().getByRole('button', { name: 'Confirm', exact: true }));
  problems.push(...await check('run sheet, clock question'));
  await confirmYes('the ceremony clock reads');
  await handOver('Alice, custodian', 'custodian-alice', tokens[1][1]);
  await visible(nowCard().getByRole('list', { name: 'words to read aloud' }));
  problems.push(...await check('run sheet, words read aloud'));
  await nowCard().getByRole('button', { name: /^Words read: / }).click();
  await visible(page.getByRole('form', { name: 'Witness check' }));
  await page.getByRole('form', { name: 'Witness check' }).getByLabel('Word 1', { exact: true }).fill('yes');
  problems.push(...await check('run sheet, witness check'));
  await page.getByRole('button', { name: 'Workbench' }).click();
  await visible(page.getByRole('group', { name: 'Leave the run sheet' }));
  problems.push(...await check('run sheet, leaving'));
  await page.getByRole('button', { name: 'Leave the run sheet' }).click();
  await visible(page.getByRole('status', { name: 'open run' }));
  problems.push(...await check('workbench during a run'));
  expect(problems).toEqual([]);
}, 180_000);
