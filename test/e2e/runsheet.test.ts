/**
 * Issue 15 end to end, by clicking, in headless Chromium over real SoftHSM2 tokens: the quarterly
 * master-key rotation (6 steps: the custodian set of the deployment's first ceremony loaded from the
 * media, master-v2, backup custody, the manifest, exports, a drill) rehearsed and then run live on
 * the run sheet, as the people in the room would: no PIN at the start; a hand-over each time the
 * run first needs a card (the person at the keyboard picks their name, sees the card the app found,
 * by the key the set registers for them, and its serial, and types its PIN beside what the card
 * signs; someone else picking is refused, a wrong PIN is asked again, and the next hand-over holds
 * no name and no PIN); the witness typing the root digest and each registered key from the first
 * ceremony's printed transcript, and master-v2's check value as read aloud, on views that do not
 * show the words (yes refused, a wrong word's slot named), each new question taking the focus; the
 * run sheet left for the workbench mid-run and found again; the run stopped by the witness and
 * resumed from its step; the checkpoint; the audit log verified. The first ceremony (keys-in-use:
 * the custodians' keys on these cards, their set, the chain begun) runs through the same handler
 * table beforehand, answered as its room would (./deployment.ts). A screenshot per state goes to
 * test-results/screens/ (runsheet-*.png).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { openApp, runSheetHelpers, SHOTS, uiHelpers } from '../support/browser.js';
import { seedKeks } from '../support/ceremony-state.js';
import { ceremonyMedia, closeE2e, firstCeremony, openE2e, relabelled } from './deployment.js';
import type { E2e } from './deployment.js';

/**
 * The script's tokens, relabelled for this file's own cards: [script token name, label, PIN]. PINs
 * no hex digest or word list can hold by chance, so the test can show none of them is written or shown.
 */
const tokens = [['hsm', 'Quarterly HSM', 'hsm-24681357'], ['card-alice', 'q-alice', 'alice-1111'], ['card-bob', 'q-bob', 'bob-2222'], ['card-carol', 'q-carol', 'carol-3333'], ['drill', 'Quarterly drill', 'drill-4444']] as const;
const MISTYPED = 'alice-9999';
/** This file's cards, by the script's token names. */
const labels = Object.fromEntries(tokens.map(([name, label]) => [name, label]));
let e: E2e;
let page: Page;
const { visible, text, shot, drop } = uiHelpers(() => page);

beforeAll(async () => {
  e = await openE2e({ name: 'runsheet', cards: tokens.map(([, label, pin]) => ({ label, pin })) });
  page = e.page;
}, 120_000);

afterAll(() => closeE2e(e));

const { nowCard, confirmYes, readWords, typeWords, fromRecord } = runSheetHelpers(() => page);
const rail = (): Locator => page.getByRole('navigation', { name: 'Steps of the script' });

/** The element with the focus: the heading of the now card (its text), a word slot (its label), or what else it is. */
const focused = () => page.evaluate(() => {
  const a = document.activeElement;
  if (a === null) return 'nothing';
  if (a.id === 'now-h' && a.closest('section.now-card') !== null) return `heading: ${a.textContent ?? ''}`;
  return a.closest('label.slot') !== null ? `slot: ${a.closest('label.slot')?.querySelector('span')?.textContent ?? ''}` : `${a.tagName.toLowerCase()}${a.id === '' ? '' : `#${a.id}`}`;
});
const focusIs = (what: string) => expect.poll(focused, { timeout: 10_000 }).toBe(what);
/** A new now card: visible, and its heading has the focus (issue 15: focus moves to each new card, so the keyboard and a screen reader follow the run). */
async function cardTakesFocus(heading: string): Promise<void> {
  await visible(nowCard().getByRole('heading', { name: heading, exact: true }));
  await focusIs(`heading: ${heading}`);
}
let questions = 0;
/** A new question's card takes the focus: each one is counted, so the test shows it held for every question of the run. */
async function questionTakesFocus(heading: string): Promise<void> {
  await cardTakesFocus(heading);
  questions++;
}
let handOvers = 0;
/**
 * A hand-over, as the room does it: the heading names who comes to the keyboard (and has the
 * focus); nothing of the previous person's is there (no name chosen, no PIN field); `wrong` (if
 * given) picks their own name first and is refused before any PIN field shows; the card's holder
 * picks theirs, sees the card the app found (label, serial, how it was found) and what it signs,
 * and types its PIN; `mistype` is typed first, refused by the card and asked again.
 */
