/**
 * Every CKR_* return value the layer can meet, mapped to one stable HSM_* code, a sentence a
 * custodian can read, and the fix. Tests assert the codes and that no CKR_* constant of
 * pkcs11js (PKCS#11 2.40) or of PKCS#11 3.0 falls through to HSM_UNKNOWN.
 */
import { KeyceremonyError } from '../errors.js';

export type HsmCode =
  | 'HSM_CANCELLED' | 'HSM_MEMORY' | 'HSM_TOKEN_NOT_FOUND' | 'HSM_DEVICE_ERROR' | 'HSM_FUNCTION_FAILED'
  | 'HSM_MODULE_BUG' | 'HSM_MODULE_STATE' | 'HSM_ATTRIBUTE_SENSITIVE' | 'HSM_TEMPLATE_REJECTED'
  | 'HSM_DATA_REJECTED' | 'HSM_DEVICE_REMOVED' | 'HSM_FUNCTION_UNSUPPORTED' | 'HSM_OBJECT_NOT_FOUND'
  | 'HSM_KEY_SIZE_UNSUPPORTED' | 'HSM_KEY_USAGE_DENIED' | 'HSM_KEY_NOT_EXTRACTABLE'
  | 'HSM_MECHANISM_UNSUPPORTED' | 'HSM_MECHANISM_PARAM_INVALID' | 'HSM_OPERATION_STATE'
  | 'HSM_PIN_INCORRECT' | 'HSM_PIN_INVALID' | 'HSM_PIN_EXPIRED' | 'HSM_PIN_LOCKED' | 'HSM_SESSION_CLOSED'
  | 'HSM_SESSION_LIMIT' | 'HSM_SESSION_CONFLICT' | 'HSM_SIGNATURE_INVALID' | 'HSM_TOKEN_NOT_PRESENT'
  | 'HSM_TOKEN_NOT_RECOGNIZED' | 'HSM_TOKEN_READ_ONLY' | 'HSM_WRAPPING_KEY_INVALID' | 'HSM_NOT_LOGGED_IN'
  | 'HSM_PIN_NOT_INITIALIZED' | 'HSM_LOGIN_CONFLICT' | 'HSM_RNG_UNAVAILABLE' | 'HSM_SELF_TEST_FAILED'
  | 'HSM_PUBLIC_KEY_INVALID' | 'HSM_POLICY_REFUSED' | 'HSM_UNKNOWN'
  | 'HSM_OBJECT_EXISTS' | 'HSM_KCV_MISMATCH' | 'HSM_KCV_UNAVAILABLE' | 'HSM_WRONG_KEY' | 'HSM_SIGNATURE_CHECK_FAILED'
  | 'HSM_SO_LOGIN_UNAVAILABLE';

interface Entry { readonly code: HsmCode; readonly message: string; readonly fix: string }

const BUG = 'a bug in keyceremony or in the PKCS#11 module; run again with --debug and report it';
const RETRY = 'check the token and its connection, then run the step again';

const e = (code: HsmCode, message: string, fix: string): Entry => ({ code, message, fix });

