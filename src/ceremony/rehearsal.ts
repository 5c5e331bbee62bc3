/**
 * Rehearsal tokens (issue 7): throw-away SoftHSM2 tokens in the ceremony folder, one for each
 * token the script names, with the script's labels. Their PINs are random and, so that an
 * interrupted rehearsal can resume, kept beside the tokens (mode 0600) in the throw-away store:
 * they protect nothing but simulation keys, and never appear in a log or the transcript.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KeyceremonyError } from '../errors.js';
import { readInput, writeFileAtomic } from '../files.js';
import { detectSoftHsm2, Pkcs11Module } from '../pkcs11/module.js';
import { initSimulationToken } from '../pkcs11/provision.js';
import { findToken, listTokens } from '../pkcs11/tokens.js';
import type { ResolvedToken } from './context.js';
import type { CeremonyScript } from './script.js';

/** The rehearsal's throw-away token store, inside the ceremony folder. */
export const REHEARSAL_STORE = 'softhsm';

function storeRefused(what: string): KeyceremonyError {
  return new KeyceremonyError('REHEARSAL_STORE_INVALID', `the rehearsal's token store ${what}: it is not the one a rehearsal makes`, 'rehearse in a new, empty folder; never reuse a folder someone else prepared');
}

/** Every entry of the store is a plain folder or file: a link would send the throw-away tokens elsewhere. */
function checkStoreTree(path: string): void {
  const st = lstatSync(path);
  if (st.isSymbolicLink() || (!st.isDirectory() && !st.isFile())) throw storeRefused(`holds ${path}, ${st.isSymbolicLink() ? 'a link' : 'not a plain file'}`);
  if (st.isDirectory()) for (const n of readdirSync(path)) checkStoreTree(join(path, n));
}

/**
 * The SoftHSM2 configuration that keeps throw-away tokens under `dir/softhsm`: written when the
 * store is new; an existing one must be exactly what a rehearsal writes (a planted configuration
 * could point the tokens at another folder), with no link anywhere in the store.
 */
export function softHsmConfig(dir: string): string {
  const store = join(dir, REHEARSAL_STORE);
  const tokens = join(store, 'tokens');
  const conf = join(store, 'softhsm2.conf');
  const text = `# throw-away tokens of a keyceremony rehearsal\ndirectories.tokendir = ${tokens}\nobjectstore.backend = file\nlog.level = ERROR\nslots.removable = false\n`;
  if (existsSync(store) || isLink(store)) {
    checkStoreTree(store);
    if (!existsSync(conf) || readFileSync(conf, 'utf8') !== text) throw storeRefused(`configuration ${conf} differs`);
    if (!existsSync(tokens) || !lstatSync(tokens).isDirectory()) throw storeRefused(`has no token folder ${tokens}`);
    return conf;
  }
  mkdirSync(tokens, { recursive: true, mode: 0o700 });
  writeFileSync(conf, text, { mode: 0o600, flag: 'wx' });
  return conf;
}

function isLink(path: string): boolean {
  try { return lstatSync(path).isSymbolicLink(); } catch { return false; }
}

/** The store's PINs file, read as hostile input: one { so, user } pair of hex for each token of the script. */
function readPins(file: string, script: CeremonyScript): Record<string, { so: string; user: string }> {
  let v: unknown;
  try { v = JSON.parse(Buffer.from(readInput(file, 'the rehearsal PINs', 64 * 1024)).toString('utf8')); } catch (err) { if (err instanceof KeyceremonyError) throw err; v = null; }
  const pins = v !== null && typeof v === 'object' && !Array.isArray(v) ? v as Record<string, unknown> : {};
  const ok = (x: unknown): x is { so: string; user: string } => x !== null && typeof x === 'object' && Object.keys(x).length === 2
    && typeof (x as { so?: unknown }).so === 'string' && /^[0-9a-f]{24}$/.test((x as { so: string }).so) && typeof (x as { user?: unknown }).user === 'string' && /^[0-9a-f]{24}$/.test((x as { user: string }).user);
  for (const t of script.tokens) if (!ok(pins[t.name])) throw storeRefused(`PINs file has no valid PIN for token ${t.name}`);
  return pins as Record<string, { so: string; user: string }>;
}

