/**
 * Choosing, loading, initialising and finalising PKCS#11 modules. A module is process-global
 * (PKCS#11 2.40 §5.4: C_Initialize once per process), so modules are cached by path, an
 * already-initialised library is recognised by its CKR code, and every module we initialised
 * is finalised when the process exits. Several libraries may be open at once (CLI.md: a token
 * URI's `module-path` names that token's library; the others use the default library), each
 * independent of the others.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isAbsolute, resolve } from 'node:path';
import { KeyceremonyError, usageError } from '../errors.js';
import { pkcs11js } from './binding.js';
import type { Binding } from './binding.js';
import { ckrOf, describeCkr, fromPkcs11 } from './errors.js';

const CKR_ARGUMENTS_BAD = 0x7;
const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;

/** The parameters NSS softokn needs for a PIN-protected database (KMS-NOTES.md), as an example in fixes. */
const NSS_PARAMS_EXAMPLE = "configdir='sql:/path/to/nssdb' certPrefix='' keyPrefix='' secmod='secmod.db' flags=";

/** Where SoftHSM2 lives on the platforms we support (Debian/Ubuntu, Fedora/RHEL, Homebrew). */
export const SOFTHSM2_PATHS: readonly string[] = [
  '/usr/lib/softhsm/libsofthsm2.so',
  '/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so',
  '/usr/lib64/pkcs11/libsofthsm2.so',
  '/usr/lib64/softhsm/libsofthsm2.so',
  '/usr/lib/pkcs11/libsofthsm2.so',
  '/opt/homebrew/lib/softhsm/libsofthsm2.so',
  '/usr/local/lib/softhsm/libsofthsm2.so',
];

export type ModuleSource = 'flag' | 'env' | 'uri' | 'auto';

export interface ModuleChoice {
  readonly path: string;
  readonly source: ModuleSource;
  /** The library's initialization parameters (C_Initialize's reserved argument), when any. */
  readonly params?: string;
}

export const MODULE_ENV = 'KEYCEREMONY_PKCS11_MODULE';
export const MODULE_PARAMS_ENV = 'KEYCEREMONY_PKCS11_MODULE_PARAMS';

export interface ModuleOptions {
  /** --module PATH */
  readonly flag?: string | undefined;
  /** --module-params STRING */
  readonly paramsFlag?: string | undefined;
  readonly env?: NodeJS.ProcessEnv;
  /** The token URI's module-path query attribute. */
  readonly uriModulePath?: string | undefined;
}

/**
 * CLI.md: the URI's module-path names that token's library; otherwise the default library:
 * --module, else KEYCEREMONY_PKCS11_MODULE, else an auto-detected SoftHSM2. The parameters
 * (--module-params, else KEYCEREMONY_PKCS11_MODULE_PARAMS) belong to the default library; a
 * module-path that names that same library is the same process-global module and gets them too.
 */
export function chooseModule(opts: ModuleOptions): ModuleChoice {
  const env = opts.env ?? process.env;
  const def = defaultModule(opts.flag, env);
  if (opts.paramsFlag === '') throw usageError('USAGE', '--module-params is empty', "give the library's initialization parameters, or leave --module-params out");
  const params = opts.paramsFlag ?? (env[MODULE_PARAMS_ENV] === '' ? undefined : env[MODULE_PARAMS_ENV]);
  if (opts.uriModulePath !== undefined) {
    // RFC 7512 §2.3: module-path names a library file; a relative one would name whatever the working folder holds
    if (!isAbsolute(opts.uriModulePath)) {
      throw usageError('HSM_MODULE_PATH_RELATIVE', `the URI's module-path ${JSON.stringify(opts.uriModulePath)} is not an absolute path`, 'write the absolute path of the PKCS#11 library in module-path (percent-encoded, e.g. module-path=/usr/lib/x86_64-linux-gnu/opensc-pkcs11.so)');
    }
    // the same file by another path (a link) is the same process-global library, and so the default library with its parameters
    const same = def !== null && libraryKey(def.path) === libraryKey(opts.uriModulePath);
    return { path: opts.uriModulePath, source: 'uri', ...(same && params !== undefined ? { params } : {}) };
  }
  if (def === null && params !== undefined) {
    // CLI.md: the parameters apply to the default library; handed to an auto-detected SoftHSM2 they would only make it refuse
    throw usageError('HSM_MODULE_PARAMS_WITHOUT_MODULE', `initialization parameters were given (${opts.paramsFlag !== undefined ? '--module-params' : MODULE_PARAMS_ENV}) but no library to take them`,
      `name the library they belong to with --module PATH or ${MODULE_ENV}`);
  }
  const chosen = def ?? autoSoftHsm2();
  return { ...chosen, ...(params !== undefined ? { params } : {}) };
}

