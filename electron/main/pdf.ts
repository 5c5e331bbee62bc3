/**
 * Printing the ceremony transcript to PDF (issue 7): the transcript's self-contained HTML is
 * loaded into an offscreen window with JavaScript off and the sandbox on, printed with
 * webContents.printToPDF, and the window destroyed. The core decides where the PDF goes.
 */
import { BrowserWindow } from 'electron';

export async function printHtmlToPdf(html: string): Promise<Uint8Array> {
  const win = new BrowserWindow({ show: false, webPreferences: { javascript: false, sandbox: true, contextIsolation: true, nodeIntegration: false, webSecurity: true } });
  try {
    await win.loadURL(`data:text/html;charset=utf-8,${encodeURIComponent(html)}`);
    return new Uint8Array(await win.webContents.printToPDF({ printBackground: true, pageSize: 'A4' }));
  } finally {
    win.destroy();
  }
}
