/**
 * Choosing, loading, initialising and finalising a PKCS#11 module. A module is process-global
 * (PKCS#11 2.40 §5.4: C_Initialize once per process), so modules are cached by path, an
 * already-initialised library is recognised by its CKR code, and every module we initialised
 * is finalised when the process exits.
 */
import { existsSync, statSync } from 'node:fs';
import { usageError } from '../errors.js';
import { pkcs11js } from './binding.js';
import type { Binding } from './binding.js';
import { ckrOf, fromPkcs11 } from './errors.js';

const CKR_CRYPTOKI_ALREADY_INITIALIZED = 0x191;

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
}

export const MODULE_ENV = 'KEYCEREMONY_PKCS11_MODULE';

/** CLI.md: --module, else KEYCEREMONY_PKCS11_MODULE, else the URI's module-path, else SoftHSM2. */
export function chooseModule(opts: { flag?: string | undefined; env?: NodeJS.ProcessEnv; uriModulePath?: string | undefined }): ModuleChoice {
  const env = opts.env ?? process.env;
  if (opts.flag !== undefined) return { path: opts.flag, source: 'flag' };
  const fromEnv = env[MODULE_ENV];
  if (fromEnv !== undefined && fromEnv !== '') return { path: fromEnv, source: 'env' };
  if (opts.uriModulePath !== undefined) return { path: opts.uriModulePath, source: 'uri' };
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

  private constructor(path: string, api: InstanceType<Binding['PKCS11']>, owned: boolean) {
    this.path = path;
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

  static open(path: string): Pkcs11Module {
    const cached = open.get(path);
    if (cached !== undefined && !cached.closed) return cached;
    if (!existsSync(path) || !statSync(path).isFile()) {
      throw usageError('HSM_MODULE_NOT_FOUND', `the PKCS#11 module ${path} does not exist`,
        `check the path given with --module or ${MODULE_ENV}, or install the token middleware`);
    }
    const B = pkcs11js();
    const api = new B.PKCS11();
    try {
      api.load(path);
    } catch (err) {
      throw usageError('HSM_MODULE_LOAD_FAILED', `${path} could not be loaded as a PKCS#11 module`,
        'give the path of the vendor PKCS#11 library (a .so, .dylib or .dll exporting C_GetFunctionList)', err);
    }
    let owned = true;
    try {
      api.C_Initialize({ flags: B.CKF_OS_LOCKING_OK });
    } catch (err) {
      if (ckrOf(err) !== CKR_CRYPTOKI_ALREADY_INITIALIZED) {
        try { api.close(); } catch { /* already failing */ }
        throw fromPkcs11(err, { what: `initialising ${path}` });
      }
      owned = false; // someone else in this process initialised it: they finalise it
    }
    const mod = new Pkcs11Module(path, api, owned);
    open.set(path, mod);
    return mod;
  }

  /** C_Finalize (when we initialised) and unload. Safe to call twice. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    open.delete(this.path);
    try {
      if (this.owned) this.api.C_Finalize();
    } finally {
      this.api.close();
    }
  }
}

const open = new Map<string, Pkcs11Module>();

export function closeAllModules(): void {
  for (const m of [...open.values()]) {
    try { m.close(); } catch { /* exiting anyway */ }
  }
}

process.once('exit', closeAllModules);
