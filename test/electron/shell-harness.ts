/**
 * The Electron shell run without Electron (issue 19): the bundled main process and preload are
 * evaluated in Node against a recording stand-in for the `electron` module (only the API the
 * shell uses). The stand-in behaves as Electron documents it, including what electron#45903 will
 * fix: a net.fetch of a file: URL goes through the session's request handlers, so the shell
 * must serve app:// without it. `shellProblems` runs every scenario and lists what is wrong; the
 * tests assert it is empty for the real shell and non-empty for each hardening line removed.
 * This stands in for a launch where none is possible; the real launch is a release check
 * (docs/RELEASE.md).
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import Module, { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { runInNewContext, runInThisContext } from 'node:vm';
import { CHANNELS, ipcName } from '../../src/api/contract.js';
import { templateText } from '../../src/ceremony/templates.js';

const repo = new URL('../../', import.meta.url);
const repoRequire = createRequire(new URL('package.json', repo));
export const APP_ID = (JSON.parse(readFileSync(new URL('package.json', repo), 'utf8')) as { build: { appId: string } }).build.appId;
export const START_URL = 'app://keyceremony/index.html';
export const INDEX_HTML = '<!doctype html><title>keyceremony</title><script type="module" src="./assets/app.js"></script>';
export const APP_JS = 'console.log("the app");';

export interface ShellBuild { readonly dir: string; readonly main: string; readonly preload: string; readonly pdf: string; readonly room: string }

/** Bundles main, preload (and pdf.ts and room.ts alone, to drive their windows) exactly as scripts/build.mjs does, beside a small renderer. */
export function bundleShell(): ShellBuild {
  const dir = mkdtempSync(join(tmpdir(), 'kc-shell-'));
  const out = join(dir, 'electron');
  mkdirSync(join(dir, 'renderer', 'assets'), { recursive: true });
  writeFileSync(join(dir, 'renderer', 'index.html'), INDEX_HTML);
  writeFileSync(join(dir, 'renderer', 'assets', 'app.js'), APP_JS);
  // beside the renderer folder, never to be served
  writeFileSync(join(dir, 'secret.js'), 'the signing key');
  const script = `const { buildSync } = require('esbuild');
const common = { bundle: true, platform: 'node', format: 'cjs', target: 'node22', sourcemap: false, logLevel: 'warning', external: ['electron'] };
const core = { ...common, external: ['electron', 'pkcs11js'], define: { 'import.meta.url': '__keyceremonyModuleUrl' },
  banner: { js: "const __keyceremonyModuleUrl = require('node:url').pathToFileURL(__filename).href;" } };
buildSync({ ...core, entryPoints: ['electron/main/index.ts'], outfile: ${JSON.stringify(join(out, 'main.cjs'))} });
buildSync({ ...core, entryPoints: ['electron/main/pdf.ts'], outfile: ${JSON.stringify(join(out, 'pdf.cjs'))} });
buildSync({ ...core, entryPoints: ['electron/main/room.ts'], outfile: ${JSON.stringify(join(out, 'room.cjs'))} });
buildSync({ ...common, entryPoints: ['electron/preload/index.ts'], outfile: ${JSON.stringify(join(out, 'preload.cjs'))}, platform: 'browser' });`;
  execFileSync(process.execPath, ['-e', script], { cwd: new URL('.', repo).pathname });
  return { dir, main: join(out, 'main.cjs'), preload: join(out, 'preload.cjs'), pdf: join(out, 'pdf.cjs'), room: join(out, 'room.cjs') };
}

type Listener = (...args: unknown[]) => unknown;
export interface FakeContents {
  readonly id: number;
  readonly listeners: Map<string, Listener[]>;
  openHandler: ((d: { url: string }) => unknown) | null;
  /** Fires an event the way Electron does; true when a listener called preventDefault. */
  emitPreventable(event: string, ...args: unknown[]): boolean;
}
export interface FakeWindow {
  readonly options: { webPreferences?: Record<string, unknown>; show?: boolean; title?: string };
  readonly webContents: FakeContents;
  title: string;
  shown: boolean;
  readonly loads: { url: string; status: number | 'cancelled' | 'failed' }[];
  readonly destroyed: boolean;
  fire(event: string): void;
  /** The user closes the window: destroyed, then 'closed' (Electron's order). */
  close(): void;
}

