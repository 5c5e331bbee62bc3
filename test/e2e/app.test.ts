/**
 * Issue 4 end to end, by clicking, in headless Chromium over real SoftHSM2 tokens: custodian keys
 * on three cards, a 2-of-3 custodian set, a rotation manifest signed with two cards, verified,
 * and a tampered copy rejected. A screenshot of every screen goes to test-results/screens/.
 */
import { constants, createCipheriv, createDecipheriv, createHash, generateKeyPairSync, privateDecrypt } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { digestWords } from '../../src/ceremony/witness.js';
import { toWords } from '../../src/crypto/fingerprint.js';
import { buildRenderer, closeAll, launch, openApp, SHOTS, uiHelpers } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const HSM = { label: 'Ceremony HSM', pin: '24681357', soPin: '12345678' };
const cards = [['alice', 'Alice Example', '1111'], ['bob', 'Bob Example', '2222'], ['carol', 'Carol Example', '3333']] as const;

let hsm: SoftHsm;
let root: string;
let browser: Browser;
let app: AppPage;
let page: Page;
const { visible, text, count, shot, nav, signWithCards, chooseDrive, generateKeys, addCustodians } = uiHelpers(() => page);
let usb: string;

beforeAll(async () => {
  hsm = createSoftHsm([HSM, ...cards.map(([id, , pin]) => ({ label: `card-${id}`, pin, soPin: '87654321' }))]);
  root = await buildRenderer();
  usb = mkdtempSync(join(tmpdir(), 'kc-usb-'));
  browser = await launch();
  // the temp folder stands in for the removable drive (explicit override)
  app = await openApp(browser, root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module, KEYCEREMONY_REMOVABLE_ROOTS: usb }, version: 'e2e' }));
  page = app.page;
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);

afterAll(() => closeAll({ browser, hsm, dirs: [root, usb] }));



