/**
 * The harness is only worth something if it notices: each hardening line is removed in turn from
 * a copy of the built shell (a string edit on the bundle, as a careless change or a bad merge
 * would make it) and the harness must report a problem for each (issue 19, acceptance). The
 * lines of the PDF path are removed from the shell bundled with pdf.ts's exports ('print') and
 * checked by pdf-harness.ts. The room's window (issue 15) is checked through the main bundle, and
 * its fragment check in room.ts alone ('room').
 */
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { bundlePrintShell, printProblems } from './pdf-harness.js';
import { bundleShell, shellProblems } from './shell-harness.js';
import type { ShellBuild } from './shell-harness.js';

type Target = 'main' | 'preload' | 'pdf' | 'print' | 'room';
const flip = (k: string, v: boolean): [string, Target, RegExp, string] => [`webPreferences.${k}: ${String(v)}`, 'main', new RegExp(`\\b${k}: ${String(v)}\\b`, 'g'), `${k}: ${String(!v)}`];

/** [what is removed, bundle, every occurrence of, replaced by] */
const MUTATIONS: [string, Target, RegExp, string][] = [
  ['app.enableSandbox()', 'main', /\w+\.app\.enableSandbox\(\);/g, ''],
  ['the app user model id equal to the appId', 'main', /setAppUserModelId\(APP_ID\)/g, 'setAppUserModelId("keyceremony")'],
  ['the single-instance lock', 'main', /if \(!(\w+\.app\.requestSingleInstanceLock\(\))\)/g, 'if (!($1, true))'],
  ['app:// registered as secure', 'main', /secure: true, supportFetchAPI/g, 'secure: false, supportFetchAPI'],
  ['hardening every web contents', 'main', /app\.on\("web-contents-created", \(_e, contents\) => hardenContents\(contents\)\);/g, 'app.on("web-contents-created", () => undefined);'],
  ['refusing will-navigate', 'main', /contents\.on\("will-navigate", \((\w+)\) => \1\.preventDefault\(\)\);/g, ''],
  ['refusing will-redirect', 'main', /contents\.on\("will-redirect", \((\w+)\) => \1\.preventDefault\(\)\);/g, ''],
  ['refusing will-attach-webview', 'main', /contents\.on\("will-attach-webview", \((\w+)\) => \1\.preventDefault\(\)\);/g, ''],
  ['denying window.open', 'main', /\{ action: "deny" \}/g, '{ action: "allow" }'],
  ['denying permission requests', 'main', /callback\(false\)/g, 'callback(true)'],
  ['answering permission checks false', 'main', /setPermissionCheckHandler\(\(\) => false\)/g, 'setPermissionCheckHandler(() => true)'],
  ['cancelling every other request', 'main', /cancel: !isAllowedRequestFrom\(details, printing\)/g, 'cancel: false'],
  ['only our own host allowed', 'main', /u\.host === APP_HOST \|\| u\.protocol === "data:"/g, 'true || u.protocol === "data:"'],
  flip('sandbox', true), flip('contextIsolation', true), flip('nodeIntegration', false), flip('nodeIntegrationInWorker', false), flip('nodeIntegrationInSubFrames', false),
  flip('webSecurity', true), flip('allowRunningInsecureContent', false), flip('experimentalFeatures', false), flip('webviewTag', false), flip('navigateOnDragDrop', false), flip('spellcheck', false),
  ['devtools off unless asked', 'main', /devTools: process\.env\.KEYCEREMONY_DEVTOOLS === "1"/g, 'devTools: true'],
  ['the window shown only when ready', 'main', /show: false,\n\s*title:/g, 'show: true, title:'],
  ['the CSP header', 'main', /"content-security-policy": csp, /g, ''],
  ['x-content-type-options: nosniff', 'main', /"x-content-type-options": "nosniff", /g, ''],
  ["connect-src 'none'", 'main', /"connect-src 'none'"/g, '"connect-src *"'],
  ["default-src 'none'", 'main', /"default-src 'none'"/g, '"default-src *"'],
  ['confinement to the renderer folder', 'main', /rel\.split\("\/"\)\.some\(\(s\) => s === "\.\."\)\) return null;\n(\s*const path = [^\n]*\n)\s*if \(!path\.startsWith\([^\n]*\n/g, 'false) return null;\n$1'],
  ['a 404 for a missing file', 'main', /if \(code === "ENOENT" \|\| code === "ENOTDIR" \|\| code === "EISDIR"\) return notFound\(\);/g, 'throw err;'],
  ['reading the files directly (not net.fetch of file:)', 'main', /body = await read\(file\.path\);/g,
    'body = new Uint8Array(await (await require("electron").net.fetch(require("node:url").pathToFileURL(file.path).href)).arrayBuffer());'],
  ['the top-frame check', 'main', / \|\| frame\.parent !== null\) return false;/g, ') return false;'],
  ["the sender's host check", 'main', /return u\.protocol === `\$\{APP_SCHEME\}:` && u\.host === APP_HOST;/g, 'return u.protocol === `${APP_SCHEME}:`;'],
  ['the sender check in the IPC helper', 'main', /if \(!trusted\(event\.senderFrame\)\) return FORBIDDEN;/g, ''],
  ['detecting --no-sandbox', 'main', /if \(commandLine\.hasSwitch\(s\)\) reasons\.push/g, 'if (false) reasons.push'],
  ['ELECTRON_DISABLE_SANDBOX detected', 'main', /if \(env\.ELECTRON_DISABLE_SANDBOX !== void 0/g, 'if (false && env.ELECTRON_DISABLE_SANDBOX !== void 0'],
  ["the window process's sandbox checked", 'main', /if \(!running\.sandboxed\) sandbox =/g, 'if (false) sandbox ='],
  ['refusing a live ceremony unsandboxed', 'main', /current\(\)\.sandboxed \? handlers\["ceremony\.start"\]/g, 'true ? handlers["ceremony.start"]'],
  ['the unsandboxed notice', 'main', /recordUnsandboxed\(\(0, [^\n]*\n/g, '\n'],
  ['the sandbox reading handed to the handler table', 'main', /sandbox: \(\) => sandbox\b/g, 'sandbox: () => ({ sandboxed: true, reasons: [] })'],
  ['the unsandboxed warning dialog', 'main', /void (\w+)\.dialog\.showMessageBox\(/g, 'void (() => undefined)('],
  ['the unsandboxed title', 'main', /win\.setTitle\(UNSANDBOXED_TITLE\);/g, ''],
  ['the PDF window without JavaScript', 'pdf', /javascript: false/g, 'javascript: true'],
  ['the PDF window sandboxed', 'pdf', /sandbox: true/g, 'sandbox: false'],
  ['the PDF window destroyed', 'pdf', /win\.destroy\(\);/g, ''],
  // the transcript PDF from a private temporary file served as app://print/<random>.html to its window only (issue 19, item 4)
  ['the PDF page loaded from app://print/, not a data: URL', 'print', /await win\.loadURL\(page\);/g, 'await win.loadURL("data:text/html;charset=utf-8," + encodeURIComponent(html));'],
  ['the PDF page loaded from app://print/, not a file: URL', 'print', /await win\.loadURL\(page\);/g, 'await win.loadURL(require("node:url").pathToFileURL(file).href);'],
  ['the private folder made by mkdtemp (new, random, 0700)', 'print', /\(0, (\w+)\.mkdtempSync\)\((\(0, \w+\.join\)\(\(0, \w+\.tmpdir\)\(\), "keyceremony-print-"\))\)/g,
    '((p) => ($1.mkdirSync(p + "shared", { recursive: true, mode: 493 }), p + "shared"))($2)'],
  ['the private file mode 0600', 'print', /O_NOFOLLOW \?\? 0\), 384\)/g, 'O_NOFOLLOW ?? 0), 420)'],
  ['the private file created only where nothing is, never through a link', 'print', / \| (\w+)\.constants\.O_EXCL \| \(\1\.constants\.O_NOFOLLOW \?\? 0\), 384\)/g, ', 384)'],
  ['the temporary folder removed', 'print', /\(0, \w+\.rmSync\)\(dir, \{ recursive: true, force: true, maxRetries: 3 \}\);/g, ''],
  ['the temporary folder removed when printing fails', 'print', /\} catch \(error\) \{\n(\s*)\w+ = \{ ok: false, error \};/g, '} catch (error) {\n$1throw error;'],
  ['the page forgotten after printing', 'print', /printPages\.remove\(page\);/g, ''],
  ['a random page name', 'print', /\$\{\(0, \w+\.randomBytes\)\(16\)\.toString\("hex"\)\}\.html/g, '${"0".repeat(32)}.html'],
  ['a 404 for any other app://print/ URL', 'print', /const page = this\.#pages\.get\(url\);/g, 'const page = this.#pages.get(url) ?? [...this.#pages.values()][0];'],
  ["the page's CSP sent", 'print', /appHeaders\("text\/html; charset=utf-8", page\.csp\)/g, 'appHeaders("text/html; charset=utf-8", "")'],
  ["the page's CSP: script-src 'none'", 'print', /"script-src 'none'",/g, '"script-src \'unsafe-inline\'",'],
  ["the page's CSP: its own style elements by hash", 'print', /`style-src \$\{hashes\.size === 0 \? "'none'" : \[\.\.\.hashes\]\.join\(" "\)\}`/g, '"style-src \'unsafe-inline\'"'],
  ['a print window loads its own page only', 'print', /if \(page !== void 0\) return details\.url === page;/g, 'if (page !== void 0 && details.url === page) return true;'],
  ['a print page loaded by its own window only', 'print', /if \(p\.webContentsId === webContentsId\) return url;/g, 'return url;'],
  ['the print windows known to the session', 'print', /hardenSession\((\w+)\.session\.defaultSession, printPages\)/g, 'hardenSession($1.session.defaultSession)'],
  // the room's window (issue 15, electron/main/room.ts): made and hardened as the app window, one at most, read-only, closed with it
  ["the room window made with the app window's webPreferences", 'main', /webPreferences: \{ \.\.\.webPreferences\(this\.#o\.preload\), /g, 'webPreferences: { preload: this.#o.preload, '],
  ['the room window shown only when ready', 'main', /show: false,\n(\s*)title: this\.#o\.title\(\),/g, 'show: true,\n$1title: this.#o.title(),'],
  ['the room window closed with the app window', 'main', /win\.on\("closed", \(\) => room\.close\(\)\);/g, ''],
  ['the room window focused, not loaded again, for the run it shows', 'main', /if \((\w+) !== null && this\.#runId === runId\) \{/g, 'if (false) {'],
  ['one room window at most (moved to another run)', 'main', /if \((\w+) !== null\) \{\n(\s*)this\.#runId = runId;/g, 'if (false) {\n$2this.#runId = runId;'],
  ['the room window answered on ceremony.status only', 'main', /if \(room\.isRoom\(event\.sender\) && [^\n]*\n/g, '\n'],
  ['the room window told apart by its WebContents id', 'main', /sender\.id === win\.webContents\.id/g, 'sender.id === -1'],
  ['no room window for a run the table does not know', 'main', /await status\(\{ runId: r\.runId \}\);/g, ''],
  ["the room window's fragment checked in room.ts", 'room', /if \(!RUN_ID\.test\(runId\)\) throw [^\n]*\n/g, ''],
  ['the preload object frozen', 'preload', /Object\.freeze\(/g, '('],
  ['the preload requiring only electron', 'preload', /^/g, 'require("node:fs");\n'],
  ['the preload exposing one object', 'preload', /(\w+)\.contextBridge\.exposeInMainWorld\("keyceremony", api\);/g, '$1.contextBridge.exposeInMainWorld("keyceremony", api); $1.contextBridge.exposeInMainWorld("ipcRenderer", $1.ipcRenderer);'],
];

describe('the shell harness fails when any hardening line is removed from the built shell', () => {
  let build: ShellBuild;
  let print: string;
  beforeAll(() => { build = bundleShell(); print = bundlePrintShell(build); }, 60_000);
  afterAll(() => rmSync(build.dir, { recursive: true, force: true }));
  const bundle = (target: Target) => (target === 'print' ? print : build[target]);

  test('the unmutated shell passes', async () => {
    expect(await shellProblems(build)).toEqual([]);
    expect(await printProblems(print)).toEqual([]);
  }, 60_000);
  test.each(MUTATIONS)('without %s', async (_what, target, find, replace) => {
    const original = readFileSync(bundle(target), 'utf8');
    const mutated = original.replace(find, replace);
    // the line is in the bundle: a mutation that no longer matches is a stale test, not a pass
    expect(mutated).not.toBe(original);
    const file = join(build.dir, 'electron', `mutant-${target}.cjs`);
    writeFileSync(file, mutated);
    const problems = target === 'print' ? await printProblems(file) : await shellProblems(build, { [target]: file });
    expect(problems.length).toBeGreaterThan(0);
  }, 60_000);
});
