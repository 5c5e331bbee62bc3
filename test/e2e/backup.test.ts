/**
 * Issue 6 end to end, by clicking, in headless Chromium over real SoftHSM2 tokens: the backup
 * key split 2-of-3 onto three custodian cards one custodian at a time (a card offered twice is
 * refused), the custody folder written to the removable drive and its manifest signed by two
 * cards; then a drill: the signed manifest dropped in, shares presented one custodian at a time
 * (a wrong PIN and the wrong custodian's card are refused and count nothing), the restore into a
 * drill token passes with matching KCVs, and the signed report verifies. Screenshots go to
 * test-results/screens/.
 */
import { mkdirSync, mkdtempSync, realpathSync, readdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { verifyDocument } from '../../src/verify/verify.js';
import { buildRenderer, closeAll, launch, openApp, SHOTS, uiHelpers } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { ok } from '../support/result.js';

const HSM = { label: 'Ceremony HSM', pin: '24681357', soPin: '12345678' };
const DRILL = { label: 'Drill token', pin: '13572468', soPin: '12345678' };
const cards = [['alice', '1111'], ['bob', '2222'], ['carol', '3333']] as const;

let hsm: SoftHsm;
let root: string;
let browser: Browser;
let app: AppPage;
let page: Page;
const { visible, text, count, shot, nav, drop, signWithCards, chooseDrive } = uiHelpers(() => page);
let usb: string;
let setDoc: string;

beforeAll(async () => {
  hsm = createSoftHsm([HSM, DRILL, ...cards.map(([id, pin]) => ({ label: `card-${id}`, pin, soPin: '87654321' }))]);
  root = await buildRenderer();
  usb = mkdtempSync(join(tmpdir(), 'kc-usb-'));
  const h: Handlers = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module, KEYCEREMONY_REMOVABLE_ROOTS: usb }, version: 'e2e' });
  // What earlier screens make (tested in app.test.ts), made here through the same handler table:
  // custodian keys on the cards, the 2-of-3 set signed by all three, an extractable master key.
  const members = [];
  for (const [id, pin] of cards) {
    const k = ok(await h['keys.generate']({ kind: 'custodian', token: { label: `card-${id}` }, label: `${id}-sign-v1`, pin }));
    members.push({ id, name: `${id} (e2e)`, publicKey: k.publicKey as string });
  }
  setDoc = ok(await h['custodians.create']({ threshold: 2, members })).document;
  for (const [id, pin] of cards) setDoc = ok(await h['documents.sign']({ document: setDoc, token: { label: `card-${id}` }, keyLabel: `${id}-sign-v1`, pin })).document;
  ok(await h['keys.generate']({ kind: 'master', token: { label: HSM.label }, label: 'master-v1', pin: HSM.pin, extractable: true }));
  browser = await launch();
  app = await openApp(browser, root, h);
  page = app.page;
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);

afterAll(() => closeAll({ browser, hsm, dirs: [root, usb] }));

const alert = () => page.getByRole('alert').filter({ hasText: 'What to do' });
const savedDocument = async (region: Locator): Promise<string> =>
  decodeURIComponent((await region.getByRole('link', { name: 'Save as file…' }).getAttribute('href'))!.replace(/^data:application\/json;charset=utf-8,/, ''));