test('by clicking: keys on three cards, a 2-of-3 set, a manifest signed by two, verified; a tampered copy rejected', async () => {
  // Tokens
  await visible(page.getByRole('cell', { name: 'card-carol' }));
  await visible(page.getByText('Air-gapped').or(page.getByText('Network is UP')));
  await visible(page.getByText('SIMULATION tokens (SoftHSM2)'));
  await shot('1-tokens');

  // Keys: one Ed25519 key per card, and the master key in the HSM
  await nav('Keys');
  await generateKeys(page, cards, HSM);
  // one way to show each kind of value: a KCV with its method, a fingerprint as words with its hex one click away
  await visible(page.getByRole('listitem').filter({ hasText: /master-v1 on Ceremony HSM: KCV \(AES-ECB of zeros\) [0-9a-f]{6}$/ }));
  await count(page.getByLabel(/^fingerprint of [a-z]+-sign-v1 as words$/)).toBe(3);
  const aliceKey = page.getByRole('listitem').filter({ hasText: 'alice-sign-v1 on card-alice' });
  expect(await aliceKey.innerText()).not.toMatch(/[0-9a-f]{16}/);
  await aliceKey.getByRole('button', { name: /^full hex/ }).click();
  await text(aliceKey.locator('code.hex')).toMatch(/^sha256:([0-9a-f]{4} ){15}[0-9a-f]{4}$/);
  expect(await aliceKey.getByRole('button', { name: /^hide hex/ }).getAttribute('aria-expanded')).toBe('true');
  // a wrong PIN shows its code and what to do, and the PIN field is cleared
  await page.getByLabel('Kind of key').selectOption('backup');
  await page.getByLabel('Key label').fill('backup-v1');
  await page.getByLabel('PIN').fill('00000000');
  await page.getByRole('button', { name: 'Generate key' }).click();
  // the error shows beside the form that caused it, not at the top of the page
  await text(page.getByRole('form', { name: 'Generate a key' }).getByRole('alert').filter({ hasText: 'HSM_PIN_INCORRECT' })).toContain('What to do');
  await count(page.locator('main > [aria-live] .banner.error')).toBe(0);
  expect(await page.getByLabel('PIN').inputValue()).toBe('');
  await visible(page.getByText('A wrong PIN was entered recently: few tries are left.'));
  await shot('2-keys-with-error');

  // Custodians: read each key from its card, 2 of 3, sign on two cards
  await nav('Custodians');
  await addCustodians(cards);
  // a set any one card approves, or one that a single lost card blocks, is warned about before it is written
  await page.getByLabel(/Signatures required/).fill('1');
  await text(page.getByRole('note')).toContain('1-of-3: any single custodian');
  await page.getByLabel(/Signatures required/).fill('3');
  await text(page.getByRole('note')).toContain('3-of-3: every custodian must sign');
  await page.getByLabel(/Signatures required/).fill('2');
  await count(page.getByRole('note')).toBe(0);
  await shot('3-custodians-members');
  await page.getByRole('button', { name: 'Write custodian set' }).click();
  await visible(page.getByText('Signed by nobody yet; 2 signatures needed.'));
  // beside the PIN: what is signed, and a chip per custodian
  const signing = page.getByRole('complementary', { name: 'You are signing' });
  const strip = signing.getByRole('group', { name: /^signatures of the / });
  await text(strip).toContain('2 more needed');
  await signWithCards(page, [[cards[0][0], cards[0][2]]]);
  await text(strip).toContain('1 more needed');
  await visible(strip.locator('.chip.signed').filter({ hasText: 'alice' }));
  await visible(strip.locator('.chip.pending').filter({ hasText: 'bob' }));
  // after alice signs, the panel holds nothing of hers: no card chosen, no key label, no PIN
  const panel = page.getByRole('form', { name: 'Sign with a card' });
  expect(await panel.getByLabel('Custodian card').inputValue()).toBe('');
  expect(await panel.getByLabel('Signing key label').inputValue()).toBe('');
  expect(await panel.getByLabel('PIN').inputValue()).toBe('');
  await visible(panel.getByText('To sign: choose a card, its key label, the PIN.'));
  await shot('4a-custodians-signature-strip');
  await signWithCards(page, [[cards[1][0], cards[1][2]]]);
  await visible(page.getByText('Signed by alice, bob; 2 signatures needed.'));
  await text(strip).toContain('complete');
  expect(await panel.getByLabel('Custodian card').inputValue()).toBe('');
  expect(await panel.getByLabel('PIN').inputValue()).toBe('');
  await shot('4-custodians-signed');
  await page.getByRole('button', { name: 'Use this set for the ceremony' }).click();
  await visible(page.getByText('Custodian chain in use: 1 version'));

  // Manifests: the seed inventory, signed by alice and carol
  // Manifests: nothing prefilled; the button says what it waits for
  await nav('Manifests');
  const write = page.getByRole('button', { name: 'Write rotation manifest' });
  expect(await write.isDisabled()).toBe(true);
  await text(page.locator(`[id="${await write.getAttribute('aria-describedby')}"]`)).toBe('To write the manifest: give the ceremony id, choose the initiating custodian.');
  await page.getByLabel('Ceremony id').fill('2026-q4-rotation');
  await page.getByLabel('Initiating custodian (actor)').selectOption('alice');
  await write.click();
  const manifestStrip = page.getByRole('complementary', { name: 'You are signing' }).getByRole('group', { name: /^signatures of the / });
  await text(manifestStrip).toContain('2 more needed');
  // beside the PIN: the manifest's keys laid out (phase, check value, from when), and its digest as the core reads it aloud
  const signingPanel = page.getByRole('complementary', { name: 'You are signing' });
  await visible(signingPanel.getByRole('table', { name: 'keys in the manifest' }).getByRole('cell', { name: 'prepare' }));
  const written = decodeURIComponent((await page.getByRole('link', { name: 'Save as file…' }).getAttribute('href'))!.replace(/^data:application\/json;charset=utf-8,/, ''));
  const manifestDigest = `sha256:${createHash('sha256').update(Buffer.from((JSON.parse(written) as { payload: string }).payload, 'base64')).digest('hex')}`;
  await text(signingPanel.getByLabel('document digest as words')).toBe(digestWords(manifestDigest).join(' '));
  await signingPanel.getByRole('button', { name: 'full hex of the document digest' }).click();
  await text(signingPanel.locator('.digest code.hex')).toBe(`sha256:${manifestDigest.slice(7).match(/.{4}/g)!.join(' ')}`);
  await signWithCards(page, [cards[0]!, cards[2]!].map(([id, , pin]) => [id, pin] as const));
  await text(manifestStrip).toContain('complete');
  await visible(page.getByText(/^Approved: every set that must sign has signed/));
  await shot('5-manifest-signed');

  // Verify: the ceremony's manifest, then a tampered copy dropped in
  await nav('Verify');
  await page.getByRole('button', { name: "Verify this ceremony's manifest" }).click();
  const result = page.getByRole('region', { name: 'verification result' });
  await text(result.getByRole('heading')).toBe("VALID: this ceremony's manifest");
  await text(result).toContain('Signed by alice, carol');
  // each signature's key as words, as the core words a fingerprint (the renderer words it itself from the key id)
  const aliceRow = result.getByRole('row').filter({ hasText: 'alice' });
  await aliceRow.getByRole('button', { name: /^full hex/ }).click();
  const keyid = (await aliceRow.locator('code.hex').innerText()).replace(/^sha256:|\s/g, '');
  await text(aliceRow.getByLabel(/as words$/)).toBe(toWords(Buffer.from(keyid, 'hex').subarray(0, 12)).join(' '));
  await shot('6-verify-valid');
  // the root set pinned by its digest (as --root-digest does): unpinned, the result warns and names the digest
  const unpinned = /CHAIN_ROOT_NOT_PINNED.*--root-digest (sha256:[0-9a-f]{64})/.exec(await result.innerText());
  expect(unpinned).not.toBeNull();
  const rootField = page.getByLabel(/^Root set digest/);
  await rootField.fill('sha256:1234');
  await visible(page.getByText(/^A root digest is sha256: and 64 hex characters/));
  await rootField.fill(`sha256:${'0'.repeat(64)}`);
  await page.getByRole('button', { name: "Verify this ceremony's manifest" }).click();
  await text(result.getByRole('heading')).toBe("INVALID: this ceremony's manifest");
  await text(result).toContain('CHAIN_ROOT_DIGEST_MISMATCH');
  await rootField.fill(unpinned![1]!);
  await page.getByRole('button', { name: "Verify this ceremony's manifest" }).click();
  await text(result.getByRole('heading')).toBe("VALID: this ceremony's manifest");
  expect(await result.innerText()).not.toContain('CHAIN_ROOT_NOT_PINNED');
  await shot('6a-verify-root-pinned');
  // take the signed manifest out through its "Save as file" link, tamper one field, drop it back
  await nav('Manifests');
  const saved = decodeURIComponent((await page.getByRole('link', { name: 'Save as file…' }).getAttribute('href'))!.replace(/^data:application\/json;charset=utf-8,/, ''));
  const env = JSON.parse(saved) as { payload: string };
  env.payload = Buffer.from(Buffer.from(env.payload, 'base64').toString().replace('"prepare"', '"cutover"')).toString('base64');
  await nav('Verify');
  // a real drop event carrying the file, on the drop zone
  const dataTransfer = await page.evaluateHandle((json) => {
    const dt = new DataTransfer();
    dt.items.add(new File([json], 'tampered-rotation.json', { type: 'application/json' }));
    return dt;
  }, JSON.stringify(env));
  const zone = page.locator('.drop').filter({ hasText: 'Drop a document to verify' });
  await zone.dispatchEvent('dragover', { dataTransfer });
  await zone.dispatchEvent('drop', { dataTransfer });
  await text(result.getByRole('heading')).toBe('INVALID: tampered-rotation.json');
  await text(result).toContain('THRESHOLD_NOT_MET');
  await count(result.getByRole('cell', { name: 'does not verify' })).toBe(2);
  await shot('7-verify-tampered');
  // the file chooser works as well: the untouched manifest, chosen as a file, is valid
  const goodFile = join(root, 'rotation.json');
  writeFileSync(goodFile, saved);
  await page.getByLabel('Drop a document to verify').setInputFiles(goodFile);
  await text(result.getByRole('heading')).toBe('VALID: rotation.json');

  expect(app.consoleErrors).toEqual([]);
  expect(app.blocked).toEqual([]); // the page asked for nothing outside the app
});