/** CKR value → entry. PKCS#11 2.40 §11.1 and PKCS#11 3.0 §5.1. */
const TABLE: ReadonlyMap<number, Entry> = new Map<number, Entry>([
  [0x001, e('HSM_CANCELLED', 'the operation was cancelled', 'run the step again')],
  [0x002, e('HSM_MEMORY', 'the host ran out of memory in the PKCS#11 module', 'close other programs and run the step again')],
  [0x003, e('HSM_TOKEN_NOT_FOUND', 'the slot no longer exists', 'reconnect the token and choose it again by label or serial')],
  [0x005, e('HSM_DEVICE_ERROR', 'the PKCS#11 module reported a general error', RETRY)],
  [0x006, e('HSM_FUNCTION_FAILED', 'the token could not complete the operation', RETRY)],
  [0x007, e('HSM_MODULE_BUG', 'the PKCS#11 module rejected the call arguments', BUG)],
  [0x008, e('HSM_MODULE_STATE', 'no slot event was pending', BUG)],
  [0x009, e('HSM_MODULE_STATE', 'the PKCS#11 module needs to create threads', BUG)],
  [0x00a, e('HSM_MODULE_STATE', 'the PKCS#11 module cannot use the requested locking', BUG)],
  [0x010, e('HSM_TEMPLATE_REJECTED', 'the token refused to change a read-only attribute', BUG)],
  [0x011, e('HSM_ATTRIBUTE_SENSITIVE', 'the token refused to reveal a sensitive attribute', 'this is expected for secret keys; nothing was revealed')],
  [0x012, e('HSM_TEMPLATE_REJECTED', 'the token does not know an attribute of the key template', 'check the token capabilities with `keyceremony tokens`')],
  [0x013, e('HSM_TEMPLATE_REJECTED', 'the token refused a value in the key template', 'check the token capabilities with `keyceremony tokens`')],
  [0x01b, e('HSM_POLICY_REFUSED', 'the token policy prohibits this action', 'ask the token administrator which policy applies')],
  [0x020, e('HSM_DATA_REJECTED', 'the token rejected the input data', BUG)],
  [0x021, e('HSM_DATA_REJECTED', 'the input data has a length the token does not accept', BUG)],
  [0x030, e('HSM_DEVICE_ERROR', 'the token reported a device error', RETRY)],
  [0x031, e('HSM_MEMORY', 'the token is out of memory', 'delete unused objects from the token or use another token')],
  [0x032, e('HSM_DEVICE_REMOVED', 'the token was removed during the operation', 'reinsert the token and run the step again; nothing from the interrupted step is trusted')],
  [0x040, e('HSM_DATA_REJECTED', 'the token rejected the encrypted data', 'the data was not made under this key, or it was changed')],
  [0x041, e('HSM_DATA_REJECTED', 'the encrypted data has a wrong length', 'the data was truncated or is not for this key')],
  [0x050, e('HSM_CANCELLED', 'the operation was cancelled on the token', 'run the step again')],
  [0x051, e('HSM_MODULE_STATE', 'the token cannot run this function in parallel', BUG)],
  [0x054, e('HSM_FUNCTION_UNSUPPORTED', 'the PKCS#11 module does not implement this function', 'use a token that supports it (see `keyceremony tokens`)')],
  [0x060, e('HSM_OBJECT_NOT_FOUND', 'the key no longer exists on the token', 'check the key URI with `keyceremony tokens`')],
  [0x062, e('HSM_KEY_SIZE_UNSUPPORTED', 'the token does not support this key size', 'check the mechanism key sizes with `keyceremony tokens`')],
  [0x063, e('HSM_KEY_USAGE_DENIED', 'the key type does not fit this mechanism', 'choose a key of the right type')],
  [0x064, e('HSM_MODULE_BUG', 'the token did not expect a key', BUG)],
  [0x065, e('HSM_OPERATION_STATE', 'the key changed during the operation', RETRY)],
  [0x066, e('HSM_OPERATION_STATE', 'the token needs a key that was not supplied', BUG)],
  [0x067, e('HSM_KEY_USAGE_DENIED', 'the key cannot be digested by the token', BUG)],
  [0x068, e('HSM_KEY_USAGE_DENIED', 'the key attributes do not permit this use', 'use a key generated for this purpose')],
  [0x069, e('HSM_KEY_NOT_EXTRACTABLE', 'the token cannot wrap this key', 'the key is not wrappable on this token; generate it with export allowed or use another wrap path')],
  [0x06a, e('HSM_KEY_NOT_EXTRACTABLE', 'the key is marked not extractable', 'this key was generated never to leave the token; it cannot be exported')],
  [0x070, e('HSM_MECHANISM_UNSUPPORTED', 'the token does not support the mechanism', 'check the mechanism list with `keyceremony tokens` or use another token')],
  [0x071, e('HSM_MECHANISM_PARAM_INVALID', 'the token rejected the mechanism parameters', 'check the mechanism list with `keyceremony tokens`; the token may support only some parameters')],
  [0x082, e('HSM_OBJECT_NOT_FOUND', 'the object no longer exists on the token', 'check the object URI with `keyceremony tokens`')],
  [0x090, e('HSM_OPERATION_STATE', 'another operation is active in this session', BUG)],
  [0x091, e('HSM_OPERATION_STATE', 'the operation was not initialised', BUG)],
  [0x0a0, e('HSM_PIN_INCORRECT', 'the PIN is incorrect', 'enter the PIN again carefully; each wrong PIN uses up a try')],
  [0x0a1, e('HSM_PIN_INVALID', 'the PIN contains characters the token does not accept', 'enter the PIN again')],
  [0x0a2, e('HSM_PIN_INVALID', 'the PIN is too short or too long for this token', 'enter a PIN of the length the token expects')],
  [0x0a3, e('HSM_PIN_EXPIRED', 'the PIN has expired', 'change the PIN with the token vendor tool, then run the step again')],
  [0x0a4, e('HSM_PIN_LOCKED', 'the PIN is locked after too many wrong tries', 'the security officer must unlock the token; do not try more PINs')],
  [0x0b0, e('HSM_SESSION_CLOSED', 'the session with the token was closed', RETRY)],
  [0x0b1, e('HSM_SESSION_LIMIT', 'the token has no free sessions', 'close other programs using the token and run the step again')],
  [0x0b3, e('HSM_SESSION_CLOSED', 'the session with the token is no longer valid', RETRY)],
  [0x0b4, e('HSM_MODULE_BUG', 'the token does not support parallel sessions', BUG)],
  [0x0b5, e('HSM_SESSION_CONFLICT', 'the session is read-only', BUG)],
  [0x0b6, e('HSM_SESSION_CONFLICT', 'a session with the token is already open', 'close other programs using the token and run the step again')],
  [0x0b7, e('HSM_SESSION_CONFLICT', 'a read-only session prevents this operation', 'close other programs using the token and run the step again')],
  [0x0b8, e('HSM_SESSION_CONFLICT', 'a security-officer session is open on the token', 'log the security officer out, then run the step again')],
  [0x0c0, e('HSM_SIGNATURE_INVALID', 'the token says the signature is invalid', 'the data or the signature was changed, or the wrong key was used')],
  [0x0c1, e('HSM_SIGNATURE_INVALID', 'the signature has a wrong length', 'the signature was truncated or is not for this key')],
  [0x0d0, e('HSM_TEMPLATE_REJECTED', 'the key template is incomplete for this token', 'check the token capabilities with `keyceremony tokens`')],
  [0x0d1, e('HSM_TEMPLATE_REJECTED', 'the key template is inconsistent for this token', 'check the token capabilities with `keyceremony tokens`')],
  [0x0e0, e('HSM_TOKEN_NOT_PRESENT', 'no token is present in the slot', 'insert the token and run the step again')],
  [0x0e1, e('HSM_TOKEN_NOT_RECOGNIZED', 'the token in the slot is not recognised', 'insert a token of a supported kind')],
  [0x0e2, e('HSM_TOKEN_READ_ONLY', 'the token is write-protected', 'remove the write protection or use another token')],
  [0x0f0, e('HSM_WRAPPING_KEY_INVALID', 'the unwrapping key no longer exists', 'check the key URI')],
  [0x0f1, e('HSM_WRAPPING_KEY_INVALID', 'the unwrapping key has a size the token cannot use', 'use a key of a supported size')],
  [0x0f2, e('HSM_WRAPPING_KEY_INVALID', 'the unwrapping key type does not fit the mechanism', 'use a key of the right type')],
  [0x100, e('HSM_LOGIN_CONFLICT', 'a user is already logged in to the token', 'close other programs using the token and run the step again')],
  [0x101, e('HSM_NOT_LOGGED_IN', 'the operation needs a login to the token', 'enter the PIN when asked')],
  [0x102, e('HSM_PIN_NOT_INITIALIZED', 'the token has no user PIN set', 'the security officer must initialise the user PIN first')],
  [0x103, e('HSM_MODULE_BUG', 'the token does not know the user type', BUG)],
  [0x104, e('HSM_LOGIN_CONFLICT', 'another user is logged in to the token', 'log the other user out, then run the step again')],
  [0x105, e('HSM_LOGIN_CONFLICT', 'too many users are logged in to the token', 'log the other users out, then run the step again')],
  [0x110, e('HSM_DATA_REJECTED', 'the token rejected the wrapped key', 'the wrapped key was changed or was made under another key')],
  [0x112, e('HSM_DATA_REJECTED', 'the wrapped key has a wrong length', 'the wrapped key was truncated or is not for this key')],
  [0x113, e('HSM_WRAPPING_KEY_INVALID', 'the wrapping key no longer exists', 'check the key URI')],
  [0x114, e('HSM_WRAPPING_KEY_INVALID', 'the wrapping key has a size the token cannot use', 'use a wrapping key of a supported size')],
  [0x115, e('HSM_WRAPPING_KEY_INVALID', 'the wrapping key type does not fit the mechanism', 'use a wrapping key of the right type')],
  [0x120, e('HSM_RNG_UNAVAILABLE', 'the token does not accept a random seed', BUG)],
  [0x121, e('HSM_RNG_UNAVAILABLE', 'the token has no random number generator', 'use a token with a hardware RNG')],
  [0x130, e('HSM_TEMPLATE_REJECTED', 'the token rejected the domain parameters', 'check the token capabilities with `keyceremony tokens`')],
  [0x140, e('HSM_MECHANISM_UNSUPPORTED', 'the token does not support this curve', 'check the token capabilities with `keyceremony tokens`')],
  [0x150, e('HSM_MODULE_BUG', 'an output buffer was too small', BUG)],
  [0x160, e('HSM_MODULE_BUG', 'the saved operation state is invalid', BUG)],
  [0x170, e('HSM_ATTRIBUTE_SENSITIVE', 'the information is sensitive', 'this is expected; nothing was revealed')],
  [0x180, e('HSM_MODULE_BUG', 'the operation state cannot be saved', BUG)],
  [0x190, e('HSM_MODULE_STATE', 'the PKCS#11 module is not initialised', BUG)],
  [0x191, e('HSM_MODULE_STATE', 'the PKCS#11 module is already initialised in this process', BUG)],
  [0x1a0, e('HSM_MODULE_STATE', 'the PKCS#11 module reported a bad mutex', BUG)],
  [0x1a1, e('HSM_MODULE_STATE', 'the PKCS#11 module reported an unlocked mutex', BUG)],
  [0x1b0, e('HSM_PIN_INVALID', 'the token asks for a new PIN mode', 'use the token vendor tool to set the PIN')],
  [0x1b1, e('HSM_PIN_INVALID', 'the token asks for the next one-time password', 'use the token vendor tool')],
  [0x1b5, e('HSM_FUNCTION_FAILED', 'the token exceeded its iteration limit', RETRY)],
  [0x1b6, e('HSM_SELF_TEST_FAILED', 'the token failed its FIPS self-test', 'stop: do not use this token; contact its vendor')],
  [0x1b7, e('HSM_MODULE_STATE', 'the PKCS#11 module could not load a library it needs', 'reinstall the token middleware')],
  [0x1b8, e('HSM_PIN_INVALID', 'the PIN is too weak for this token', 'choose a stronger PIN')],
  [0x1b9, e('HSM_PUBLIC_KEY_INVALID', 'the token rejected the public key', 'check the public key file')],
  [0x200, e('HSM_POLICY_REFUSED', 'the token or its user rejected the function', 'ask the token administrator which policy applies')],
  [0x201, e('HSM_MEMORY', 'the token ran out of a resource', 'delete unused objects from the token or use another token')],
  [0x202, e('HSM_CANCELLED', 'the token could not cancel the operation', RETRY)],
]);