export interface ShellRun {
  readonly calls: string[];
  readonly windows: FakeWindow[];
  readonly privileged: unknown[];
  readonly protocols: Map<string, (request: { url: string }) => Promise<Response>>;
  readonly ipc: Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>;
  readonly messageBoxes: unknown[][];
  readonly netFetches: string[];
  readonly userData: string;
  readonly session: { permissionRequest: Listener | null; permissionCheck: Listener | null; beforeRequest: ((d: { url: string }, cb: (r: { cancel: boolean }) => void) => void) | null };
  /** A request as Chromium makes it: the session's handlers first, then the scheme's handler. */
  request(url: string): Promise<Response | 'cancelled'>;
  readonly exports: Record<string, unknown>;
}

export interface RunOptions {
  readonly switches?: readonly string[];
  readonly env?: NodeJS.ProcessEnv;
  readonly lock?: boolean;
  readonly metrics?: readonly { type: string; pid: number; sandboxed?: boolean }[];
  readonly showOpenDialog?: (...a: unknown[]) => Promise<{ canceled: boolean; filePaths: string[] }>;
  /** utilityProcess.fork: by default no process may start; a stand-in child for a rehearsal that runs (and never ends) here. */
  readonly fork?: (...a: unknown[]) => unknown;
}

/** Evaluates a bundle of the main process against the stand-in; resolves once the ready handler has run. */
export async function runShell(file: string, o: RunOptions = {}): Promise<ShellRun> {
  const calls: string[] = [];
  const windows: FakeWindow[] = [];
  const appListeners = new Map<string, Listener[]>();
  const protocols = new Map<string, (request: { url: string }) => Promise<Response>>();
  const ipc = new Map<string, (event: unknown, ...args: unknown[]) => Promise<unknown>>();
  const privileged: unknown[] = [];
  const messageBoxes: unknown[][] = [];
  const netFetches: string[] = [];
  const userData = mkdtempSync(join(tmpdir(), 'kc-userdata-'));
  const session: ShellRun['session'] = { permissionRequest: null, permissionCheck: null, beforeRequest: null };
  const on = (map: Map<string, Listener[]>, ev: string, l: Listener) => map.set(ev, [...(map.get(ev) ?? []), l]);
  const request = async (url: string): Promise<Response | 'cancelled'> => {
    let cancel = false;
    session.beforeRequest?.({ url }, (r) => { cancel = r.cancel; });
    if (cancel) return 'cancelled';
    const handler = protocols.get(new URL(url).protocol.slice(0, -1));
    if (handler === undefined) throw new Error(`no handler for ${url}`);
    return handler({ url });
  };
  let ready: () => void = () => undefined;
  const readyRan = new Promise<void>((r) => { ready = r; });

  let contentsIds = 0;
  class WebContents implements FakeContents {
    readonly id = ++contentsIds;
    listeners = new Map<string, Listener[]>();
    openHandler: ((d: { url: string }) => unknown) | null = null;
    on(ev: string, l: Listener) { on(this.listeners, ev, l); return this; }
    setWindowOpenHandler(h: (d: { url: string }) => unknown) { this.openHandler = h; }
    emitPreventable(ev: string, ...args: unknown[]) {
      let prevented = false;
      for (const l of this.listeners.get(ev) ?? []) l({ preventDefault: () => { prevented = true; } }, ...args);
      return prevented;
    }
    async printToPDF() { calls.push('webContents.printToPDF'); return Buffer.from('%PDF-1.7 stand-in'); }
  }
  class BrowserWindow implements FakeWindow {
    static getAllWindows = () => windows;
    webContents = new WebContents();
    title: string;
    shown = false;
    destroyed = false;
    loads: FakeWindow['loads'] = [];
    private events = new Map<string, Listener[]>();
    constructor(readonly options: FakeWindow['options']) {
      calls.push('new BrowserWindow');
      this.title = options.title ?? '';
      windows.push(this);
      for (const l of appListeners.get('web-contents-created') ?? []) l({}, this.webContents);
    }
    on(ev: string, l: Listener) { on(this.events, ev, l); return this; }
    once(ev: string, l: Listener) { on(this.events, ev, l); return this; }
    fire(ev: string) { for (const l of this.events.get(ev) ?? []) l(); this.events.delete(ev); }
    show() { this.shown = true; calls.push('win.show'); }
    focus() { calls.push('win.focus'); }
    setTitle(t: string) { this.title = t; }
    isDestroyed() { return this.destroyed; }
    destroy() { this.destroyed = true; }
    close() { calls.push('win.close'); if (this.destroyed) return; this.destroyed = true; this.fire('closed'); }
    async loadURL(url: string) {
      calls.push(`win.loadURL ${url}`);
      const r = url.startsWith('data:') ? new Response('', { status: 200 }) : await request(url).catch(() => 'failed' as const);
      this.loads.push({ url, status: typeof r === 'string' ? r : r.status });
    }
  }
  const switches = new Set(o.switches ?? []);
  const electron = {
    app: {
      enableSandbox: () => calls.push('app.enableSandbox'),
      setAppUserModelId: (id: string) => calls.push(`app.setAppUserModelId ${id}`),
      requestSingleInstanceLock: () => { calls.push('app.requestSingleInstanceLock'); return o.lock ?? true; },
      quit: () => calls.push('app.quit'),
      on: (ev: string, l: Listener) => { calls.push(`app.on ${ev}`); on(appListeners, ev, l); },
      whenReady: () => { calls.push('app.whenReady'); return Promise.resolve(); },
      getVersion: () => '0.0.0-test',
      getPath: (name: string) => { if (name !== 'userData') throw new Error(`getPath(${name})`); return userData; },
      getAppMetrics: () => o.metrics ?? [],
      commandLine: { hasSwitch: (s: string) => switches.has(s), appendSwitch: (s: string) => calls.push(`app.commandLine.appendSwitch ${s}`) },
    },
    protocol: {
      registerSchemesAsPrivileged: (s: unknown[]) => { calls.push('protocol.registerSchemesAsPrivileged'); privileged.push(...s); },
      handle: (scheme: string, h: (request: { url: string }) => Promise<Response>) => { calls.push(`protocol.handle ${scheme}`); protocols.set(scheme, h); },
    },
    session: { defaultSession: {
      setPermissionRequestHandler: (h: Listener) => { calls.push('session.setPermissionRequestHandler'); session.permissionRequest = h; },
      setPermissionCheckHandler: (h: Listener) => { calls.push('session.setPermissionCheckHandler'); session.permissionCheck = h; },
      webRequest: { onBeforeRequest: (h: NonNullable<ShellRun['session']['beforeRequest']>) => { calls.push('session.webRequest.onBeforeRequest'); session.beforeRequest = h; } },
    } },
    // Electron once electron#45903 is fixed: a fetch from the main process goes through the session's handlers too
    net: { fetch: async (url: string) => {
      netFetches.push(url);
      const r = await request(url);
      if (r === 'cancelled') throw new Error('net::ERR_BLOCKED_BY_CLIENT');
      return r;
    } },
    ipcMain: { handle: (c: string, l: (event: unknown, ...args: unknown[]) => Promise<unknown>) => { calls.push(`ipcMain.handle ${c}`); ipc.set(c, l); } },
    dialog: {
      showOpenDialog: o.showOpenDialog ?? (async () => ({ canceled: true, filePaths: [] })),
      showMessageBox: async (...a: unknown[]) => { messageBoxes.push(a); return { response: 0 }; },
    },
    utilityProcess: { fork: o.fork ?? (() => { throw new Error('no process may start'); }) },
    BrowserWindow,
  };
  const mod = { exports: {} as Record<string, unknown> };
  const savedEnv = process.env;
  process.env = { ...savedEnv, ELECTRON_DISABLE_SANDBOX: undefined, ...o.env };
  try {
    const wrapped = runInThisContext((Module as unknown as { wrap(code: string): string }).wrap(readFileSync(file, 'utf8')), { filename: file }) as (...a: unknown[]) => void;
    wrapped(mod.exports, (m: string) => (m === 'electron' ? electron : repoRequire(m)), mod, file, join(file, '..'));
    // the ready handler is a microtask away; registerIpc is the last thing it does before loading
    setTimeout(ready, 0);
    await readyRan;
    for (let i = 0; i < 50 && windows.length > 0 && windows[0]!.loads.length === 0; i++) await new Promise((r) => setTimeout(r, 5));
  } finally {
    process.env = savedEnv;
  }
  return { calls, windows, privileged, protocols, ipc, messageBoxes, netFetches, userData, session, request, exports: mod.exports };
}

