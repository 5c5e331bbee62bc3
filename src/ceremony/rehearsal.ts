/**
 * Rehearsal tokens (issues 7 and 16): throw-away tokens in the ceremony folder, one for each token
 * the script names, with the script's labels. Each is made on SoftHSM2, or, when the profile puts
 * that token in NSS softokn, in a throw-away NSS database of its own (`softhsm/nss/<token>`), so a
 * rehearsal meets the same implementations as the room: the HSM on NSS, the cards on SoftHSM2. A
 * library a rehearsal cannot make throw-away tokens in (a vendor's HSM library, OpenSC) is refused
 * by name rather than quietly replaced. Their PINs are random and, so that an interrupted rehearsal
 * can resume, kept beside the tokens (mode 0600) in the throw-away store: they protect nothing but
 * simulation keys, and never appear in a log or the transcript.
 */
import { randomBytes } from 'node:crypto';
import { appendFileSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { KeyceremonyError } from '../errors.js';
import { readInput, writeFileAtomic } from '../files.js';
import { detectSoftHsm2, Pkcs11Module } from '../pkcs11/module.js';
import { nssDatabaseParams } from '../pkcs11/nss.js';
import { initNssSimulationToken, initSimulationToken } from '../pkcs11/provision.js';
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
  /** The SoftHSM2 library when any token is on it, else the first library opened. */
  readonly module: Pkcs11Module;
  /** Every library the rehearsal opened, once each. */
  readonly modules: readonly Pkcs11Module[];
  readonly tokens: Map<string, ResolvedToken>;
  close(): void;
}

/** The implementations a rehearsal makes throw-away tokens in. */
export type RehearsalLibrary = 'softhsm2' | 'nss-softokn';

/** The folder of a token's throw-away NSS database, inside the store. */
export const NSS_STORE = 'nss';

/**
 * Which implementation a library path is, by its file name (a library cannot be asked before it
 * is initialised, and NSS cannot be initialised without the parameters this decides): SoftHSM2's
 * libsofthsm2, NSS's libsoftokn3. Checked again by what the library says of itself once open.
 */
export function rehearsalLibraryOf(path: string): RehearsalLibrary | null {
  const name = basename(path);
  if (/^(?:lib)?softhsm2?\.(?:so|dylib|dll)/i.test(name)) return 'softhsm2';
  if (/^(?:lib)?softokn3\.(?:so|dylib|dll)/i.test(name)) return 'nss-softokn';
  return null;
}

export interface RehearsalOptions {
  /** The SoftHSM2 library (--module), else the one found on this machine. */
  readonly module?: string | undefined;
  /** Token name → the path of its library, from a profile: SoftHSM2 or NSS softokn. Tokens not named run on SoftHSM2. */
  readonly libraries?: ReadonlyMap<string, string> | undefined;
}

function refuseLibrary(token: string, path: string): KeyceremonyError {
  return new KeyceremonyError('REHEARSAL_LIBRARY_UNSUPPORTED', `the profile puts token ${token} in ${path}, and a rehearsal makes throw-away tokens only in SoftHSM2 (libsofthsm2) or NSS softokn (libsoftokn3)`,
    'rehearse without --profile (every token on SoftHSM2), or with a profile that names SoftHSM2 or NSS softokn for that token', { exit: 2 });
}

/**
 * The rehearsal's tokens, made (or, resuming, found) in the store inside `dir`. `opts` is the
 * SoftHSM2 library's path (the first form), or the SoftHSM2 library and each token's library.
 */