export function describeCkr(ckr: number): Entry {
  return TABLE.get(ckr) ?? e('HSM_UNKNOWN', `the token returned an unknown error 0x${ckr.toString(16)}`, BUG);
}

/** PIN state flags of CK_TOKEN_INFO that change what a custodian should be told. */
export interface PinState { readonly countLow: boolean; readonly finalTry: boolean; readonly locked: boolean }

export interface HsmContext { readonly token?: string; readonly pin?: PinState; readonly what?: string }

/**
 * Is this a pkcs11js error carrying a CKR value? pkcs11js 2.1 wraps most calls' errors as
 * Pkcs11Error with a `code`, but not those of the methods its class overrides (C_CreateObject,
 * C_CopyObject, C_SetAttributeValue: measured), which throw a plain Error whose message is
 * "CKR_NAME:decimal"; both are read.
 */
export function ckrOf(err: unknown): number | null {
  if (typeof err !== 'object' || err === null) return null;
  if ((err as { name?: unknown }).name === 'Pkcs11Error') {
    const code = (err as { code?: unknown }).code;
    if (typeof code === 'number') return code;
  }
  const plain = err instanceof Error ? /^CKR_[A-Z0-9_]+:(\d{1,10})$/.exec(err.message) : null;
  return plain === null ? null : Number(plain[1]);
}

