/**
 * The app's PKCS#11 libraries (issue 16): which libraries the app uses, each opened once, and each
 * token found in the library it lives in. The configuration is the command line's, in its formats
 * (CLI.md; README, "Profiles with several libraries"), and only the main process's environment gives
 * it, never a request: loading a library runs its code in the main process, so a request may choose
 * among the configured libraries (a token's `library`) but can never name one to load.
 *
 * - The default library: KEYCEREMONY_PKCS11_MODULE (the shell's modulePath), with
 *   KEYCEREMONY_PKCS11_MODULE_PARAMS, as `--module`/`--module-params` give it to the CLI.
 * - A ceremony profile named by KEYCEREMONY_PROFILE (an absolute path): the very file of
 *   `keyceremony ceremony run --profile`, parsed by src/ceremony/profile.ts. Its top-level `module`
 *   and each token's own `module`, each with its `moduleParams`, are libraries of the app.
 * - Neither: SoftHSM2 where it is installed (simulation tokens), as the CLI finds it.
 *
 * A library that will not open is reported with its code and fix (where the fix goes in the profile
 * for a profile's library) and the others still work; it is tried again at the next listing, so
 * installing a missing library needs no restart. A library is process-global (PKCS#11 2.40 §5.4):
 * one that opened stays open for the app's life (src/pkcs11/module.ts closes it at exit).
 */
import { isAbsolute } from 'node:path';
import { openLibraries, parseProfile } from '../ceremony/profile.js';
import type { CeremonyProfile, ProfileLibrary } from '../ceremony/profile.js';
import type { CeremonyScript } from '../ceremony/script.js';
import { formatProblem } from '../docs/problems.js';
import { DocumentError } from '../docs/problems.js';
import { isKeyceremonyError, KeyceremonyError } from '../errors.js';
import { readInput } from '../files.js';
import { chooseModule, describeLibrary, MODULE_ENV, MODULE_PARAMS_ENV, Pkcs11Module } from '../pkcs11/module.js';
import { findToken } from '../pkcs11/tokens.js';
import type { Token } from '../pkcs11/tokens.js';

export const PROFILE_ENV = 'KEYCEREMONY_PROFILE';
const PROFILE_LIMIT = 64 * 1024;
const PROFILE_FIX = 'correct the file: it is the profile of `keyceremony ceremony run --profile` (README, "Profiles with several libraries"), then restart the app';

/** A library of the app, opened or not. `path` is null when none was configured and no SoftHSM2 was found. */
export type AppLibrary =
  | { readonly path: string; readonly configured: string; readonly module: Pkcs11Module; readonly error: null }
  | { readonly path: string | null; readonly configured: string; readonly module: null; readonly error: KeyceremonyError };

export interface LibraryState {
  /** The profile named by the configuration, and why it could not be used, if it could not. */
  readonly profile: { readonly path: string; readonly error: KeyceremonyError | null } | null;
  /** Every library, in the order configured: the default library, then the profile's. */
  readonly libraries: readonly AppLibrary[];
}

export interface TokenLookup { readonly label: string; readonly serial?: string | undefined; readonly library?: string | undefined }

/** One library as configured, before it is opened: several mentions of one path are one entry. */
interface Entry {
  readonly path: string | null;
  readonly params: string | undefined;
  readonly named: string[];
  /** The profile's entry for it: a failure's fix then says where it goes in the profile. */
  readonly inProfile: ProfileLibrary | undefined;
  /** Why it cannot be opened before trying (no library found; parameters given twice, differently). */
  readonly refused: KeyceremonyError | undefined;
}

