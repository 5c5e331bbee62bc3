/**
 * The main process: a thin shell. It hardens Electron, serves the built UI from
 * app://keyceremony/, and registers the handler table of src/api over IPC. pkcs11js is loaded
 * here only, by the core.
 */
import { app, BrowserWindow, dialog, ipcMain, protocol, session } from 'electron';
import { readFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { CHANNELS, ipcName } from '../../src/api/contract.js';
import { createHandlers } from '../../src/api/handlers.js';
import { APP_ID } from './app-id.js';
import { dialogChooseFolder } from './dialog.js';
import { registerIpc } from './ipc.js';
import { printHtmlToPdf, printPages } from './pdf.js';
import { utilitySpawnCli } from './rehearsal.js';
import { limitRoomIpc, RoomWindow } from './room.js';
import { isPrintUrl, serveAppFile } from './protocol.js';
import { refuseLiveWhenUnsandboxed, recordUnsandboxed, sandboxFromCommandLine, sandboxFromProcesses, UNSANDBOXED_ERROR, UNSANDBOXED_TITLE } from './sandbox.js';
import type { SandboxState } from './sandbox.js';
import { APP_SCHEME, APP_START_URL, CONTENT_SECURITY_POLICY, hardenContents, hardenSession, webPreferences } from './security.js';

const here = __dirname; // dist/electron after bundling
const rendererRoot = join(here, '..', 'renderer');

app.enableSandbox();
app.setAppUserModelId(APP_ID);
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  // the sandbox on, or said loudly: the AppImage launcher adds --no-sandbox when user namespaces are missing
  let sandbox: SandboxState = sandboxFromCommandLine(app.commandLine, process.env);
  let said = false;
  const sayUnsandboxed = (win: BrowserWindow) => {
    if (sandbox.sandboxed || said) return;
    said = true;
    process.stderr.write(`keyceremony: ${UNSANDBOXED_ERROR.code}: ${sandbox.reasons.join('; ')}; ${UNSANDBOXED_ERROR.fix}\n`);
    try {
      recordUnsandboxed(join(app.getPath('userData'), 'shell-notices.jsonl'), sandbox, new Date());
    } catch (err) {
      process.stderr.write(`keyceremony: the notice could not be written: ${String(err)}\n`);
    }
    if (win.isDestroyed()) return;
    win.setTitle(UNSANDBOXED_TITLE);
    void dialog.showMessageBox(win, { type: 'warning', title: UNSANDBOXED_TITLE, message: UNSANDBOXED_ERROR.message, detail: `${sandbox.reasons.join('\n')}\n\n${UNSANDBOXED_ERROR.fix}` });
  };
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false } }]);
  app.on('web-contents-created', (_e, contents) => hardenContents(contents));
  app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus());
  app.on('window-all-closed', () => app.quit());
  void app.whenReady().then(() => {
    // a print window may load its own page only, and no other window any print page (./pdf.ts)
    hardenSession(session.defaultSession, printPages);
    // read from the files directly: every file: request stays cancelled (./protocol.ts); app://print/ only from the pages being printed
    protocol.handle(APP_SCHEME, (request) => (isPrintUrl(request.url) ? printPages.serve(request.url, (p) => readFile(p))
      : serveAppFile(rendererRoot, request.url, CONTENT_SECURITY_POLICY, (p) => readFile(p))));
    // the security settings spelled out here too, where reviewers and scanners (electronegativity) look for them
    const win = new BrowserWindow({ width: 1280, height: 800, minWidth: 960, minHeight: 640, show: false, title: sandbox.sandboxed ? 'keyceremony' : UNSANDBOXED_TITLE,
      webPreferences: { ...webPreferences(join(here, 'preload.cjs')), sandbox: true, contextIsolation: true, nodeIntegration: false, webSecurity: true } });
    // folders reach the renderer only as handles to what this process listed or the user chose in its dialog (src/api/folders.ts);
    // the libraries only from this process's environment: the default library and a ceremony profile's (src/api/libraries.ts)
    // the room's window (./room.ts): made as this one is, read-only, closed with it
    const room = new RoomWindow({ preload: join(here, 'preload.cjs'), title: () => (sandbox.sandboxed ? "keyceremony: the room's window" : UNSANDBOXED_TITLE) });
    win.on('closed', () => room.close());
    const handlers = createHandlers({ env: process.env, version: app.getVersion(), modulePath: process.env.KEYCEREMONY_PKCS11_MODULE, profile: process.env.KEYCEREMONY_PROFILE, printToPdf: printHtmlToPdf,
      rehearsals: join(app.getPath('userData'), 'rehearsals.jsonl'), spawnCli: utilitySpawnCli(here), chooseFolder: dialogChooseFolder(dialog, () => (win.isDestroyed() ? null : win)),
      // read at each call: a window process found unsandboxed after the start changes it (app.info's banner, a rehearsal's audit entry)
      sandbox: () => sandbox, openRoomWindow: (runId) => room.open(runId) });
    registerIpc(limitRoomIpc(ipcMain, room, (name) => CHANNELS.find((c) => ipcName(c) === name)), refuseLiveWhenUnsandboxed(handlers, () => sandbox));
    win.once('ready-to-show', () => {
      win.show();
      // the window's own process, now that it runs: Electron's per-process flag (macOS, Windows) or its seccomp filter (Linux)
      const running = sandboxFromProcesses(app.getAppMetrics(), (pid) => {
        if (process.platform !== 'linux') return null;
        try {
          return readFileSync(`/proc/${pid}/status`, 'utf8');
        } catch {
          return null;
        }
      });
      if (!running.sandboxed) sandbox = { sandboxed: false, reasons: [...sandbox.reasons, ...running.reasons] };
      sayUnsandboxed(win);
    });
    void win.loadURL(APP_START_URL);
  });
}
