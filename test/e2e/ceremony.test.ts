/**
 * Issues 7 and 17 end to end, by clicking, in headless Chromium over real SoftHSM2 tokens: later
 * ceremonies of one deployment, each following the one before on the deployment's one chain of
 * manifests (FORMATS.md §8). Its first ceremony (keys-in-use: the custodians' keys on these cards,
 * their set, rotation.1 to 3) and the quarter's first (master-v2 made, its backup custody, the
 * prepare, rotation.4) run through the app's handler table beforehand, answered as their rooms would
 * (./deployment.ts). Then from the app: the quarter's dual-publish (rotation.5), its inputs in the
 * ceremony folder, rehearsed with a stand-in set and run with the witness typing the root digest and
 * each registered key from the first ceremony's printed transcript; after the quarter's cutover and
 * revoke (6, 7, through the table), the monthly JWT rotation (8 to 11) reviewed, opened on the run
 * sheet, refused while the network is up, run air-gapped with the witness typing what the record
 * prints, the transcript shown, printed to PDF and the audit log verified with its checkpoint, a
 * tampered copy of the log reported at its entry; then the webhook rotation (12 to 15) rehearsed
 * from the app (the command line in a process of its own, on throw-away tokens) and run for real
 * with no exception in its log. Screenshots go to test-results/screens/.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FOLDER_DIALOGS } from '../../src/api/folders.js';
import { templateText } from '../../src/ceremony/templates.js';
import { runSheetHelpers, uiHelpers } from '../support/browser.js';
import { ceremonyMedia, closeE2e, firstCeremony, openE2e, runThroughTable, testRecipient } from './deployment.js';
import type { E2e, PrintedRecord } from './deployment.js';

/** The templates' own labels: the ceremony HSM and the custodians' cards. */
const cards = [{ label: 'Ceremony HSM', pin: '24681357' }, { label: 'custodian-alice', pin: '1111' }, { label: 'custodian-bob', pin: '2222' }, { label: 'custodian-carol', pin: '3333' }] as const;
const pinOf = (label: string): string => cards.find((c) => c.label === label)!.pin;
/** A custodian, by the name the templates give them. */
const named = (who: string): string => `${who[0]!.toUpperCase()}${who.slice(1)}, custodian`;
let e: E2e;
let page: Page;
const { visible, text, shot, drop } = uiHelpers(() => page);
const { nowCard, handOver, confirmYes, fromRecord, typeWords } = runSheetHelpers(() => page);
/** The air-gap guard reads the interfaces through the handler context: up or cut, as each test needs. */
let networkUp = false;
/** The deployment's first ceremony, whose printed transcript the later ceremonies' witnesses read from. */
let record: PrintedRecord;
/** The deployment's test recipient: what its secrets are sealed to. */
const recipient = testRecipient();
/** The last manifest of the deployment's chain so far: each ceremony's first manifest follows it. */
let last: string;

beforeAll(async () => {
  e = await openE2e({
    name: 'ceremony', cards,
    context: ({ browser }) => ({
      interfaces: () => (networkUp ? [{ name: 'eth0', addresses: ['10.0.0.2'] }] : []),
      // printing to PDF: Electron's printToPDF in the app; here Chromium's own, on a page of its own with scripts off
      printToPdf: async (html: string): Promise<Uint8Array> => {
        const ctx = await browser.newContext({ javaScriptEnabled: false });
        try {
          const p = await ctx.newPage();
          await p.setContent(html);
          return new Uint8Array(await p.pdf({ format: 'A4' }));
        } finally {
          await ctx.close();
        }
      },
    }),
  });
  page = e.page;
  record = await firstCeremony(e, join(e.work, '2026-q3-keys-in-use'));
  // the quarter's first ceremony, adapted: without its export and drill (runsheet.test.ts runs them), which the chain does not depend on
  const quarter = join(e.work, '2026-q4-master-rotation');
  ceremonyMedia(quarter, { record, previous: join(record.dir, 'rotation.3.json') });
  const q = JSON.parse(templateText('quarterly-master-rotation')!) as { tokens: { name: string }[]; steps: { action: string }[] };
  q.steps = q.steps.filter((s) => s.action !== 'export' && s.action !== 'drill');
  q.tokens = q.tokens.filter((t) => t.name !== 'drill');
  await runThroughTable(e, { script: JSON.stringify(q, null, 2), dir: quarter, reason: 'the quarter\'s first ceremony of this test', record });
  last = join(quarter, 'rotation.4.json');
}, 180_000);