async function handOver(person: string, label: string, o: { wrong?: string; mistype?: string; found?: string; shot?: string } = {}): Promise<void> {
  const card = nowCard();
  await visible(card.getByRole('heading', { name: `Hand-over to ${person}`, exact: true }));
  await focusIs(`heading: Hand-over to ${person}`);
  const who = card.getByRole('group', { name: 'Who is at the keyboard?' });
  expect(await who.getByRole('button', { pressed: true }).count()).toBe(0);
  expect(await page.getByLabel(/^PIN for /).count()).toBe(0);
  expect(await card.getByRole('region', { name: 'Your card' }).count()).toBe(0);
  if (o.wrong !== undefined) {
    await who.getByRole('button', { name: o.wrong, exact: true }).click();
    await text(card.getByRole('alert')).toContain(`${o.wrong}: this is not your card. ${label} is`);
    expect(await page.getByLabel(/^PIN for /).count()).toBe(0);
  }
  await who.getByRole('button', { name: person, exact: true }).click();
  expect(await who.getByRole('button', { name: person, exact: true }).getAttribute('aria-pressed')).toBe('true');
  const found = card.getByRole('region', { name: 'Your card' });
  await text(found).toMatch(new RegExp(`^${label.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}, serial [0-9a-f]{16}`));
  await text(found).toContain(o.found ?? 'Found as the script\'s token, not by a registered key');
  await visible(page.getByRole('complementary', { name: 'You are signing' }));
  const field = card.getByLabel(`PIN for ${label}`);
  await focusIs('input#pin-now');
  expect(await field.inputValue()).toBe('');
  if (o.mistype !== undefined) {
    await field.fill(o.mistype);
    await card.getByRole('button', { name: 'Give the PIN to the card' }).click();
    await text(card.getByRole('form', { name: 'PIN entry' }).getByRole('alert')).toContain('HSM_PIN_INCORRECT');
    expect(await field.inputValue()).toBe('');
  }
  await field.fill(e.pins[label]!);
  if (o.shot !== undefined) await shot(o.shot);
  await card.getByRole('button', { name: 'Give the PIN to the card' }).click();
  handOvers++;
}