export function hsmError(code: HsmCode, message: string, fix: string, cause?: unknown): KeyceremonyError {
  return new KeyceremonyError(code, message, fix, { exit: 1, cause });
}

/** Wrap any error thrown by a pkcs11js call into a KeyceremonyError naming the token. */
export function fromPkcs11(err: unknown, ctx: HsmContext = {}): KeyceremonyError {
  if (err instanceof KeyceremonyError) return err;
  const ckr = ckrOf(err);
  if (ckr === null) {
    const text = err instanceof Error ? err.message : String(err);
    return new KeyceremonyError('HSM_MODULE_BUG', `the PKCS#11 binding failed: ${text}`, BUG, { exit: 3, cause: err });
  }
  const entry = describeCkr(ckr);
  const on = ctx.token === undefined ? '' : ` on token "${ctx.token}"`;
  const during = ctx.what === undefined ? '' : ` (${ctx.what})`;
  let fix = entry.fix;
  if (entry.code === 'HSM_PIN_INCORRECT' && ctx.pin !== undefined) {
    if (ctx.pin.locked) return hsmError('HSM_PIN_LOCKED', `the PIN was incorrect and is now locked${on}`, describeCkr(0x0a4).fix, err);
    if (ctx.pin.finalTry) fix = 'one try is left before the PIN locks: stop and make sure of the PIN before trying again';
    else if (ctx.pin.countLow) fix = 'few tries are left before the PIN locks: make sure of the PIN before trying again';
  }
  return hsmError(entry.code, `${entry.message}${on}${during}`, fix, err);
}
