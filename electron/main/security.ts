/**
 * Window and session hardening, written once (Electron security checklist; Signal-Desktop).
 * The app is air-gapped: it loads only its own files from app://keyceremony/, navigates
 * nowhere, opens no windows, grants no permissions, and cancels every other request. A window
 * printing a transcript (./pdf.ts) loads its one page, app://print/<random>.html, and nothing else.
 */
import { createHash } from 'node:crypto';

export const APP_SCHEME = 'app';
export const APP_HOST = 'keyceremony';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_START_URL = `${APP_ORIGIN}/index.html`;
/** The host of the pages being printed to PDF; never served to the app window. */
export const PRINT_HOST = 'print';

/** CSP sent with every app:// response (and repeated in index.html): nothing remote, no eval, no connections. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

/** A <style> element's text, ended as the HTML parser ends it (HTML Standard, "RAWTEXT end tag name state": `</style` then space, `/` or `>`). */
const STYLE_ELEMENT = /<style\b[^>]*>([\s\S]*?)<\/style[\t\n\f\r />]/gi;

/**
 * The CSP sent with a page printed to PDF: stricter than the app's. Nothing is loaded, no
 * script runs (the window has JavaScript off too), and the only styles are the page's own
 * <style> elements, allowed by their SHA-256 (CSP3 §2.3.1 hash-source; the parser turns CR LF
 * and lone CR into LF before the browser hashes, HTML Standard "preprocessing the input stream").
 */
export function printContentSecurityPolicy(html: string): string {
  if (typeof html !== 'string') throw new TypeError(`"html" expected a string, got ${typeof html}`);
  const hashes = new Set([...html.matchAll(STYLE_ELEMENT)].map((m) => `'sha256-${createHash('sha256').update((m[1] ?? '').replace(/\r\n?/g, '\n'), 'utf8').digest('base64')}'`));
  return [
    "default-src 'none'", "script-src 'none'", `style-src ${hashes.size === 0 ? "'none'" : [...hashes].join(' ')}`, "img-src 'none'", "font-src 'none'",
    "connect-src 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
  ].join('; ');
}

export function webPreferences(preload: string) {
  return {
    preload,
    sandbox: true,
    contextIsolation: true,
    nodeIntegration: false,
    nodeIntegrationInWorker: false,
    nodeIntegrationInSubFrames: false,
    webSecurity: true,
    allowRunningInsecureContent: false,
    experimentalFeatures: false,
    webviewTag: false,
    navigateOnDragDrop: false,
    spellcheck: false,
    devTools: process.env.KEYCEREMONY_DEVTOOLS === '1',
  } as const;
}

/** Only the app's own files may be requested; devtools:// is Electron's own UI. */
export function isAllowedRequest(url: string): boolean {
  try {
    const u = new URL(url);
    // data: never leaves the machine (saved documents); devtools: is Electron's own UI
    return (u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST) || u.protocol === 'data:' || u.protocol === 'devtools:';
  } catch {
    return false;
  }
}

/** Which page each print window may load (./pdf.ts): the one URL for its WebContents id, or undefined for any other. */
export interface PrintWindows {
  pageFor(webContentsId: number | undefined): string | undefined;
}
const NOT_PRINTING: PrintWindows = Object.freeze({ pageFor: () => undefined });

/**
 * A request as the session sees it: a print window may load its own page and nothing else (not
 * the app's files, not data:); any other window, only what isAllowedRequest lets through, which
 * never includes app://print/.
 */
export function isAllowedRequestFrom(details: { readonly url: string; readonly webContentsId?: number }, printing: PrintWindows): boolean {
  const page = printing.pageFor(details.webContentsId);
  if (page !== undefined) return details.url === page;
  return isAllowedRequest(details.url);
}

/** IPC is answered only for the top frame of our own page. */
export function isTrustedSender(frame: { readonly url: string; readonly parent: unknown } | null | undefined): boolean {
  if (frame === null || frame === undefined || frame.parent !== null) return false;
  try {
    const u = new URL(frame.url);
    return u.protocol === `${APP_SCHEME}:` && u.host === APP_HOST;
  } catch {
    return false;
  }
}

/** The WebContents events we refuse, expressed against a minimal interface so tests can drive it. */
export interface HardenableContents {
  on(event: 'will-navigate' | 'will-redirect' | 'will-attach-webview', listener: (e: { preventDefault(): void }, ...args: unknown[]) => void): unknown;
  setWindowOpenHandler(handler: (details: { url: string }) => { action: 'deny' }): void;
}

export function hardenContents(contents: HardenableContents): void {
  contents.on('will-navigate', (e) => e.preventDefault());
  contents.on('will-redirect', (e) => e.preventDefault());
  contents.on('will-attach-webview', (e) => e.preventDefault());
  contents.setWindowOpenHandler(() => ({ action: 'deny' }));
}

export interface HardenableSession {
  setPermissionRequestHandler(handler: (wc: unknown, permission: string, callback: (granted: boolean) => void) => void): void;
  setPermissionCheckHandler(handler: () => boolean): void;
  webRequest: { onBeforeRequest(listener: (details: { url: string; webContentsId?: number }, callback: (response: { cancel: boolean }) => void) => void): void };
}

export function hardenSession(session: HardenableSession, printing: PrintWindows = NOT_PRINTING): void {
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequestFrom(details, printing) }));
}
