/**
 * Contrast as the room sees it (issue 15; WCAG 2.2 AA): on every workbench screen and on the run
 * sheet's states, computed colours are read in Chromium and checked: text at least 4.5:1 against the
 * background behind it (3:1 when large), the borders of text fields and lists at least 3:1 (SC
 * 1.4.11), and the focus ring of every element reached with Tab at least 3:1 against what surrounds
 * it (SC 2.4.13; axe-core does not check focus rings). Disabled controls are exempt, as WCAG says.
 */
import { mkdirSync, mkdtempSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { createHandlers } from '../../src/api/handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { buildRenderer, closeAll, folderDialog, launch, openApp, runSheetHelpers, SHOTS, uiHelpers } from '../support/browser.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const tokens = [['Ceremony HSM', '24681357'], ['custodian-alice', '1111'], ['custodian-bob', '2222'], ['custodian-carol', '3333']] as const;
let hsm: SoftHsm;
let root: string;
let work: string;
let browser: Browser;
let page: Page;
const { visible, drop } = uiHelpers(() => page);
const { nowCard, typePins, confirmYes } = runSheetHelpers(() => page);
const dialog = folderDialog();

beforeAll(async () => {
  hsm = createSoftHsm(tokens.map(([label, pin]) => ({ label, pin, soPin: '87654321' })));
  root = await buildRenderer();
  work = realpathSync(mkdtempSync(join(tmpdir(), 'kc-e2e-contrast-')));
  browser = await launch();
  page = (await openApp(browser, root, createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'e2e', rehearsals: join(work, 'rehearsals.jsonl'),
    interfaces: () => [], chooseFolder: dialog.chooseFolder }))).page;
  mkdirSync(SHOTS, { recursive: true });
}, 120_000);
afterAll(() => closeAll({ browser, hsm, dirs: [root, work] }));

interface Finding { what: string; ratio: number; needed: number; fg: string; bg: string }

/** Text and field borders on the page as it is now; runs in the page. */
function colours(): Finding[] {
  type Rgba = [number, number, number, number];
  const parse = (c: string): Rgba => {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(c);
    return m === null ? [0, 0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  };
  const over = (top: Rgba, under: Rgba): Rgba => [0, 1, 2].map((i) => top[i]! * top[3] + under[i]! * (1 - top[3])).concat(1) as Rgba;
  /** The opaque colour behind an element: its own background and its ancestors', composited, on white. */
  const behind = (el: Element | null): Rgba => {
    const layers: Rgba[] = [];
    for (let e = el; e !== null; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] === 1) break;
    }
    return layers.reverse().reduce<Rgba>((acc, c) => over(c, acc), [255, 255, 255, 1]);
  };
  const lum = (c: Rgba): number => {
    const ch = c.slice(0, 3).map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * ch[0]! + 0.7152 * ch[1]! + 0.0722 * ch[2]!;
  };
  const ratio = (a: Rgba, b: Rgba): number => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p) as [number, number]; return (x + 0.05) / (y + 0.05); };
  const shown = (e: Element): boolean => e.getClientRects().length > 0 && getComputedStyle(e).visibility === 'visible';
  const inactive = (e: Element): boolean => e.closest(':disabled, [aria-disabled="true"], option') !== null;
  const name = (e: Element): string => `${e.tagName.toLowerCase()}${e.id === '' ? '' : `#${e.id}`}${typeof e.className === 'string' && e.className !== '' ? `.${e.className.split(' ').join('.')}` : ''} "${(e.textContent ?? '').trim().slice(0, 40)}"`;
  const out: Finding[] = [];
  for (const e of document.querySelectorAll('body *')) {
    if (!shown(e) || inactive(e)) continue;
    const st = getComputedStyle(e);
    const hasText = [...e.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && (n.textContent ?? '').trim() !== '') || ((e instanceof HTMLInputElement || e instanceof HTMLSelectElement) && e.type !== 'checkbox' && e.type !== 'file' && e.value !== '');
    const bg = behind(e);
    if (hasText) {
      const fg = over(parse(st.color), bg);
      const size = parseFloat(st.fontSize);
      const large = size >= 24 || (size >= 18.66 && Number(st.fontWeight) >= 700);
      const r = ratio(fg, bg);
      if (r < (large ? 3 : 4.5)) out.push({ what: `text ${name(e)}`, ratio: r, needed: large ? 3 : 4.5, fg: st.color, bg: `rgb(${bg.slice(0, 3).join(',')})` });
    }
    // a field's border is what shows where to type (SC 1.4.11): against the background around it
    if ((e instanceof HTMLInputElement && !['checkbox', 'radio', 'file', 'hidden'].includes(e.type)) || e instanceof HTMLSelectElement || e instanceof HTMLTextAreaElement) {
      const border = parse(st.borderTopColor);
      const around = behind(e.parentElement);
      const r = ratio(over(border, around), around);
      if (parseFloat(st.borderTopWidth) === 0 || r < 3) out.push({ what: `border ${name(e)}`, ratio: r, needed: 3, fg: st.borderTopColor, bg: `rgb(${around.slice(0, 3).join(',')})` });
    }
  }
  return out;
}

