/**
 * Issue 7 end to end, by clicking, in headless Chromium over real SoftHSM2 tokens: the monthly JWT
 * rotation template loaded into the ceremony screen, reviewed, opened on the run sheet, refused
 * while the network is up, then run air-gapped step by step with the witness confirming the clock
 * and typing each custodian's fingerprint as read aloud, the transcript shown and the audit log
 * verified with its checkpoint; a tampered copy of the log is reported at its entry. Then the
 * webhook rotation is rehearsed from the app (the command line in a process of its own, on
 * throw-away tokens) and run for real with no exception in its log; a later ceremony's witness
 * types the root digest and each registered key from the first ceremony's record.
 * Screenshots go to test-results/screens/.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FOLDER_DIALOGS } from '../../src/api/folders.js';
import { createHandlers } from '../../src/api/handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { buildRenderer, closeAll, folderDialog, launch, openApp, runSheetHelpers, SHOTS, uiHelpers } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const tokens = [['Ceremony HSM', '24681357'], ['custodian-alice', '1111'], ['custodian-bob', '2222'], ['custodian-carol', '3333']] as const;
/**
 * The webhook ceremony's custodians hold cards of their own: the JWT ceremony's custodian keys are
 * on the first cards, and a ceremony refuses to make a key that is already there and that it did
 * not begin (CEREMONY_OBJECT_PREEXISTING).
 */
const webhookTokens = [tokens[0], ['webhook-alice', '4444'], ['webhook-bob', '5555'], ['webhook-carol', '6666']] as const;
let hsm: SoftHsm;
let root: string;
let work: string;
let browser: Browser;
let app: AppPage;
let page: Page;
const { visible, text, shot, drop } = uiHelpers(() => page);
const { nowCard, handOver, confirmYes, readWords, typeWords, witness, fromRecord } = runSheetHelpers(() => page);
const pinOf = (label: string): string => [...tokens, ...webhookTokens].find(([l]) => l === label)![1];
/** A custodian, by the name the templates give them. */
const named = (who: string): string => `${who[0]!.toUpperCase()}${who.slice(1)}, custodian`;
let networkUp = true;
/** The main process's folder dialog: the test answers it with a folder it made. */
const dialog = folderDialog();

beforeAll(async () => {
  hsm = createSoftHsm([...tokens, ...webhookTokens.slice(1)].map(([label, pin]) => ({ label, pin, soPin: '87654321' })));
  root = await buildRenderer();
  // by its real path: the app shows and writes the real path of the folder chosen
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-e2e-ceremony-')));
  browser = await launch();
  // the air-gap guard reads the interfaces through the handler context: up first, then cut
  // printing to PDF: Electron's printToPDF in the app; here Chromium's own, on a page of its own with scripts off
  const printToPdf = async (html: string): Promise<Uint8Array> => {
    const ctx = await browser.newContext({ javaScriptEnabled: false });
    try {
      const p = await ctx.newPage();
      await p.setContent(html);
      return new Uint8Array(await p.pdf({ format: 'A4' }));
    } finally {
      await ctx.close();
    }
  };
  app = await openApp(browser, root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'e2e', printToPdf, rehearsals: join(work, 'rehearsals.jsonl'),
    interfaces: () => (networkUp ? [{ name: 'eth0', addresses: ['10.0.0.2'] }] : []), chooseFolder: dialog.chooseFolder }));
  page = app.page;
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);

afterAll(() => closeAll({ browser, hsm, dirs: [root, work] }));

/** A fresh page on the Ceremony screen with a script dropped in. */
async function loadScript(name: string, script: string): Promise<void> {
  await page.reload();
  await page.getByRole('navigation').getByRole('button', { name: /Ceremony/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), name, script);
}

/** The ceremony folder, made by the test and chosen in the (stand-in) folder dialog: the page holds only its handle, and shows its path. */
async function chooseCeremonyFolder(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  dialog.answer(dir);
  const open = page.getByRole('region', { name: 'Open the run sheet' });
  await open.getByRole('button', { name: /^Choose (the ceremony|another) folder…$/ }).click();
  await text(open.getByLabel('ceremony folder')).toBe(dir);
}

/** The auditor's drawer, opened: the run's log and the transcript. */
async function drawer(): Promise<void> {
  const d = page.locator('details.drawer');
  if (await d.getAttribute('open') === null) await d.locator('summary').click();
}

