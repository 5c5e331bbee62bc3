/**
 * Window and session hardening, written once (Electron security checklist; Signal-Desktop).
 * The app is air-gapped: it loads only its own files from app://keyceremony/, navigates
 * nowhere, opens no windows, grants no permissions, and cancels every other request.
 */
export const APP_SCHEME = 'app';
export const APP_HOST = 'keyceremony';
export const APP_ORIGIN = `${APP_SCHEME}://${APP_HOST}`;
export const APP_START_URL = `${APP_ORIGIN}/index.html`;

/** CSP sent with every app:// response (and repeated in index.html): nothing remote, no eval, no connections. */
export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'", "script-src 'self'", "style-src 'self'", "img-src 'self' data:", "font-src 'self'",
  "connect-src 'none'", "object-src 'none'", "base-uri 'none'", "form-action 'none'", "frame-ancestors 'none'",
].join('; ');

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
  webRequest: { onBeforeRequest(listener: (details: { url: string }, callback: (response: { cancel: boolean }) => void) => void): void };
}

export function hardenSession(session: HardenableSession): void {
  session.setPermissionRequestHandler((_wc, _permission, callback) => callback(false));
  session.setPermissionCheckHandler(() => false);
  session.webRequest.onBeforeRequest((details, callback) => callback({ cancel: !isAllowedRequest(details.url) }));
}
