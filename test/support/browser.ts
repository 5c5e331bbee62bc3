/**
 * The real UI in headless Debian Chromium, with the app's own handler table bridged into the
 * page the way the preload exposes it in Electron: `window.keyceremony`, one function per
 * contract channel. The built renderer is served from a routed origin with the app's CSP, and
 * every other request is aborted (the app is air-gapped).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, sep } from 'node:path';
import { chromium } from 'playwright-core';
import type { Browser, Locator, Page } from 'playwright-core';
import { expect } from 'vitest';
import { build } from 'vite';
import { CHANNELS } from '../../src/api/contract.js';
import { invoke } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { CONTENT_SECURITY_POLICY } from '../../electron/main/security.js';

export const ORIGIN = 'http://keyceremony.test';
const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };

export async function buildRenderer(): Promise<string> {
  const outDir = mkdtempSync(join(tmpdir(), 'kc-renderer-'));
  await build({ configFile: new URL('../../vite.config.ts', import.meta.url).pathname, logLevel: 'error', build: { outDir, emptyOutDir: true } });
  return outDir;
}

export async function launch(): Promise<Browser> {
  return chromium.launch({
    executablePath: process.env.KEYCEREMONY_CHROMIUM ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-background-networking', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

export interface AppPage { page: Page; blocked: string[]; consoleErrors: string[] }

export async function openApp(browser: Browser, root: string, handlers: Handlers): Promise<AppPage> {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const page = await context.newPage();
  const blocked: string[] = [];
  const consoleErrors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') consoleErrors.push(m.text()); });
  page.on('pageerror', (e) => consoleErrors.push(String(e)));
  await page.route('**/*', (route) => { blocked.push(route.request().url()); return route.abort(); });
  await page.route(`${ORIGIN}/**`, (route) => {
    const rel = decodeURIComponent(new URL(route.request().url()).pathname);
    const path = normalize(join(root, rel === '/' ? 'index.html' : rel));
    if (!path.startsWith(normalize(root) + sep)) return route.fulfill({ status: 404 });
    try {
      return route.fulfill({ status: 200, body: readFileSync(path), headers: { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream', 'content-security-policy': CONTENT_SECURITY_POLICY } });
    } catch {
      return route.fulfill({ status: 404 });
    }
  });
  await page.exposeBinding('__keyceremonyInvoke', (_source, channel: unknown, request: unknown) => invoke(handlers, channel, request));
  await page.addInitScript((channels: readonly string[]) => {
    const w = window as unknown as { __keyceremonyInvoke: (c: string, r: unknown) => Promise<unknown>; keyceremony: unknown };
    const bridge = w.__keyceremonyInvoke;
    const api = Object.freeze(Object.fromEntries(channels.map((c) => [c, (r: unknown) => bridge(c, r)])));
    Object.defineProperty(window, 'keyceremony', { value: api, writable: false, configurable: false });
  }, [...CHANNELS]);
  await page.goto(`${ORIGIN}/index.html`);
  return { page, blocked, consoleErrors };
}

/**
 * The main process's folder dialog, as an E2E test stands in for it (Electron's
 * dialog.showOpenDialog in the app): pass `chooseFolder` to createHandlers, and before a click
 * that opens the dialog, `answer` with the folder the test made (or null: the user cancels).
 * A dialog opened with no answer waiting fails the test.
 */
export function folderDialog() {
  const answers: (string | null)[] = [];
  const titles: string[] = [];
  return {
    titles,
    answer: (folder: string | null): void => { answers.push(folder); },
    chooseFolder: async ({ title }: { readonly title: string }): Promise<string | null> => {
      titles.push(title);
      if (answers.length === 0) throw new Error(`the folder dialog "${title}" opened, and the test gave it no answer`);
      return answers.shift() as string | null;
    },
  };
}

/** The accessible name of a side menu button, "N. Title", for the screen titled exactly `title`. */
export const navName = (title: string): RegExp => new RegExp(`^\\d+\\. ${title.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`);

/** Where E2E screenshots go (kept by CI as artifacts). */
export const SHOTS = join(process.cwd(), 'test-results', 'screens');

/**
 * The waits and actions the E2E tests share. Vitest has no web-first matchers; these wait like
 * Playwright's do. `page` is a getter because the page is opened in beforeAll.
 */
export function uiHelpers(page: () => Page) {
  const count = (l: Locator) => expect.poll(() => l.count(), { timeout: 30_000 });
  const idle = () => count(page().getByRole('status').filter({ hasText: '…' })).toBe(0);
  return {
    visible: (l: Locator) => l.first().waitFor({ state: 'visible', timeout: 30_000 }),
    text: (l: Locator) => expect.poll(() => l.first().innerText(), { timeout: 30_000 }),
    count,
    shot: (name: string) => page().screenshot({ path: join(SHOTS, `${name}.png`), fullPage: true }),
    /** The side menu's button of the screen titled exactly `name` ("Keys" is not "Keys over time"). */
    nav: (name: string) => page().getByRole('navigation').getByRole('button', { name: navName(name) }).click(),
    /** Chooses, in a drive list, the drive mounted at `mountPoint`: its option's value is the drive's handle, its text the mount point. */
    chooseDrive: async (select: Locator, mountPoint: string): Promise<void> => {
      const option = select.locator('option').filter({ hasText: `${mountPoint} (` });
      await option.first().waitFor({ state: 'attached', timeout: 30_000 });
      const handle = await option.first().getAttribute('value');
      expect(handle).toMatch(/^[0-9a-f]{32}$/);
      await select.selectOption(handle!);
    },
    idle,
    /** Each custodian in turn signs with their card (card-<id>) in the sign panel inside scope. */
    signWithCards: async (scope: Page | Locator, signers: readonly (readonly [id: string, pin: string])[]): Promise<void> => {
      for (const [id, pin] of signers) {
        await scope.getByLabel('Custodian card').selectOption(`card-${id}`);
        await scope.getByLabel('PIN').fill(pin);
        await scope.getByRole('button', { name: 'Sign with this card' }).click();
        await idle();
      }
    },
    /** The Keys screen's form inside scope makes each card's custodian key (card-<id>, <id>-sign-v1), then the master key on the HSM. */
    generateKeys: async (scope: Page | Locator, cards: readonly (readonly [id: string, name: string, pin: string])[], hsm: { label: string; pin: string; extractable?: boolean }): Promise<void> => {
      for (const [id, , pin] of cards) {
        await scope.getByLabel('Kind of key').selectOption('custodian');
        await scope.getByLabel('Token').selectOption(`card-${id}`);
        await scope.getByLabel('Key label').fill(`${id}-sign-v1`);
        await scope.getByLabel('PIN').fill(pin);
        await scope.getByRole('button', { name: 'Generate key' }).click();
        await page().getByRole('listitem').filter({ hasText: `${id}-sign-v1 on card-${id}` }).first().waitFor({ state: 'visible', timeout: 30_000 });
      }
      await scope.getByLabel('Kind of key').selectOption('master');
      await scope.getByLabel('Token').selectOption(hsm.label);
      await scope.getByLabel('Key label').fill('master-v1');
      if (hsm.extractable === true) await scope.getByLabel('Allow export (wrapped) later').check();
      await scope.getByLabel('PIN').fill(hsm.pin);
      await scope.getByRole('button', { name: 'Generate key' }).click();
    },
    /** The Custodians screen: each card's key read from the card (card-<id>) under its custodian's full name. */
    addCustodians: async (cards: readonly (readonly [id: string, name: string, ...rest: string[]])[]): Promise<void> => {
      for (const [id, name] of cards) {
        await page().getByLabel('Custodian card').selectOption(`card-${id}`);
        await page().getByLabel('Full name').fill(name);
        await page().getByRole('button', { name: 'Add custodian' }).click();
        await page().getByRole('cell', { name }).first().waitFor({ state: 'visible', timeout: 30_000 });
      }
    },
    /** A real drop event carrying a file, on a drop zone. */
    drop: async (zone: Locator, name: string, body: string): Promise<void> => {
      const dataTransfer = await page().evaluateHandle(([n, j]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([j], n, { type: 'application/json' }));
        return dt;
      }, [name, body] as const);
      await zone.dispatchEvent('dragover', { dataTransfer });
      await zone.dispatchEvent('drop', { dataTransfer });
    },
  };
}

/**
 * The run sheet as the people in the room use it (renderer/screens/RunSheet.tsx): a hand-over each
 * time the run first needs a card (its holder picks their name and types its PIN), yes/no
 * confirmations, words read aloud from the "now" card and typed back by the witness on a view that
 * does not show them.
 */
export function runSheetHelpers(page: () => Page) {
  const { visible, text } = uiHelpers(page);
  const nowCard = (): Locator => page().locator('section.now-card');
  const typeWords = async (words: readonly string[]): Promise<void> => {
    const form = page().getByRole('form', { name: 'Witness check' });
    await visible(form);
    for (const [i, w] of words.entries()) await form.getByLabel(`Word ${i + 1}`, { exact: true }).fill(w);
    await form.getByRole('button', { name: 'Check the words' }).click();
  };
  /** The reader's view: the words, read from the now card; then the witness's view, checked not to show them. */
  const readWords = async (heading: RegExp, shot?: () => Promise<unknown>): Promise<string[]> => {
    await visible(nowCard().getByRole('heading', { name: heading }));
    const words = await nowCard().getByRole('list', { name: 'words to read aloud' }).locator('.w').allInnerTexts();
    if (shot !== undefined) await shot();
    await nowCard().getByRole('button', { name: /^Words read: / }).click();
    await visible(page().getByRole('form', { name: 'Witness check' }));
    expect(await nowCard().getByRole('list', { name: 'words to read aloud' }).count()).toBe(0);
    const shown = await nowCard().innerText();
    for (const w of words) expect(shown).not.toContain(w);
    return words;
  };
  return {
    nowCard,
    readWords,
    typeWords,
    /**
     * A hand-over: the run needs the card `label` for the first time, and `person` (by name, as the
     * script lists them) comes to the keyboard, picks their name and types its PIN. Each hand-over
     * starts with no name chosen and no PIN field; `found` is checked against how the app says it
     * found the card.
     */
    handOver: async (person: string, label: string, pin: string, found?: string): Promise<void> => {
      const card = nowCard();
      await visible(card.getByRole('heading', { name: `Hand-over to ${person}`, exact: true }));
      const who = card.getByRole('group', { name: 'Who is at the keyboard?' });
      expect(await who.getByRole('button', { pressed: true }).count()).toBe(0);
      expect(await page().getByLabel(/^PIN for /).count()).toBe(0);
      await who.getByRole('button', { name: person, exact: true }).click();
      await text(card.getByRole('region', { name: 'Your card' })).toContain(found ?? label);
      const field = card.getByLabel(`PIN for ${label}`);
      expect(await field.inputValue()).toBe('');
      await field.fill(pin);
      await card.getByRole('button', { name: 'Give the PIN to the card' }).click();
    },
    /** A yes/no question (the clock, a resume, the checkpoint), checked to be the one expected. */
    confirmYes: async (what: string | RegExp): Promise<void> => {
      const re = typeof what === 'string' ? new RegExp(what.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')) : what;
      await text(nowCard().locator('.what')).toMatch(re);
      await nowCard().getByRole('button', { name: 'Confirm', exact: true }).click();
    },
    /** A fingerprint or check value made in this run, whose question names `what`: read aloud, then typed back. */
    witness: async (what: string): Promise<void> => {
      await text(nowCard().locator('.what')).toContain(what);
      await typeWords(await readWords(/^Read these \d+ words aloud/));
    },
    /** A value from an earlier ceremony, whose question names `what`: no words on screen; the witness types them from the record. */
    fromRecord: async (what: string, words: readonly string[]): Promise<void> => {
      await text(nowCard().locator('.what')).toContain(what);
      expect(await nowCard().getByRole('list', { name: 'words to read aloud' }).count()).toBe(0);
      await typeWords(words);
    },
  };
}

/** afterAll of an E2E file: the browser closed, the tokens and temporary folders removed. */
export async function closeAll(o: { browser?: Browser | undefined; hsm?: { cleanup(): void } | undefined; dirs: readonly (string | undefined)[] }): Promise<void> {
  await o.browser?.close();
  o.hsm?.cleanup();
  for (const d of o.dirs) if (d !== undefined) rmSync(d, { recursive: true, force: true });
}
