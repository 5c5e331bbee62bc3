/**
 * Issue 15 end to end, by clicking, in headless Chromium over real SoftHSM2 tokens: the quarterly
 * master-key rotation (7 steps: custodian keys, the 2-of-3 set, the master key, backup custody, the
 * manifest, exports, a drill) rehearsed and then run live on the run sheet, as the people in the
 * room would: PINs typed one holder at a time beside what their card signs; the witness typing
 * each fingerprint and check value on a view that does not show the words (yes refused, a wrong
 * word's slot named); the run sheet left for the workbench mid-run and found again; the run
 * stopped by the witness and resumed from its step; the checkpoint; the audit log verified.
 * A screenshot per state goes to test-results/screens/ (runsheet-*.png).
 */
import { mkdirSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { buildRenderer, closeAll, folderDialog, launch, openApp, runSheetHelpers, SHOTS, uiHelpers } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { seedKeks } from '../support/ceremony-state.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

/** The script's tokens, relabelled for this file's own cards: [script token name, label, PIN]. */
const tokens = [['hsm', 'Quarterly HSM', '24681357'], ['card-alice', 'q-alice', '1111'], ['card-bob', 'q-bob', '2222'], ['card-carol', 'q-carol', '3333'], ['drill', 'Quarterly drill', '4444']] as const;
let hsm: SoftHsm;
let root: string;
let work: string;
let browser: Browser;
let app: AppPage;
let page: Page;
const { visible, text, shot, drop } = uiHelpers(() => page);
const dialog = folderDialog();

beforeAll(async () => {
  hsm = createSoftHsm(tokens.map(([, label, pin]) => ({ label, pin, soPin: '87654321' })));
  root = await buildRenderer();
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-e2e-runsheet-')));
  // the ceremony folder stands in for the removable drive its custody, exports and drill go to: the
  // handler table hands its environment to the live run, as it does to the drive list
  browser = await launch();
  app = await openApp(browser, root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module, KEYCEREMONY_REMOVABLE_ROOTS: work }, version: 'e2e', rehearsals: join(work, 'rehearsals.jsonl'),
    interfaces: () => [], chooseFolder: dialog.chooseFolder }));
  page = app.page;
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);

afterAll(() => closeAll({ browser, hsm, dirs: [root, work] }));

const { nowCard, typePins, confirmYes, readWords, typeWords, witness } = runSheetHelpers(() => page);
const rail = (): Locator => page.getByRole('navigation', { name: 'Steps of the script' });
const pins = tokens.map(([, label, pin]) => [label, pin] as const);

