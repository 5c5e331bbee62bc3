/**
 * A ceremony profile (issues 7 and 16): where the script's tokens are, in which PKCS#11 library,
 * and where their PINs come from, kept apart from the reviewed script so the script that was
 * rehearsed is the one that runs. PINs themselves are never in it: each token names an
 * environment variable, or nothing (then the PIN is asked for on the terminal).
 *
 * Libraries follow CLI.md's rule for URIs: `module` (with `moduleParams`, C_Initialize's reserved
 * argument, for a library such as NSS softokn that needs it) at the top is the default library;
 * a token's own `module` (and `moduleParams`) names that token's library alone. So one room runs
 * an HSM on its vendor's library and the custodians' cards on OpenSC's. A profile of one `module`
 * (the first form of this profile) is still the same profile. A library is process-global
 * (PKCS#11 2.40 §5.4): it is opened once however many tokens use it, so its parameters are given
 * once, or the same wherever they are repeated.
 */
import { Fields } from '../docs/fields.js';
import type { JsonObject } from '../docs/fields.js';
import type { JsonValue } from '../json/strict.js';
import { DocumentError } from '../docs/problems.js';
import { readJson } from '../dsse/envelope.js';
import { isKeyceremonyError, KeyceremonyError } from '../errors.js';
import { describeLibrary, Pkcs11Module } from '../pkcs11/module.js';
import { findToken } from '../pkcs11/tokens.js';
import type { Token } from '../pkcs11/tokens.js';
import type { CeremonyScript } from './script.js';

export const PROFILE_SPEC = 'keyceremony/ceremony-profile@1';

const MODULE_PATH = /^\/[^\u0000]{1,4095}$/;
/** Initialization parameters: one line of printable text (NSS's are a few hundred characters). */
const MODULE_PARAMS = /^[^\u0000-\u001f\u007f]{1,4096}$/;
const PIN_ENV = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/** One library of the profile: its path, its parameters (or none), and the script's tokens in it. */
export interface ProfileLibrary {
  readonly path: string;
  readonly params: string | undefined;
  readonly tokens: readonly string[];
}

export interface ProfileToken {
  readonly pinEnv: string | null;
  /** The path of the token's library (its own `module`, else the profile's). */
  readonly library: string;
}

export interface CeremonyProfile {
  /** The default library, or null when every token names its own. */
  readonly module: string | null;
  /** Every library the profile uses, once each, in the order of the script's tokens. */
  readonly libraries: readonly ProfileLibrary[];
  readonly tokens: ReadonlyMap<string, ProfileToken>;
}

/** A closed object with optional members: unknown and missing required members reported by path. */
function closed(f: Fields, v: JsonValue | undefined, path: string, required: readonly string[], optional: readonly string[]): JsonObject | undefined {
  if (v === null || v === undefined || typeof v !== 'object' || Array.isArray(v)) return f.add('DOCUMENT_WRONG_TYPE', path, 'expected an object');
  let ok = true;
  for (const k of Object.keys(v)) {
    if (!required.includes(k) && !optional.includes(k)) { f.add('DOCUMENT_UNKNOWN_MEMBER', `${path}.${k}`, 'member not allowed here (documents are closed)'); ok = false; }
  }
  for (const k of required) {
    if (!Object.hasOwn(v, k)) { f.add('DOCUMENT_MISSING_MEMBER', `${path}.${k}`, 'required member is missing'); ok = false; }
  }
  return ok ? v : undefined;
}

