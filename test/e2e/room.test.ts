/**
 * The room's window (issue 15), in headless Chromium over real SoftHSM2 tokens: a live run of the
 * deployment's first ceremony (keys-in-use) clicked through on the run sheet, and the room's window
 * opened from its mode bar. Here the test stands in for the desktop shell (electron/main/room.ts,
 * proven by test/electron/shell-harness.ts): the table's openRoomWindow opens a second page on the
 * same bridged handler table at #room=<run id>. That page mirrors the now card (who acts, the step,
 * a hand-over's person and card), shows the words of a value made in this run while the witness
 * types them on the app window's view that does not, and shows nothing else: no button, no field,
 * no log, no hex, no path; it calls ceremony.status and no other channel. Screenshot
 * test-results/screens/room-window.png; axe finds no serious or critical violation on it.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { CHANNELS } from '../../src/api/contract.js';
import type { Handlers } from '../../src/api/handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { openApp, runSheetHelpers, SHOTS, uiHelpers } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { ok } from '../support/result.js';
import { closeE2e, openE2e } from './deployment.js';
import type { E2e } from './deployment.js';
import { axe, serveAxe } from './page-checks.js';

const cards = [{ label: 'Ceremony HSM', pin: 'hsm-13572468' }, { label: 'custodian-alice', pin: 'alice-1212' }, { label: 'custodian-bob', pin: 'bob-3434' },
  { label: 'custodian-carol', pin: 'carol-5656' }] as const;
let e: E2e;
let page: Page;
/** The room's window, once the run sheet asked for it; the run it shows; the channels its page called. */
let room: { app: AppPage; runId: string } | null = null;
const roomCalls: string[] = [];

/** The table as a page sees it, each channel it calls written down while `on` says so. */
function recording(handlers: Handlers, calls: string[], on: () => boolean): Handlers {
  return Object.freeze(Object.fromEntries(CHANNELS.map((c) => [c, (request: unknown) => { if (on()) calls.push(c); return handlers[c](request); }]))) as Handlers;
}

/** What the desktop shell does for room.open, as this test stands in for it: a second page on the same table, at #room=<run id>; asked again for that run, it is focused. */
async function openRoomWindow(runId: string): Promise<'opened' | 'focused'> {
  if (room !== null && room.runId === runId) {
    await room.app.page.bringToFront();
    return 'focused';
  }
  let on = false;
  const app = await openApp(e.browser, e.root, recording(e.handlers, roomCalls, () => on));
  // the shell loads the page with its fragment; here it is put in place and the page loaded again
  await app.page.evaluate((h) => { window.location.hash = h; }, `room=${runId}`);
  on = true;
  await app.page.reload();
  room = { app, runId };
  return 'opened';
}

beforeAll(async () => {
  e = await openE2e({ name: 'room', cards, context: () => ({ openRoomWindow: (runId) => openRoomWindow(runId) }) });
  page = e.page;
  serveAxe(e.root);
}, 120_000);

afterAll(() => closeE2e(e));

const { visible, text, count, drop } = uiHelpers(() => page);
const { nowCard, handOver, confirmYes, typeWords } = runSheetHelpers(() => page);
const pinOf = (label: string): string => cards.find((c) => c.label === label)!.pin;