/** The focus ring of the focused element against what surrounds it; runs in the page. */
function focusRing(): Finding & { key: string } {
  type Rgba = [number, number, number, number];
  const parse = (c: string): Rgba => {
    const m = /rgba?\(([\d.]+),\s*([\d.]+),\s*([\d.]+)(?:,\s*([\d.]+))?\)/.exec(c);
    return m === null ? [0, 0, 0, 0] : [Number(m[1]), Number(m[2]), Number(m[3]), m[4] === undefined ? 1 : Number(m[4])];
  };
  const over = (top: Rgba, under: Rgba): Rgba => [0, 1, 2].map((i) => top[i]! * top[3] + under[i]! * (1 - top[3])).concat(1) as Rgba;
  const behind = (el: Element | null): Rgba => {
    const layers: Rgba[] = [];
    for (let e = el; e !== null; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c[3] > 0) layers.push(c);
      if (c[3] === 1) break;
    }
    return layers.reverse().reduce<Rgba>((acc, c) => over(c, acc), [255, 255, 255, 1]);
  };
  const lum = (c: Rgba): number => {
    const ch = c.slice(0, 3).map((v) => { const s = v / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * ch[0]! + 0.7152 * ch[1]! + 0.0722 * ch[2]!;
  };
  const ratio = (a: Rgba, b: Rgba): number => { const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p) as [number, number]; return (x + 0.05) / (y + 0.05); };
  const e = document.activeElement as HTMLElement;
  const st = getComputedStyle(e);
  const around = behind(e.parentElement);
  const width = st.outlineStyle === 'none' ? 0 : parseFloat(st.outlineWidth);
  const r = width < 2 ? 0 : ratio(over(parse(st.outlineColor), around), around);
  const key = `${e.tagName}${e.id}${e.getAttribute('aria-label') ?? ''}${(e.textContent ?? '').slice(0, 30)}${[...(e.parentElement?.children ?? [])].indexOf(e)}`;
  return { key, what: `focus ring of ${e.tagName.toLowerCase()} "${(e.textContent ?? e.getAttribute('aria-label') ?? '').trim().slice(0, 40)}" (${st.outlineStyle} ${st.outlineWidth})`, ratio: r, needed: 3, fg: st.outlineColor, bg: `rgb(${around.slice(0, 3).join(',')})` };
}

/** Every finding on the page as it is, and the focus ring of every element Tab reaches. */
async function check(where: string): Promise<string[]> {
  const found = (await page.evaluate(colours)).map((f) => `${where}: ${f.what}: ${f.ratio.toFixed(2)}:1 < ${f.needed}:1 (${f.fg} on ${f.bg})`);
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const seen = new Set<string>();
  let reached = 0;
  for (let i = 0; i < 120; i++) {
    await page.keyboard.press('Tab');
    const ring = await page.evaluate(focusRing);
    if (ring.key.startsWith('BODY')) continue;
    if (seen.has(ring.key)) break;
    seen.add(ring.key);
    reached++;
    if (ring.ratio < ring.needed) found.push(`${where}: ${ring.what}: ${ring.ratio.toFixed(2)}:1 < 3:1 (${ring.fg} on ${ring.bg})`);
  }
  expect([where, reached > 0]).toEqual([where, true]);
  return found;
}

test('text 4.5:1, field borders and focus rings 3:1, on every workbench screen and on the run sheet', async () => {
  const problems: string[] = [];
  for (const screen of ['Tokens', 'Keys', 'Custodians', 'Manifests', 'Verify', 'Export', 'Backup', 'Ceremony']) {
    await page.getByRole('navigation').getByRole('button', { name: new RegExp(screen) }).click();
    await visible(page.getByRole('heading', { level: 2, name: screen }));
    problems.push(...await check(screen));
  }
  // the run sheet: the start (PIN entry beside what the card signs), a yes/no question, words read aloud, the witness's view
  const dir = join(work, 'jwt');
  mkdirSync(dir);
  await drop(page.locator('.drop').filter({ hasText: 'Ceremony script' }), 'jwt.json', templateText('monthly-jwt-rotation')!);
  dialog.answer(dir);
  await page.getByRole('button', { name: 'Choose the ceremony folder…' }).click();
  problems.push(...await check('Ceremony, script reviewed'));
  await page.getByRole('button', { name: 'Rehearse on the run sheet' }).click();
  await visible(nowCard().getByRole('heading', { name: 'Rehearse the whole script' }));
  problems.push(...await check('run sheet, rehearsal start'));
  await page.getByRole('button', { name: 'Workbench' }).click();
  await page.getByRole('button', { name: 'Run live on the run sheet' }).click();
  await visible(page.getByRole('form', { name: 'PIN entry' }));
  problems.push(...await check('run sheet, PIN entry'));
  await typePins(tokens);
  await page.getByLabel('Run without a recorded rehearsal').check();
  await page.getByLabel('Reason (goes into the audit log)').fill('contrast test: no rehearsal needed');
  await nowCard().getByRole('button', { name: 'Start the ceremony' }).click();
  await visible(nowCard().getByRole('button', { name: 'Confirm', exact: true }));
  problems.push(...await check('run sheet, clock question'));
  await confirmYes('the ceremony clock reads');
  await visible(nowCard().getByRole('list', { name: 'words to read aloud' }));
  problems.push(...await check('run sheet, words read aloud'));
  await nowCard().getByRole('button', { name: /^Words read: / }).click();
  await visible(page.getByRole('form', { name: 'Witness check' }));
  await page.getByRole('form', { name: 'Witness check' }).getByLabel('Word 1', { exact: true }).fill('yes');
  problems.push(...await check('run sheet, witness check'));
  await page.getByRole('button', { name: 'Workbench' }).click();
  await visible(page.getByRole('group', { name: 'Leave the run sheet' }));
  problems.push(...await check('run sheet, leaving'));
  await page.getByRole('button', { name: 'Leave the run sheet' }).click();
  await visible(page.getByRole('status', { name: 'open run' }));
  problems.push(...await check('workbench during a run'));
  expect(problems).toEqual([]);
}, 180_000);
