/**
 * The only place that loads pkcs11js (a native addon). Loaded lazily so that code which merely
 * imports types never touches native code; renderer code never imports this (lint rule).
 */
import { createRequire } from 'node:module';
import type * as Pkcs11js from 'pkcs11js';

export type Binding = typeof Pkcs11js;
export type Handle = Buffer;
export type Template = Pkcs11js.Template;

let binding: Binding | undefined;

export function pkcs11js(): Binding {
  binding ??= createRequire(import.meta.url)('pkcs11js') as Binding;
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