const and = (xs: readonly string[]): string => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1] as string}`);

/** A profile that cannot be used: its code, every problem by path, and where to correct it. */
function profileError(path: string, err: KeyceremonyError): KeyceremonyError {
  const problems = err instanceof DocumentError ? err.problems.map(formatProblem).join('; ') : err.message;
  return new KeyceremonyError(err.code, `the ceremony profile ${path} (${PROFILE_ENV}) cannot be used: ${problems}`, err instanceof DocumentError ? PROFILE_FIX : err.fix, { exit: err.exit, cause: err });
}

/** No library at all: only a profile was configured, and it cannot be used. */
function noLibrary(state: LibraryState): KeyceremonyError {
  return state.profile?.error ?? new KeyceremonyError('HSM_MODULE_NOT_FOUND', 'the app has no PKCS#11 library', `set ${MODULE_ENV}, or ${PROFILE_ENV} to a ceremony profile`, { exit: 2 });
}

export class AppLibraries {
  private readonly modulePath: string | undefined;
  private readonly env: NodeJS.ProcessEnv;
  private readonly profilePath: string | undefined;
  /** The profile once read and parsed; a profile that could not be is read again next time. */
  private profile: { readonly bytes: Uint8Array; readonly parsed: CeremonyProfile } | undefined;

  constructor(o: { readonly modulePath?: string | undefined; readonly env: NodeJS.ProcessEnv; readonly profile?: string | undefined }) {
    this.modulePath = o.modulePath;
    this.env = o.env;
    const p = o.profile ?? o.env[PROFILE_ENV];
    this.profilePath = p === '' ? undefined : p;
  }

  /** Every configured library, each opened (or its error), and the profile's state. */
  state(): LibraryState {
    let profileState: LibraryState['profile'] = null;
    let profile: CeremonyProfile | undefined;
    if (this.profilePath !== undefined) {
      try {
        profile = this.readProfile().parsed;
        profileState = { path: this.profilePath, error: null };
      } catch (err) {
        if (!isKeyceremonyError(err)) throw err;
        profileState = { path: this.profilePath, error: profileError(this.profilePath, err) };
      }
    }
    const libraries: AppLibrary[] = [];
    for (const e of this.entries(profile)) {
      const opened = this.open(e, profile);
      // two paths to one file (a link) are one library: listed once, named by both
      const same = opened.module === null ? undefined : libraries.find((l) => l.module === opened.module);
      if (same !== undefined) { libraries[libraries.indexOf(same)] = { ...same, configured: `${same.configured}; ${opened.configured}` } as AppLibrary; continue; }
      libraries.push(opened);
    }
    return { profile: profileState, libraries };
  }

  /** The opened library of the default configuration (app.info's), or its error. */
  first(): AppLibrary {
    const state = this.state();
    return state.libraries[0] ?? { path: null, configured: PROFILE_ENV, module: null, error: noLibrary(state) };
  }

  /**
   * The one token with this label (and serial) in the app's libraries, or in the one named. Found in
   * two libraries, it is refused as ambiguous, naming both; not found while a library would not
   * open, the refusal names that library with its code and fix (the token may be in it).
   */
  find(ref: TokenLookup): Token {
    const state = this.state();
    const { libraries } = state;
    if (libraries.length === 0) throw noLibrary(state);
    let within: readonly AppLibrary[] = libraries;
    if (ref.library !== undefined) {
      within = libraries.filter((l) => l.path === ref.library);
      if (within.length === 0) {
        throw new KeyceremonyError('HSM_LIBRARY_UNKNOWN', `${ref.library} is not one of the app's PKCS#11 libraries (${libraries.map((l) => l.path ?? '(none found)').join(', ')})`,
          `choose the token from the list on the Tokens screen; the app's libraries are set by ${MODULE_ENV} and the profile named by ${PROFILE_ENV}`);
      }
    }
    const opened = within.filter((l): l is Extract<AppLibrary, { error: null }> => l.error === null);
    const failed = within.filter((l): l is Extract<AppLibrary, { module: null }> => l.error !== null);
    if (opened.length === 0) {
      const one = failed.length === 1 ? failed[0] : undefined;
      if (one !== undefined) throw one.error;
      throw new KeyceremonyError('HSM_LIBRARIES_UNAVAILABLE', `none of the app's ${failed.length} PKCS#11 libraries would open: ${failed.map((l) => `${l.path ?? '(none found)'}: ${l.error.code}`).join(', ')}`,
        failed.map((l) => l.error.fix).join('; '), { exit: Math.max(...failed.map((l) => l.error.exit)) as 1 | 2 | 3 });
    }
    const sel = { label: ref.label, serial: ref.serial };
    const hits: { lib: (typeof opened)[number]; token: Token }[] = [];
    const missing: KeyceremonyError[] = [];
    for (const lib of opened) {
      try {
        hits.push({ lib, token: findToken(lib.module, sel) });
      } catch (err) {
        if (!isKeyceremonyError(err) || err.code !== 'HSM_TOKEN_NOT_FOUND') throw err;
        missing.push(err);
      }
    }
    const [hit, second] = hits;
    if (hit !== undefined && second === undefined) return hit.token;
    if (hit !== undefined) {
      throw new KeyceremonyError('HSM_TOKEN_AMBIGUOUS', `"${ref.label}" names a token in ${hits.length} libraries: ${and(hits.map((h) => `"${h.token.label}" (serial ${h.token.info.serial}) in ${describeLibrary(h.lib.module)}`))}`,
        'relabel one of them so that each label names one token, or name the token by its serial as well (the Tokens screen lists each token under its library)');
    }
    const what = `label "${ref.label}"${ref.serial === undefined ? '' : ` and serial "${ref.serial}"`}`;
    const broken = ref.library === undefined ? state.profile?.error ?? null : null;
    const closed = [...failed.map((l) => ({ said: `${l.path ?? '(none found)'} would not open (${l.error.code})`, fix: l.error.fix })),
      ...(broken === null ? [] : [{ said: `the profile ${state.profile?.path ?? ''} cannot be used (${broken.code})`, fix: broken.fix }])];
    const only = missing[0];
    if (only !== undefined && opened.length === 1 && closed.length === 0) throw only; // one library: its own words, as before
    throw new KeyceremonyError('HSM_TOKEN_NOT_FOUND', `no token with ${what} is present in ${ref.library ?? `the app's ${opened.length} libraries`}${closed.length === 0 ? '' : `; ${closed.map((c) => c.said).join('; ')}`}`,
      closed.length === 0 ? 'insert the right token, or check its label on the Tokens screen' : `insert the right token; if it is in a library that would not open: ${closed.map((c) => c.fix).join('; ')}`);
  }

  /**
   * The tokens of a script for a live run, each in its own library, with a line per token saying
   * which. When the app's profile names this script's tokens (the check of `ceremony run
   * --profile`), each is found in the library the profile gives it; otherwise, each by its label
   * (and serial) across the app's libraries, and a line says why the profile was not used.
   */
  scriptTokens(script: CeremonyScript): { readonly tokens: ReadonlyMap<string, Token>; readonly notes: readonly string[] } {
    const notes: string[] = [];
    let fitted: CeremonyProfile | undefined;
    if (this.profilePath !== undefined) {
      try {
        fitted = parseProfile(this.readProfile().bytes, script);
      } catch (err) {
        if (!isKeyceremonyError(err)) throw err;
        // an unreadable or broken profile is refused by every lookup below; one written for another script is not this run's
        if (!(err instanceof DocumentError) || this.profile === undefined) throw profileError(this.profilePath, err);
        notes.push(`The app's profile ${this.profilePath} does not name this script's tokens (${err.problems.map(formatProblem).join('; ')}): each token is found by its label in the app's libraries`);
      }
    }
    const tokens = new Map<string, Token>();
    for (const t of script.tokens) {
      const library = fitted?.tokens.get(t.name)?.library;
      tokens.set(t.name, this.find({ label: t.label, ...(t.serial === null ? {} : { serial: t.serial }), ...(library === undefined ? {} : { library }) }));
    }
    return { tokens, notes };
  }

  private readProfile(): { readonly bytes: Uint8Array; readonly parsed: CeremonyProfile } {
    if (this.profile !== undefined) return this.profile;
    const path = this.profilePath as string;
    if (!isAbsolute(path)) throw new KeyceremonyError('PROFILE_PATH_RELATIVE', `${PROFILE_ENV} is ${JSON.stringify(path)}, not an absolute path`, `set ${PROFILE_ENV} to the absolute path of the ceremony profile`, { exit: 2 });
    const bytes = readInput(path, 'the ceremony profile', PROFILE_LIMIT);
    const parsed = parseProfile(bytes, null);
    this.profile = { bytes, parsed };
    return this.profile;
  }

  /** The default library (if named, or nothing else is), then the profile's; a path mentioned twice is one entry. */
  private entries(profile: CeremonyProfile | undefined): Entry[] {
    const out: Entry[] = [];
    // a profile names the room's libraries: SoftHSM2 is looked for only when nothing is configured
    const named = this.modulePath !== undefined || (this.env[MODULE_ENV] ?? '') !== '';
    if (named || this.profilePath === undefined) {
      try {
        const c = chooseModule({ flag: this.modulePath, env: this.env });
        const why = c.source === 'auto' ? 'SoftHSM2 found on this computer (no library configured)' : MODULE_ENV;
        out.push({ path: c.path, params: c.params, named: [`${why}${c.params === undefined ? '' : ` with ${MODULE_PARAMS_ENV}`}`], inProfile: undefined, refused: undefined });
      } catch (err) {
        if (!isKeyceremonyError(err)) throw err;
        out.push({ path: null, params: undefined, named: ['no library configured'], inProfile: undefined, refused: err });
      }
    }
    for (const lib of profile?.libraries ?? []) {
      const where = `the profile (${lib.path === profile?.module ? 'module' : `tokens.${lib.tokens[0] ?? '?'}.module`}, for ${and(lib.tokens)})`;
      const same = out.find((e) => e.path === lib.path);
      if (same === undefined) { out.push({ path: lib.path, params: lib.params, named: [where], inProfile: lib, refused: undefined }); continue; }
      if (same.params !== undefined && lib.params !== undefined && same.params !== lib.params) {
        out[out.indexOf(same)] = { ...same, named: [...same.named, where], refused: new KeyceremonyError('HSM_MODULE_PARAMS_CONFLICT', `${lib.path} is one library, opened once, and is given different parameters in ${MODULE_PARAMS_ENV} and in ${where}`,
          `give its parameters once: in the profile, or in ${MODULE_PARAMS_ENV}, not different in both`) };
        continue;
      }
      out[out.indexOf(same)] = { ...same, params: same.params ?? lib.params, named: [...same.named, where], inProfile: lib };
    }
    return out;
  }

  private open(e: Entry, profile: CeremonyProfile | undefined): AppLibrary {
    const configured = e.named.join('; ');
    if (e.refused !== undefined || e.path === null) return { path: e.path, configured, module: null, error: e.refused ?? new KeyceremonyError('HSM_MODULE_NOT_FOUND', 'no PKCS#11 library', `set ${MODULE_ENV}`) };
    try {
      if (e.inProfile === undefined || profile === undefined) return { path: e.path, configured, module: Pkcs11Module.open(e.path, e.params), error: null };
      // the profile's own opening, for this one library: a failure's fix then says where it goes in the profile (tokens.hsm.moduleParams)
      const lib: ProfileLibrary = { ...e.inProfile, params: e.params };
      const [module] = openLibraries({ ...profile, libraries: [lib] }).values();
      if (module === undefined) throw new KeyceremonyError('HSM_MODULE_NOT_FOUND', `${e.path} did not open`, 'check the profile');
      return { path: e.path, configured, module, error: null };
    } catch (err) {
      if (!isKeyceremonyError(err)) throw err;
      return { path: e.path, configured, module: null, error: err };
    }
  }
}