/** The bundled preload in a fresh context: what it exposes and what it requires. */
export function runPreload(file: string) {
  const exposed = new Map<string, unknown>();
  const required: string[] = [];
  const invoked: unknown[][] = [];
  const electron = {
    contextBridge: { exposeInMainWorld: (k: string, v: unknown) => exposed.set(k, v) },
    ipcRenderer: { invoke: async (...a: unknown[]) => { invoked.push(a); return { ok: true, value: null }; }, send: () => { throw new Error('send must not be used'); }, on: () => { throw new Error('on must not be used'); } },
  };
  const module = { exports: {} };
  runInNewContext(readFileSync(file, 'utf8'), { require: (m: string) => { required.push(m); if (m === 'electron') return electron; throw new Error(`the preload required ${m}`); }, module, exports: module.exports });
  return { exposed, required, invoked };
}

const TOP = { senderFrame: { url: START_URL, parent: null } };
const REFUSED_URLS = ['https://example.com/', 'http://127.0.0.1:8080/x', 'file:///etc/passwd', 'ws://x/', 'app://other/index.html', 'blob:https://example.com/x'];

/** Every check of the shell, as a list of what is wrong (empty: the shell is as it should be). */
export async function shellProblems(build: ShellBuild, files: { main?: string; preload?: string; pdf?: string; room?: string } = {}): Promise<string[]> {
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => { if (!ok) problems.push(what); };
  const main = files.main ?? build.main;

  // a normal start, sandbox on
  const r = await runShell(main);
  const at = (c: string) => r.calls.findIndex((x) => x === c || x.startsWith(`${c} `));
  check(r.calls[0] === 'app.enableSandbox', 'app.enableSandbox() is the first call');
  check(r.calls.includes(`app.setAppUserModelId ${APP_ID}`), `the app user model id is the appId ${APP_ID}`);
  check(at('app.requestSingleInstanceLock') >= 0 && at('app.requestSingleInstanceLock') < at('app.whenReady'), 'the single-instance lock is taken before ready');
  check(at('protocol.registerSchemesAsPrivileged') >= 0 && at('protocol.registerSchemesAsPrivileged') < at('app.whenReady'), 'app:// is registered as privileged before ready');
  check(at('app.on web-contents-created') >= 0 && at('app.on web-contents-created') < at('new BrowserWindow'), 'every web contents is hardened from its creation');
  for (const s of ['session.setPermissionRequestHandler', 'session.setPermissionCheckHandler', 'session.webRequest.onBeforeRequest']) check(at(s) >= 0 && at(s) < at('new BrowserWindow'), `${s} before any window`);
  check(at('protocol.handle') >= 0 && at('protocol.handle') < at('win.loadURL'), 'app:// is handled before the window loads');
  const lastIpc = r.calls.reduce((n, c, i) => (c.startsWith('ipcMain.handle') ? i : n), -1);
  check(lastIpc >= 0 && lastIpc < at('win.loadURL'), 'IPC is registered before the window loads');
  check(JSON.stringify(r.privileged) === JSON.stringify([{ scheme: 'app', privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false } }]), 'app:// privileges: standard and secure, no fetch, no CORS');

  check(r.windows.length === 1, 'one window at start');
  const win = r.windows[0];
  if (win !== undefined) {
    const p = win.options.webPreferences ?? {};
    const want: Record<string, unknown> = { sandbox: true, contextIsolation: true, nodeIntegration: false, nodeIntegrationInWorker: false, nodeIntegrationInSubFrames: false, webSecurity: true,
      allowRunningInsecureContent: false, experimentalFeatures: false, webviewTag: false, navigateOnDragDrop: false, spellcheck: false, devTools: false };
    for (const [k, v] of Object.entries(want)) check(p[k] === v, `window webPreferences.${k} is ${String(v)}`);
    check(typeof p.preload === 'string' && (p.preload as string).endsWith('preload.cjs'), 'the window\'s preload is preload.cjs');
    check(win.options.show === false, 'the window is shown only when ready');
    check(JSON.stringify(win.loads) === JSON.stringify([{ url: START_URL, status: 200 }]), `the window loads ${START_URL} (with file: cancelled): ${JSON.stringify(win.loads)}`);
    check(!win.shown, 'not shown before ready-to-show');
    win.fire('ready-to-show');
    check(win.shown, 'shown at ready-to-show');
    check(win.title === 'keyceremony' && r.messageBoxes.length === 0, 'no warning when the sandbox is on');
    for (const ev of ['will-navigate', 'will-redirect', 'will-attach-webview']) check(win.webContents.emitPreventable(ev, 'https://example.com/'), `${ev} is refused`);
    for (const u of ['https://example.com/', START_URL, 'file:///etc/passwd']) check(JSON.stringify(win.webContents.openHandler?.({ url: u })) === '{"action":"deny"}', `window.open(${u}) is denied`);
  }
  for (const perm of ['media', 'geolocation', 'notifications', 'clipboard-read', 'usb', 'hid', 'serial', 'openExternal']) {
    let granted: unknown = 'no answer';
    r.session.permissionRequest?.({}, perm, (g: boolean) => { granted = g; }, {});
    check(granted === false, `the permission request ${perm} is denied`);
  }
  check(r.session.permissionCheck?.({}, 'media', START_URL, {}) === false, 'permission checks answer false');
  for (const u of REFUSED_URLS) check(await r.request(u).catch(() => 'threw') === 'cancelled', `a request to ${u} is cancelled`);
  check(r.netFetches.length === 0, `no net.fetch (a file: fetch is cancelled once electron#45903 is fixed): ${r.netFetches.join(', ')}`);

  // app:// answers
  const get = async (u: string) => { const x = await r.request(u).catch((e: unknown) => e); return x instanceof Response ? x : null; };
  const index = await get(START_URL);
  check(index?.status === 200 && (await index.text()) === INDEX_HTML, 'index.html is served from the built file');
  const h = index?.headers;
  const policy = h?.get('content-security-policy') ?? '';
  for (const d of ["default-src 'none'", "script-src 'self'", "connect-src 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'"]) check(policy.split('; ').includes(d), `the CSP has ${d}`);
  check(!/unsafe-|\*|https?:/.test(policy), 'the CSP allows nothing unsafe or remote');
  check(h?.get('x-content-type-options') === 'nosniff', 'x-content-type-options: nosniff');
  check(h?.get('content-type') === 'text/html; charset=utf-8', 'index.html is text/html');
  const js = await get('app://keyceremony/assets/app.js');
  check(js?.status === 200 && js.headers.get('content-type') === 'text/javascript; charset=utf-8' && (await js.text()) === APP_JS && js.headers.get('content-security-policy') === policy, 'an asset is served with its type and the CSP');
  for (const u of ['app://keyceremony/assets/missing.js', 'app://keyceremony/missing.html', 'app://keyceremony/assets', 'app://keyceremony/../../etc/passwd', 'app://keyceremony/%2e%2e/electron/main.cjs', 'app://keyceremony/index.html/x.js', 'app://keyceremony/assets/..%2f..%2fsecret.js', 'app://keyceremony/assets/%2e%2e%2f%2e%2e%2fsecret.js', 'app://keyceremony/electron/main.cjs']) {
    const x = await get(u);
    check(x?.status === 404, `${u} answers 404 (got ${x === null ? 'a throw' : String(x.status)})`);
  }

  // IPC: one handler per channel, answering only the top frame of our page
  check(JSON.stringify([...r.ipc.keys()].sort()) === JSON.stringify(CHANNELS.map(ipcName).sort()), 'one IPC handler per contract channel');
  const status = r.ipc.get(ipcName('airgap.status'));
  for (const senderFrame of [{ url: 'https://evil.example/', parent: null }, { url: START_URL, parent: {} }, { url: 'file:///x.html', parent: null }, { url: 'app://keyceremony.evil/index.html', parent: null }, null]) {
    check((await status?.({ senderFrame }, {}) as { error?: { code?: string } } | undefined)?.error?.code === 'IPC_FORBIDDEN', `IPC from ${JSON.stringify(senderFrame)} is refused`);
  }
  check((await status?.(TOP, {}) as { ok?: boolean } | undefined)?.ok === true, 'IPC from the app page is answered');
  check((await r.ipc.get(ipcName('ceremony.start'))?.(TOP, {}) as { error?: { code?: string } } | undefined)?.error?.code === 'IPC_BAD_REQUEST', 'ceremony.start reaches the handler table when sandboxed');
  const sandboxOf = async (x: ShellRun) => JSON.stringify((await x.ipc.get(ipcName('app.info'))?.(TOP, {}) as { value?: { sandbox?: unknown } } | undefined)?.value?.sandbox);
  check(await sandboxOf(r) === JSON.stringify({ sandboxed: true, reasons: [] }), 'app.info says the app runs sandboxed');

  problems.push(...await roomProblems(main, files.room ?? build.room, win?.options.webPreferences ?? {}));

  // another instance running: quit, nothing else
  const second = await runShell(main, { lock: false });
  check(second.calls.includes('app.quit') && second.windows.length === 0 && second.ipc.size === 0 && !second.calls.includes('app.whenReady'), 'a second instance quits without a window');

  // started unsandboxed (the AppImage launcher's --no-sandbox), or a window's process reported unsandboxed
  for (const [name, opts] of [['--no-sandbox', { switches: ['no-sandbox'] }], ['ELECTRON_DISABLE_SANDBOX', { env: { ELECTRON_DISABLE_SANDBOX: '1' } }],
    ['an unsandboxed window process', { metrics: [{ type: 'Browser', pid: 1 }, { type: 'Tab', pid: 2, sandboxed: false }] }]] as const) {
    const u = await runShell(main, opts);
    const w = u.windows[0];
    w?.fire('ready-to-show');
    check(w?.title.includes('NO SANDBOX') === true, `${name}: the window title says NO SANDBOX`);
    check(u.messageBoxes.length === 1 && (u.messageBoxes[0]?.[1] as { type?: string } | undefined)?.type === 'warning', `${name}: a warning dialog`);
    const notice = (() => { try { return readFileSync(join(u.userData, 'shell-notices.jsonl'), 'utf8'); } catch { return ''; } })();
    check(/"event":"app.unsandboxed"/.test(notice), `${name}: a notice is written`);
    const start = await u.ipc.get(ipcName('ceremony.start'))?.(TOP, {}) as { error?: { code?: string } } | undefined;
    check(start?.error?.code === 'APP_UNSANDBOXED', `${name}: a live ceremony is refused`);
    const rehearse = await u.ipc.get(ipcName('ceremony.rehearse'))?.(TOP, {}) as { error?: { code?: string } } | undefined;
    check(rehearse?.error?.code !== 'APP_UNSANDBOXED', `${name}: rehearsals are not refused`);
    // the table is given the shell's detection, as it stands once the window's process was seen
    const reasons = { '--no-sandbox': ['started with --no-sandbox'], ELECTRON_DISABLE_SANDBOX: ['ELECTRON_DISABLE_SANDBOX is set'], 'an unsandboxed window process': ["the window's process 2 runs without the sandbox"] }[name];
    const said = await sandboxOf(u);
    check(said === JSON.stringify({ sandboxed: false, reasons }), `${name}: app.info says the app runs unsandboxed, and why (${String(said)})`);
  }

  // the PDF window: sandboxed, no JavaScript, hardened like every other
  const pdf = await runShell(files.pdf ?? build.pdf);
  const print = (pdf.exports as { printHtmlToPdf?: (html: string) => Promise<Uint8Array> }).printHtmlToPdf;
  if (print === undefined) problems.push('pdf.cjs exports printHtmlToPdf');
  else {
    await print('<p>transcript</p>');
    const pw = pdf.windows[0]?.options;
    check(pw?.show === false && pw.webPreferences?.javascript === false && pw.webPreferences.sandbox === true && pw.webPreferences.contextIsolation === true
      && pw.webPreferences.nodeIntegration === false && pw.webPreferences.preload === undefined, 'the PDF window: hidden, sandboxed, no JavaScript, no preload');
    check((pdf.windows[0] as unknown as { destroyed: boolean } | undefined)?.destroyed === true, 'the PDF window is destroyed after printing');
  }

  // the preload
  try {
    const p = runPreload(files.preload ?? build.preload);
    check(JSON.stringify([...new Set(p.required)]) === '["electron"]', `the preload requires only electron: ${p.required.join(', ')}`);
    check(JSON.stringify([...p.exposed.keys()]) === '["keyceremony"]', 'the preload exposes one object, keyceremony');
    const api = p.exposed.get('keyceremony') as Record<string, (x: unknown) => Promise<unknown>> | undefined;
    check(api !== undefined && Object.isFrozen(api), 'the exposed object is frozen');
    check(api !== undefined && JSON.stringify(Object.keys(api).sort()) === JSON.stringify([...CHANNELS].sort()) && Object.values(api).every((f) => typeof f === 'function'), 'one function per channel, nothing else');
    if (api !== undefined) for (const c of CHANNELS) await api[c]?.({ probe: c });
    check(JSON.stringify(p.invoked) === JSON.stringify(CHANNELS.map((c) => [ipcName(c), { probe: c }])), 'each function invokes its own channel');
  } catch (err) {
    problems.push(`the preload runs: ${String(err)}`);
  }
  return problems;
}