export function parseProfile(bytes: Uint8Array, script: CeremonyScript | null): CeremonyProfile {
  const json = readJson(bytes, 64 * 1024, 'the ceremony profile');
  const f = new Fields();
  const o = closed(f, json, '$', ['spec', 'tokens'], ['module', 'moduleParams']);
  if (o === undefined) throw new DocumentError(f.problems, 'the ceremony profile');
  if (f.string(o.spec, 'spec') !== PROFILE_SPEC) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${PROFILE_SPEC}"`);
  const module = o.module === undefined ? null : f.string(o.module, 'module', { pattern: MODULE_PATH, what: 'the absolute path of the PKCS#11 library' }) ?? null;
  const params = o.moduleParams === undefined ? undefined : f.string(o.moduleParams, 'moduleParams', { pattern: MODULE_PARAMS, what: "the library's initialization parameters (one line)" });
  if (o.moduleParams !== undefined && o.module === undefined) f.add('PROFILE_PARAMS_WITHOUT_MODULE', 'moduleParams', 'parameters belong to a library: name it in module');
  const tokens = new Map<string, ProfileToken>();
  // path → the parameters given for it, and where (a library is initialised once, with one string)
  const given = new Map<string, { params: string | undefined; at: string; tokens: string[] }>();
  const use = (path: string, p: string | undefined, at: string, token: string | null): void => {
    const g = given.get(path);
    if (g === undefined) { given.set(path, { params: p, at, tokens: token === null ? [] : [token] }); return; }
    if (token !== null) g.tokens.push(token);
    if (p === undefined) return;
    if (g.params === undefined) { g.params = p; g.at = at; return; }
    if (g.params !== p) f.add('PROFILE_PARAMS_CONFLICT', at, `${path} is one library, opened once: its parameters differ from those in ${g.at}`);
  };
  if (module !== null) use(module, params, 'moduleParams', null);
  // null: the profile's own token names (the app lists its libraries before any script is chosen)
  const own = o.tokens !== null && typeof o.tokens === 'object' && !Array.isArray(o.tokens) ? Object.keys(o.tokens) : [];
  const names = script === null ? own : script.tokens.map((t) => t.name);
  const to = f.object(o.tokens, 'tokens', names);
  if (to !== undefined) {
    for (const name of names) {
      const at = `tokens.${name}`;
      const e = closed(f, to[name], at, ['pinEnv'], ['module', 'moduleParams']);
      if (e === undefined) continue;
      const pinEnv = f.nullableString(e.pinEnv, `${at}.pinEnv`, { pattern: PIN_ENV, what: 'the NAME of an environment variable (never the PIN), or null to be asked' });
      const own = e.module === undefined ? undefined : f.string(e.module, `${at}.module`, { pattern: MODULE_PATH, what: 'the absolute path of the PKCS#11 library' });
      const ownParams = e.moduleParams === undefined ? undefined : f.string(e.moduleParams, `${at}.moduleParams`, { pattern: MODULE_PARAMS, what: "the library's initialization parameters (one line)" });
      if (e.moduleParams !== undefined && e.module === undefined) f.add('PROFILE_PARAMS_WITHOUT_MODULE', `${at}.moduleParams`, 'parameters belong to a library: name it in module here, or give them with the top-level module');
      const library = own ?? module;
      if (e.module === undefined && o.module === undefined) f.add('PROFILE_NO_MODULE', `${at}.module`, 'no library for this token: name it here, or give a top-level module for every token that names none');
      if (library === null || library === undefined) continue;
      use(library, own === undefined ? undefined : ownParams, own === undefined ? 'moduleParams' : `${at}.moduleParams`, name);
      if (pinEnv !== undefined) tokens.set(name, { pinEnv, library });
    }
  }
  if (f.problems.length > 0) throw new DocumentError(f.problems, 'the ceremony profile');
  const libraries = [...given].filter(([, g]) => g.tokens.length > 0).map(([path, g]) => Object.freeze({ path, params: g.params, tokens: Object.freeze([...g.tokens]) }));
  return Object.freeze({ module, libraries: Object.freeze(libraries), tokens });
}

/** The fix for a library of the profile that would not open, by its code. */
function profileFix(code: string, lib: ProfileLibrary, where: string): string {
  switch (code) {
    case 'HSM_MODULE_NEEDS_PARAMS': return `give its initialization parameters in the profile, as ${where} (for NSS softokn: configdir='sql:/path/to/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags=)`;
    case 'HSM_MODULE_PARAMS_REJECTED': return `check ${where} in the profile against the library's documentation (for NSS softokn, a database folder that exists)`;
    case 'HSM_MODULE_NOT_FOUND': return `install the library, or correct its path in the profile (used by ${lib.tokens.join(', ')})`;
    case 'HSM_MODULE_LOAD_FAILED': return `name the vendor's PKCS#11 library in the profile (a .so, .dylib or .dll exporting C_GetFunctionList), used by ${lib.tokens.join(', ')}`;
    default: return '';
  }
}