test('by clicking: the quarterly master-key rotation rehearsed, then run live on the run sheet, stopped mid-way and resumed from its step', async () => {
  const script = JSON.parse(templateText('quarterly-master-rotation')!) as { tokens: { name: string; label: string }[] };
  for (const t of script.tokens) t.label = tokens.find(([n]) => n === t.name)![1];
  const dir = join(work, '2026-q4');
  seedKeks(dir); // the KMS import jobs' wrapping keys, on the ceremony media

  await page.getByRole('navigation').getByRole('button', { name: /Ceremony/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), 'quarterly.json', JSON.stringify(script, null, 2));
  await visible(page.getByRole('heading', { name: 'Quarterly master-key rotation: prepare' }));
  await text(page.getByRole('list', { name: 'steps' })).toContain('backup-custody: split-backup, by alice');
  const digestWords = (await page.getByLabel('script digest as words').innerText()).split(' ');
  expect(digestWords).toHaveLength(12);
  expect(await page.getByRole('button', { name: 'Run live on the run sheet' }).isDisabled()).toBe(true);
  await visible(page.getByText('To open the run sheet: a ceremony folder.'));
  dialog.answer(dir);
  await page.getByRole('button', { name: 'Choose the ceremony folder…' }).click();
  await text(page.getByLabel('ceremony folder')).toBe(dir);
  await shot('runsheet-01-review');

  // REHEARSAL: the mode bar says so; the command line rehearses on throw-away tokens
  await page.getByRole('button', { name: 'Rehearse on the run sheet' }).click();
  await text(page.getByLabel('mode')).toBe('REHEARSAL: throw-away tokens');
  await text(page.getByLabel('script digest as words')).toBe(`Script ${digestWords.join(' ')}`);
  await visible(page.getByLabel('clock (UTC)'));
  // the rehearsal's own process looks at this machine's interfaces: allowed, logged
  await page.getByLabel('Rehearse with the network up (logged)').check();
  await shot('runsheet-02-rehearsal-mode');
  await nowCard().getByRole('button', { name: 'Rehearse on throw-away tokens' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Rehearsal passed' }));
  await text(rail()).not.toContain('to do');
  await shot('runsheet-03-rehearsal-passed');
  await nowCard().getByRole('button', { name: 'Run it live now' }).click();

  // LIVE: PINs one holder at a time, beside what their card signs
  await text(page.getByLabel('mode')).toBe('LIVE: recorded');
  const entry = page.getByRole('form', { name: 'PIN entry' });
  await visible(entry.getByLabel('PIN for Quarterly HSM'));
  await entry.getByLabel('PIN for Quarterly HSM').fill(tokens[0][2]);
  await entry.getByRole('button', { name: 'PIN typed: hand over' }).click();
  const signing = page.getByRole('complementary', { name: 'You are signing' });
  await text(signing).toContain('You are signing, Alice, custodian');
  await text(signing).toContain('Step 2 (custodian-set): Form the 2-of-3 custodian set (alice, bob and carol)');
  await text(signing).toContain('Step 5 (prepare-manifest)');
  expect(await entry.getByLabel('PIN for q-alice').inputValue()).toBe('');
  await shot('runsheet-04-pin-handover');
  await entry.getByLabel('PIN for q-alice').fill(tokens[1][2]);
  await entry.getByRole('button', { name: 'PIN typed: hand over' }).click();
  // bob's view holds nothing of alice's: his own token, an empty PIN
  await text(signing).toContain('You are signing, Bob, custodian');
  expect(await entry.getByLabel('PIN for q-bob').inputValue()).toBe('');
  for (const [, label, pin] of tokens.slice(2)) {
    await entry.getByLabel(`PIN for ${label}`).fill(pin);
    await entry.getByRole('button', { name: 'PIN typed: hand over' }).click();
  }
  await visible(nowCard().getByRole('heading', { name: 'Every PIN is typed' }));
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();

  await confirmYes(/^the ceremony clock reads \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ UTC\.$/);
  // step 1: alice's fingerprint, read aloud, typed by the witness on a view without the words
  await visible(rail().locator('li.now').filter({ hasText: 'custodian-keys' }));
  const words = await readWords(/^Read these 12 words aloud to Internal witness$/, () => shot('runsheet-05-read-aloud'));
  await shot('runsheet-06-witness-view');
  const form = page.getByRole('form', { name: 'Witness check' });
  await form.getByLabel('Word 1', { exact: true }).fill('yes');
  await visible(form.getByText('"yes" does not confirm a fingerprint'));
  expect(await form.getByRole('button', { name: 'Check the words' }).isDisabled()).toBe(true);
  const wrong = [...words];
  wrong[4] = words[5]!;
  await typeWords(wrong);
  await text(form.getByRole('alert')).toMatch(/^Word 5 does not match/);
  expect(await form.getByLabel('Word 5', { exact: true }).getAttribute('aria-invalid')).toBe('true');
  await shot('runsheet-07-witness-wrong-word');
  await form.getByLabel('Word 5', { exact: true }).fill(words[4]!);
  await form.getByRole('button', { name: 'Check the words' }).click();

  // bob's fingerprint waits: the room steps out to the workbench, and comes back to the same question
  await text(nowCard().locator('.what')).toContain("the fingerprint of bob's key");
  const bobWords = await nowCard().getByRole('list', { name: 'words to read aloud' }).innerText();
  await page.getByRole('button', { name: 'Workbench' }).click();
  await page.getByRole('group', { name: 'Leave the run sheet' }).getByRole('button', { name: 'Leave the run sheet' }).click();
  await text(page.getByRole('status', { name: 'open run' })).toContain('LIVE run: Quarterly master-key rotation: prepare, a question waits, step 1: admin acts now');
  await page.getByRole('navigation').getByRole('button', { name: /Tokens/ }).click();
  await text(page.getByLabel('mode')).toBe('WORKBENCH: not recorded');
  await shot('runsheet-08-workbench-during-run');
  await page.getByRole('button', { name: 'Return to the run sheet' }).click();
  await text(nowCard().getByRole('list', { name: 'words to read aloud' })).toBe(bobWords);

  // the witness hears different words from bob's card: the ceremony stops at step 1
  await nowCard().getByRole('button', { name: 'Stop the ceremony' }).click();
  await page.getByRole('group', { name: 'Stop the ceremony' }).getByRole('button', { name: 'Stop the ceremony' }).click();
  await visible(nowCard().getByRole('heading', { name: 'The ceremony stopped at step 1' }));
  await text(nowCard().getByRole('alert')).toContain('CEREMONY_WITNESS_REFUSED');
  await shot('runsheet-09-stopped');
  await nowCard().getByRole('button', { name: 'Resume from step 1' }).click();
  await typePins(pins);
  await nowCard().getByRole('button', { name: 'Resume from step 1' }).click();
  await confirmYes(/^resuming this ceremony with 0 step\(s\) done/);

  for (const who of ['alice', 'bob', 'carol']) {
    if (who === 'carol') await shot('runsheet-10-resumed-step-1');
    await witness(`the fingerprint of ${who}'s key`);
  }
  // step 3: the master key's check value, three words
  await visible(rail().locator('li.now').filter({ hasText: 'master-key' }));
  await text(nowCard().locator('.what')).toContain('the check value of master-v1');
  await typeWords(await readWords(/^Read these 3 words aloud/, () => shot('runsheet-11-check-value')));
  // the checkpoint: what the custodians sign, the head digest grouped for comparing
  await visible(rail().locator('li.now').filter({ hasText: 'checkpoint' }));
  await text(nowCard().locator('.what')).toMatch(/the checkpoint they sign covers the audit log [0-9a-f]{32}: \d+ entries, head sha256:([0-9a-f]{4} ){15}[0-9a-f]{4}, resumed after an interruption/);
  await shot('runsheet-12-checkpoint');
  await nowCard().getByRole('button', { name: 'Confirm', exact: true }).click();

  await visible(nowCard().getByRole('heading', { name: 'Ceremony complete' }));
  const audit = page.getByRole('region', { name: 'audit log verification' });
  await text(audit.getByRole('heading')).toMatch(/^Audit log valid: \d+ entries$/);
  await text(audit).toContain('signed by alice, bob (verified against the custodian set)');
  expect(await rail().locator('li.done').count()).toBe(8);
  await shot('runsheet-13-complete');
  const log = readFileSync(join(dir, 'audit.jsonl'), 'utf8');
  expect(log).toContain('"action":"ceremony.resume"');
  expect(log).not.toContain('rehearsal.skipped');
  expect(app.consoleErrors).toEqual([]);
  expect(app.blocked).toEqual([]);
}, 240_000);