export function openRehearsalTokens(script: CeremonyScript, dir: string, opts?: string | RehearsalOptions): Rehearsal {
  const o: RehearsalOptions = typeof opts === 'string' ? { module: opts } : opts ?? {};
  const placed = new Map<string, { kind: RehearsalLibrary; path: string }>();
  let softPath: string | undefined;
  for (const t of script.tokens) {
    const chosen = o.libraries?.get(t.name);
    const kind = chosen === undefined ? 'softhsm2' : rehearsalLibraryOf(chosen);
    if (kind === null) throw refuseLibrary(t.name, chosen as string);
    if (kind === 'softhsm2') {
      // one SoftHSM2 per process: the profile's, else --module, else the one installed
      const path = softPath ?? chosen ?? o.module ?? detectSoftHsm2();
      if (path === null) throw new KeyceremonyError('REHEARSAL_NO_SOFTHSM', 'a rehearsal needs SoftHSM2 and it is not installed', 'apt-get install softhsm2', { exit: 2 });
      softPath = path;
      placed.set(t.name, { kind, path });
    } else {
      placed.set(t.name, { kind, path: chosen as string });
    }
  }
  // SoftHSM2 reads SOFTHSM2_CONF at C_Initialize, so this must precede opening the module; the store is made whole either way
  const conf = softHsmConfig(dir);
  if (softPath !== undefined) process.env.SOFTHSM2_CONF = conf;
  const pinsFile = join(dir, REHEARSAL_STORE, 'rehearsal-pins.json');
  checkPlacement(join(dir, REHEARSAL_STORE, 'rehearsal-libraries.json'), script, placed, !existsSync(pinsFile));
  if (!existsSync(pinsFile)) {
    const pins = Object.fromEntries(script.tokens.map((t) => [t.name, { so: randomBytes(12).toString('hex'), user: randomBytes(12).toString('hex') }]));
    writeFileAtomic(pinsFile, JSON.stringify(pins), false, 0o600);
  }
  const pins = readPins(pinsFile, script);
  const opened: Pkcs11Module[] = [];
  const close = (): void => { for (const m of opened) m.close(); };
  try {
    const soft = softPath === undefined ? null : openChecked(softPath, undefined, 'softhsm2', opened);
    // every NSS token of one library in the one initialization string: a library is initialised once per process
    const nssLibraries = new Map<string, string[]>();
    for (const t of script.tokens) {
      const p = placed.get(t.name);
      if (p?.kind === 'nss-softokn') nssLibraries.set(p.path, [...(nssLibraries.get(p.path) ?? []), t.name]);
    }
    const nss = new Map<string, Pkcs11Module>();
    for (const [path, names] of nssLibraries) {
      const dbs = names.map((n) => ({ dir: nssStore(dir, n), label: script.tokens.find((t) => t.name === n)?.label as string }));
      nss.set(path, openChecked(path, nssDatabaseParams(dbs), 'nss-softokn', opened));
    }
    const tokens = new Map<string, ResolvedToken>();
    for (const t of script.tokens) {
      const pin = pins[t.name] as { so: string; user: string };
      const p = placed.get(t.name) as { kind: RehearsalLibrary; path: string };
      if (p.kind === 'nss-softokn') {
        tokens.set(t.name, { token: initNssSimulationToken(nss.get(p.path) as Pkcs11Module, t.label, Buffer.from(pin.user)), pin: Buffer.from(pin.user) });
        continue;
      }
      const mod = soft as Pkcs11Module;
      const exists = listTokens(mod).some((x) => x.info.flags.initialized && x.label === t.label);
      const token = exists ? findToken(mod, { label: t.label }) : initSimulationToken(mod, t.label, Buffer.from(pin.so), Buffer.from(pin.user));
      tokens.set(t.name, { token, pin: Buffer.from(pin.user) });
    }
    return { module: soft ?? (opened[0] as Pkcs11Module), modules: [...opened], tokens, close };
  } catch (err) {
    close();
    throw err;
  }
}

/**
 * Which implementation each token was rehearsed on, written with the store: a resumed rehearsal
 * must place every token as it began (a token moved to another library would be a new, empty
 * token, and the journal's key would not be found on it). A store made before this record was
 * kept had every token on SoftHSM2.
 */
function checkPlacement(file: string, script: CeremonyScript, placed: ReadonlyMap<string, { kind: RehearsalLibrary }>, fresh: boolean): void {
  const now = Object.fromEntries(script.tokens.map((t) => [t.name, placed.get(t.name)?.kind ?? 'softhsm2']));
  if (fresh) { writeFileAtomic(file, JSON.stringify(now), false, 0o600); return; }
  let then: Record<string, unknown> = Object.fromEntries(script.tokens.map((t) => [t.name, 'softhsm2']));
  if (existsSync(file)) {
    try { then = JSON.parse(Buffer.from(readInput(file, 'the rehearsal\'s libraries', 64 * 1024)).toString('utf8')) as Record<string, unknown>; } catch (err) { if (err instanceof KeyceremonyError) throw err; throw storeRefused(`record ${file} is not JSON`); }
  }
  const moved = script.tokens.filter((t) => then[t.name] !== now[t.name]);
  if (moved.length > 0) {
    throw new KeyceremonyError('REHEARSAL_STORE_INVALID', `this rehearsal began with ${moved.map((t) => `token ${t.name} on ${String(then[t.name] ?? 'nothing')}`).join(', ')}, and is now asked to put ${moved.length === 1 ? 'it' : 'them'} on ${moved.map((t) => now[t.name]).join(', ')}`,
      'resume the rehearsal with the profile it began with, or rehearse in a new folder');
  }
}

/** A token's NSS database folder in the store, made when new (a plain folder: the store's check refuses links). */
function nssStore(dir: string, token: string): string {
  const path = join(dir, REHEARSAL_STORE, NSS_STORE, token);
  if (!existsSync(path)) mkdirSync(path, { recursive: true, mode: 0o700 });
  else if (!lstatSync(path).isDirectory()) throw storeRefused(`holds ${path}, which is not a folder`);
  return path;
}

/** A library opened for a rehearsal, which must be the implementation its file name promised. */
function openChecked(path: string, params: string | undefined, kind: RehearsalLibrary, opened: Pkcs11Module[]): Pkcs11Module {
  const mod = Pkcs11Module.open(path, params);
  if (!opened.includes(mod)) opened.push(mod);
  if (mod.implementation !== kind) {
    throw new KeyceremonyError('REHEARSAL_NOT_SIMULATION', `a rehearsal runs on throw-away ${kind === 'softhsm2' ? 'SoftHSM2' : 'NSS softokn'} tokens, and ${path} is ${mod.info.manufacturer} ${mod.info.description}`,
      kind === 'softhsm2' ? 'leave out --module, or point it at libsofthsm2' : 'name libsoftokn3 in the profile for the tokens to rehearse on NSS');
  }
  return mod;
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
