/**
 * The workbench with data loaded (issue 15), in headless Chromium over real SoftHSM2 tokens: each
 * screen is checked as the custodians see it after work was done on it (tokens detected, keys
 * generated with an error beside the form, a set read from the cards, written and signed, a
 * manifest written and signed, a verification, an export, a backup split and its custody signed, a
 * drill passed, a script with problems and one reviewed), not only empty. At each state: no serious
 * or critical axe-core violation, text 4.5:1 and field borders and focus rings 3:1 (page-checks.ts),
 * and every disabled button says what it waits for. Screenshots go to test-results/screens/.
 */
import { generateKeyPairSync } from 'node:crypto';
import { mkdirSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { buildRenderer, closeAll, launch, openApp, SHOTS, uiHelpers } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { axe, contrast, serveAxe, unexplainedDisabled } from './page-checks.js';

const HSM = { label: 'Workbench HSM', pin: '24681357', soPin: '12345678' };
const DRILL = { label: 'Drill token', pin: '13572468', soPin: '12345678' };
const cards = [['alice', 'Alice Example', '1111'], ['bob', 'Bob Example', '2222'], ['carol', 'Carol Example', '3333']] as const;

let hsm: SoftHsm;
let root: string;
let usb: string;
let browser: Browser;
let app: AppPage;
let page: Page;
const { visible, text, shot, nav, drop, signWithCards, chooseDrive, generateKeys, addCustodians } = uiHelpers(() => page);

beforeAll(async () => {
  hsm = createSoftHsm([HSM, DRILL, ...cards.map(([id, , pin]) => ({ label: `card-${id}`, pin, soPin: '87654321' }))]);
  root = await buildRenderer();
  serveAxe(root);
  // the temp folder stands in for the removable drive (explicit override)
  usb = realpathSync(mkdtempSync(join(tmpdir(), 'kc-usb-')));
  browser = await launch();
  app = await openApp(browser, root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module, KEYCEREMONY_REMOVABLE_ROOTS: usb }, version: 'e2e', interfaces: () => [] }));
  page = app.page;
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);
afterAll(() => closeAll({ browser, hsm, dirs: [root, usb] }));

const problems: string[] = [];
/** Everything checked on the page as it is now. */
async function checked(where: string): Promise<void> {
  problems.push(...await axe(page, where), ...await contrast(page, where), ...(await unexplainedDisabled(page, where)).problems);
}
const saved = async (scope: Page | Locator): Promise<string> =>
  decodeURIComponent((await scope.getByRole('link', { name: 'Save as file…' }).last().getAttribute('href'))!.replace(/^data:application\/json;charset=utf-8,/, ''));

