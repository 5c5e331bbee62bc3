/**
 * The transcript's way to a PDF, run without Electron (issue 19, item 4). The shell's main
 * process is bundled together with the exports of pdf.ts (one bundle, so the print window, the
 * app:// handler and the session share the same pages, as in dist/electron/main.cjs) and
 * evaluated in Node against a recording stand-in for `electron`. Unlike shell-harness.ts's, this
 * stand-in gives each WebContents an id and loads a URL as Chromium does: the session's
 * onBeforeRequest with that window's id, then the scheme's handler (data: decoded, no file:
 * handler), and a URL longer than 2 MiB refused (url::kMaxURLChars). `printProblems` runs every
 * scenario and lists what is wrong: empty for the real shell, non-empty for each hardening line
 * removed (shell-mutations.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { runInThisContext } from 'node:vm';
import { transcriptHtml } from '../../src/ceremony/transcript.js';
import type { TranscriptModel } from '../../src/ceremony/transcript.js';
import { START_URL } from './shell-harness.js';
import type { ShellBuild } from './shell-harness.js';

const repo = new URL('../../', import.meta.url);
const repoRequire = createRequire(new URL('package.json', repo));
/** Chromium's limit on a URL's length (url/url_constants.h, kMaxURLChars): a data: URL longer than this never loads. */
export const MAX_URL_CHARS = 2 * 1024 * 1024;
export const PRINT_URL = /^app:\/\/print\/[0-9a-f]{32}\.html$/;

/** Bundles the main process with pdf.ts's exports beside a build of bundleShell (same options as scripts/build.mjs); returns the file. */
export function bundlePrintShell(build: ShellBuild): string {
  const entry = join(build.dir, 'print-entry.ts');
  const src = new URL('electron/main/', repo).pathname;
  writeFileSync(entry, `import ${JSON.stringify(join(src, 'index.ts'))};\nexport { printHtmlToPdf, writePrivateFile } from ${JSON.stringify(join(src, 'pdf.ts'))};\n`);
  const out = join(build.dir, 'electron', 'print.cjs');
  const script = `require('esbuild').buildSync({ bundle: true, platform: 'node', format: 'cjs', target: 'node22', sourcemap: false, logLevel: 'warning', external: ['electron', 'pkcs11js'],
  define: { 'import.meta.url': '__keyceremonyModuleUrl' }, banner: { js: "const __keyceremonyModuleUrl = require('node:url').pathToFileURL(__filename).href;" },
  entryPoints: [${JSON.stringify(entry)}], outfile: ${JSON.stringify(out)} });`;
  execFileSync(process.execPath, ['-e', script], { cwd: new URL('.', repo).pathname });
  return out;
}

type Listener = (...args: unknown[]) => unknown;
export interface Load { readonly url: string; readonly outcome: number | 'cancelled' | 'refused' | 'failed'; readonly body?: string; readonly headers?: Readonly<Record<string, string>> }
export interface StandInWindow {
  readonly id: number;
  readonly options: { show?: boolean; webPreferences?: Record<string, unknown> };
  readonly loads: Load[];
  readonly destroyed: boolean;
}
export interface PrintRunOptions {
  /** Runs while a print window prints, before its PDF is made. */
  readonly whilePrinting?: (w: StandInWindow) => Promise<void>;
  readonly printFails?: boolean;
  readonly loadFails?: boolean;
}
export interface PrintRun {
  readonly windows: readonly StandInWindow[];
  /** A request as Chromium makes it for the window `webContentsId` (none: the main process, a service worker). */
  request(url: string, webContentsId?: number): Promise<Response | 'cancelled'>;
  /** The app:// handler itself, as if the session had let the request through. */
  answer(url: string): Promise<Response>;
  readonly printHtmlToPdf: (html: string) => Promise<Uint8Array>;
  readonly writePrivateFile: (file: string, text: string) => void;
}