test('by clicking: split the backup key 2-of-3 onto the cards, write the custody folder, sign it; then a drill passes', async () => {
  // the custodian set, loaded from its file
  await nav('Custodians');
  await drop(page.locator('.drop').filter({ hasText: 'Or load an existing custodian set' }), 'custodians.v1.json', setDoc);
  await page.getByRole('button', { name: 'Use this set for the ceremony' }).click();
  await visible(page.getByText('Custodian chain in use: 1 version'));

  await nav('Backup');
  const split = page.getByRole('form', { name: 'Split the backup key' });
  await split.getByLabel('HSM').selectOption(HSM.label);
  await split.getByLabel('PIN').fill(HSM.pin);
  await split.getByLabel('Shares needed to restore (M)').fill('2');
  await split.getByLabel('Custody ceremony id').fill('2026-q4-backup-custody');
  await split.getByRole('button', { name: 'Generate and split the backup key' }).click();
  await visible(page.getByText(/Backup key backup-v1, KCV \(AES-ECB of zeros\) [0-9a-f]{6}, split 2 of 3/));
  const backupKcv = /KCV \(AES-ECB of zeros\) ([0-9a-f]{6})/.exec(await page.getByText(/^Backup key backup-v1, KCV/).innerText())![1]!;
  const placed = page.getByRole('list', { name: 'Shares placed' });
  await text(placed).toContain('alice: next');
  const store = page.getByRole('form', { name: 'Store a share' });
  await store.getByLabel('Card of alice').selectOption('card-alice');
  await store.getByLabel('PIN').fill('1111');
  await store.getByRole('button', { name: 'Store the share of alice' }).click();
  await text(placed).toContain('alice: on card "card-alice"');
  // the commitment as words, its hex one click away: never a truncated hash
  expect(await placed.innerText()).not.toContain('…');
  await text(placed).toContain('bob: next');
  // cancelling asks first and says what it leaves behind; "No" goes on with the split, nothing lost
  await page.getByRole('button', { name: 'Cancel the split…' }).click();
  const ask = page.getByRole('group', { name: /^Cancel the split\? It cannot be taken up again/ });
  await text(ask).toContain('the 1 share already on cards');
  await ask.getByRole('button', { name: 'No, go on with the split' }).click();
  await count(page.getByRole('group', { name: /^Cancel the split\?/ })).toBe(0);
  await text(placed).toContain('alice: on card "card-alice"');
  // bob offers alice's card: refused, bob is still next
  await store.getByLabel('Card of bob').selectOption('card-alice');
  await store.getByLabel('PIN').fill('1111');
  await store.getByRole('button', { name: 'Store the share of bob' }).click();
  // the refusal shows beside the form that caused it
  await text(store.getByRole('alert').filter({ hasText: 'What to do' })).toContain('SHARES_SAME_CARD');
  await text(placed).toContain('bob: next');
  await shot('12-backup-split-progress');
  for (const [id, pin] of cards.slice(1)) {
    await store.getByLabel(`Card of ${id}`).selectOption(`card-${id}`);
    await store.getByLabel('PIN').fill(pin);
    await store.getByRole('button', { name: `Store the share of ${id}` }).click();
    await text(placed).toMatch(new RegExp(`${id}: on card "card-${id}" \\(serial [0-9a-f]+\\); read back in a new session, matches its commitment [a-z]+( [a-z]+){11} full hex`));
  }
  const finish = page.getByRole('form', { name: 'Finish the split' });
  await chooseDrive(finish.getByLabel('Custody drive'), realpathSync(usb));
  await finish.getByLabel('Initiating custodian (actor)').selectOption('alice');
  await finish.getByLabel('PIN').fill(HSM.pin);
  await finish.getByRole('button', { name: 'Check the shares and write the custody folder' }).click();
  const custody = page.getByRole('region', { name: 'custody result' });
  await text(custody).toContain(`rebuild a key with the backup key's check value: KCV (AES-ECB of zeros) ${backupKcv}`);
  await text(custody).toContain('shares/backup-v1/carol.receipt.json');
  await signWithCards(custody, cards.slice(0, 2));
  await shot('13-backup-custody-written');
  const signedManifest = await savedDocument(custody);
  expect((JSON.parse(signedManifest) as { signatures: unknown[] }).signatures).toHaveLength(2);
  expect(readdirSync(join(realpathSync(usb), 'backup-custody')).sort()).toEqual(['backup', 'rotation.json', 'shares']);

  // the drill, from the signed manifest and the drive
  await drop(page.locator('.drop').filter({ hasText: 'Signed custody manifest' }), 'custody.signed.json', signedManifest);
  const start = page.getByRole('form', { name: 'Start a drill' });
  await chooseDrive(start.getByLabel('Drive with the custody folder'), realpathSync(usb));
  await start.getByRole('button', { name: 'Check the custody folder' }).click();
  await visible(page.getByText(/custody manifest signed by alice, bob/));
  const progress = page.getByRole('status', { name: 'drill progress' });
  await text(progress).toContain('0 of 2');
  const present = page.getByRole('form', { name: 'Present a share' });
  // a wrong PIN, then alice's card offered as carol's: each refused by its code, nothing counted
  await present.getByLabel('Custodian presenting').selectOption('carol');
  await present.getByLabel('Their card').selectOption('card-carol');
  await present.getByLabel('PIN').fill('0000');
  await present.getByRole('button', { name: 'Present the share' }).click();
  await text(alert()).toContain('HSM_PIN_INCORRECT');
  await present.getByLabel('Their card').selectOption('card-alice');
  await present.getByLabel('PIN').fill('1111');
  await present.getByRole('button', { name: 'Present the share' }).click();
  await text(alert()).toContain('SHARE_WRONG_CUSTODIAN');
  await text(progress).toContain('0 of 2');
  for (const [id, pin] of [cards[0], cards[2]]) {
    await present.getByLabel('Custodian presenting').selectOption(id);
    await present.getByLabel('Their card').selectOption(`card-${id}`);
    await present.getByLabel('PIN').fill(pin);
    await present.getByRole('button', { name: 'Present the share' }).click();
    await visible(page.getByRole('listitem').filter({ hasText: `${id} (share ` }));
  }
  await text(progress).toContain('2 of 2');
  await shot('14-backup-drill-progress');
  const runForm = page.getByRole('form', { name: 'Run the drill' });
  await runForm.getByLabel('Drill token').selectOption(DRILL.label);
  await runForm.getByLabel('PIN').fill(DRILL.pin);
  await runForm.getByRole('button', { name: 'Restore into the drill token and check' }).click();
  const result = page.getByRole('region', { name: 'drill result' });
  await text(result.getByRole('heading').first()).toBe('PASS');
  await text(result).toContain('master-v1');
  await count(result.getByRole('cell', { name: /matches/ })).toBe(2);
  await visible(result.getByRole('cell', { name: 'decrypted' }));
  await signWithCards(result, [cards[0]!, cards[2]!]);
  await shot('15-backup-drill-pass');
  const report = await savedDocument(result);
  const v = verifyDocument(new TextEncoder().encode(report), [new TextEncoder().encode(setDoc)], { at: Math.floor(Date.now() / 1000) * 1000 + 2000 });
  expect(v).toMatchObject({ valid: true, type: 'drill', signers: ['alice', 'carol'] });
  expect(app.consoleErrors).toEqual([]);
  expect(app.blocked).toEqual([]);
}, 180_000);