/** --module, else KEYCEREMONY_PKCS11_MODULE; a relative path is taken from the working folder, so the file checked is the file loaded. */
function defaultModule(flag: string | undefined, env: NodeJS.ProcessEnv): ModuleChoice | null {
  if (flag !== undefined) return { path: flag === '' ? flag : resolve(flag), source: 'flag' };
  const fromEnv = env[MODULE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { path: resolve(fromEnv), source: 'env' };
  return null;
}

function autoSoftHsm2(): ModuleChoice {
  const found = detectSoftHsm2();
  if (found === null) {
    throw usageError('HSM_MODULE_NOT_FOUND', `no PKCS#11 module was given and SoftHSM2 was not found in ${SOFTHSM2_PATHS.join(', ')}`,
      `pass --module PATH or set ${MODULE_ENV}; for simulation tokens install SoftHSM2 (apt-get install softhsm2)`);
  }
  return { path: found, source: 'auto' };
}

export function detectSoftHsm2(): string | null {
  return SOFTHSM2_PATHS.find((p) => existsSync(p)) ?? null;
}

export interface ModuleInfo {
  readonly manufacturer: string;
  readonly description: string;
  readonly cryptokiVersion: string;
  readonly libraryVersion: string;
}

/** PKCS#11 strings are blank-padded fixed-width fields (PKCS#11 2.40 §3.2); some tokens pad with NUL. */
export function trimField(s: string): string {
  return s.replace(/[\s\0]+$/u, '');
}

export class Pkcs11Module {
  readonly path: string;
  readonly api: InstanceType<Binding['PKCS11']>;
  readonly info: ModuleInfo;
  /** True when this process object called C_Initialize and so must call C_Finalize. */
  private owned: boolean;
  private closed = false;

  /** The initialization parameters it was opened with. */
  readonly params: string | undefined;

  private constructor(path: string, api: InstanceType<Binding['PKCS11']>, owned: boolean, params: string | undefined) {
    this.path = path;
    this.params = params;
    this.api = api;
    this.owned = owned;
    const i = api.C_GetInfo();
    this.info = Object.freeze({
      manufacturer: trimField(i.manufacturerID),
      description: trimField(i.libraryDescription),
      cryptokiVersion: `${i.cryptokiVersion.major}.${i.cryptokiVersion.minor}`,
      libraryVersion: `${i.libraryVersion.major}.${i.libraryVersion.minor}`,
    });
  }

  get isSoftHsm(): boolean {
    return this.info.manufacturer.startsWith('SoftHSM');
  }

  /** Which implementation this is, by what the library says of itself (C_GetInfo), for rehearsals and records. */
  get implementation(): Implementation {
    return implementationOf(this.info);
  }

  /**
   * The library at `path`, loaded and initialised once per process. `params` is passed to
   * C_Initialize as its reserved argument (pkcs11js `libraryParameters`; NSS softokn needs it).
   */
  static open(path: string, params?: string): Pkcs11Module {
    // one instance per library file: two paths (links) to the same file load one library, which is process-global
    const cached = open.get(libraryKey(path));
    if (cached !== undefined && !cached.closed) {
      if (params !== undefined && cached.params !== params) {
        throw new KeyceremonyError('HSM_MODULE_PARAMS_CONFLICT', `the PKCS#11 module ${path} is already initialised in this process with other parameters`,
          'give each library its parameters once: the default library takes --module-params, a library named by a module-path takes none');
      }
      return cached;
    }
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw usageError('HSM_MODULE_NOT_FOUND', `the PKCS#11 module ${path} ${existsSync(path) ? 'is not a regular file' : 'does not exist'}`,
        `check the path given with --module, ${MODULE_ENV} or the URI's module-path, or install the token middleware`);
    }
    const B = pkcs11js();
    if (params !== undefined) survivesInitialize(path, params);
    const api = new B.PKCS11();
    try {
      api.load(path);
    } catch (err) {
      throw usageError('HSM_MODULE_LOAD_FAILED', `${path} could not be loaded as a PKCS#11 module`,
        'give the path of the vendor PKCS#11 library (a .so, .dylib or .dll exporting C_GetFunctionList)', err);
    }
    let owned = true;
    try {
      api.C_Initialize(params === undefined ? { flags: B.CKF_OS_LOCKING_OK } : { flags: B.CKF_OS_LOCKING_OK, libraryParameters: params });
    } catch (err) {
      const ckr = ckrOf(err);
      if (ckr !== CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        try { api.close(); } catch { /* already failing */ }
        throw initFailure(path, params, ckr, err);
      }
      owned = false; // someone else in this process initialised it: they finalise it
    }
    const mod = new Pkcs11Module(path, api, owned, params);
    open.set(libraryKey(path), mod);
    return mod;
  }

  /** C_Finalize (when we initialised) and unload. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (open.get(libraryKey(this.path)) === this) open.delete(libraryKey(this.path));
    try {
      if (this.owned) this.api.C_Finalize();
    } finally {
      this.api.close();
    }
  }
}

/**
 * A library that will not initialise, said with its CKR and the fix (exit 1: the token's
 * software said no, not a bug of ours). NSS softokn answers CKR_ARGUMENTS_BAD without its
 * parameters (KMS-NOTES.md).
 */
function initFailure(path: string, params: string | undefined, ckr: number | null, err: unknown): KeyceremonyError {
  const name = ckr === null ? 'a binding error' : `CKR 0x${ckr.toString(16).padStart(8, '0')}, ${describeCkr(ckr).message}`;
  if (ckr === CKR_ARGUMENTS_BAD && params === undefined) {
    return new KeyceremonyError('HSM_MODULE_NEEDS_PARAMS', `the PKCS#11 module ${path} refused to initialise without initialization parameters (${name})`,
      `give them with --module-params STRING or ${MODULE_PARAMS_ENV} (for NSS softokn: ${NSS_PARAMS_EXAMPLE}); they apply to the default library, so name this library with --module or ${MODULE_ENV} rather than a module-path`, { exit: 1, cause: err });
  }
  if (params !== undefined) {
    return new KeyceremonyError('HSM_MODULE_PARAMS_REJECTED', `the PKCS#11 module ${path} refused to initialise with the parameters given (${name})`,
      `check the string given with --module-params or ${MODULE_PARAMS_ENV} against the library's documentation (for NSS softokn: ${NSS_PARAMS_EXAMPLE}, with a database folder that exists)`, { exit: 1, cause: err });
  }
  if (ckr === null) {
    return new KeyceremonyError('HSM_MODULE_INIT_FAILED', `the PKCS#11 module ${path} could not be initialised (${name})`, 'check that it is the vendor PKCS#11 library and that its middleware is installed', { exit: 1, cause: err });
  }
  return fromPkcs11(err, { what: `initialising ${path}` });
}

/**
 * A library's C_Initialize with these parameters, tried first in a throw-away child process: the
 * reserved argument is outside the PKCS#11 standard, and NSS softokn dies of SIGSEGV inside
 * C_Initialize on strings it cannot use (no configdir, `configdir=x`, a stray quote: measured on
 * NSS 3.87), which in this process would end the command with no error line at all. A child that
 * dies of a signal refuses the parameters (HSM_MODULE_PARAMS_REJECTED); one that answers, in
 * whatever way, leaves the decision to the real C_Initialize here. Not in the Electron app, which
 * cannot run itself as Node (its RunAsNode fuse is off): there the profile's checks are all.
 */
function survivesInitialize(path: string, params: string): void {
  if (process.versions.electron !== undefined) return;
  let binding: string;
  try {
    binding = createRequire(import.meta.url).resolve('pkcs11js');
  } catch {
    return;
  }
  const probe = `const p = require(process.env.KC_PKCS11JS); const l = new p.PKCS11(); l.load(process.env.KC_MODULE);
try { l.C_Initialize({ flags: p.CKF_OS_LOCKING_OK, libraryParameters: require('node:fs').readFileSync(0, 'utf8') }); l.C_Finalize(); } catch { /* an answer */ }`;
  const r = spawnSync(process.execPath, ['-e', probe], { input: params, stdio: ['pipe', 'ignore', 'ignore'], timeout: 60_000, env: { ...process.env, KC_PKCS11JS: binding, KC_MODULE: path } });
  if (r.error !== undefined || r.signal === null) return; // it answered, or could not be tried: the real C_Initialize decides
  throw new KeyceremonyError('HSM_MODULE_PARAMS_REJECTED', `the PKCS#11 module ${path} crashed (${r.signal}) initialising with the parameters given`,
    `check the string given with --module-params or ${MODULE_PARAMS_ENV} against the library's documentation (for NSS softokn: ${NSS_PARAMS_EXAMPLE}, with a database folder that exists)`, { exit: 1 });
}

/** Library file → its one instance in this process (keyed by the file's real path: a link to an open library is that library). */
const open = new Map<string, Pkcs11Module>();

function libraryKey(path: string): string {
  try { return realpathSync(path); } catch { return path; }
}

/** The PKCS#11 implementations the project knows by measurement (KMS-NOTES.md); anything else is `other`. */
export type Implementation = 'softhsm2' | 'nss-softokn' | 'other';

export function implementationOf(info: Pick<ModuleInfo, 'manufacturer' | 'description'>): Implementation {
  if (info.manufacturer.startsWith('SoftHSM')) return 'softhsm2';
  // NSS softokn: manufacturerID "Mozilla Foundation", libraryDescription "NSS Internal Crypto Services"
  if (info.manufacturer.startsWith('Mozilla Foundation') && info.description.startsWith('NSS ')) return 'nss-softokn';
  return 'other';
}

/** "NSS Internal Crypto Services 3.87 by Mozilla Foundation, /usr/lib/x86_64-linux-gnu/libsoftokn3.so" (the path as given). */
export function describeLibrary(mod: Pick<Pkcs11Module, 'info' | 'path'>): string {
  return `${mod.info.description} ${mod.info.libraryVersion} by ${mod.info.manufacturer}, ${mod.path}`;
}

/** The libraries open in this process (the CLI names each token's library). */
export function openModules(): readonly Pkcs11Module[] {
  return [...open.values()];
}

export function closeAllModules(): void {
  for (const m of [...open.values()]) {
    try { m.close(); } catch { /* exiting anyway */ }
  }
}

process.once('exit', closeAllModules);