test('by clicking: rotate the set to 2-of-2 without carol; signed by the old and the new threshold', async () => {
  await nav('Custodians');
  await visible(page.getByText('Custodian chain in use: 1 version'));
  await page.getByLabel('Remove custodian').selectOption('carol');
  await page.getByRole('button', { name: 'Write next version' }).click();
  // one strip per set that must sign: a chip per custodian, and how many more
  const current = page.getByRole('group', { name: 'signatures of the current set (rotation)' });
  const next = page.getByRole('group', { name: 'signatures of the new set' });
  await text(current).toContain('current set (rotation) (version 1), 2 of 3 must sign');
  await text(current).toContain('2 more needed');
  await count(current.locator('.chip.pending')).toBe(3);
  await text(next).toContain('new set (version 2), 2 of 2 must sign');
  await count(next.locator('.chip.pending')).toBe(2);
  // the new version laid out beside the PIN: its members and their fingerprints, 2 of 2
  await text(page.getByRole('complementary', { name: 'You are signing' })).toContain('Custodian set version 2: 2 of 2 must sign');
  await count(page.getByRole('table', { name: 'members of custodian set version 2' }).getByRole('row')).toBe(3);
  await shot('8-custodians-rotation');
  await signWithCards(page, cards.slice(0, 2).map(([id, , pin]) => [id, pin] as const));
  await text(next).toContain('complete');
  await page.getByRole('button', { name: 'Use the new version' }).click();
  await visible(page.getByText('Custodian chain in use: 2 versions'));
  // carol is no longer a custodian: a manifest under set 2 refuses her signature
  await nav('Manifests');
  await page.getByRole('button', { name: 'Start another manifest' }).click();
  await page.getByLabel('Ceremony id').fill('2026-q4-rotation-2');
  await page.getByLabel('Initiating custodian (actor)').selectOption('bob');
  expect(await page.getByLabel('Initiating custodian (actor)').locator('option').allInnerTexts()).toEqual(['Who initiates it?', 'alice', 'bob']);
  await page.getByLabel('New key version').fill('2');
  await page.getByRole('button', { name: 'Write rotation manifest' }).click();
  const strip = page.getByRole('group', { name: 'signatures of the approving set' });
  await text(strip).toContain('approving set (version 2), 2 of 2 must sign');
  await text(strip).toContain('2 more needed');
  await page.getByLabel('Custodian card').selectOption('card-carol');
  await page.getByLabel('PIN').fill('3333');
  await page.getByRole('button', { name: 'Sign with this card' }).click();
  await text(page.getByRole('form', { name: 'Sign with a card' }).getByRole('alert').filter({ hasText: 'What to do' })).toContain('SIGNER_NOT_CUSTODIAN');
  expect(app.consoleErrors).toEqual([]);
});