test('every workbench screen with data loaded: no serious axe violation, contrast holds, disabled buttons say what is missing', async () => {
  await visible(page.getByRole('cell', { name: 'card-carol' }));
  await checked('Tokens, tokens detected');

  await nav('Keys');
  const keys = page.getByRole('form', { name: 'Generate a key' });
  await generateKeys(keys, cards, { label: HSM.label, pin: HSM.pin, extractable: true });
  await visible(page.getByRole('listitem').filter({ hasText: /master-v1 on Workbench HSM: KCV \(AES-ECB of zeros\) [0-9a-f]{6}/ }));
  await page.getByRole('button', { name: 'full hex of the fingerprint of alice-sign-v1' }).click();
  // a refused PIN: the error sits in the form that caused it
  await keys.getByLabel('Kind of key').selectOption('backup');
  await keys.getByLabel('Key label').fill('backup-v9');
  await keys.getByLabel('PIN').fill('00000000');
  await keys.getByRole('button', { name: 'Generate key' }).click();
  await text(keys.getByRole('alert')).toContain('HSM_PIN_INCORRECT');
  await checked('Keys, keys generated, a refused PIN beside the form');

  await nav('Custodians');
  await addCustodians(cards);
  await checked('Custodians, members read from their cards');
  await page.getByRole('button', { name: 'Write custodian set' }).click();
  await visible(page.getByRole('complementary', { name: 'You are signing' }).getByRole('table', { name: 'members of custodian set version 1' }));
  await checked('Custodians, set written, before signing');
  await signWithCards(page, cards.slice(0, 2).map(([id, , pin]) => [id, pin] as const));
  await page.getByRole('button', { name: 'Use this set for the ceremony' }).click();
  await visible(page.getByRole('region', { name: 'custodian set in use' }));
  await page.getByLabel('Remove custodian').selectOption('carol');
  await checked('Custodians, set in use, a rotation chosen');
  await shot('22-loaded-custodians');

  await nav('Manifests');
  await page.getByLabel('Ceremony id').fill('2026-q4-rotation');
  await page.getByLabel('Initiating custodian (actor)').selectOption('alice');
  await page.getByRole('button', { name: 'Write rotation manifest' }).click();
  await signWithCards(page, [[cards[0][0], cards[0][2]]]);
  await text(page.getByRole('group', { name: 'signatures of the approving set' })).toContain('1 more needed');
  await page.getByRole('button', { name: 'full hex of the document digest' }).click();
  await checked('Manifests, written, signed by one');
  await shot('23-loaded-manifest');
  await signWithCards(page, [[cards[1][0], cards[1][2]]]);
  await visible(page.getByText(/^Approved: every set that must sign has signed/));

  await nav('Verify');
  await page.getByRole('button', { name: "Verify this ceremony's manifest" }).click();
  const result = page.getByRole('region', { name: 'verification result' });
  await text(result.getByRole('heading').first()).toBe("VALID: this ceremony's manifest");
  await result.getByRole('button', { name: 'full hex of the key of signature 1' }).click();
  await checked('Verify, a result');

  await nav('Export');
  const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  await page.getByLabel('Target').selectOption('aws-rsa-aes-key-wrap-sha256');
  await page.getByLabel('Wrapping public key (PEM)').fill(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  await visible(page.getByText(/RSA-3072 wrapping key/));
  await page.getByLabel('AWS import token (base64)').fill(Buffer.from('opaque token').toString('base64'));
  await chooseDrive(page.getByLabel('Drive', { exact: true }), usb);
  await page.getByLabel('Token', { exact: true }).selectOption(HSM.label);
  await page.getByLabel('Key label', { exact: true }).fill('master-v1');
  await page.getByLabel('PIN', { exact: true }).fill(HSM.pin);
  await page.getByRole('button', { name: 'Export to the drive' }).click();
  await text(page.getByRole('region', { name: 'export result' })).toContain('Every file was read back and matches');
  await checked('Export, written to the drive');

  await nav('Backup');
  const split = page.getByRole('form', { name: 'Split the backup key' });
  await split.getByLabel('HSM').selectOption(HSM.label);
  await split.getByLabel('PIN').fill(HSM.pin);
  await split.getByLabel('Custody ceremony id').fill('2026-q4-backup-custody');
  await split.getByRole('button', { name: 'Generate and split the backup key' }).click();
  const store = page.getByRole('form', { name: 'Store a share' });
  await visible(store);
  await checked('Backup, split begun');
  for (const [id, , pin] of cards) {
    await store.getByLabel(`Card of ${id}`).selectOption(`card-${id}`);
    await store.getByLabel('PIN').fill(pin);
    await store.getByRole('button', { name: `Store the share of ${id}` }).click();
    await text(page.getByRole('list', { name: 'Shares placed' })).toContain(`${id}: on card`);
  }
  const finish = page.getByRole('form', { name: 'Finish the split' });
  await chooseDrive(finish.getByLabel('Custody drive'), usb);
  await finish.getByLabel('Initiating custodian (actor)').selectOption('alice');
  await finish.getByLabel('PIN').fill(HSM.pin);
  await finish.getByRole('button', { name: 'Check the shares and write the custody folder' }).click();
  const custody = page.getByRole('region', { name: 'custody result' });
  await signWithCards(custody, cards.slice(0, 2).map(([id, , pin]) => [id, pin] as const));
  await text(custody.getByRole('group', { name: 'signatures of the approving set' })).toContain('complete');
  await checked('Backup, custody written and signed');
  await drop(page.locator('.drop').filter({ hasText: 'Signed custody manifest' }), 'custody.signed.json', await saved(custody));
  const start = page.getByRole('form', { name: 'Start a drill' });
  await chooseDrive(start.getByLabel('Drive with the custody folder'), usb);
  await start.getByRole('button', { name: 'Check the custody folder' }).click();
  const present = page.getByRole('form', { name: 'Present a share' });
  for (const [id, , pin] of [cards[0], cards[2]]) {
    await present.getByLabel('Custodian presenting').selectOption(id);
    await present.getByLabel('Their card').selectOption(`card-${id}`);
    await present.getByLabel('PIN').fill(pin);
    await present.getByRole('button', { name: 'Present the share' }).click();
    await visible(page.getByRole('listitem').filter({ hasText: `${id} (share ` }));
  }
  const restore = page.getByRole('form', { name: 'Run the drill' });
  await restore.getByLabel('Drill token').selectOption(DRILL.label);
  await restore.getByLabel('PIN').fill(DRILL.pin);
  await restore.getByRole('button', { name: 'Restore into the drill token and check' }).click();
  await text(page.getByRole('region', { name: 'drill result' }).getByRole('heading').first()).toBe('PASS');
  await checked('Backup, drill passed');

  await nav('Ceremony');
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), 'broken.json', '{"spec": "keyceremony/ceremony@1", "id": "x"}');
  await visible(page.getByRole('region', { name: 'script problems' }));
  await checked('Ceremony, a script with problems');
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), 'jwt.json', templateText('monthly-jwt-rotation')!);
  await page.getByRole('button', { name: 'full hex of the script digest' }).click();
  await visible(page.getByText('To open the run sheet: a ceremony folder.'));
  await checked('Ceremony, a script reviewed');

  expect(problems).toEqual([]);
  expect(app.consoleErrors).toEqual([]);
  expect(app.blocked).toEqual([]);
}, 300_000);
