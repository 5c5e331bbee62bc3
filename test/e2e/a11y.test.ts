/**
 * The automated accessibility check of issue 15, in headless Chromium on the real renderer, on every
 * workbench screen and every run sheet state (a live run's override before any rehearsal, a
 * rehearsal's start and its end with the transcript open, the live run's hand-over and PIN entry, a
 * yes/no question, words read aloud, presentation mode, the witness's view, leaving the sheet, the
 * workbench during a run). At each: axe-core (WCAG 2.0-2.2 A and AA rules, best practices) reports no
 * serious or critical violation; the contrast axe does not check (focus rings and field borders 3:1,
 * text 4.5:1) is read from the computed colours (page-checks.ts); every disabled button says what it
 * waits for. The workbench's screens with data loaded are checked so by workbench-loaded.test.ts.
 */
import { mkdirSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { buildRenderer, closeAll, folderDialog, launch, navName, openApp, runSheetHelpers, SHOTS, uiHelpers } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { axe as axeOn, contrast, serveAxe, unexplainedDisabled } from './page-checks.js';

const tokens = [['Ceremony HSM', '24681357'], ['custodian-alice', '1111'], ['custodian-bob', '2222'], ['custodian-carol', '3333']] as const;
let hsm: SoftHsm;
let root: string;
let work: string;
let browser: Browser;
let app: AppPage;
let page: Page;
const { visible, drop, shot } = uiHelpers(() => page);
const { nowCard, handOver, confirmYes } = runSheetHelpers(() => page);
const dialog = folderDialog();

beforeAll(async () => {
  hsm = createSoftHsm(tokens.map(([label, pin]) => ({ label, pin, soPin: '87654321' })));
  root = await buildRenderer();
  serveAxe(root);
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-e2e-a11y-')));
  browser = await launch();
  app = await openApp(browser, root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'e2e', rehearsals: join(work, 'rehearsals.jsonl'),
    interfaces: () => [], chooseFolder: dialog.chooseFolder }));
  page = app.page;
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);
afterAll(() => closeAll({ browser, hsm, dirs: [root, work] }));

const axe = (where: string): Promise<string[]> => axeOn(page, where);
/**
 * At each state: axe; the contrast axe does not check, read from computed colours (text 4.5:1, field
 * borders and focus rings 3:1); and every disabled button saying what it waits for.
 */
async function checked(where: string): Promise<string[]> {
  return [...await axe(where), ...await contrast(page, where), ...(await unexplainedDisabled(page, where)).problems];
}

test('every workbench screen: no serious or critical axe violation, contrast 4.5:1 for text and 3:1 for borders and focus rings, each disabled button saying what it waits for', async () => {
  const problems: string[] = [];
  let disabled = 0;
  for (const screen of ['Tokens', 'Keys', 'Custodians', 'Manifests', 'Verify', 'Export', 'Backup', 'Keys over time', 'Ceremony']) {
    await page.getByRole('navigation').getByRole('button', { name: navName(screen) }).click();
    await visible(page.getByRole('heading', { level: 2, name: screen }));
    problems.push(...await checked(screen));
    disabled += (await unexplainedDisabled(page, screen)).disabled;
  }
  expect(disabled).toBeGreaterThanOrEqual(4); // Keys, Custodians (two), Backup: the check looked at real disabled buttons
  const dir = join(work, 'jwt');
  mkdirSync(dir);
  // a first ceremony (custodian keys, their set, the chain begun): the one whose live run reads fingerprints aloud
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), 'first.json', templateText('keys-in-use')!);
  dialog.answer(dir);
  await page.getByRole('button', { name: 'Choose the ceremony folder…' }).click();
  await visible(page.getByLabel('ceremony folder'));
  problems.push(...await checked('Ceremony, script reviewed'));
  expect(problems).toEqual([]);
  expect(app.consoleErrors).toEqual([]);
}, 120_000);