export interface Rehearsal {
  readonly module: Pkcs11Module;
  readonly tokens: Map<string, ResolvedToken>;
  close(): void;
}

export function openRehearsalTokens(script: CeremonyScript, dir: string, modulePath?: string): Rehearsal {
  const path = modulePath ?? detectSoftHsm2();
  if (path === null) throw new KeyceremonyError('REHEARSAL_NO_SOFTHSM', 'a rehearsal needs SoftHSM2 and it is not installed', 'apt-get install softhsm2', { exit: 2 });
  // SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so this must precede opening the module.
  process.env.SOFTHSM2_CONF = softHsmConfig(dir);
  const pinsFile = join(dir, REHEARSAL_STORE, 'rehearsal-pins.json');
  if (!existsSync(pinsFile)) {
    const pins = Object.fromEntries(script.tokens.map((t) => [t.name, { so: randomBytes(12).toString('hex'), user: randomBytes(12).toString('hex') }]));
    writeFileAtomic(pinsFile, JSON.stringify(pins), false, 0o600);
  }
  const pins = readPins(pinsFile, script);
  const mod = Pkcs11Module.open(path);
  if (!mod.isSoftHsm) {
    mod.close();
    throw new KeyceremonyError('REHEARSAL_NOT_SIMULATION', `a rehearsal runs on SoftHSM2 only, and ${path} is another module`, 'leave out --module, or point it at libsofthsm2');
  }
  const tokens = new Map<string, ResolvedToken>();
  for (const t of script.tokens) {
    const pin = pins[t.name] as { so: string; user: string };
    const exists = listTokens(mod).some((x) => x.info.flags.initialized && x.label === t.label);
    const token = exists ? findToken(mod, { label: t.label }) : initSimulationToken(mod, t.label, Buffer.from(pin.so), Buffer.from(pin.user));
    tokens.set(t.name, { token, pin: Buffer.from(pin.user) });
  }
  return { module: mod, tokens, close: () => mod.close() };
}

/**
 * The record of passed rehearsals: JSON lines `{ digest, script, time, dir, result }`, appended by
 * `keyceremony ceremony run --rehearse`. A real run (CLI or app) needs a line with its script's digest.
 */
export function rehearsalPassed(record: string | undefined, digest: string): boolean {
  if (record === undefined || !existsSync(record)) return false;
  return readFileSync(record, 'utf8').split('\n').some((l) => {
    try {
      const x = JSON.parse(l) as { digest?: unknown; result?: unknown };
      return x.digest === digest && x.result === 'pass';
    } catch {
      return false; // a damaged line proves nothing
    }
  });
}

/**
 * Appends a passed rehearsal. The record is a plain file of its own: a link, or a second name of
 * another file (a hard link), would have the line written elsewhere. It is a convenience that a
 * real run checks for the script's digest, not a security boundary: anyone who can write it can
 * add a line (README).
 */
export function recordRehearsal(record: string, entry: { digest: string; script: string; time: string; dir: string }): void {
  let st;
  try { st = lstatSync(record); } catch { st = undefined; }
  if (st !== undefined && (!st.isFile() || st.nlink > 1)) {
    throw new KeyceremonyError('REHEARSAL_RECORD_INVALID', `the rehearsal record ${record} is ${st.isSymbolicLink() ? 'a link' : st.isFile() ? 'a second name of another file' : 'not a plain file'}; the pass was not recorded`, 'give --rehearsals a plain file of its own');
  }
  appendFileSync(record, `${JSON.stringify({ ...entry, result: 'pass' })}\n`, { flag: 'a', mode: 0o644 });
}