afterAll(() => closeE2e(e));

/** A fresh page on the Ceremony screen with a script dropped in. */
async function loadScript(name: string, script: string): Promise<void> {
  await page.reload();
  await page.getByRole('navigation').getByRole('button', { name: /Ceremony/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), name, script);
}

/** The ceremony folder, made by the test and chosen in the (stand-in) folder dialog: the page holds only its handle, and shows its path. */
async function chooseCeremonyFolder(dir: string): Promise<void> {
  e.dialog.answer(dir);
  const open = page.getByRole('region', { name: 'Open the run sheet' });
  await open.getByRole('button', { name: /^Choose (the ceremony|another) folder…$/ }).click();
  await text(open.getByLabel('ceremony folder')).toBe(dir);
}

/** The auditor's drawer, opened: the run's log and the transcript. */
async function drawer(): Promise<void> {
  const d = page.locator('details.drawer');
  if (await d.getAttribute('open') === null) await d.locator('summary').click();
}

const payloadOf = (file: string): Buffer => Buffer.from((JSON.parse(readFileSync(file, 'utf8')) as { payload: string }).payload, 'base64');
/** The manifest `file` is the chain's manifest n and follows `previous` (its sequence + 1, its digest); it becomes the chain's last. */
function follows(file: string, n: number, previous: string): void {
  const m = JSON.parse(payloadOf(file).toString('utf8')) as { sequence: number; previous: string };
  expect([m.sequence, m.previous]).toEqual([n, `sha256:${createHash('sha256').update(payloadOf(previous)).digest('hex')}`]);
  last = file;
}

test('by clicking: a later ceremony (dual-publish) loads the set of the first from its folder, rehearsed with a stand-in set, then run with the witness typing the root digest and each registered key from the first ceremony\'s record', async () => {
  networkUp = false;
  // the ceremony media, in the ceremony folder: the set of the deployment's first ceremony, and the chain's last manifest (the quarter's prepare)
  const dir = join(e.work, '2026-q4-dual-publish');
  const prepare = last;
  ceremonyMedia(dir, { record, previous: prepare });
  await loadScript('dual.json', templateText('quarterly-master-dual-publish')!);
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
  await confirmYes('the ceremony clock reads');
  // the root digest is not on the screen: the witness types it from the first ceremony's record, a byte in hex per slot
  await text(nowCard().locator('.what')).toContain("the root set's digest, against the record of the ceremony that made it");
  expect(await nowCard().innerText()).not.toContain(record.rootWords.slice(0, 4).join(''));
  await shot('21-ceremony-root-digest');
  await fromRecord("the root set's digest", record.rootWords);
  // each card's key against the set: the words as the first ceremony's transcript printed them
  for (const who of ['alice', 'bob', 'carol']) {
    // alice's card was given at the start; bob's and carol's are asked for as the step checks them, each found by its registered key
    if (who !== 'alice') await handOver(named(who), `custodian-${who}`, pinOf(`custodian-${who}`), 'Found by its key');
    await fromRecord(`the fingerprint of ${who}'s key`, record.keyWords(who));
  }
  await confirmYes('the checkpoint they sign covers the audit log');
  await visible(nowCard().getByRole('heading', { name: 'Ceremony complete' }));
  await text(page.getByRole('region', { name: 'audit log verification' }).getByRole('heading')).toMatch(/^Audit log valid: \d+ entries$/);
  follows(join(dir, 'rotation.5.json'), 5, prepare);
  await nowCard().getByRole('button', { name: 'Close the run sheet' }).click();
  expect(e.app.consoleErrors).toEqual([]);
}, 180_000);

