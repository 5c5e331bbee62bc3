/**
 * The Electron shell's security settings and IPC helper. Electron cannot launch here, so its
 * objects are replaced at the module boundary only: ipcMain, WebContents and Session are plain
 * objects with the methods the shell calls, and the bundled preload runs against a stand-in
 * `electron` module. Everything behind them (the handler table, the core) is real.
 */
import { mkdirSync, readFileSync, realpathSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { CHANNELS, ipcName } from '../../src/api/contract.js';
import { FOLDER_DIALOGS } from '../../src/api/folders.js';
import { templateText } from '../../src/ceremony/templates.js';
import { createHandlers } from '../../src/api/handlers.js';
import { dialogChooseFolder } from '../../electron/main/dialog.js';
import type { DialogLike } from '../../electron/main/dialog.js';
import { registerIpc } from '../../electron/main/ipc.js';
import type { IpcMainLike } from '../../electron/main/ipc.js';
import { resolveAppFile } from '../../electron/main/protocol.js';
import { sandboxFromProcesses, UNSANDBOXED_TITLE } from '../../electron/main/sandbox.js';
import { APP_START_URL, CONTENT_SECURITY_POLICY, hardenContents, hardenSession, isAllowedRequest, isTrustedSender, webPreferences } from '../../electron/main/security.js';
import { APP_ID, bundleShell, runShell, shellProblems, START_URL } from './shell-harness.js';
import type { ShellBuild } from './shell-harness.js';

describe('window and session hardening', () => {
  test('webPreferences: sandboxed, isolated, no Node anywhere', () => {
    expect(webPreferences('/x/preload.cjs')).toMatchObject({ preload: '/x/preload.cjs', sandbox: true, contextIsolation: true, nodeIntegration: false, nodeIntegrationInWorker: false,
      nodeIntegrationInSubFrames: false, webSecurity: true, allowRunningInsecureContent: false, webviewTag: false, navigateOnDragDrop: false });
  });
  test('CSP: nothing remote, no connections, no inline script', () => {
    expect(CONTENT_SECURITY_POLICY).toContain("default-src 'none'");
    expect(CONTENT_SECURITY_POLICY).toContain("connect-src 'none'");
    expect(CONTENT_SECURITY_POLICY).not.toMatch(/unsafe-(inline|eval)/);
    expect(readFileSync(new URL('../../renderer/index.html', import.meta.url), 'utf8')).toContain("connect-src 'none'");
  });
  test('only app:// requests (and local data: and devtools:) pass', () => {
    expect(isAllowedRequest(APP_START_URL)).toBe(true);
    expect(isAllowedRequest('app://keyceremony/assets/x.js')).toBe(true);
    for (const u of ['https://example.com/', 'http://127.0.0.1/', 'file:///etc/passwd', 'app://other/index.html', 'ws://x', 'not a url', '']) expect([u, isAllowedRequest(u)]).toEqual([u, false]);
  });
  test('navigation, redirects, webviews and new windows are refused; permissions denied; other requests cancelled', () => {
    const listeners = new Map<string, (e: { preventDefault(): void }) => void>();
    let openHandler: ((d: { url: string }) => { action: string }) | undefined;
    hardenContents({ on: (ev, l) => listeners.set(ev, l), setWindowOpenHandler: (h) => { openHandler = h; } });
    for (const ev of ['will-navigate', 'will-redirect', 'will-attach-webview']) {
      let prevented = false;
      listeners.get(ev)!({ preventDefault: () => { prevented = true; } });
      expect([ev, prevented]).toEqual([ev, true]);
    }
    expect(openHandler!({ url: 'https://example.com' })).toEqual({ action: 'deny' });
    let perm: ((wc: unknown, p: string, cb: (g: boolean) => void) => void) | undefined;
    let check: (() => boolean) | undefined;
    let before: ((d: { url: string }, cb: (r: { cancel: boolean }) => void) => void) | undefined;
    hardenSession({ setPermissionRequestHandler: (h) => { perm = h; }, setPermissionCheckHandler: (h) => { check = h; }, webRequest: { onBeforeRequest: (l) => { before = l; } } });
    for (const p of ['media', 'geolocation', 'notifications', 'clipboard-read', 'usb', 'hid', 'serial']) perm!(null, p, (g) => expect([p, g]).toEqual([p, false]));
    expect(check!()).toBe(false);
    before!({ url: 'https://example.com/x' }, (r) => expect(r.cancel).toBe(true));
    before!({ url: APP_START_URL }, (r) => expect(r.cancel).toBe(false));
  });
  test('the app protocol serves only built files, never a path outside them', () => {
    const root = '/opt/keyceremony/renderer';
    expect(resolveAppFile(root, 'app://keyceremony/')).toEqual({ path: `${root}/index.html`, type: 'text/html; charset=utf-8' });
    expect(resolveAppFile(root, 'app://keyceremony/assets/index-abc.js')?.path).toBe(`${root}/assets/index-abc.js`);
    for (const u of ['app://keyceremony/../../etc/passwd', 'app://keyceremony/%2e%2e/%2e%2e/etc/passwd', 'app://keyceremony/assets/..%2f..%2fsecret.js', 'app://keyceremony/a%5c..%5cb.js',
      'app://keyceremony/x%00.js', 'app://other/index.html', 'https://keyceremony/index.html', 'app://keyceremony/key.pem', 'app://keyceremony/%E0%A4%A']) {
      expect([u, resolveAppFile(root, u)]).toEqual([u, null]);
    }
  });
});

describe('the IPC helper', () => {
  const handlers = createHandlers({ env: {}, version: 'test' });
  const registered = new Map<string, (event: { senderFrame: { url: string; parent: unknown } | null }, ...args: unknown[]) => Promise<unknown>>();
  const ipcMain: IpcMainLike = { handle: (c, l) => { registered.set(c, l); } };
  registerIpc(ipcMain, handlers);
  const top = { senderFrame: { url: APP_START_URL, parent: null } };

  test('registers exactly one handler per contract channel', () => {
    expect([...registered.keys()].sort()).toEqual(CHANNELS.map(ipcName).sort());
  });
  test('a request from another origin, a subframe or no frame is refused', async () => {
    const h = registered.get(ipcName('airgap.status'))!;
    for (const senderFrame of [{ url: 'https://evil.example/', parent: null }, { url: APP_START_URL, parent: {} }, { url: 'file:///x.html', parent: null }, null]) {
      expect(await h({ senderFrame }, {})).toMatchObject({ ok: false, error: { code: 'IPC_FORBIDDEN' } });
    }
    expect(isTrustedSender({ url: 'app://keyceremony.evil/index.html', parent: null })).toBe(false);
    expect(await h(top, {})).toMatchObject({ ok: true });
  });
  test('malformed requests are typed errors, and the helper keeps answering', async () => {
    for (const c of CHANNELS) {
      const h = registered.get(ipcName(c))!;
      expect(await h(top, { unexpected: true })).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
      expect(await h(top)).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
      expect(await h(top, {}, {})).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
    }
    expect(await registered.get(ipcName('airgap.status'))!(top, {})).toMatchObject({ ok: true });
  });
});

describe('the shell harness: the built main process and preload run against a stand-in electron module (issue 19)', () => {
  let build: ShellBuild;
  beforeAll(() => { build = bundleShell(); }, 60_000);
  afterAll(() => rmSync(build.dir, { recursive: true, force: true }));

  test('every check passes: start-up order, webPreferences, app:// with its CSP and 404s, refusals, IPC, the sandbox notice, the PDF window, the preload', async () => {
    expect(await shellProblems(build)).toEqual([]);
  }, 60_000);
  test('start-up calls, in order', async () => {
    const r = await runShell(build.main);
    expect(r.calls.filter((c) => !c.startsWith('ipcMain.handle'))).toEqual(['app.enableSandbox', `app.setAppUserModelId ${APP_ID}`, 'app.requestSingleInstanceLock', 'protocol.registerSchemesAsPrivileged',
      'app.on web-contents-created', 'app.on second-instance', 'app.on window-all-closed', 'app.whenReady', 'session.setPermissionRequestHandler', 'session.setPermissionCheckHandler',
      'session.webRequest.onBeforeRequest', 'protocol.handle app', 'new BrowserWindow', `win.loadURL ${START_URL}`]);
  });
  test('the UI is served from the files with every file: request cancelled; a missing asset is a 404, not a throw', async () => {
    const r = await runShell(build.main);
    expect(await r.request('file:///etc/passwd')).toBe('cancelled');
    expect(await r.request(pathToFileURL(join(build.dir, 'renderer', 'index.html')).href)).toBe('cancelled');
    expect(r.windows[0]!.loads).toEqual([{ url: START_URL, status: 200 }]);
    expect(r.netFetches).toEqual([]);
    const missing = await r.request('app://keyceremony/assets/gone.js') as Response;
    expect([missing.status, missing.headers.get('content-security-policy')]).toEqual([404, CONTENT_SECURITY_POLICY]);
  });
  test('unsandboxed (--no-sandbox): the title and a warning say it, a notice is recorded, a live ceremony is refused', async () => {
    const r = await runShell(build.main, { switches: ['no-sandbox'] });
    const win = r.windows[0]!;
    expect(win.title).toBe(UNSANDBOXED_TITLE);
    win.fire('ready-to-show');
    expect(r.messageBoxes).toEqual([[win, expect.objectContaining({ type: 'warning', title: UNSANDBOXED_TITLE })]]);
    const notice = JSON.parse(readFileSync(join(r.userData, 'shell-notices.jsonl'), 'utf8')) as unknown;
    expect(notice).toEqual({ at: expect.any(String), event: 'app.unsandboxed', reasons: ['started with --no-sandbox'], effect: 'live ceremonies refused' });
    const top = { senderFrame: { url: START_URL, parent: null } };
    expect(await r.ipc.get(ipcName('ceremony.start'))!(top, { script: templateText('monthly-jwt-rotation'), ceremonyFolder: 'f'.repeat(32) }))
      .toEqual({ ok: false, error: { code: 'APP_UNSANDBOXED', message: expect.stringContaining('without the Chromium sandbox'), fix: expect.stringContaining('--no-sandbox') } });
    // the handler table is told, and app.info says so to the screen (its red banner)
    expect(await r.ipc.get(ipcName('app.info'))!(top, {})).toMatchObject({ ok: true, value: { sandbox: { sandboxed: false, reasons: ['started with --no-sandbox'] } } });
    rmSync(r.userData, { recursive: true, force: true });
  });
  test('on Linux a window process without its seccomp filter counts as unsandboxed', () => {
    const status = (s: string) => () => `Name:\tkeyceremony\nSeccomp:\t${s}\n`;
    expect(sandboxFromProcesses([{ type: 'Tab', pid: 7 }], status('2')).sandboxed).toBe(true);
    expect(sandboxFromProcesses([{ type: 'Tab', pid: 7 }], status('0'))).toEqual({ sandboxed: false, reasons: ["the window's process 7 has no seccomp filter (Seccomp: 0)"] });
    expect(sandboxFromProcesses([{ type: 'Browser', pid: 1 }, { type: 'Tab', pid: 7, sandboxed: true }], () => null).sandboxed).toBe(true);
  });
});

describe('the folder dialog (issue 14 item 9: the renderer holds only handles to folders the main process listed or the user chose)', () => {
  const win = { id: 'the app window' } as unknown as Parameters<DialogLike['showOpenDialog']>[0];
  test('asks Electron\'s dialog for one folder, modal to the app window, with a new folder allowed; a cancel is null', async () => {
    const calls: unknown[][] = [];
    let answer = { canceled: false, filePaths: ['/media/usb/q4'] };
    const dialog: DialogLike = { showOpenDialog: async (...a) => { calls.push(a); return answer; } };
    const choose = dialogChooseFolder(dialog, () => win);
    expect(await choose(FOLDER_DIALOGS.ceremony)).toBe('/media/usb/q4');
    expect(calls).toEqual([[win, { ...FOLDER_DIALOGS.ceremony, properties: ['openDirectory', 'createDirectory'] }]]);
    answer = { canceled: true, filePaths: [] };
    expect(await choose(FOLDER_DIALOGS['stand-in-drive'])).toBeNull();
    // no window left to be modal to: nothing is asked
    expect(await dialogChooseFolder(dialog, () => null)(FOLDER_DIALOGS.ceremony)).toBeNull();
    expect(calls).toHaveLength(2);
  });

  test('the bundled main process wires it: folders.choose over IPC opens the dialog on the app window and answers a handle, never taking a path', async () => {
    const build = bundleShell();
    const out = build.dir;
    try {
      const chosen = join(out, 'chosen');
      mkdirSync(chosen);
      const dialogCalls: unknown[][] = [];
      const r = await runShell(build.main, { showOpenDialog: async (...a: unknown[]) => { dialogCalls.push(a); return { canceled: false, filePaths: [chosen] }; } });
      const { ipc, windows } = r;
      expect([...ipc.keys()].sort()).toEqual(CHANNELS.map(ipcName).sort());
      expect(windows).toHaveLength(1);
      const top = { senderFrame: { url: APP_START_URL, parent: null } };
      const choose = ipc.get(ipcName('folders.choose'))!;
      const c = await choose(top, { purpose: 'ceremony' }) as { ok: boolean; value: { folder: { handle: string; path: string } } };
      expect(c).toMatchObject({ ok: true, value: { folder: { handle: expect.stringMatching(/^[0-9a-f]{32}$/), path: realpathSync(chosen) } } });
      expect(dialogCalls).toEqual([[windows[0], { ...FOLDER_DIALOGS.ceremony, properties: ['openDirectory', 'createDirectory'] }]]);
      // the handle is what the ceremony channels take; the path the dialog gave is not, nor a handle it did not give
      const start = ipc.get(ipcName('ceremony.start'))!;
      const script = templateText('monthly-jwt-rotation')!;
      expect(await start(top, { script, ceremonyFolder: chosen })).toMatchObject({ ok: false, error: { code: 'IPC_BAD_REQUEST' } });
      expect(await start(top, { script, ceremonyFolder: 'f'.repeat(32) })).toMatchObject({ ok: false, error: { code: 'IPC_FOLDER_UNKNOWN' } });
      // past the folder: this machine's network, or the script's tokens not present, is what stops it (no PIN is asked at the start)
      expect(await start(top, { script, ceremonyFolder: c.value.folder.handle, noRehearsal: true })).toMatchObject({ ok: false, error: { code: expect.stringMatching(/^(CEREMONY_NETWORK_UP|HSM_|PKCS11_)/) } });
      // a frame that is not the app's own cannot open the dialog
      expect(await choose({ senderFrame: { url: 'https://evil.example/', parent: null } }, { purpose: 'ceremony' })).toMatchObject({ ok: false, error: { code: 'IPC_FORBIDDEN' } });
      expect(dialogCalls).toHaveLength(1);
      rmSync(r.userData, { recursive: true, force: true });
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  }, 60_000);
});