/** Evaluates the bundle against the stand-in; resolves once the app window has loaded. */
export async function runPrintShell(file: string, o: PrintRunOptions = {}): Promise<PrintRun> {
  const windows: Window[] = [];
  const appListeners = new Map<string, Listener[]>();
  const handlers = new Map<string, (request: { url: string }) => Promise<Response>>();
  let beforeRequest: ((d: { url: string; webContentsId?: number }, cb: (r: { cancel: boolean }) => void) => void) | null = null;
  const on = (map: Map<string, Listener[]>, ev: string, l: Listener) => map.set(ev, [...(map.get(ev) ?? []), l]);
  const request = async (url: string, webContentsId?: number): Promise<Response | 'cancelled'> => {
    let cancel = false;
    beforeRequest?.(webContentsId === undefined ? { url } : { url, webContentsId }, (r) => { cancel = r.cancel; });
    if (cancel) return 'cancelled';
    const scheme = new URL(url).protocol.slice(0, -1);
    if (scheme === 'data') return fetch(url);
    const handler = handlers.get(scheme);
    if (handler === undefined) throw new Error(`net::ERR_UNKNOWN_URL_SCHEME ${url}`);
    return handler({ url });
  };
  let nextId = 1;

  class Window implements StandInWindow {
    readonly id = nextId++;
    readonly loads: Load[] = [];
    destroyed = false;
    readonly webContents: { id: number; on: (ev: string, l: Listener) => unknown; setWindowOpenHandler: (h: unknown) => void; printToPDF: (o: unknown) => Promise<Buffer> };
    constructor(readonly options: StandInWindow['options']) {
      windows.push(this);
      const listeners = new Map<string, Listener[]>();
      this.webContents = {
        id: this.id,
        on: (ev, l) => on(listeners, ev, l),
        setWindowOpenHandler: () => undefined,
        printToPDF: async () => {
          if (this.destroyed) throw new Error('printToPDF on a destroyed window');
          await o.whilePrinting?.(this);
          if (o.printFails) throw new Error('the stand-in printer failed');
          const shown = this.loads.at(-1);
          if (shown === undefined || shown.outcome !== 200) throw new Error('nothing was loaded to print');
          // the PDF carries the digest of what the window showed, so a test can tell what was printed
          return Buffer.from(`%PDF-1.7 stand-in ${createHash('sha256').update(shown.body ?? '').digest('hex')}`);
        },
      };
      for (const l of appListeners.get('web-contents-created') ?? []) l({}, this.webContents);
    }
    on() { return this; }
    once() { return this; }
    show() { return undefined; }
    setTitle() { return undefined; }
    isDestroyed() { return this.destroyed; }
    destroy() { this.destroyed = true; }
    async loadURL(url: string) {
      if (this.destroyed) throw new Error('loadURL on a destroyed window');
      if (url.length > MAX_URL_CHARS) {
        this.loads.push({ url: `${url.slice(0, 40)}…`, outcome: 'refused' });
        throw new Error('net::ERR_INVALID_URL (-300)');
      }
      if (o.loadFails && url.startsWith('app://print/')) {
        this.loads.push({ url, outcome: 'failed' });
        throw new Error('net::ERR_FAILED (-2)');
      }
      const r = await request(url, this.id);
      if (r === 'cancelled') {
        this.loads.push({ url, outcome: 'cancelled' });
        throw new Error(`net::ERR_BLOCKED_BY_CLIENT (-20) loading '${url}'`);
      }
      this.loads.push({ url, outcome: r.status, body: await r.text(), headers: Object.fromEntries(r.headers) });
    }
    static getAllWindows() { return windows; }
  }
  const userData = mkdtempSync(join(tmpdir(), 'kc-print-userdata-'));
  const electron = {
    app: {
      enableSandbox: () => undefined, setAppUserModelId: () => undefined, requestSingleInstanceLock: () => true, quit: () => undefined,
      on: (ev: string, l: Listener) => { on(appListeners, ev, l); }, whenReady: () => Promise.resolve(), getVersion: () => '0.0.0-test',
      getPath: () => userData, getAppMetrics: () => [], commandLine: { hasSwitch: () => false },
    },
    protocol: { registerSchemesAsPrivileged: () => undefined, handle: (scheme: string, h: (request: { url: string }) => Promise<Response>) => { handlers.set(scheme, h); } },
    session: { defaultSession: {
      setPermissionRequestHandler: () => undefined, setPermissionCheckHandler: () => undefined,
      webRequest: { onBeforeRequest: (h: typeof beforeRequest) => { beforeRequest = h; } },
    } },
    net: { fetch: () => { throw new Error('no net.fetch'); } },
    ipcMain: { handle: () => undefined },
    dialog: { showOpenDialog: async () => ({ canceled: true, filePaths: [] }), showMessageBox: async () => ({ response: 0 }) },
    utilityProcess: { fork: () => { throw new Error('no process may start'); } },
    BrowserWindow: Window,
  };
  const mod = { exports: {} as Record<string, unknown> };
  const savedEnv = process.env;
  process.env = { ...savedEnv, ELECTRON_DISABLE_SANDBOX: undefined };
  try {
    const wrapped = runInThisContext((Module as unknown as { wrap(code: string): string }).wrap(readFileSync(file, 'utf8')), { filename: file }) as (...a: unknown[]) => void;
    wrapped(mod.exports, (m: string) => (m === 'electron' ? electron : repoRequire(m)), mod, file, join(file, '..'));
    for (let i = 0; i < 100 && (windows[0]?.loads.length ?? 0) === 0; i++) await new Promise((r) => setTimeout(r, 5));
  } finally {
    process.env = savedEnv;
    rmSync(userData, { recursive: true, force: true });
  }
  const answer = (url: string) => {
    const h = handlers.get('app');
    if (h === undefined) throw new Error('app:// is not handled');
    return h({ url });
  };
  return { windows, request, answer, printHtmlToPdf: mod.exports.printHtmlToPdf as PrintRun['printHtmlToPdf'], writePrivateFile: mod.exports.writePrivateFile as PrintRun['writePrivateFile'] };
}

