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

/** Mechanisms and constants pkcs11js lacks (PKCS#11 3.0 §6.3, §6.5; OASIS pkcs11t.h). */
export const CKK_EC_EDWARDS = 0x40;
export const CKM_EC_EDWARDS_KEY_PAIR_GEN = 0x1055;
export const CKM_EC_MONTGOMERY_KEY_PAIR_GEN = 0x1056;
export const CKM_EDDSA = 0x1057;
export const CKM_RSA_AES_KEY_WRAP = 0x1054;
export const CKM_AES_KEY_WRAP_PAD = 0x210a;
export const CKM_AES_KEY_WRAP_KWP = 0x210b;
/** DER of OID 1.3.101.112 (id-Ed25519, RFC 8410 §3), the CKA_EC_PARAMS of an Ed25519 key. */
export const ED25519_EC_PARAMS = Buffer.from('06032b6570', 'hex');
