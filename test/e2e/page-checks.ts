/**
 * What the E2E tests check on the page as it is now (issue 15), each returning one line per problem
 * prefixed with where it was seen:
 * - `axe`: axe-core's serious and critical violations (WCAG 2.0-2.2 A and AA rules, best practices);
 * - `contrast`: computed colours read in Chromium, text at least 4.5:1 against what is behind it
 *   (3:1 when large), the borders of text fields at least 3:1 (SC 1.4.11), and the focus ring of
 *   every element reached with Tab at least 3:1 (SC 2.4.13; axe does not check focus rings);
 *   disabled controls are exempt, as WCAG says;
 * - `unexplainedDisabled`: every disabled button of the workbench says what it waits for, through
 *   aria-describedby pointing at text that is there and not empty.
 */
import { copyFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { Page } from 'playwright-core';
import { expect } from 'vitest';
import { ORIGIN } from '../support/browser.js';

/** axe-core, served beside the built renderer from the app's own origin: its CSP (script-src 'self') refuses an inline script tag. */
export function serveAxe(root: string): void {
  copyFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), join(root, 'axe.min.js'));
}

interface AxeResult { passes: unknown[]; violations: { id: string; impact: string | null; help: string; nodes: { target: unknown[]; failureSummary?: string }[] }[] }

/** axe on the page as it is now: each serious or critical violation, one line per element. */
export async function axe(page: Page, where: string): Promise<string[]> {
  // added once per document
  if (!await page.evaluate(() => 'axe' in window)) await page.addScriptTag({ url: `${ORIGIN}/axe.min.js` });
  const result = await page.evaluate(async () => {
    const w = window as unknown as { axe: { run: (ctx: unknown, o: unknown) => Promise<unknown> } };
    return w.axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa', 'wcag22aa', 'best-practice'] }, resultTypes: ['violations'] });
  }) as AxeResult;
  expect([where, result.passes.length > 10]).toEqual([where, true]); // axe ran its rules on this page
  return result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .flatMap((v) => v.nodes.map((n) => `${where}: ${v.impact} ${v.id} (${v.help}) at ${JSON.stringify(n.target)}${n.failureSummary === undefined ? '' : `: ${n.failureSummary.replace(/\s+/g, ' ')}`}`));
}

interface Finding { what: string; ratio: number; needed: number; fg: string; bg: string; key: string }

/**
 * Runs in the page (serialised by page.evaluate, so everything it uses is inside it): the colour
 * arithmetic once, then either every text and field border of the page (`'page'`) or the focus
 * ring of the focused element (`'focus'`).
 */
function measure(what: 'page' | 'focus'): Finding[] {
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
  const rgb = (c: Rgba): string => `rgb(${c.slice(0, 3).join(',')})`;

  if (what === 'focus') {
    const e = document.activeElement as HTMLElement;
    const st = getComputedStyle(e);
    const around = behind(e.parentElement);
    const width = st.outlineStyle === 'none' ? 0 : parseFloat(st.outlineWidth);
    const r = width < 2 ? 0 : ratio(over(parse(st.outlineColor), around), around);
    const key = `${e.tagName}${e.id}${e.getAttribute('aria-label') ?? ''}${(e.textContent ?? '').slice(0, 30)}${[...(e.parentElement?.children ?? [])].indexOf(e)}`;
    return [{ key, what: `focus ring of ${e.tagName.toLowerCase()} "${(e.textContent ?? e.getAttribute('aria-label') ?? '').trim().slice(0, 40)}" (${st.outlineStyle} ${st.outlineWidth})`, ratio: r, needed: 3, fg: st.outlineColor, bg: rgb(around) }];
  }

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
      if (r < (large ? 3 : 4.5)) out.push({ key: '', what: `text ${name(e)}`, ratio: r, needed: large ? 3 : 4.5, fg: st.color, bg: rgb(bg) });
    }
    // a field's border is what shows where to type (SC 1.4.11): against the background around it
    if ((e instanceof HTMLInputElement && !['checkbox', 'radio', 'file', 'hidden'].includes(e.type)) || e instanceof HTMLSelectElement || e instanceof HTMLTextAreaElement) {
      const border = parse(st.borderTopColor);
      const around = behind(e.parentElement);
      const r = ratio(over(border, around), around);
      if (parseFloat(st.borderTopWidth) === 0 || r < 3) out.push({ key: '', what: `border ${name(e)}`, ratio: r, needed: 3, fg: st.borderTopColor, bg: rgb(around) });
    }
  }
  return out;
}

const line = (where: string, f: Finding): string => `${where}: ${f.what}: ${f.ratio.toFixed(2)}:1 < ${f.needed}:1 (${f.fg} on ${f.bg})`;

/** Every contrast finding on the page as it is, and the focus ring of every element Tab reaches. */
export async function contrast(page: Page, where: string): Promise<string[]> {
  const found = (await page.evaluate<Finding[], 'page' | 'focus'>(measure, 'page')).map((f) => line(where, f));
  await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
  const seen = new Set<string>();
  let reached = 0;
  for (let i = 0; i < 160; i++) {
    await page.keyboard.press('Tab');
    const [ring] = await page.evaluate<Finding[], 'page' | 'focus'>(measure, 'focus');
    if (ring === undefined || ring.key.startsWith('BODY')) continue;
    if (seen.has(ring.key)) break;
    seen.add(ring.key);
    reached++;
    if (ring.ratio < ring.needed) found.push(line(where, ring));
  }
  expect([where, reached > 0]).toEqual([where, true]);
  return found;
}

/** Each disabled button of the workbench (not the side menu, held while an operation runs) that does not say what it waits for. */
export async function unexplainedDisabled(page: Page, where: string): Promise<{ problems: string[]; disabled: number }> {
  const seen = await page.evaluate(() => [...document.querySelectorAll('main button:disabled')].filter((b) => b.getClientRects().length > 0).map((b) => {
    const ids = (b.getAttribute('aria-describedby') ?? '').split(/\s+/).filter((x) => x !== '');
    const said = ids.map((id) => document.getElementById(id)?.textContent?.trim() ?? '');
    return { button: (b.textContent ?? '').trim(), ids: ids.length, said, shown: ids.every((id) => { const e = document.getElementById(id); return e !== null && e.getClientRects().length > 0; }) };
  }));
  const problems = seen.filter((b) => b.ids === 0 || b.said.some((s) => s === '') || !b.shown)
    .map((b) => `${where}: the disabled button "${b.button}" ${b.ids === 0 ? 'has no aria-describedby' : `describes itself with ${JSON.stringify(b.said)}${b.shown ? '' : ', not on screen'}`}`);
  return { problems, disabled: seen.length };
}