test('by clicking: the quarterly master-key rotation rehearsed, then run live on the run sheet with a hand-over for each card, stopped mid-way and resumed from its step', async () => {
  // the ceremony media: the first ceremony's set and the last manifest of its chain, and the KMS import jobs' wrapping keys
  const record = await firstCeremony(e, join(e.work, '2026-q3'), labels);
  const dir = join(e.work, '2026-q4');
  ceremonyMedia(dir, { record, previous: join(record.dir, 'rotation.3.json') });
  seedKeks(dir);
  // what the witness reads from the first ceremony's printed transcript: the root set's digest (a byte in hex per slot) and each registered key's words
  const { rootWords } = record;
  const registered = (who: string) => record.keyWords(who);

  // this table is not run by a desktop shell (app.info's sandbox is null): no sandbox banner
  expect(await page.getByText('The Chromium sandbox is off').count()).toBe(0);
  await page.getByRole('navigation').getByRole('button', { name: /Ceremony/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), 'quarterly.json', relabelled('quarterly-master-rotation', labels));
  await visible(page.getByRole('heading', { name: 'Quarterly master-key rotation: prepare' }));
  await text(page.getByRole('list', { name: 'steps' })).toContain('backup-custody: split-backup, by alice');
  const digestWords = (await page.getByLabel('script digest as words').innerText()).split(' ');
  expect(digestWords).toHaveLength(12);
  expect(await page.getByRole('button', { name: 'Run live on the run sheet' }).isDisabled()).toBe(true);
  await visible(page.getByText('To open the run sheet: a ceremony folder.'));
  e.dialog.answer(dir);
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

  // LIVE: no PIN at the start; the cards of the run listed, each asked for when first needed
  await text(page.getByLabel('mode')).toBe('LIVE: recorded');
  await cardTakesFocus('Ready to start');
  await text(nowCard().getByRole('list', { name: 'Cards of this run' })).toContain("q-alice: Alice, custodian's card");
  expect(await page.getByLabel(/^PIN for /).count()).toBe(0);
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();

  // the journal's token first: the administrator's hand-over, before the clock is even asked
  await visible(nowCard().getByRole('heading', { name: 'Hand-over to Ceremony administrator' }));
  await text(nowCard().locator('.step-no')).toBe('Opening the ceremony · Hand-over');
  await handOver('Ceremony administrator', 'Quarterly HSM', { shot: 'runsheet-04-pin-handover' });
  await questionTakesFocus('Ceremony administrator confirms');
  await confirmYes(/^the ceremony clock reads \d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ UTC\.$/);
  // step 1: the set of the first ceremony; the witness types its root digest from that ceremony's transcript
  await visible(rail().locator('li.now').filter({ hasText: 'custodian-set' }));
  await questionTakesFocus('Internal witness types what the printed transcript shows');
  await fromRecord("the root set's digest", rootWords);
  // alice's card, found by the key the set registers for her; bob picks first and is refused before any PIN; alice mistypes once
  await handOver('Alice, custodian', 'q-alice', { wrong: 'Bob, custodian', mistype: MISTYPED, found: 'Found by its key: it holds the key custodian set version 1 registers for you.',
    shot: 'runsheet-04b-handover-alice' });
  // her registered key, typed from the record on a view without the words: yes refused, a wrong word named by its slot
  await questionTakesFocus('Internal witness types what the printed transcript shows');
  await text(nowCard().locator('.what')).toContain("the fingerprint of alice's key");
  expect(await nowCard().getByRole('list', { name: 'words to read aloud' }).count()).toBe(0);
  const form = page.getByRole('form', { name: 'Witness check' });
  await form.getByLabel('Word 1', { exact: true }).fill('yes');
  await visible(form.getByText('"yes" does not confirm a fingerprint'));
  expect(await form.getByRole('button', { name: 'Check the words' }).isDisabled()).toBe(true);
  await shot('runsheet-06-witness-view');
  const words = registered('alice');
  const wrong = [...words];
  wrong[4] = words[5]!;
  await typeWords(wrong);
  await text(form.getByRole('alert')).toMatch(/^Word 5 does not match/);
  expect(await form.getByLabel('Word 5', { exact: true }).getAttribute('aria-invalid')).toBe('true');
  await shot('runsheet-07-witness-wrong-word');
  await form.getByLabel('Word 5', { exact: true }).fill(words[4]!);
  await form.getByRole('button', { name: 'Check the words' }).click();

  // bob's hand-over holds nothing of alice's: no name chosen, no PIN (checked in handOver)
  await handOver('Bob, custodian', 'q-bob', { found: 'Found by its key' });
  // bob's registered key waits: the room steps out to the workbench, and comes back to the same question
  await questionTakesFocus('Internal witness types what the printed transcript shows');
  await text(nowCard().locator('.what')).toContain("the fingerprint of bob's key");
  await page.getByRole('button', { name: 'Workbench' }).click();
  await page.getByRole('group', { name: 'Leave the run sheet' }).getByRole('button', { name: 'Leave the run sheet' }).click();
  await text(page.getByRole('status', { name: 'open run' })).toContain('LIVE run: Quarterly master-key rotation: prepare, a question waits, step 1: admin acts now');
  await page.getByRole('navigation').getByRole('button', { name: /Tokens/ }).click();
  await text(page.getByLabel('mode')).toBe('WORKBENCH: not recorded');
  await shot('runsheet-08-workbench-during-run');
  await page.getByRole('button', { name: 'Return to the run sheet' }).click();
  await text(nowCard().locator('.what')).toContain("the fingerprint of bob's key");

  // the words on bob's card are not the ones the record prints: the witness stops the ceremony at step 1
  await page.getByRole('form', { name: 'Witness check' }).getByRole('button', { name: 'The words do not match: stop' }).click();
  await page.getByRole('group', { name: 'Stop the ceremony' }).getByRole('button', { name: 'Stop the ceremony' }).click();
  await visible(nowCard().getByRole('heading', { name: 'The ceremony stopped at step 1' }));
  await text(nowCard().getByRole('alert')).toContain('CEREMONY_WITNESS_REFUSED');
  await shot('runsheet-09-stopped');
  await nowCard().getByRole('button', { name: 'Resume from step 1' }).click();
  await cardTakesFocus('Ready to resume');
  await nowCard().getByRole('button', { name: 'Resume from step 1' }).click();
  // a new run: every card is asked for again, when first needed
  await handOver('Ceremony administrator', 'Quarterly HSM');
  await questionTakesFocus('Ceremony administrator confirms');
  await confirmYes(/^resuming this ceremony with 0 step\(s\) done/);
  await questionTakesFocus('Internal witness types what the printed transcript shows');
  await fromRecord("the root set's digest", rootWords);
  for (const [who, name] of [['alice', 'Alice, custodian'], ['bob', 'Bob, custodian'], ['carol', 'Carol, custodian']] as const) {
    await handOver(name, `q-${who}`, { found: 'Found by its key' });
    if (who === 'carol') await shot('runsheet-10-resumed-step-1');
    await questionTakesFocus('Internal witness types what the printed transcript shows');
    await fromRecord(`the fingerprint of ${who}'s key`, registered(who));
  }
  // step 2: master-v2's check value, made in this run: read aloud from the now card, typed on a view without the words
  await visible(rail().locator('li.now').filter({ hasText: 'master-key' }));
  await questionTakesFocus('Read these 3 words aloud to Internal witness');
  await text(nowCard().locator('.what')).toContain('the check value of master-v2');
  const kcv = await readWords(/^Read these 3 words aloud to Internal witness$/, () => shot('runsheet-05-read-aloud'));
  await focusIs('slot: Word 1');
  await shot('runsheet-11-check-value');
  await typeWords(kcv);
  // step 6: the drill token, the administrator's, asked for only now
  await visible(nowCard().getByRole('heading', { name: 'Hand-over to Ceremony administrator' }));
  await text(nowCard().locator('.step-no')).toBe('Step 6 of 6: restore-drill · Hand-over');
  await visible(rail().locator('li.now').filter({ hasText: 'restore-drill' }));
  await handOver('Ceremony administrator', 'Quarterly drill');
  // the checkpoint: what the custodians sign, the head digest grouped for comparing
  await questionTakesFocus('alice and bob confirm');
  await visible(rail().locator('li.now').filter({ hasText: 'checkpoint' }));
  await text(nowCard().locator('.what')).toMatch(/the checkpoint they sign covers the audit log [0-9a-f]{32}: \d+ entries, head sha256:([0-9a-f]{4} ){15}[0-9a-f]{4}, resumed after an interruption/);
  await shot('runsheet-12-checkpoint');
  await nowCard().getByRole('button', { name: 'Confirm', exact: true }).click();

  await visible(nowCard().getByRole('heading', { name: 'Ceremony complete' }));
  const audit = page.getByRole('region', { name: 'audit log verification' });
  await text(audit.getByRole('heading')).toMatch(/^Audit log valid: \d+ entries$/);
  await text(audit).toContain('signed by alice, bob (verified against the custodian set)');
  expect(await rail().locator('li.done').count()).toBe(7);
  await shot('runsheet-13-complete');
  const log = readFileSync(join(dir, 'audit.jsonl'), 'utf8');
  expect(log).toContain('"action":"ceremony.resume"');
  expect(log).not.toContain('rehearsal.skipped');
  // every question of the run took the focus: the clock, the root digest, alice's and bob's keys; then the resume, the root digest,
  // three keys, the check value, the checkpoint. And eight hand-overs, each taking it too: the HSM, alice and bob before the stop;
  // the HSM, alice, bob, carol and the drill token after
  expect([questions, handOvers]).toEqual([11, 8]);
  // no PIN, typed right or wrong, anywhere the run wrote or showed
  const written = [log, readFileSync(join(dir, 'transcript.md'), 'utf8'), await page.locator('pre[aria-label="ceremony log"]').textContent()].join('\n');
  for (const pin of [...tokens.map(([, , p]) => p), MISTYPED]) expect(written).not.toContain(pin);
  expect(e.app.consoleErrors).toEqual([]);
  expect(e.app.blocked).toEqual([]);
}, 240_000);