test('by clicking: the monthly JWT rotation, reviewed, run air-gapped with the witness typing the root digest and each registered key from the record, transcript and audit log verified', async () => {
  // the quarter's cutover and revoke, each a ceremony of its own through the handler table: the chain's last manifest is then rotation.7
  networkUp = false;
  for (const [phase, n] of [['cutover', 6], ['revoke', 7]] as const) {
    const d = join(e.work, `2026-q4-${phase}`);
    const previous = last;
    ceremonyMedia(d, { record, previous });
    await runThroughTable(e, { script: templateText(`quarterly-master-${phase}`)!, dir: d, reason: `the quarter's ${phase} of this test`, record });
    follows(join(d, `rotation.${n}.json`), n, previous);
  }
  networkUp = true;
  // the ceremony media: the set, the chain's last manifest and the deployment's age recipient
  const dir = join(e.work, '2026-12-jwt');
  const revoke = last;
  ceremonyMedia(dir, { record, previous: revoke, recipients: recipient });
  await loadScript('jwt.json', templateText('monthly-jwt-rotation')!);
  await visible(page.getByRole('heading', { name: 'Monthly JWT signing secret rotation' }));
  await text(page.getByRole('list', { name: 'steps' })).toContain('make-jwt: make-secret, by admin');
  await text(page.getByRole('list', { name: 'steps' })).toContain('prepare-manifest: manifest, by alice');
  const open = page.getByRole('region', { name: 'Open the run sheet' });
  const dialogs = e.dialog.titles.length;
  // cancelling the dialog chooses nothing: the run sheet cannot open yet, and says what is missing
  e.dialog.answer(null);
  await open.getByRole('button', { name: 'Choose the ceremony folder…' }).click();
  await visible(open.getByText('none chosen yet'));
  expect(await open.getByRole('button', { name: 'Run live on the run sheet' }).isDisabled()).toBe(true);
  await visible(open.getByText('To open the run sheet: a ceremony folder.'));
  await chooseCeremonyFolder(dir);
  expect(e.dialog.titles.slice(dialogs)).toEqual([FOLDER_DIALOGS.ceremony.title, FOLDER_DIALOGS.ceremony.title]);
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

  // the HSM (it keeps the journal, and draws the secrets), the clock (yes/no), the set's root digest typed from the record,
  // then each custodian's card, found by the key the set registers for them, and that key's words typed from the record
  await handOver('Ceremony administrator', 'Ceremony HSM', pinOf('Ceremony HSM'));
  await confirmYes('the ceremony clock reads');
  await fromRecord("the root set's digest", record.rootWords);
  await handOver(named('alice'), 'custodian-alice', pinOf('custodian-alice'), 'Found by its key');
  await text(nowCard().locator('.what')).toContain("the fingerprint of alice's key");
  await shot('17-ceremony-witness');
  // the words are checked without regard to case, as a witness may write them
  await typeWords(record.keyWords('alice').map((w) => w.toUpperCase()));
  for (const who of ['bob', 'carol']) {
    await handOver(named(who), `custodian-${who}`, pinOf(`custodian-${who}`), 'Found by its key');
    await fromRecord(`the fingerprint of ${who}'s key`, record.keyWords(who));
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
  // the secrets sealed to the deployment, the chain followed on from the quarter's revoke
  expect(['jwt-v2', 'jwt-refresh-salt-v2'].map((id) => existsSync(join(dir, 'sealed', `${id}.age`)))).toEqual([true, true]);
  follows(join(dir, 'rotation.8.json'), 8, revoke);
  last = join(dir, 'rotation.11.json');
  await nowCard().getByRole('button', { name: 'Print the transcript to PDF' }).click();
  await text(nowCard()).toContain(`Written ${join(dir, 'transcript.pdf')}`);
  const pdf = readFileSync(join(dir, 'transcript.pdf'));
  expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
  expect(pdf.length).toBeGreaterThan(5000);
  await shot('18-ceremony-done');

  // a tampered copy of the log, dropped into the viewer, is reported at its entry
  await nowCard().getByRole('button', { name: 'Close the run sheet' }).click();
  const lines = readFileSync(join(dir, 'audit.jsonl'), 'utf8').split('\n');
  const tampered = lines[4]!.replace('"actor":"admin"', '"actor":"bob"');
  expect(tampered).not.toBe(lines[4]);
  lines[4] = tampered;
  await page.getByRole('navigation').getByRole('button', { name: /Custodians/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Or load an existing custodian set' }), 'custodians.v1.json', readFileSync(join(dir, 'custodians.v1.json'), 'utf8'));
  await page.getByRole('button', { name: 'Use this set for the ceremony' }).click();
  await page.getByRole('navigation').getByRole('button', { name: /Ceremony/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Verify an audit log' }), 'audit.jsonl', lines.join('\n'));
  await text(page.getByRole('region', { name: 'audit log verification' }).getByRole('heading')).toBe('Audit log INVALID at entry 5');
  await shot('19-ceremony-audit-tampered');
  expect(e.app.consoleErrors).toEqual([]);
  expect(e.app.blocked).toEqual([]);
}, 180_000);

test('by clicking: the webhook rotation rehearsed from the app, then run for real with no exception logged', async () => {
  networkUp = true;
  const dir = join(e.work, '2026-q4-webhook');
  const jwt = last;
  ceremonyMedia(dir, { record, previous: jwt, recipients: recipient });
  const script = templateText('webhook-rotation')!;
  await loadScript('webhook.json', script);
  await visible(page.getByRole('heading', { name: 'Webhook signing secret rotation' }));
  await chooseCeremonyFolder(dir);
  await page.getByRole('button', { name: 'Rehearse on the run sheet' }).click();
  await text(page.getByLabel('mode')).toBe('REHEARSAL: throw-away tokens');
  await nowCard().getByRole('button', { name: 'Rehearse on throw-away tokens' }).click();
  await text(page.getByRole('alert').filter({ hasText: 'What to do' })).toContain('CEREMONY_NETWORK_UP');
  await page.getByLabel('Rehearse with the network up (logged)').check();
  await nowCard().getByRole('button', { name: 'Rehearse on throw-away tokens' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Rehearsal passed' }));
  await drawer();
  await text(page.getByLabel('ceremony log')).toContain('Rehearsal complete: 6 steps');
  await text(page.getByLabel('transcript')).toContain('airgap.override');
  await text(page.getByLabel('transcript')).toContain('rehearsal stand-in');
  await shot('20-ceremony-rehearsal-passed');
  // the rehearsal ran in the folder beside the ceremony folder, on its own tokens, and its pass is recorded for this script
  const digest = `sha256:${createHash('sha256').update(script).digest('hex')}`;
  const passes = readFileSync(join(e.work, 'rehearsals.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { digest: string; result: string });
  expect(passes.filter((p) => p.digest === digest).map((p) => p.result)).toEqual(['pass']);
  await nowCard().getByRole('button', { name: 'Run it live now' }).click();

  networkUp = false;
  await text(page.getByLabel('mode')).toBe('LIVE: recorded');
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();
  await handOver('Ceremony administrator', 'Ceremony HSM', pinOf('Ceremony HSM'));
  await confirmYes('the ceremony clock reads');
  await fromRecord("the root set's digest", record.rootWords);
  for (const who of ['alice', 'bob', 'carol']) {
    await handOver(named(who), `custodian-${who}`, pinOf(`custodian-${who}`), 'Found by its key');
    await fromRecord(`the fingerprint of ${who}'s key`, record.keyWords(who));
  }
  await confirmYes('the checkpoint they sign covers the audit log');
  await visible(nowCard().getByRole('heading', { name: 'Ceremony complete' }));
  const log = readFileSync(join(dir, 'audit.jsonl'), 'utf8');
  expect(log).not.toContain('rehearsal.skipped');
  expect(log).toContain('"simulation":false');
  await text(page.getByRole('region', { name: 'audit log verification' }).getByRole('heading')).toMatch(/^Audit log valid: \d+ entries$/);
  follows(join(dir, 'rotation.12.json'), 12, jwt);
  // a reload reconnects to the run (its id is kept for the session): the same finished run, until it is closed
  await page.reload();
  await visible(nowCard().getByRole('heading', { name: 'Ceremony complete' }));
  await text(page.getByLabel('mode')).toBe('LIVE: recorded');
  await nowCard().getByRole('button', { name: 'Close the run sheet' }).click();
  expect(e.app.consoleErrors).toEqual([]);
  expect(e.app.blocked).toEqual([]);
}, 180_000);