/** Where a library's parameters go in the profile: beside the top-level module, or in the token that names it. */
function paramsPlace(profile: CeremonyProfile, lib: ProfileLibrary): string {
  return profile.module === lib.path ? 'moduleParams' : `tokens.${lib.tokens[0] ?? '?'}.moduleParams`;
}

export interface OpenedProfile {
  /** Each of the script's tokens, found in its own library. */
  readonly tokens: ReadonlyMap<string, Token>;
  /** Each library, opened once. */
  readonly modules: readonly Pkcs11Module[];
  close(): void;
}

/**
 * Opens every library of the profile once, with its parameters, and finds each token of the
 * script in its own library (by label, and serial when the script gives one). A library that will
 * not open is reported with its code, the tokens that need it and the fix in the profile; when
 * several will not, all are listed in one refusal. Nothing is left open when this throws.
 */
/** Each library of the profile, opened once; one that will not open is named with where its fix goes in the profile (several in one refusal). */
export function openLibraries(profile: CeremonyProfile): Map<string, Pkcs11Module> {
  const modules = new Map<string, Pkcs11Module>();
  const failures: { lib: ProfileLibrary; err: KeyceremonyError }[] = [];
  const close = (): void => { for (const m of new Set(modules.values())) m.close(); };
  for (const lib of profile.libraries) {
    try {
      modules.set(lib.path, Pkcs11Module.open(lib.path, lib.params));
    } catch (err) {
      if (!isKeyceremonyError(err)) { close(); throw err; }
      failures.push({ lib, err });
    }
  }
  if (failures.length > 0) {
    close();
    const one = failures.length === 1 ? failures[0] : undefined;
    if (one !== undefined) {
      const fix = profileFix(one.err.code, one.lib, paramsPlace(profile, one.lib));
      throw new KeyceremonyError(one.err.code, `${one.err.message} (the library of ${one.lib.tokens.join(', ')} in the profile)`, fix === '' ? one.err.fix : fix, { exit: one.err.exit, cause: one.err });
    }
    throw new KeyceremonyError('CEREMONY_LIBRARIES_UNAVAILABLE', `${failures.length} libraries of the profile would not open: ${failures.map((x) => `${x.lib.path} (for ${x.lib.tokens.join(', ')}): ${x.err.code}: ${x.err.message}`).join(' | ')}`,
      failures.map((x) => profileFix(x.err.code, x.lib, paramsPlace(profile, x.lib)) || x.err.fix).join('; '), { exit: failures.some((x) => x.err.exit === 2) ? 2 : 1 });
  }
  return modules;
}

export function openProfile(profile: CeremonyProfile, script: CeremonyScript): OpenedProfile {
  const modules = openLibraries(profile);
  const close = (): void => { for (const m of new Set(modules.values())) m.close(); };
  const tokens = new Map<string, Token>();
  try {
    for (const t of script.tokens) {
      const p = profile.tokens.get(t.name);
      const mod = p === undefined ? undefined : modules.get(p.library);
      if (mod === undefined) throw new KeyceremonyError('CEREMONY_TOKEN_UNRESOLVED', `the profile names no library for token ${t.name}`, 'name it in the profile');
      tokens.set(t.name, findToken(mod, { label: t.label, ...(t.serial === null ? {} : { serial: t.serial }) }));
    }
  } catch (err) {
    close();
    throw err;
  }
  return { tokens, modules: [...new Set(modules.values())], close };
}

/** One line per token for the room: which library it is in. */
export function libraryLines(tokens: ReadonlyMap<string, Token>): string[] {
  return [...tokens].map(([name, t]) => `  token ${name} ("${t.label}"): ${describeLibrary(t.module)}`);
}