test('started without the Chromium sandbox (issue 19): a red banner says so, that live ceremonies are refused, and how to turn the sandbox on', async () => {
  const off = await openApp(e.browser, e.root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: e.hsm.module }, version: 'e2e', interfaces: () => [],
    sandbox: () => ({ sandboxed: false, reasons: ['started with --no-sandbox'] }) }));
  try {
    const banner = off.page.getByRole('alert').filter({ hasText: 'The Chromium sandbox is off' });
    await banner.first().waitFor({ state: 'visible', timeout: 30_000 });
    const said = await banner.innerText();
    expect(said).toContain('The Chromium sandbox is off (started with --no-sandbox): live ceremonies are refused.');
    // README's words ("The desktop app"): the deb's chrome-sandbox or the AppArmor profile, user namespaces for the AppImage
    for (const how of ['chrome-sandbox owned by root with mode 4755', 'AppArmor profile that allows unprivileged user namespaces', 'sysctl kernel.unprivileged_userns_clone=1', '--no-sandbox']) expect(said).toContain(how);
    // white on the palette's red: 6.5:1
    expect(await banner.evaluate((e) => { const c = getComputedStyle(e); return [c.color, c.backgroundColor]; })).toEqual(['rgb(255, 255, 255)', 'rgb(179, 38, 30)']);
    await off.page.screenshot({ path: join(SHOTS, 'runsheet-00-unsandboxed.png'), fullPage: true });
    expect(off.consoleErrors).toEqual([]);
  } finally {
    await off.page.context().close();
  }
}, 60_000);