test('keyboard only: every step is reachable with Tab and works with Enter and typing', async () => {
  await page.reload();
  await visible(page.getByRole('cell', { name: 'card-alice' }));
  const focused = () => page.evaluate(() => { const e = document.activeElement as HTMLElement | null; return e === null ? '' : `${e.tagName}:${e.getAttribute('aria-label') ?? e.textContent?.trim() ?? ''}`; });
  const seen: string[] = [];
  for (let i = 0; i < 12; i++) { await page.keyboard.press('Tab'); seen.push(await focused()); }
  for (const name of ['1. Tokens', '2. Keys', '3. Custodians', '4. Manifests', '5. Verify', 'Detect tokens again']) expect(seen).toContain(`BUTTON:${name}`);
  // to Keys with the keyboard, then generate a key without touching the mouse
  await page.getByRole('button', { name: '2. Keys' }).focus();
  await page.keyboard.press('Enter');
  await visible(page.getByRole('heading', { name: 'Keys' }));
  await page.getByLabel('Kind of key').focus();
  await page.keyboard.press('Tab'); // Token
  await page.keyboard.type('card-bob');
  await page.keyboard.press('Tab');
  await page.keyboard.type('bob-sign-v2');
  await page.keyboard.press('Tab');
  await page.keyboard.type('2222');
  await page.keyboard.press('Enter');
  await visible(page.getByRole('listitem').filter({ hasText: 'bob-sign-v2 on card-bob' }));
  await shot('9-keyboard-keys');
});