test('every run sheet state: no serious or critical axe violation, the same contrast, each disabled button saying what it waits for', async () => {
  const problems: string[] = [];

  // a rehearsal: its start, and its end with the auditor drawer and the transcript open
  await page.getByRole('button', { name: 'Rehearse on the run sheet' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Rehearse the whole script' }));
  problems.push(...await checked('run sheet, rehearsal start'));
  // a live run before any rehearsal: the override styled as dangerous, its reason typed
  await page.getByRole('button', { name: 'Workbench' }).click();
  await page.getByRole('button', { name: 'Run live on the run sheet' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Ready to start' }));
  await page.getByLabel('Run without a recorded rehearsal').check();
  await page.getByLabel('Reason (goes into the audit log)').fill('a11y test: the override as the room sees it');
  problems.push(...await checked('run sheet, ready to start without a rehearsal'));
  await page.getByLabel('Run without a recorded rehearsal').uncheck();
  await page.getByRole('button', { name: 'Workbench' }).click();
  await page.getByRole('button', { name: 'Rehearse on the run sheet' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Rehearse the whole script' }));
  // the rehearsal's own process looks at this machine's interfaces: allowed, logged
  await page.getByLabel('Rehearse with the network up (logged)').check();
  await nowCard().getByRole('button', { name: 'Rehearse on throw-away tokens' }).click();
  await visible(nowCard().getByRole('heading', { name: /^Rehearsal passed|stopped/ }));
  await visible(nowCard().getByRole('heading', { name: 'Rehearsal passed' }));
  await page.getByText('Auditor: the run\'s log and full values').click();
  await visible(page.getByRole('region', { name: 'transcript' }));
  problems.push(...await checked('run sheet, rehearsal passed, transcript open'));
  await shot('a11y-rehearsal-transcript');
  // rendered, not raw Markdown: headings and tables, no pipes or hashes; the source one click away
  const transcript = page.getByRole('region', { name: 'transcript', exact: true });
  await visible(transcript.getByRole('heading', { name: 'Participants' }));
  await visible(transcript.getByRole('table').first());
  expect(await transcript.innerText()).not.toMatch(/^#|\| --- \|/m);
  await transcript.getByRole('button', { name: 'Show the Markdown source' }).click();
  await visible(page.getByRole('region', { name: 'transcript source' }));
  problems.push(...await checked('run sheet, transcript source'));
  await transcript.getByRole('button', { name: 'Show the transcript as printed' }).click();

  // the live run: ready to start, a hand-over (names, someone else refused, the card and its PIN entry), the clock question, words read aloud, the witness's view
  await nowCard().getByRole('button', { name: 'Run it live now' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Ready to start' }));
  problems.push(...await checked('run sheet, ready to start'));
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Hand-over to Ceremony administrator' }));
  problems.push(...await checked('run sheet, hand-over'));
  const who = nowCard().getByRole('group', { name: 'Who is at the keyboard?' });
  await who.getByRole('button', { name: 'Internal witness', exact: true }).click();
  await visible(nowCard().getByRole('alert'));
  problems.push(...await checked('run sheet, hand-over refused to someone else'));
  await who.getByRole('button', { name: 'Ceremony administrator', exact: true }).click();
  await visible(page.getByRole('form', { name: 'PIN entry' }));
  problems.push(...await checked('run sheet, PIN entry'));
  await page.getByRole('form', { name: 'PIN entry' }).getByLabel('PIN for Ceremony HSM').fill(tokens[0][1]);
  await page.getByRole('form', { name: 'PIN entry' }).getByRole('button', { name: 'Give the PIN to the card' }).click();
  await visible(nowCard().getByRole('button', { name: 'Confirm', exact: true }));
  problems.push(...await checked('run sheet, clock question'));
  await confirmYes('the ceremony clock reads');
  await handOver('Alice, custodian', 'custodian-alice', tokens[1][1]);
  await visible(nowCard().getByRole('list', { name: 'words to read aloud' }));
  problems.push(...await checked('run sheet, words read aloud'));
  // presentation mode, for the projector: the same card in large type, toggled from the mode bar
  const toggle = page.getByRole('button', { name: 'Presentation mode' });
  const wordHeight = async () => (await nowCard().getByRole('list', { name: 'words to read aloud' }).locator('.w').first().boundingBox())!.height;
  const before = await wordHeight();
  await toggle.click();
  expect(await toggle.getAttribute('aria-pressed')).toBe('true');
  expect(await wordHeight()).toBeGreaterThan(before * 1.4);
  problems.push(...await checked('run sheet, presentation mode'));
  await shot('a11y-presentation-mode');
  await toggle.click();
  expect(await toggle.getAttribute('aria-pressed')).toBe('false');
  await nowCard().getByRole('button', { name: /^Words read: / }).click();
  await visible(page.getByRole('form', { name: 'Witness check' }));
  await page.getByRole('form', { name: 'Witness check' }).getByLabel('Word 1', { exact: true }).fill('yes');
  problems.push(...await checked('run sheet, witness check'));
  await page.getByRole('button', { name: 'Workbench' }).click();
  await visible(page.getByRole('group', { name: 'Leave the run sheet' }));
  problems.push(...await checked('run sheet, leaving'));
  await page.getByRole('button', { name: 'Leave the run sheet' }).click();
  await visible(page.getByRole('status', { name: 'open run' }));
  problems.push(...await checked('workbench during a run'));
  expect(problems).toEqual([]);
  expect(app.consoleErrors).toEqual([]);
  expect(app.blocked).toEqual([]);
}, 240_000);