type Answer = { ok?: boolean; value?: { window?: string; runId?: string; folder?: { handle?: string } | null }; error?: { code?: string } } | undefined;

/**
 * The room's window (issue 15, electron/main/room.ts), through the bundled main process: opened over
 * IPC for a run of the handler table (a rehearsal whose stand-in process never ends), made with the
 * app window's very webPreferences, loading app://keyceremony/index.html#room=<run id> (a valid id
 * only), hardened by the same handlers; one at most (focused, or moved to another run); answered on
 * ceremony.status only; closed with the app window. And room.ts alone: the fragment checked there too.
 */
async function roomProblems(main: string, roomBundle: string, appPreferences: Record<string, unknown>): Promise<string[]> {
  const problems: string[] = [];
  const check = (ok: boolean, what: string) => { if (!ok) problems.push(`the room's window: ${what}`); };
  const folders = [0, 1].map(() => mkdtempSync(join(tmpdir(), 'kc-room-')));
  const chosen = [...folders];
  const r = await runShell(main, {
    showOpenDialog: async () => ({ canceled: false, filePaths: [chosen.shift() ?? folders[0]!] }),
    fork: () => ({ stdout: null, stderr: null, once: () => undefined, kill: () => undefined }),
  });
  const app = r.windows[0];
  if (app === undefined) return ['the room\'s window: no app window to begin with'];
  const fromApp = { senderFrame: { url: START_URL, parent: null }, sender: { id: app.webContents.id } };
  const ask = async (channel: string, request: unknown, event: unknown = fromApp) => await r.ipc.get(ipcName(channel as (typeof CHANNELS)[number]))?.(event, request) as Answer;
  const script = templateText('quarterly-master-dual-publish');
  const runs: string[] = [];
  for (let i = 0; i < 2; i++) {
    const folder = (await ask('folders.choose', { purpose: 'ceremony' }))?.value?.folder?.handle;
    const run = (await ask('ceremony.rehearse', { script, ceremonyFolder: folder, allowNetwork: true }))?.value?.runId;
    if (run === undefined) return [...problems, 'the room\'s window: no run could be started to open it on'];
    runs.push(run);
  }
  const [runId, other] = runs as [string, string];

  // refused at the boundary, and no window made
  for (const bad of ['A'.repeat(32), 'a'.repeat(31), `${'a'.repeat(32)}#x`, '../index.html', 'a'.repeat(100_000), 42]) {
    check((await ask('room.open', { runId: bad }))?.error?.code === 'IPC_BAD_REQUEST', `room.open refuses the run id ${JSON.stringify(bad).slice(0, 40)}`);
  }
  check((await ask('room.open', { runId: 'b'.repeat(32) }))?.error?.code === 'CEREMONY_RUN_UNKNOWN', 'room.open refuses a run the table does not know');
  check(r.windows.length === 1, `no window for a refused request (${r.windows.length} windows)`);

  const opened = await ask('room.open', { runId });
  check(opened?.ok === true && opened.value?.window === 'opened', `room.open opens it: ${JSON.stringify(opened)}`);
  const room = r.windows[1];
  check(r.windows.length === 2 && room !== undefined, 'one new window');
  if (room === undefined) return problems;
  const p = room.options.webPreferences ?? {};
  check(JSON.stringify(Object.keys(p).sort()) === JSON.stringify(Object.keys(appPreferences).sort()) && Object.entries(appPreferences).every(([k, v]) => p[k] === v),
    `its webPreferences are the app window's: ${JSON.stringify(p)}`);
  check(room.options.show === false, 'it is shown only when ready');
  check(room.title === "keyceremony: the room's window", `its title says what it is: ${room.title}`);
  check(JSON.stringify(room.loads) === JSON.stringify([{ url: `${START_URL}#room=${runId}`, status: 200 }]), `it loads ${START_URL}#room=<run id>: ${JSON.stringify(room.loads)}`);
  room.fire('ready-to-show');
  check(room.shown, 'shown at ready-to-show');
  for (const ev of ['will-navigate', 'will-redirect', 'will-attach-webview']) check(room.webContents.emitPreventable(ev, 'https://example.com/'), `${ev} is refused`);
  for (const u of ['https://example.com/', START_URL]) check(JSON.stringify(room.webContents.openHandler?.({ url: u })) === '{"action":"deny"}', `window.open(${u}) is denied`);

  // one at most: the same run focuses it, another run moves it
  const focusesBefore = r.calls.filter((c) => c === 'win.focus').length;
  check((await ask('room.open', { runId }))?.value?.window === 'focused', 'asked again for the same run, it is focused');
  check(r.calls.filter((c) => c === 'win.focus').length === focusesBefore + 1, 'the focus is asked of it');
  check((await ask('room.open', { runId: other }))?.value?.window === 'opened', 'asked for another run, it shows that run');
  check(r.windows.length === 2, `still one room window (${r.windows.length} windows)`);
  check(room.loads[room.loads.length - 1]?.url === `${START_URL}#room=${other}`, `the same window moved to the other run: ${JSON.stringify(room.loads)}`);

  // read-only: its page is answered on ceremony.status only
  const fromRoom = { senderFrame: { url: `${START_URL}#room=${other}`, parent: null }, sender: { id: room.webContents.id } };
  check((await ask('ceremony.status', { runId: other }, fromRoom))?.ok === true, 'its page reads the run\'s status');
  for (const [c, req] of [['airgap.status', {}], ['app.info', {}], ['room.open', { runId }], ['ceremony.stop', { runId: other }], ['ceremony.answer', { runId: other, confirmed: true }],
    ['ceremony.pin', { runId: other, token: 'hsm', pin: '1234' }], ['folders.choose', { purpose: 'ceremony' }], ['transcript.read', { runId: other }]] as const) {
    check((await ask(c, req, fromRoom))?.error?.code === 'IPC_FORBIDDEN', `its page is refused ${c}`);
  }
  check((await ask('airgap.status', {}))?.ok === true, 'the app window is still answered on every channel');

  // the user closes it: the next request opens a new one; the app window closes: it closes too
  room.close();
  check((await ask('ceremony.status', { runId }, fromRoom))?.ok === true, 'a closed room window\'s id is no one\'s');
  check((await ask('room.open', { runId }))?.value?.window === 'opened' && r.windows.length === 3, 'closed by the user, it opens anew');
  const again = r.windows[2];
  app.fire('closed');
  check(again?.destroyed === true, 'it closes with the app window');

  // room.ts alone: the fragment is checked there too, and no window is made for a bad id
  const alone = await runShell(roomBundle);
  const RoomWindow = (alone.exports as { RoomWindow?: new (o: { preload: string; title: () => string }) => { open(id: unknown): Promise<string> } }).RoomWindow;
  if (RoomWindow === undefined) problems.push('room.cjs exports RoomWindow');
  else {
    const w = new RoomWindow({ preload: '/x/preload.cjs', title: () => 'room' });
    for (const bad of ['A'.repeat(32), 'a'.repeat(31), `${'a'.repeat(32)}\n`, `${'a'.repeat(31)}#`, '../../etc/passwd', 42, null]) {
      const e = await w.open(bad).then(() => null, (err: unknown) => err);
      check(e instanceof TypeError || e instanceof RangeError, `RoomWindow.open(${JSON.stringify(bad)}) throws a TypeError or RangeError`);
    }
    check(alone.windows.length === 0, 'no window is made for a bad run id');
    check(await w.open(runId) === 'opened' && alone.windows[0]?.loads[0]?.url === `${START_URL}#room=${runId}`, 'a good run id is its fragment');
  }
  rmSync(r.userData, { recursive: true, force: true });
  rmSync(alone.userData, { recursive: true, force: true });
  // each folder and the rehearsal's folder made beside it
  for (const f of folders) for (const n of readdirSync(dirname(f)).filter((x) => x === basename(f) || x.startsWith(`${basename(f)}.rehearsal-`))) rmSync(join(dirname(f), n), { recursive: true, force: true });
  return problems;
}
