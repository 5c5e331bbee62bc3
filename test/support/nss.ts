/**
 * A throw-away NSS softokn token, the second PKCS#11 implementation of the test runs (issue 16;
 * KMS-NOTES.md, "A second PKCS#11 implementation: NSS softokn"): a fresh sql: database in a temp
 * folder, made PIN-protected the way NSS wants on first use (log in as security officer with the
 * empty PIN, C_InitPIN), in a child process of its own with pkcs11js alone (independent of the
 * code under test, as softhsm2-util is for SoftHSM2; and NSS, like every PKCS#11 library, is
 * initialised once per process, so this process stays free to open it with the code under test).
 *
 * NSS facts the tests meet: the token's label comes only from `dbTokenDescription=` in the
 * parameters (so it is part of `params`); every serial reads 0000000000000000; a second NSS
 * token in one process needs `tokens=<...>`, so use one NSS token per process; CKA_CHECK_VALUE is
 * unreadable; slot 1 is "NSS Generic Crypto Services" (session objects only), also present.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Nss {
  readonly dir: string;
  /** The path of libsoftokn3. */
  readonly module: string;
  /** The C_Initialize parameters (--module-params / KEYCEREMONY_PKCS11_MODULE_PARAMS). */
  readonly params: string;
  readonly label: string;
  readonly pin: string;
  /** The environment that makes this NSS token the default library of `keyceremony`. */
  readonly env: NodeJS.ProcessEnv;
  cleanup(): void;
}

/** Where distributions put NSS softokn (Debian/Ubuntu multiarch, Fedora/RHEL, Arch, Homebrew). */
export const SOFTOKN_PATHS: readonly string[] = [
  '/usr/lib/x86_64-linux-gnu/libsoftokn3.so',
  '/usr/lib/aarch64-linux-gnu/libsoftokn3.so',
  '/usr/lib/x86_64-linux-gnu/nss/libsoftokn3.so',
  '/usr/lib/aarch64-linux-gnu/nss/libsoftokn3.so',
  '/usr/lib64/libsoftokn3.so',
  '/usr/lib/libsoftokn3.so',
  '/usr/lib64/nss/libsoftokn3.so',
  '/usr/lib/nss/libsoftokn3.so',
  '/opt/homebrew/lib/libsoftokn3.dylib',
  '/usr/local/lib/libsoftokn3.dylib',
];

/** libsoftokn3 on this machine: a known place, else what the dynamic linker's cache names; null when absent. */
export function findSoftokn(): string | null {
  const known = SOFTOKN_PATHS.find((p) => existsSync(p));
  if (known !== undefined) return known;
  try {
    const cache = execFileSync('ldconfig', ['-p'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const hit = /libsoftokn3\.so[^\n]*=>\s*(\S+)/.exec(cache)?.[1];
    if (hit !== undefined && existsSync(hit)) return hit;
  } catch { /* no ldconfig */ }
  return null;
}

export function softoknModule(): string {
  const m = findSoftokn();
  if (m === null) throw new Error('NSS softokn (libsoftokn3) is not installed: apt-get install libnss3');
  return m;
}

/** Session objects only, no database, no login (slot 1 "NSS Generic Crypto Services"): KMS-NOTES.md. */
export const NSS_SESSION_ONLY_PARAMS = "configdir='' certPrefix='' keyPrefix='' secmod='' flags=readOnly,noCertDB,noModDB,forceOpen,optimizeSpace";

/** The parameters of a PIN-protected NSS token with persistent objects in `dir`, labelled `label` (at most 32 bytes, no quote). */
export function nssParams(dir: string, label: string): string {
  if (/['"\s]/.test(dir) || /['"]/.test(label) || Buffer.byteLength(label) > 32) throw new Error(`cannot quote ${dir} / ${label} in NSS parameters`);
  return `configdir='sql:${dir}' certPrefix='' keyPrefix='' secmod='secmod.db' flags= dbTokenDescription='${label}'`;
}

const INIT = `
const p = require(process.env.PKCS11JS);
const lib = new p.PKCS11();
lib.load(process.env.NSS_MODULE);
lib.C_Initialize({ flags: p.CKF_OS_LOCKING_OK, libraryParameters: process.env.NSS_PARAMS });
try {
  const slot = lib.C_GetSlotList(true).find((s) => lib.C_GetTokenInfo(s).label.trim() === process.env.NSS_LABEL);
  if (slot === undefined) throw new Error('no NSS token labelled ' + process.env.NSS_LABEL);
  const h = lib.C_OpenSession(slot, p.CKF_SERIAL_SESSION | p.CKF_RW_SESSION);
  lib.C_Login(h, p.CKU_SO, '');
  lib.C_InitPIN(h, process.env.NSS_PIN);
  lib.C_Logout(h);
  lib.C_Login(h, p.CKU_USER, process.env.NSS_PIN);
  lib.C_Logout(h);
  lib.C_CloseSession(h);
} finally {
  lib.C_Finalize();
  lib.close();
}
`;

/** A fresh PIN-protected NSS token labelled `label`. */
export function createNss(opts: { label?: string; pin?: string } = {}): Nss {
  const label = opts.label ?? 'NSS HSM';
  const pin = opts.pin ?? '24681357';
  const module = softoknModule();
  const dir = mkdtempSync(join(tmpdir(), 'kc-nss-'));
  const params = nssParams(dir, label);
  const pkcs11js = createRequire(import.meta.url).resolve('pkcs11js');
  const r = spawnSync(process.execPath, ['-e', INIT], { env: { ...process.env, PKCS11JS: pkcs11js, NSS_MODULE: module, NSS_PARAMS: params, NSS_LABEL: label, NSS_PIN: pin }, encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) {
    rmSync(dir, { recursive: true, force: true });
    throw new Error(`could not make an NSS token: ${r.stderr || r.error?.message || `exit ${String(r.status)}`}`);
  }
  const env = { ...process.env, KEYCEREMONY_PKCS11_MODULE: module, KEYCEREMONY_PKCS11_MODULE_PARAMS: params };
  return { dir, module, params, label, pin, env, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
