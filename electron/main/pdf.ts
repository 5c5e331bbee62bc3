/**
 * Printing the ceremony transcript to PDF (issues 7 and 19). The transcript's self-contained HTML
 * is written to a private temporary folder and served to an offscreen window as
 * app://print/<128 random bits>.html, which only that window may load (./security.ts) and which
 * answers with a CSP allowing no script (./protocol.ts). Not a data: URL: Chromium refuses URLs
 * longer than 2 MiB (url::kMaxURLChars), which a long ceremony's transcript passes. Not a file:
 * URL: the session cancels every file: request. The window runs no JavaScript, with the sandbox
 * on; after printToPDF the page is forgotten, the window destroyed and the folder removed, also
 * when loading or printing fails. The core decides where the PDF goes.
 */
import { BrowserWindow } from 'electron';
import { closeSync, constants, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { KeyceremonyError } from '../../src/errors.js';
import { PrintPages } from './protocol.js';
import { printContentSecurityPolicy } from './security.js';

/** The pages being printed: answered by the app:// handler and let through by the session for their window only (./index.ts). */
export const printPages = new PrintPages();

/**
 * Creates `file` with `text`, readable and writable by its owner only, failing if anything is
 * already there: O_CREAT|O_EXCL refuses an existing path, a symbolic link included (POSIX open(2)),
 * and O_NOFOLLOW is added where the OS has it (not on Windows, where the mode bits mean nothing
 * either and the user's temporary folder is private).
 */
export function writePrivateFile(file: string, text: string): void {
  if (typeof text !== 'string') throw new TypeError(`"text" expected a string, got ${typeof text}`);
  const fd = openSync(file, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | (constants.O_NOFOLLOW ?? 0), 0o600);
  try {
    writeFileSync(fd, text, 'utf8');
  } finally {
    closeSync(fd);
  }
}

export async function printHtmlToPdf(html: string): Promise<Uint8Array> {
  if (typeof html !== 'string') throw new TypeError(`"html" expected a string, got ${typeof html}`);
  // mkdtemp(3): a new folder with a random name and mode 0700, made by mkdir, which never follows a link
  const dir = mkdtempSync(join(tmpdir(), 'keyceremony-print-'));
  let result: { ok: true; pdf: Uint8Array } | { ok: false; error: unknown };
  try {
    const file = join(dir, 'transcript.html');
    writePrivateFile(file, html);
    const win = new BrowserWindow({ show: false, webPreferences: { javascript: false, sandbox: true, contextIsolation: true, nodeIntegration: false, webSecurity: true, webviewTag: false, spellcheck: false, devTools: false } });
    const page = printPages.add(file, win.webContents.id, printContentSecurityPolicy(html));
    try {
      await win.loadURL(page);
      result = { ok: true, pdf: new Uint8Array(await win.webContents.printToPDF({ printBackground: true, pageSize: 'A4' })) };
    } finally {
      printPages.remove(page);
      win.destroy();
    }
  } catch (error) {
    result = { ok: false, error };
  }
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (cause) {
    // a copy of the transcript left behind is said, not hidden behind the PDF or the print's own error
    throw new KeyceremonyError('PDF_TEMP_LEFT', `the transcript's temporary copy could not be removed: ${dir}`, 'delete that folder by hand', { cause: result.ok ? cause : new AggregateError([result.error, cause]) });
  }
  if (!result.ok) throw result.error;
  return result.pdf;
}
