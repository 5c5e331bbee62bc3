/**
 * The only place that loads pkcs11js (a native addon). Loaded lazily, at the first call of a
 * command that touches a token, so that code which merely imports types never touches native
 * code, and verify, state and audit verify run where the addon is absent: pkcs11js is an optional
 * dependency, and an install where it cannot be built goes on without it. Renderer code never
 * imports this (lint rule).
 */
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';
import { KeyceremonyError } from '../errors.js';

export type Binding = typeof Pkcs11js;
export type Handle = Buffer;
export type Template = Pkcs11js.Template;

let binding: Binding | undefined;

/** pkcs11js, or PKCS11_UNAVAILABLE (exit 2: the machine lacks a part, as for a missing input) when it is absent or its addon does not load. */
export function pkcs11js(): Binding {
  if (binding !== undefined) return binding;
  try {
    binding = createRequire(import.meta.url)('pkcs11js') as Binding;
  } catch (err) {
    const why = err instanceof Error ? (err.message.split('\n')[0] ?? '') : String(err);
    throw new KeyceremonyError('PKCS11_UNAVAILABLE', `the PKCS#11 binding (pkcs11js, a native addon) is not installed or did not load: ${why}`,
      'install a C++ compiler, make and Python 3 (apt-get install -y build-essential python3), then npm rebuild pkcs11js (or npm ci again); verify, state and audit verify work without it',
      { exit: 2, cause: err });
  }
  return binding;
}

/** Mechanisms pkcs11js lacks, kept here for older imports: src/pkcs11/mechanisms.ts names every mechanism the project uses. */
export { CKK_EC_EDWARDS, CKM_AES_KEY_WRAP_KWP, CKM_AES_KEY_WRAP_PAD, CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EC_MONTGOMERY_KEY_PAIR_GEN, CKM_EDDSA, CKM_RSA_AES_KEY_WRAP } from './mechanisms.js';
/** DER of OID 1.3.101.112 (id-Ed25519, RFC 8410 §3), the CKA_EC_PARAMS of an Ed25519 key. */
export const ED25519_EC_PARAMS = Buffer.from('06032b6570', 'hex');
