/**
 * The set-up the E2E ceremony files share (runsheet.test.ts, ceremony.test.ts): SoftHSM2 tokens
 * standing for the HSM and the custodians' cards, the built renderer in headless Chromium with the
 * app's handler table bridged in (test/support/browser.ts), and the ceremonies of the deployment
 * that come before the one a test clicks through (FORMATS.md §8: one chain of manifests per
 * deployment), run through that same table and answered as their rooms would: each hand-over by
 * its card's PIN, each yes/no by yes, the words of a value made in the run by the words read aloud,
 * the words of a value from an earlier ceremony by what that ceremony's printed transcript says.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, realpathSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { X25519Identity } from '../../src/age/age.js';
import type { CeremonyQuestionView } from '../../src/api/contract.js';
import { createHandlers } from '../../src/api/handlers.js';
import type { HandlerContext, Handlers } from '../../src/api/handlers.js';
import { templateText } from '../../src/ceremony/templates.js';
import { buildRenderer, closeAll, folderDialog, launch, openApp, SHOTS } from '../support/browser.js';
import type { AppPage } from '../support/browser.js';
import { createSoftHsm } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';
import { ok } from '../support/result.js';
import { placeMedia } from '../support/ceremony-media.js';

/** A token the file makes: its label and its user PIN. */
export interface Card { readonly label: string; readonly pin: string }

export interface E2e {
  readonly hsm: SoftHsm;
  /** The built renderer. */
  readonly root: string;
  /** The file's temporary folder, by its real path (the app shows and writes the real path of a folder chosen). */
  readonly work: string;
  readonly browser: Browser;
  readonly handlers: Handlers;
  readonly app: AppPage;
  readonly page: Page;
  /** The main process's folder dialog, answered by the test. */
  readonly dialog: ReturnType<typeof folderDialog>;
  /** Each card's PIN, by its label. */
  readonly pins: Readonly<Record<string, string>>;
}

/**
 * The tokens made, the renderer built, Chromium launched and the app opened on a handler table
 * whose context is the default below, with `context`'s fields over it. By default the air-gap guard
 * sees no interface up, rehearsals are recorded in the work folder, and the work folder stands in
 * for the removable drive a real run's custody, exports and drill go to (the table hands its
 * environment to the live run, as it does to the drive list). What was made is removed again if a
 * later part fails.
 */
export async function openE2e(o: { readonly name: string; readonly cards: readonly Card[]; readonly context?: (made: { work: string; browser: Browser }) => Partial<HandlerContext> }): Promise<E2e> {
  const made: { hsm?: SoftHsm; root?: string; work?: string; browser?: Browser } = {};
  try {
    made.hsm = createSoftHsm(o.cards.map((c) => ({ label: c.label, pin: c.pin, soPin: '87654321' })));
    made.root = await buildRenderer();
    made.work = realpathSync(mkdtempSync(join(tmpdir(), `kc-e2e-${o.name}-`)));
    made.browser = await launch();
    const { hsm, root, work, browser } = made;
    const dialog = folderDialog();
    const handlers = createHandlers({
      env: { KEYCEREMONY_PKCS11_MODULE: hsm.module, KEYCEREMONY_REMOVABLE_ROOTS: work }, version: 'e2e', rehearsals: join(work, 'rehearsals.jsonl'),
      interfaces: () => [], chooseFolder: dialog.chooseFolder, ...o.context?.({ work, browser }),
    });
    const app = await openApp(browser, root, handlers);
    mkdirSync(SHOTS, { recursive: true });
    return { hsm, root, work, browser, handlers, app, page: app.page, dialog, pins: Object.fromEntries(o.cards.map((c) => [c.label, c.pin])) };
  } catch (e) {
    await closeAll({ browser: made.browser, hsm: made.hsm, dirs: [made.root, made.work] });
    throw e;
  }
}

/** afterAll: the browser closed, the tokens and the temporary folders removed. */
export function closeE2e(e: E2e | undefined): Promise<void> {
  return closeAll({ browser: e?.browser, hsm: e?.hsm, dirs: [e?.root, e?.work] });
}

/** A template with the file's own cards: `labels` maps a script token name to the label of the card made for it. */
export function relabelled(name: string, labels: Readonly<Record<string, string>>): string {
  const script = JSON.parse(templateText(name)!) as { tokens: { name: string; label: string }[] };
  for (const t of script.tokens) t.label = labels[t.name] ?? t.label;
  return `${JSON.stringify(script, null, 2)}\n`;
}

/**
 * What a later ceremony's witness types from the deployment's first ceremony: the root set's digest
 * (the SHA-256 of custodians.v1.json's payload, a byte in hex per slot, the first 12 as
 * fingerprints are read) and each registered key's words as its printed transcript lists them.
 */
