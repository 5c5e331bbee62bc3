/**
 * app://keyceremony/<path> → a file inside the built renderer folder, or nothing; and
 * app://print/<random>.html → the one temporary file a print window is printing (./pdf.ts).
 */
import { randomBytes } from 'node:crypto';
import { extname, join, normalize, sep } from 'node:path';
import { APP_HOST, APP_SCHEME, PRINT_HOST, printContentSecurityPolicy } from './security.js';
import type { PrintWindows } from './security.js';

const TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.json': 'application/json',
};

/** The file for a URL, confined to `root`: other hosts, traversal, encoded separators and odd types give null. */
export function resolveAppFile(root: string, url: string): { path: string; type: string } | null {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return null;
  }
  if (u.protocol !== `${APP_SCHEME}:` || u.host !== APP_HOST) return null;
  let rel: string;
  try {
    rel = decodeURIComponent(u.pathname);
  } catch {
    return null;
  }
  if (rel === '/' || rel === '') rel = '/index.html';
  if (rel.includes('\0') || rel.includes('\\') || rel.split('/').some((s) => s === '..')) return null;
  const path = normalize(join(root, rel));
  if (!path.startsWith(normalize(root) + sep)) return null;
  const type = TYPES[extname(path)];
  return type === undefined ? null : { path, type };
}

/** The headers of every app:// answer: the CSP, no MIME sniffing, nothing cached across versions. */
export function appHeaders(type: string, csp: string): Record<string, string> {
  return { 'content-type': type, 'content-security-policy': csp, 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' };
}

/**
 * The answer to an app:// request, read from the built files themselves (never a file:// fetch:
 * the session cancels every file: request, and net.fetch bypassing that is electron#45903, a bug
 * Electron will fix). A URL outside the files, or a file that is not there, is a 404.
 */
export async function serveAppFile(root: string, url: string, csp: string, read: (path: string) => Promise<Uint8Array>): Promise<Response> {
  const file = resolveAppFile(root, url);
  const notFound = () => new Response('not found', { status: 404, headers: appHeaders('text/plain; charset=utf-8', csp) });
  if (file === null) return notFound();
  let body: Uint8Array;
  try {
    body = await read(file.path);
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return notFound();
    return new Response('the app could not read its own file', { status: 500, headers: appHeaders('text/plain; charset=utf-8', csp) });
  }
  return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers: appHeaders(file.type, csp) });
}

/** True for every app://print/ URL, known or not: those are answered by PrintPages, never from the renderer folder. */
export function isPrintUrl(url: string): boolean {
  try {
    const u = new URL(url);
    return u.protocol === `${APP_SCHEME}:` && u.host === PRINT_HOST;
  } catch {
    return false;
  }
}

interface PrintPage { readonly path: string; readonly webContentsId: number; readonly csp: string }

/**
 * The pages being printed: each a URL with 128 random bits, mapped to one file and to the one
 * window printing it. The protocol handler answers only these exact URLs (no path is ever read
 * from a URL, so there is nothing to traverse), and the session lets only that window load it
 * (./security.ts, isAllowedRequestFrom). A page is removed when its print ends.
 */
export class PrintPages implements PrintWindows {
  readonly #pages = new Map<string, PrintPage>();

  /** Maps a fresh app://print/<32 hex>.html to `path` for the window `webContentsId`, served with `csp`; returns the URL. */
  add(path: string, webContentsId: number, csp: string): string {
    if (typeof path !== 'string' || path === '') throw new TypeError('"path" expected a file path');
    const url = `${APP_SCHEME}://${PRINT_HOST}/${randomBytes(16).toString('hex')}.html`;
    this.#pages.set(url, { path, webContentsId, csp });
    return url;
  }

  remove(url: string): void {
    this.#pages.delete(url);
  }

  pageFor(webContentsId: number | undefined): string | undefined {
    // a request without a window (or a window id Electron did not give) is never a print window's
    if (!Number.isSafeInteger(webContentsId)) return undefined;
    for (const [url, p] of this.#pages) if (p.webContentsId === webContentsId) return url;
    return undefined;
  }

  /** The page's file for exactly its URL (as Chromium canonicalises it); anything else under app://print/ is a 404. */
  async serve(url: string, read: (path: string) => Promise<Uint8Array>): Promise<Response> {
    const page = this.#pages.get(url);
    const notFound = () => new Response('not found', { status: 404, headers: appHeaders('text/plain; charset=utf-8', printContentSecurityPolicy('')) });
    if (page === undefined) return notFound();
    let body: Uint8Array;
    try {
      body = await read(page.path);
    } catch {
      return notFound();
    }
    return new Response(body as Uint8Array<ArrayBuffer>, { status: 200, headers: appHeaders('text/html; charset=utf-8', page.csp) });
  }
}