/** A real transcript (src/ceremony/transcript.ts) of at least `bytes` UTF-8 bytes: many steps, non-ASCII and hostile names. */
export function transcriptOf(bytes: number): string {
  const hostile = 'Zoë <style>body{display:none}</style> Ångström';
  const line = (i: number) => `object ${i}: SHA-256 ${createHash('sha256').update(String(i)).digest('hex')} (Łukasz…)`;
  const model = (n: number): TranscriptModel => ({
    title: 'Q4 rotation', ceremony: '2026-q4', started: '2026-11-28T10:00:00Z', finished: '2026-11-28T11:00:00Z', simulation: true,
    participants: [{ id: 'zoe', name: hostile, role: 'custodian' }, { id: 'lukasz', name: 'Łukasz', role: 'witness' }],
    steps: [{ title: 'Generate', actor: 'admin', outcome: 'done', lines: Array.from({ length: n }, (_, i) => line(i)) }],
    fingerprints: [{ who: 'zoe', hex: 'ab'.repeat(32), words: ['reform', 'tomorrow'] }], kcvs: [{ key: 'master-v1', kcv: 'ecb:abcdef' }],
    files: [{ path: 'drill.json', sha256: 'cd'.repeat(32), bytes: 1234 }], exceptions: [], audit: null,
  });
  const per = Buffer.byteLength(`<li>${line(0)}</li>`);
  return transcriptHtml(model(Math.ceil(bytes / per) + 1));
}

/** The text of the first <style> element, found without the code under test. */
export function firstStyle(html: string): string {
  const start = html.indexOf('<style>') + '<style>'.length;
  return html.slice(start, html.indexOf('</style>', start));
}

const sha256 = (s: string) => createHash('sha256').update(s).digest('hex');
const mode = (p: string) => lstatSync(p).mode & 0o777;
const posix = process.platform !== 'win32';