export interface PrintedRecord {
  /** The first ceremony's folder: its custodians.v1.json and transcript.md. */
  readonly dir: string;
  readonly rootWords: readonly string[];
  keyWords(who: string): string[];
}

export function printedRecord(dir: string): PrintedRecord {
  const payload = (JSON.parse(readFileSync(join(dir, 'custodians.v1.json'), 'utf8')) as { payload: string }).payload;
  const rootWords = [...createHash('sha256').update(Buffer.from(payload, 'base64')).digest().subarray(0, 12)].map((b) => b.toString(16).padStart(2, '0'));
  const transcript = readFileSync(join(dir, 'transcript.md'), 'utf8');
  const section = transcript.slice(transcript.indexOf('## Fingerprints read aloud'));
  return {
    dir, rootWords,
    keyWords: (who) => {
      const row = section.split('\n').find((l) => l.startsWith(`| ${who} | `));
      if (row === undefined) throw new Error(`the transcript in ${dir} lists no fingerprint for ${who}`);
      return row.split('|')[3]!.trim().split(' ');
    },
  };
}

/** The words a witness types from the record for a question whose value comes from an earlier ceremony. */
function fromRecord(record: PrintedRecord | undefined, q: CeremonyQuestionView): string[] {
  if (record === undefined) throw new Error(`"${q.what}" asks for words from an earlier ceremony's record, and the test gave none`);
  if (q.what.startsWith("the root set's digest")) return [...record.rootWords];
  const who = /^the fingerprint of (\w+)'s key/.exec(q.what)?.[1];
  if (who === undefined) throw new Error(`no words in the record for "${q.what}"`);
  return record.keyWords(who);
}

/**
 * Runs `script` live in the new folder `dir` (chosen in the folder dialog) through the handler table
 * the page uses, its room answering every hand-over and question, and returns when it is done. The
 * rehearsal is skipped for `reason`, written in its audit log.
 */
export async function runThroughTable(e: E2e, o: { readonly script: string; readonly dir: string; readonly reason: string; readonly record?: PrintedRecord }): Promise<void> {
  mkdirSync(o.dir, { recursive: true });
  e.dialog.answer(o.dir);
  const folder = ok(await e.handlers['folders.choose']({ purpose: 'ceremony' })).folder!.handle;
  const { runId } = ok(await e.handlers['ceremony.start']({ script: o.script, ceremonyFolder: folder, noRehearsal: true, reason: o.reason }));
  for (let i = 0; i < 4000; i++) {
    const s = ok(await e.handlers['ceremony.status']({ runId }));
    if (s.state === 'done') return;
    if (s.state === 'failed') throw new Error(`the ceremony in ${o.dir} stopped: ${s.error?.code ?? ''}: ${s.error?.message ?? ''}`);
    if (s.pinRequest !== null) ok(await e.handlers['ceremony.pin']({ runId, token: s.pinRequest.token, pin: e.pins[s.pinRequest.label]! }));
    else if (s.question !== null) {
      const q = s.question;
      const words = q.slots === 0 ? undefined : q.source === 'record' ? fromRecord(o.record, q) : [...q.words!];
      ok(await e.handlers['ceremony.answer']({ runId, confirmed: true, ...(words === undefined ? {} : { words }) }));
    } else await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error(`the ceremony in ${o.dir} did not end`);
}

/**
 * The deployment's first ceremony in `dir`: the keys-in-use template (the custodians' keys made on
 * the cards, their 2-of-3 set, the keys in use brought into a new chain, rotation.1 to 3), with the
 * file's `labels`. Returns what its printed transcript gives the later ceremonies' witnesses.
 */
export async function firstCeremony(e: E2e, dir: string, labels: Readonly<Record<string, string>> = {}): Promise<PrintedRecord> {
  await runThroughTable(e, { script: relabelled('keys-in-use', labels), dir, reason: 'the first ceremony of this test' });
  return printedRecord(dir);
}

/**
 * The ceremony media of a later ceremony, put in its folder `dir` (made if missing): the set the
 * deployment's first ceremony formed, the last manifest of the chain so far (`previous`, a path; it
 * keeps its name), and, when given, the deployment's age `recipients` (deployment/recipients.txt).
 */
export function ceremonyMedia(dir: string, o: { readonly record: PrintedRecord; readonly previous: string; readonly recipients?: string }): void {
  placeMedia(dir, { set: join(o.record.dir, 'custodians.v1.json'), previous: o.previous, recipients: o.recipients });
}

/** A test deployment's age recipient (as the demo makes one, src/ceremony/demo.ts); its identity is thrown away: nothing here opens what is sealed. */
export function testRecipient(): string {
  const id = X25519Identity.generate();
  try {
    return id.recipient;
  } finally {
    id.dispose();
  }
}