test('by clicking: export an extractable master key for AWS onto the removable drive', async () => {
  await page.reload();
  await nav('Keys');
  await page.getByLabel('Kind of key').selectOption('master');
  await page.getByLabel('Token', { exact: true }).selectOption('Ceremony HSM');
  await page.getByLabel('Key label', { exact: true }).fill('master-v2');
  await page.getByLabel('Allow export (wrapped) later').check();
  await page.getByLabel('PIN', { exact: true }).fill(HSM.pin);
  await page.getByRole('button', { name: 'Generate key' }).click();
  const line = page.getByRole('listitem').filter({ hasText: 'master-v2 on Ceremony HSM' });
  await visible(line);
  const kcv = /KCV \(AES-ECB of zeros\) ([0-9a-f]{6})/.exec(await line.innerText())![1]!;

  const { publicKey, privateKey } = generateKeyPairSync('rsa', { modulusLength: 3072 });
  await nav('Export');
  await page.getByLabel('Target').selectOption('aws-rsa-aes-key-wrap-sha256');
  await page.getByLabel('Wrapping public key (PEM)').fill(publicKey.export({ type: 'spki', format: 'pem' }) as string);
  await visible(page.getByText(/RSA-3072 wrapping key/));
  await page.getByLabel('AWS import token (base64)').fill(Buffer.from('opaque token').toString('base64'));
  await chooseDrive(page.getByLabel('Drive', { exact: true }), realpathSync(usb));
  await page.getByLabel('Token', { exact: true }).selectOption('Ceremony HSM');
  await page.getByLabel('Key label', { exact: true }).fill('master-v2');
  await page.getByLabel('PIN', { exact: true }).fill(HSM.pin);
  await shot('10-export-ready');
  await page.getByRole('button', { name: 'Export to the drive' }).click();
  const result = page.getByRole('region', { name: 'export result' });
  await text(result).toContain(`KCV (AES-ECB of zeros) ${kcv}`);
  await text(result).toContain('Every file was read back and matches');
  await shot('11-export-done');
  // independently: unwrap what is on the drive and compare the KCV
  const blob = readFileSync(join(realpathSync(usb), 'ceremony-export', 'EncryptedKeyMaterial.bin'));
  const eph = privateDecrypt({ key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: 'sha256' }, blob.subarray(0, 384));
  const d = createDecipheriv('id-aes256-wrap-pad', eph, Buffer.from('A65959A6', 'hex'));
  const key = Buffer.concat([d.update(blob.subarray(384)), d.final()]);
  const c = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  expect(Buffer.concat([c.update(Buffer.alloc(16)), c.final()]).subarray(0, 3).toString('hex')).toBe(kcv);
  expect(readFileSync(join(realpathSync(usb), 'ceremony-export', 'ImportToken.bin')).toString()).toBe('opaque token');
  // exporting again into the same folder is refused with its code, nothing overwritten
  await page.getByLabel('PIN', { exact: true }).fill(HSM.pin);
  await page.getByRole('button', { name: 'Export to the drive' }).click();
  await text(page.getByRole('form', { name: 'Export' }).getByRole('alert').filter({ hasText: 'What to do' })).toContain('OUTPUT_NOT_EMPTY');
  // a compromised page, calling the bridge itself, cannot name a folder: a path is malformed, a handle the main process did not give is unknown
  const direct = await page.evaluate(async ([mountPoint, pin]) => {
    const api = (window as unknown as { keyceremony: Record<string, (r: unknown) => Promise<{ ok: boolean; error?: { code: string } }>> }).keyceremony;
    const request = (drive: string) => ({ token: { label: 'Ceremony HSM' }, keyLabel: 'master-v2', target: 'aws-rsa-aes-key-wrap-sha256', wrappingKey: '-----BEGIN PUBLIC KEY-----x', drive, folder: 'stolen', pin });
    return Promise.all([api['export.run']!(request(mountPoint)), api['export.run']!(request('0123456789abcdef0123456789abcdef')), api['export.run']!({ ...request('0123456789abcdef0123456789abcdef'), allowFixedDisk: true })]);
  }, [realpathSync(usb), HSM.pin] as const);
  expect(direct.map((r) => r.error?.code)).toEqual(['IPC_BAD_REQUEST', 'IPC_FOLDER_UNKNOWN', 'IPC_FOLDER_UNKNOWN']);
  expect(existsSync(join(realpathSync(usb), 'stolen'))).toBe(false);
  expect(app.consoleErrors).toEqual([]);
});