/** The fingerprint words of each custodian, as the first ceremony's printed transcript lists them. */
function recordedWords(transcript: string, who: string): string[] {
  const section = transcript.slice(transcript.indexOf('## Fingerprints read aloud'));
  const row = section.split('\n').find((l) => l.startsWith(`| ${who} | `));
  return row!.split('|')[3]!.trim().split(' ');
}

test('by clicking: the monthly JWT rotation, reviewed, run air-gapped with the witness typing what is read aloud, transcript and audit log verified', async () => {
  await page.getByRole('navigation').getByRole('button', { name: /Ceremony/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), 'jwt.json', templateText('monthly-jwt-rotation')!);
  await visible(page.getByRole('heading', { name: 'Monthly JWT signing secret rotation' }));
  await text(page.getByRole('list', { name: 'steps' })).toContain('jwt-manifest: manifest, by alice');
  const open = page.getByRole('region', { name: 'Open the run sheet' });
  const dir = join(work, 'jwt-2026-12');
  // cancelling the dialog chooses nothing: the run sheet cannot open yet, and says what is missing
  dialog.answer(null);
  await open.getByRole('button', { name: 'Choose the ceremony folder…' }).click();
  await visible(open.getByText('none chosen yet'));
  expect(await open.getByRole('button', { name: 'Run live on the run sheet' }).isDisabled()).toBe(true);
  await visible(open.getByText('To open the run sheet: a ceremony folder.'));
  await chooseCeremonyFolder(dir);
  expect(dialog.titles).toEqual([FOLDER_DIALOGS.ceremony.title, FOLDER_DIALOGS.ceremony.title]);
  await shot('16-ceremony-review');
  await open.getByRole('button', { name: 'Run live on the run sheet' }).click();
  await text(page.getByLabel('mode')).toBe('LIVE: recorded');
  // no PIN before the start: each card's is asked on its hand-over, when the run first needs it
  await visible(nowCard().getByRole('heading', { name: 'Ready to start' }));
  // the override is dangerous: it needs a reason, which goes into the audit log
  await page.getByLabel('Run without a recorded rehearsal').check();
  expect(await nowCard().getByRole('button', { name: 'Start the ceremony' }).isDisabled()).toBe(true);
  await page.getByLabel('Reason (goes into the audit log)').fill('the rehearsal laptop is in repair; reviewed by audrey');
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();
  await text(page.getByRole('alert').filter({ hasText: 'What to do' })).toContain('CEREMONY_NETWORK_UP');
  networkUp = false;
  // refused before any PIN was asked
  expect(await page.getByLabel(/^PIN for /).count()).toBe(0);
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();

  // the HSM (it keeps the journal), the clock (yes/no), then each custodian's card as their key is made, and its fingerprint typed by the witness from what is read aloud
  await handOver('Ceremony administrator', 'Ceremony HSM', pinOf('Ceremony HSM'));
  await confirmYes('the ceremony clock reads');
  await handOver(named('alice'), 'custodian-alice', pinOf('custodian-alice'));
  await text(nowCard().locator('.what')).toContain("the fingerprint of alice's key");
  const words = await readWords(/^Read these 12 words aloud/);
  expect(words).toHaveLength(12);
  await typeWords(words.map((w) => w.toUpperCase()));
  await shot('17-ceremony-witness');
  for (const who of ['bob', 'carol']) {
    await handOver(named(who), `custodian-${who}`, pinOf(`custodian-${who}`));
    await witness(`the fingerprint of ${who}'s key`);
  }
  // the custodians see what the checkpoint covers before their cards sign it
  await confirmYes(/the checkpoint they sign covers the audit log [0-9a-f]{32}: \d+ entries, head sha256:([0-9a-f]{4} ){15}[0-9a-f]{4}, run without interruption/);
  await visible(nowCard().getByRole('heading', { name: 'Ceremony complete' }));
  await drawer();
  const transcript = page.getByLabel('transcript');
  await text(transcript).toContain('Rotation manifest: 2 key(s), prepare, version 2');
  await text(transcript).toContain('rehearsal.skipped');
  expect(readFileSync(join(dir, 'audit.jsonl'), 'utf8')).toContain('"because":"the rehearsal laptop is in repair; reviewed by audrey"');
  const audit = page.getByRole('region', { name: 'audit log verification' });
  await text(audit.getByRole('heading')).toMatch(/^Audit log valid: \d+ entries$/);
  await text(audit).toContain('signed by alice, bob (verified against the custodian set)');
  await nowCard().getByRole('button', { name: 'Print the transcript to PDF' }).click();
  await text(nowCard()).toContain(`Written ${join(dir, 'transcript.pdf')}`);
  const pdf = readFileSync(join(dir, 'transcript.pdf'));
  expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  expect(pdf.length).toBeGreaterThan(5000);
  await shot('18-ceremony-done');

  // a tampered copy of the log, dropped into the viewer, is reported at its entry
  await nowCard().getByRole('button', { name: 'Close the run sheet' }).click();
  const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').split('\n');
  lines[4] = lines[4]!.replace('"actor":"admin"', '"actor":"bob"');
  await page.getByRole('navigation').getByRole('button', { name: /Custodians/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Or load an existing custodian set' }), 'custodians.v1.json', readFileSync(join(dir, 'custodians.v1.json'), 'utf8'));
  await page.getByRole('button', { name: 'Use this set for the ceremony' }).click();
  await page.getByRole('navigation').getByRole('button', { name: /Ceremony/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Verify an audit log' }), 'audit.jsonl', lines.join('\n'));
  await text(page.getByRole('region', { name: 'audit log verification' }).getByRole('heading')).toBe('Audit log INVALID at entry 5');
  await shot('19-ceremony-audit-tampered');
  expect(app.consoleErrors).toEqual([]);
  expect(app.blocked).toEqual([]);
}, 180_000);

test('by clicking: the webhook rotation rehearsed from the app, then run for real with no exception logged', async () => {
  networkUp = true;
  const script = JSON.parse(templateText('webhook-rotation')!) as { tokens: { name: string; label: string }[] };
  for (const t of script.tokens) if (t.name.startsWith('card-')) t.label = `webhook-${t.name.slice('card-'.length)}`;
  await loadScript('webhook.json', JSON.stringify(script, null, 2));
  await visible(page.getByRole('heading', { name: 'Webhook signing secret rotation (dual-publish)' }));
  const dir = join(work, 'webhook-2026-q4');
  await chooseCeremonyFolder(dir);
  await page.getByRole('button', { name: 'Rehearse on the run sheet' }).click();
  await text(page.getByLabel('mode')).toBe('REHEARSAL: throw-away tokens');
  await nowCard().getByRole('button', { name: 'Rehearse on throw-away tokens' }).click();
  await text(page.getByRole('alert').filter({ hasText: 'What to do' })).toContain('CEREMONY_NETWORK_UP');
  await page.getByLabel('Rehearse with the network up (logged)').check();
  await nowCard().getByRole('button', { name: 'Rehearse on throw-away tokens' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Rehearsal passed' }));
  await drawer();
  await text(page.getByLabel('ceremony log')).toContain('Rehearsal complete: 3 steps');
  await text(page.getByLabel('transcript')).toContain('airgap.override');
  await shot('20-ceremony-rehearsal-passed');
  // the rehearsal ran in the folder beside the ceremony folder, on its own tokens
  const rec = readFileSync(join(work, 'rehearsals.jsonl'), 'utf8');
  expect(rec).toContain('"result":"pass"');
  await nowCard().getByRole('button', { name: 'Run it live now' }).click();

  networkUp = false;
  await text(page.getByLabel('mode')).toBe('LIVE: recorded');
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();
  await handOver('Ceremony administrator', 'Ceremony HSM', pinOf('Ceremony HSM'));
  await confirmYes('the ceremony clock reads');
  for (const who of ['alice', 'bob', 'carol']) {
    await handOver(named(who), `webhook-${who}`, pinOf(`webhook-${who}`));
    await witness(`the fingerprint of ${who}'s key`);
  }
  await confirmYes('the checkpoint they sign covers the audit log');
  await visible(nowCard().getByRole('heading', { name: 'Ceremony complete' }));
  const log = readFileSync(join(dir, 'audit.jsonl'), 'utf8');
  expect(log).not.toContain('rehearsal.skipped');
  expect(log).toContain('"simulation":false');
  await text(page.getByRole('region', { name: 'audit log verification' }).getByRole('heading')).toMatch(/^Audit log valid: \d+ entries$/);
  // a reload reconnects to the run (its id is kept for the session): the same finished run, until it is closed
  await page.reload();
  await visible(nowCard().getByRole('heading', { name: 'Ceremony complete' }));
  await text(page.getByLabel('mode')).toBe('LIVE: recorded');
  await nowCard().getByRole('button', { name: 'Close the run sheet' }).click();
  expect(app.consoleErrors).toEqual([]);
  expect(app.blocked).toEqual([]);
}, 180_000);

test('by clicking: a later ceremony (dual-publish) loads the set of the first from its folder, rehearsed with a stand-in set, then run with the witness typing the root digest and each registered key from the first ceremony\'s record', async () => {
  networkUp = false;
  // the ceremony media: the set and the manifest of the first ceremony (the JWT rotation above)
  const first = join(work, 'jwt-2026-12');
  const dir = join(work, 'dual-publish');
  mkdirSync(dir);
  copyFileSync(join(first, 'custodians.v1.json'), join(dir, 'custodians.v1.json'));
  copyFileSync(join(first, 'rotation.jwt.json'), join(dir, 'rotation.1.json'));
  const script = JSON.parse(templateText('quarterly-master-dual-publish')!) as { tokens: { label: string }[] };
  await loadScript('dual.json', JSON.stringify(script, null, 2));
  await text(page.getByRole('list', { name: 'steps' })).toContain('custodian-set: load-custodian-set, by admin');
  await chooseCeremonyFolder(dir);
  // the rehearsal's own process looks at this machine's interfaces (the app's guard here is the test's): allow it, logged
  await page.getByRole('button', { name: 'Rehearse on the run sheet' }).click();
  await page.getByLabel('Rehearse with the network up (logged)').check();
  await nowCard().getByRole('button', { name: 'Rehearse on throw-away tokens' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Rehearsal passed' }));
  await drawer();
  await text(page.getByLabel('transcript')).toContain('rehearsal stand-in');
  await nowCard().getByRole('button', { name: 'Run it live now' }).click();

  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();
  // alice's card keeps the journal (no token here is the administrator's): found by the key the first ceremony's set registers for her
  await handOver(named('alice'), 'custodian-alice', pinOf('custodian-alice'), 'Found by its key: it holds the key custodian set version 1 registers for you.');
  const root = (JSON.parse(readFileSync(join(dir, 'custodians.v1.json'), 'utf8')) as { payload: string }).payload;
  const digest = createHash('sha256').update(Buffer.from(root, 'base64')).digest();
  await confirmYes('the ceremony clock reads');
  // the root digest is not on the screen: the witness types it from the first ceremony's record, a byte in hex per slot
  await text(nowCard().locator('.what')).toContain("the root set's digest, against the record of the ceremony that made it");
  expect(await nowCard().innerText()).not.toContain(digest.toString('hex').slice(0, 8));
  await shot('21-ceremony-root-digest');
  await fromRecord("the root set's digest", [...digest.subarray(0, 12)].map((b) => b.toString(16).padStart(2, '0')));
  // each card's key against the set: the words as the first ceremony's transcript printed them
  const record = readFileSync(join(first, 'transcript.md'), 'utf8');
  for (const who of ['alice', 'bob', 'carol']) {
    // alice's card was given at the start; bob's and carol's are asked for as the step checks them, each found by its registered key
    if (who !== 'alice') await handOver(named(who), `custodian-${who}`, pinOf(`custodian-${who}`), 'Found by its key');
    await fromRecord(`the fingerprint of ${who}'s key`, recordedWords(record, who));
  }
  await confirmYes('the checkpoint they sign covers the audit log');
  await visible(nowCard().getByRole('heading', { name: 'Ceremony complete' }));
  await text(page.getByRole('region', { name: 'audit log verification' }).getByRole('heading')).toMatch(/^Audit log valid: \d+ entries$/);
  const m = JSON.parse(Buffer.from((JSON.parse(readFileSync(join(dir, 'rotation.2.json'), 'utf8')) as { payload: string }).payload, 'base64').toString('utf8')) as { sequence: number; previous: string };
  expect(m.sequence).toBe(2);
  expect(m.previous).toBe(`sha256:${createHash('sha256').update(Buffer.from((JSON.parse(readFileSync(join(dir, 'rotation.1.json'), 'utf8')) as { payload: string }).payload, 'base64')).digest('hex')}`);
  expect(app.consoleErrors).toEqual([]);
}, 180_000);