/** Every check of the PDF path, as a list of what is wrong (empty: as it should be). */
export async function printProblems(file: string): Promise<string[]> {
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => { if (!ok) problems.push(what); };
  const tmp = mkdtempSync(join(tmpdir(), 'kc-print-tmp-'));
  const saved = { TMPDIR: process.env.TMPDIR, TMP: process.env.TMP, TEMP: process.env.TEMP };
  // os.tmpdir() reads these at each call: the shell's temporary folders land where the test can list them
  Object.assign(process.env, { TMPDIR: tmp, TMP: tmp, TEMP: tmp });
  const left = () => readdirSync(tmp);
  try {
    const html = transcriptOf(3 * 1024 * 1024);
    check(Buffer.byteLength(html) > MAX_URL_CHARS && encodeURIComponent(html).length > MAX_URL_CHARS, 'the test transcript is over 2 MiB');
    const styleHash = `'sha256-${createHash('sha256').update(firstStyle(html)).digest('base64')}'`;
    let page = '';
    let whilePrinting = false;
    const holder: { run?: PrintRun } = {};
    const run = await runPrintShell(file, { whilePrinting: async (w) => {
      // the first print (the large transcript) only
      if (whilePrinting) return;
      whilePrinting = true;
      const r = holder.run!;
      // what the print window was given and what it was answered
      check(w.loads.length === 1 && PRINT_URL.test(w.loads[0]!.url), `the print window loads one app://print/<random>.html, never data: or file: (${w.loads.map((l) => l.url.slice(0, 60)).join(', ')})`);
      const load = w.loads[0];
      page = load?.url ?? '';
      check(load?.outcome === 200 && load.body === html, `the page answers 200 with the transcript, byte for byte (${String(load?.outcome)})`);
      const h = load?.headers ?? {};
      const csp = (h['content-security-policy'] ?? '').split('; ');
      for (const d of ["default-src 'none'", "script-src 'none'", "connect-src 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'", `style-src ${styleHash}`]) {
        check(csp.includes(d), `the page's CSP has ${d}`);
      }
      check(!/unsafe-|\*|'self'|https?:|data:/.test(h['content-security-policy'] ?? ''), 'the page\'s CSP allows nothing inline but its own style, nothing remote, nothing of the app\'s');
      check(h['content-type'] === 'text/html; charset=utf-8' && h['x-content-type-options'] === 'nosniff' && h['cache-control'] === 'no-store', 'the page\'s type, nosniff and no-store');
      // the private copy, while it exists
      const entries = left();
      check(entries.length === 1 && entries[0]!.startsWith('keyceremony-print-'), `one temporary folder while printing (${entries.join(', ')})`);
      if (entries.length === 1) {
        const dir = join(tmp, entries[0]!);
        check(lstatSync(dir).isDirectory() && (!posix || mode(dir) === 0o700), `the temporary folder is a real folder, mode 0700 (${mode(dir).toString(8)})`);
        const files = readdirSync(dir);
        check(files.length === 1, `one file in it (${files.join(', ')})`);
        if (files.length === 1) {
          const f = join(dir, files[0]!);
          check(lstatSync(f).isFile() && (!posix || mode(f) === 0o600), `the temporary file is a regular file, mode 0600 (${mode(f).toString(8)})`);
          check(readFileSync(f, 'utf8') === html, 'the temporary file holds the transcript');
          check(await r.request(pathToFileURL(f).href, w.id) === 'cancelled' && await r.request(pathToFileURL(f).href, run.windows[0]?.id) === 'cancelled', 'the temporary file is never reachable as file:');
        }
      }
      // only that window may load that page
      check(await r.request(page, run.windows[0]?.id) === 'cancelled', 'the app window may not load the print page');
      check(await r.request(page) === 'cancelled', 'a request from no window may not load the print page');
      const again = await r.request(page, w.id);
      check(again instanceof Response && again.status === 200, 'the print window may load its page');
      const name = page.slice('app://print/'.length);
      for (const u of [START_URL, 'app://keyceremony/assets/app.js', 'data:text/html,<p>x</p>', 'devtools://devtools/bundled/inspector.html', `app://print/${'0'.repeat(32)}.html`, `${page}?x`, 'https://example.com/']) {
        check(await r.request(u, w.id) === 'cancelled', `the print window may not load ${u}`);
      }
      // the protocol answers that exact URL only, whatever the session would have let through
      for (const u of [`app://print/${'0'.repeat(32)}.html`, `app://print/${name.toUpperCase()}`, `app://print/../${name}`, `app://print/x/../${name}`, `app://print/%2e%2e/${name}`, `${page}/..`, `${page}?`, `${page}#x`,
        `app://print/${name}%00`, `app://print/`, 'app://print/index.html', 'app://print/assets/app.js', 'app://print/../keyceremony/index.html', `app://keyceremony/${name}`, `app://print/${name.replace('.html', '')}`]) {
        const x = await r.answer(u).catch(() => null);
        check(x?.status === 404 && (x.headers.get('content-security-policy') ?? '').includes("default-src 'none'"), `${u} answers 404 with a CSP (got ${x === null ? 'a throw' : String(x.status)})`);
      }
    } });
    holder.run = run;
    const app = run.windows[0];
    check(app?.loads.length === 1 && app.loads[0]?.url === START_URL && app.loads[0].outcome === 200, 'the app window still loads its page');
    const pdf = await run.printHtmlToPdf(html).catch((e: unknown) => e);
    check(whilePrinting, `the transcript is printed (${pdf instanceof Error ? pdf.message : 'no print'})`);
    check(pdf instanceof Uint8Array && Buffer.from(pdf).toString('latin1') === `%PDF-1.7 stand-in ${sha256(html)}`, 'the PDF is of the whole transcript');
    const w = run.windows[1];
    const prefs = w?.options.webPreferences ?? {};
    check(w?.options.show === false && prefs.javascript === false && prefs.sandbox === true && prefs.contextIsolation === true && prefs.nodeIntegration === false && prefs.preload === undefined,
      'the print window: hidden, no JavaScript, sandboxed, isolated, no Node, no preload');
    check(w?.destroyed === true, 'the print window is destroyed after printing');
    check(left().length === 0, `the temporary folder is removed after printing (${left().join(', ')})`);
    check(page !== '' && (await run.answer(page)).status === 404, 'the page answers 404 once printed');
    check(page !== '' && await run.request(page, w?.id) === 'cancelled', 'the page cannot be loaded once printed');

    // a second print: a new page; a small one too
    const small = '<!doctype html><p>short</p>';
    const second = await run.printHtmlToPdf(small).catch(() => null);
    const w2 = run.windows[2];
    check(second !== null && w2?.loads.length === 1 && PRINT_URL.test(w2.loads[0]!.url) && w2.loads[0]!.url !== page, 'each print has a page of its own');
    check((w2?.loads[0]?.headers?.['content-security-policy'] ?? '').includes("style-src 'none'"), 'a page without a style element allows no style');
    check(left().length === 0, 'the temporary folder is removed after a second print');

    // failures: the window destroyed, the page forgotten, the folder removed
    for (const [what, opts] of [['printing fails', { printFails: true }], ['loading fails', { loadFails: true }]] as const) {
      const f = await runPrintShell(file, opts);
      const err = await f.printHtmlToPdf(small).then(() => null, (e: unknown) => e);
      const fw = f.windows[1];
      check(err instanceof Error && !('code' in err && err.code === 'PDF_TEMP_LEFT'), `${what}: the print's own error is thrown`);
      check(fw?.destroyed === true, `${what}: the print window is destroyed`);
      check(left().length === 0, `${what}: the temporary folder is removed (${left().join(', ')})`);
      const u = fw?.loads[0]?.url ?? '';
      check(PRINT_URL.test(u) && (await f.answer(u)).status === 404, `${what}: the page is forgotten`);
    }

    // the private file: created only where nothing is, never through a link
    const d = mkdtempSync(join(tmp, 'kc-private-'));
    run.writePrivateFile(join(d, 'new.html'), 'x');
    check(readFileSync(join(d, 'new.html'), 'utf8') === 'x' && (!posix || mode(join(d, 'new.html')) === 0o600), 'a private file is created, mode 0600');
    check((() => { try { run.writePrivateFile(join(d, 'new.html'), 'y'); return false; } catch { return readFileSync(join(d, 'new.html'), 'utf8') === 'x'; } })(), 'an existing file is not overwritten');
    if (posix) {
      writeFileSync(join(d, 'target'), 'keep');
      symlinkSync(join(d, 'target'), join(d, 'link'));
      symlinkSync(join(d, 'absent'), join(d, 'dangling'));
      check((() => { try { run.writePrivateFile(join(d, 'link'), 'y'); return false; } catch { return readFileSync(join(d, 'target'), 'utf8') === 'keep'; } })(), 'a link to a file is not followed');
      check((() => { try { run.writePrivateFile(join(d, 'dangling'), 'y'); return false; } catch { return !existsSync(join(d, 'absent')); } })(), 'a dangling link is not followed');
    }
    rmSync(d, { recursive: true, force: true });
  } finally {
    for (const [k, v] of Object.entries(saved)) if (v === undefined) delete process.env[k]; else process.env[k] = v;
    rmSync(tmp, { recursive: true, force: true });
  }
  return problems;
}