test("the room's window: opened from the run sheet, it mirrors the now card and shows the words to read aloud while the witness types them on a view without them", async () => {
  const dir = join(e.work, '2026-q3-keys-in-use');
  await page.getByRole('navigation').getByRole('button', { name: /Ceremony/ }).click();
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), 'keys-in-use.json', templateText('keys-in-use')!);
  const open = page.getByRole('region', { name: 'Open the run sheet' });
  mkdirSync(dir, { recursive: true });
  e.dialog.answer(dir);
  await open.getByRole('button', { name: 'Choose the ceremony folder…' }).click();
  await text(open.getByLabel('ceremony folder')).toBe(dir);
  await open.getByRole('button', { name: 'Run live on the run sheet' }).click();
  // before the start there is no run to show: no button for the room's window
  await visible(nowCard().getByRole('heading', { name: 'Ready to start' }));
  expect(await page.getByRole('button', { name: "Open the room's window" }).count()).toBe(0);
  await page.getByLabel('Run without a recorded rehearsal').check();
  await page.getByLabel('Reason (goes into the audit log)').fill('the room window test runs the first ceremony unrehearsed');
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();

  // the administrator's hand-over waits: the room's window opened now shows who comes to the keyboard, and no PIN field
  await visible(nowCard().getByRole('heading', { name: 'Hand-over to Ceremony administrator' }));
  await page.getByRole('button', { name: "Open the room's window" }).click();
  await visible(page.getByText("The room's window shows this run: move it to the projector."));
  expect(room).not.toBeNull();
  const r = room!.app.page;
  const card = r.locator('section.room-card');
  await visible(card.getByRole('heading', { name: 'admin comes to the keyboard' }));
  await text(card).toContain('The run needs Ceremony HSM');
  await text(r.getByLabel('mode')).toBe('LIVE: recorded');
  // asked again for the same run: the one window, focused
  await page.getByRole('button', { name: "Open the room's window" }).click();
  await visible(page.getByText("The room's window shows this run: move it to the projector."));
  expect(ok(await e.handlers['room.open']({ runId: room!.runId }))).toEqual({ window: 'focused' });

  await handOver('Ceremony administrator', 'Ceremony HSM', pinOf('Ceremony HSM'));
  await visible(card.getByRole('heading', { name: 'admin confirms' }));
  await text(card.locator('.what')).toContain('the ceremony clock reads');
  await confirmYes('the ceremony clock reads');
  // step 1: alice's card makes her key; the room shows the step and who acts, then her hand-over
  await handOver('Alice, custodian', 'custodian-alice', pinOf('custodian-alice'));

  // the fingerprint of the key just made: the room shows its words while the app window's reader view does too
  await visible(nowCard().getByRole('heading', { name: /^Read these \d+ words aloud to Internal witness$/ }));
  await visible(card.getByRole('heading', { name: /^Read these \d+ words aloud to wendy$/ }));
  const onSheet = await nowCard().getByRole('list', { name: 'words to read aloud' }).locator('.w').allInnerTexts();
  const inRoom = await card.getByRole('list', { name: 'words to read aloud' }).locator('.w').allInnerTexts();
  expect(inRoom).toEqual(onSheet);
  expect(inRoom.length).toBeGreaterThanOrEqual(3);
  await text(card.locator('.step-no')).toMatch(/^Step 1 of \d+: custodian-keys · Witness check: fingerprint$/);
  // the app window goes on to the witness's view: no words there, and none in the room either (the witness may see it)
  await nowCard().getByRole('button', { name: /^Words read: / }).click();
  await visible(page.getByRole('form', { name: 'Witness check' }));
  expect(await nowCard().getByRole('list', { name: 'words to read aloud' }).count()).toBe(0);
  const witnessView = await nowCard().innerText();
  for (const w of inRoom) expect(witnessView).not.toContain(w);
  await count(card.getByRole('list', { name: 'words to read aloud' })).toBe(0);
  await text(card.getByRole('heading')).toMatch(/^wendy comes to the keyboard$/);
  const roomTyping = await card.innerText();
  for (const w of inRoom) expect(roomTyping).not.toContain(w);
  // the reader shows the words again: the room shows them again, then the witness types
  await nowCard().getByRole('button', { name: /words again/i }).click();
  await visible(card.getByRole('list', { name: 'words to read aloud' }));
  await nowCard().getByRole('button', { name: /^Words read: / }).click();
  await count(card.getByRole('list', { name: 'words to read aloud' })).toBe(0);

  // nothing but the run: no button, no field, no log, no hex, no folder, no PIN
  const shown = await r.locator('body').innerText();
  expect(await r.getByRole('button').count()).toBe(0);
  expect(await r.getByRole('textbox').count()).toBe(0);
  expect(await r.locator('input, textarea, select, pre, [role="log"], details').count()).toBe(0);
  expect(shown).not.toMatch(/[0-9a-f]{16,}/i);
  expect(shown).not.toContain(e.work);
  for (const c of cards) expect(shown).not.toContain(c.pin);
  await r.screenshot({ path: join(SHOTS, 'room-window.png'), fullPage: true });
  expect(await axe(r, "the room's window")).toEqual([]);

  // the words typed back: the room follows the run to bob's hand-over, showing only who comes to the keyboard
  await typeWords(onSheet);
  await visible(card.getByRole('heading', { name: 'bob comes to the keyboard' }));
  expect(await card.getByRole('list', { name: 'words to read aloud' }).count()).toBe(0);
  await text(card).toContain('The run needs custodian-bob');
  expect(await r.getByRole('textbox').count()).toBe(0);

  // the run stopped from the app window: the room says so, and not why (the app window does: its message may name a folder)
  ok(await e.handlers['ceremony.stop']({ runId: room!.runId }));
  await visible(card.getByRole('heading', { name: /^The ceremony stopped/ }));
  expect(await r.locator('body').innerText()).not.toContain(e.work);

  // read-only: the room's page asked the table for the run's status, and for nothing else
  expect(roomCalls.length).toBeGreaterThan(0);
  expect([...new Set(roomCalls)]).toEqual(['ceremony.status']);
  expect(room!.app.consoleErrors).toEqual([]);
  expect(room!.app.blocked).toEqual([]);
  expect(e.app.consoleErrors).toEqual([]);
}, 240_000);

test('the room page without a run named, or with a malformed one, says so and asks the table nothing', async () => {
  for (const hash of ['room=', `room=${'A'.repeat(32)}`, `room=${'a'.repeat(31)}`, `room=${'a'.repeat(32)}&x`, 'room=../../etc/passwd']) {
    const calls: string[] = [];
    let on = false;
    const app = await openApp(e.browser, e.root, recording(e.handlers, calls, () => on));
    try {
      await app.page.evaluate((h) => { window.location.hash = h; }, hash);
      on = true;
      await app.page.reload();
      await app.page.getByRole('heading', { name: 'No run is named for this window' }).waitFor({ state: 'visible', timeout: 30_000 });
      expect([hash, calls]).toEqual([hash, []]);
      expect(await app.page.getByRole('navigation').count()).toBe(0);
    } finally {
      await app.page.context().close();
    }
  }
  // a well-formed id the table does not know: asked once, and said
  const app = await openApp(e.browser, e.root, e.handlers);
  try {
    await app.page.evaluate((h) => { window.location.hash = h; }, `room=${'c'.repeat(32)}`);
    await app.page.reload();
    await app.page.getByRole('heading', { name: 'The app no longer follows this run' }).waitFor({ state: 'visible', timeout: 30_000 });
  } finally {
    await app.page.context().close();
  }
}, 60_000);
