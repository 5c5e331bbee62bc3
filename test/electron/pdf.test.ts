/**
 * The transcript PDF is printed from a private temporary file served as app://print/<random>.html
 * to its own window only, not from a data: URL (which Chromium caps at 2 MiB) nor a file: URL
 * (which the session cancels): issue 19, item 4. The pieces first, then the built shell in the
 * stand-in of pdf-harness.ts.
 */
import { createHash } from 'node:crypto';
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { isPrintUrl, PrintPages } from '../../electron/main/protocol.js';
import { APP_START_URL, isAllowedRequestFrom, printContentSecurityPolicy } from '../../electron/main/security.js';
import { bundlePrintShell, firstStyle, MAX_URL_CHARS, PRINT_URL, printProblems, transcriptOf } from './pdf-harness.js';
import { bundleShell } from './shell-harness.js';
import type { ShellBuild } from './shell-harness.js';

const hash = (s: string) => `'sha256-${createHash('sha256').update(s).digest('base64')}'`;
const styleSrc = (csp: string) => csp.split('; ').find((d) => d.startsWith('style-src '));

describe('the print page\'s CSP: no script, nothing loaded, only its own style elements', () => {
  test('each <style> element by its SHA-256; none gives style-src \'none\'', () => {
    const csp = printContentSecurityPolicy('<style>a{}</style><p>x</p><STYLE media="print">b{}</STYLE >');
    expect(styleSrc(csp)).toBe(`style-src ${hash('a{}')} ${hash('b{}')}`);
    expect(csp.split('; ')).toEqual(expect.arrayContaining(["default-src 'none'", "script-src 'none'", "connect-src 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"]));
    expect(csp).not.toMatch(/unsafe-|'self'|\*/);
    expect(styleSrc(printContentSecurityPolicy('<p style="color:red">no element</p>'))).toBe("style-src 'none'");
    expect(styleSrc(printContentSecurityPolicy(''))).toBe("style-src 'none'");
  });
  test('hashes the text as the parser hands it over: CR LF and lone CR as LF; an element named style-like is not a style', () => {
    expect(styleSrc(printContentSecurityPolicy('<style>a{}\r\nb{}\rc{}</style>'))).toBe(`style-src ${hash('a{}\nb{}\nc{}')}`);
    expect(styleSrc(printContentSecurityPolicy('<styles>a{}</styles>'))).toBe("style-src 'none'");
    expect(styleSrc(printContentSecurityPolicy('<style>a{}</style><style>a{}</style>'))).toBe(`style-src ${hash('a{}')}`);
  });
  test('a real transcript keeps its style: one <style> element, allowed by its hash; no style attribute; a hostile name adds nothing', () => {
    const html = transcriptOf(4096);
    expect(html).toContain('Zoë &#60;style&#62;');
    expect(html.match(/<style/gi)).toHaveLength(1);
    expect(html).not.toMatch(/\sstyle=/i);
    expect(styleSrc(printContentSecurityPolicy(html))).toBe(`style-src ${hash(firstStyle(html))}`);
    // and the harness's large one is large: more than Chromium takes in a URL, even before encoding
    expect(Buffer.byteLength(transcriptOf(3 * 1024 * 1024))).toBeGreaterThan(MAX_URL_CHARS);
  });
  test('refuses what is not a string', () => {
    expect(() => printContentSecurityPolicy(undefined as unknown as string)).toThrow(TypeError);
  });
});

describe('the pages being printed', () => {
  test('a fresh URL per page, for its window only, answered byte for byte and then forgotten', async () => {
    const pages = new PrintPages();
    const read = async (p: string) => new TextEncoder().encode(`file ${p}`);
    const a = pages.add('/tmp/a/transcript.html', 7, 'default-src \'none\'');
    const b = pages.add('/tmp/b/transcript.html', 8, 'default-src \'none\'');
    expect([PRINT_URL.test(a), PRINT_URL.test(b), a === b, isPrintUrl(a)]).toEqual([true, true, false, true]);
    expect([pages.pageFor(7), pages.pageFor(8), pages.pageFor(9), pages.pageFor(undefined), pages.pageFor(Number.NaN)]).toEqual([a, b, undefined, undefined, undefined]);
    const r = await pages.serve(a, read);
    expect([r.status, await r.text(), r.headers.get('content-security-policy'), r.headers.get('content-type')]).toEqual([200, 'file /tmp/a/transcript.html', 'default-src \'none\'', 'text/html; charset=utf-8']);
    expect((await pages.serve(`${a}?x`, read)).status).toBe(404);
    pages.remove(a);
    expect([pages.pageFor(7), (await pages.serve(a, read)).status]).toEqual([undefined, 404]);
    // a file gone is a 404, not a throw
    expect((await pages.serve(b, async () => { throw Object.assign(new Error('gone'), { code: 'ENOENT' }); })).status).toBe(404);
  });
  test('the session: a print window loads its page and nothing else; no other window loads a print page', () => {
    const pages = new PrintPages();
    const page = pages.add('/tmp/a/transcript.html', 7, '');
    expect(isAllowedRequestFrom({ url: page, webContentsId: 7 }, pages)).toBe(true);
    for (const url of [APP_START_URL, 'data:text/html,x', 'devtools://devtools/x', 'file:///tmp/a/transcript.html', `${page}#x`]) expect([url, isAllowedRequestFrom({ url, webContentsId: 7 }, pages)]).toEqual([url, false]);
    expect(isAllowedRequestFrom({ url: page, webContentsId: 1 }, pages)).toBe(false);
    expect(isAllowedRequestFrom({ url: page }, pages)).toBe(false);
    expect(isAllowedRequestFrom({ url: APP_START_URL, webContentsId: 1 }, pages)).toBe(true);
    expect(isPrintUrl(APP_START_URL)).toBe(false);
  });
});

describe('the built shell prints a transcript through app://print/ (stand-in electron)', () => {
  let build: ShellBuild;
  let file: string;
  beforeAll(() => { build = bundleShell(); file = bundlePrintShell(build); }, 60_000);
  afterAll(() => rmSync(build.dir, { recursive: true, force: true }));

  test('every check passes: app://print/ loaded, never data: or file:; the page, its CSP and 404s; only its window; a 3 MiB transcript; the private copy removed, also on failure', async () => {
    expect(await printProblems(file)).toEqual([]);
  }, 60_000);
});
