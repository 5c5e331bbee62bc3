/**
 * The main process: a thin shell. It hardens Electron, serves the built UI from
 * app://keyceremony/, and registers the handler table of src/api over IPC. pkcs11js is loaded
 * here only, by the core.
 */
import { app, BrowserWindow, dialog, ipcMain, net, protocol, session } from 'electron';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createHandlers } from '../../src/api/handlers.js';
import { dialogChooseFolder } from './dialog.js';
import { registerIpc } from './ipc.js';
import { printHtmlToPdf } from './pdf.js';
import { utilitySpawnCli } from './rehearsal.js';
import { resolveAppFile } from './protocol.js';
import { APP_SCHEME, APP_START_URL, CONTENT_SECURITY_POLICY, hardenContents, hardenSession, webPreferences } from './security.js';

const here = __dirname; // dist/electron after bundling
const rendererRoot = join(here, '..', 'renderer');

app.enableSandbox();
app.setAppUserModelId('keyceremony');
if (!app.requestSingleInstanceLock()) {
  app.quit();
} else {
  protocol.registerSchemesAsPrivileged([{ scheme: APP_SCHEME, privileges: { standard: true, secure: true, supportFetchAPI: false, corsEnabled: false } }]);
  app.on('web-contents-created', (_e, contents) => hardenContents(contents));
  app.on('second-instance', () => BrowserWindow.getAllWindows()[0]?.focus());
  app.on('window-all-closed', () => app.quit());
  void app.whenReady().then(() => {
    hardenSession(session.defaultSession);
    protocol.handle(APP_SCHEME, async (request) => {
      const file = resolveAppFile(rendererRoot, request.url);
      if (file === null) return new Response('not found', { status: 404 });
      const res = await net.fetch(pathToFileURL(file.path).toString());
      return new Response(res.body, { status: 200, headers: { 'content-type': file.type, 'content-security-policy': CONTENT_SECURITY_POLICY, 'x-content-type-options': 'nosniff' } });
    });
    // the security settings spelled out here too, where reviewers and scanners (electronegativity) look for them
    const win = new BrowserWindow({ width: 1280, height: 800, minWidth: 960, minHeight: 640, show: false, title: 'keyceremony',
      webPreferences: { ...webPreferences(join(here, 'preload.cjs')), sandbox: true, contextIsolation: true, nodeIntegration: false, webSecurity: true } });
    // folders reach the renderer only as handles to what this process listed or the user chose in its dialog (src/api/folders.ts)
    registerIpc(ipcMain, createHandlers({ env: process.env, version: app.getVersion(), modulePath: process.env.KEYCEREMONY_PKCS11_MODULE, printToPdf: printHtmlToPdf,
      rehearsals: join(app.getPath('userData'), 'rehearsals.jsonl'), spawnCli: utilitySpawnCli(here), chooseFolder: dialogChooseFolder(dialog, () => (win.isDestroyed() ? null : win)) }));
    win.once('ready-to-show', () => win.show());
    void win.loadURL(APP_START_URL);
  });
}
