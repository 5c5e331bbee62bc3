/**
 * Sessions: `withSession(token, pin, fn)` opens a read-write session, logs in, runs `fn`, and
 * logs out and closes in `finally`. PKCS#11 login state is shared by all sessions of a process on
 * one token (PKCS#11 2.40 §5.6), so nested sessions on the same token count logins and only the
 * last one out logs out.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { pkcs11js } from './binding.js';
import type { Handle, Template } from './binding.js';
import { KeyceremonyError } from '../errors.js';
import { ckrOf, fromPkcs11, hsmError } from './errors.js';
import type { Token } from './tokens.js';

const CKR_USER_ALREADY_LOGGED_IN = 0x100;
const CKR_USER_NOT_LOGGED_IN = 0x101;
const CKR_USER_TYPE_INVALID = 0x103;

/**
 * The logins this process holds, per token: how many sessions use it, and a MAC of the PIN that
 * logged in under a key made for that login. A token logged in answers C_Login with
 * CKR_USER_ALREADY_LOGGED_IN whatever the PIN, so a later caller's PIN is compared with the MAC
 * (constant time) instead: a wrong PIN is refused while another operation holds the login.
 */
interface Login { count: number; readonly macKey: Buffer; readonly pinMac: Buffer }
const logins = new Map<string, Login>();

const pinMac = (key: Buffer, pin: Uint8Array): Buffer => createHmac('sha256', key).update(pin).digest();

export class Session {
  readonly token: Token;
  readonly handle: Handle;

  constructor(token: Token, handle: Handle) {
    this.token = token;
    this.handle = handle;
  }

  get api() {
    return this.token.module.api;
  }

  /** Run one pkcs11js call, turning its errors into KeyceremonyErrors naming this token. */
  call<T>(what: string, fn: () => T): T {
    try {
      return fn();
    } catch (err) {
      throw fromPkcs11(err, { token: this.token.label, what });
    }
  }

  async callAsync<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      throw fromPkcs11(err, { token: this.token.label, what });
    }
  }

  findObjects(template: Template, max = 64): Handle[] {
    return this.call('searching objects', () => {
      this.api.C_FindObjectsInit(this.handle, template);
      try {
        return this.api.C_FindObjects(this.handle, max);
      } finally {
        this.api.C_FindObjectsFinal(this.handle);
      }
    });
  }

  /** One attribute's raw value, or null when the token does not have or will not reveal it. */
  attribute(object: Handle, type: number): Buffer | null {
    try {
      const [a] = this.api.C_GetAttributeValue(this.handle, object, [{ type }]);
      return a?.value ?? null;
    } catch (err) {
      const ckr = ckrOf(err);
      if (ckr === 0x11 || ckr === 0x12) return null; // CKR_ATTRIBUTE_SENSITIVE, CKR_ATTRIBUTE_TYPE_INVALID
      throw fromPkcs11(err, { token: this.token.label, what: 'reading an attribute' });
    }
  }

  random(length: number): Buffer {
    return this.call('drawing random bytes', () => this.api.C_GenerateRandom(this.handle, Buffer.alloc(length)));
  }
}

function loginKey(token: Token): string {
  return `${token.module.path}\0${token.slot.toString('hex')}`;
}

export interface SessionOptions {
  readonly readWrite?: boolean;
}

/**
 * C_Login that proves the PIN: a token that says it is logged in already (a login this process no
 * longer counts, such as a logout that failed) is logged out and asked again, never taken as proof.
 */
function logIn(api: Token['module']['api'], user: number, handle: Handle, token: Token, pin: Uint8Array): void {
  const text = Buffer.from(pin.buffer, pin.byteOffset, pin.byteLength).toString('utf8'); // a view: no copy of the PIN in Node's shared pool
  for (let attempt = 0; ; attempt++) {
    try {
      api.C_Login(handle, user, text);
      return;
    } catch (err) {
      if (ckrOf(err) !== CKR_USER_ALREADY_LOGGED_IN || attempt > 0) throw fromPkcs11(err, { token: token.label, pin: token.pinState(), what: 'logging in' });
      try { api.C_Logout(handle); } catch { /* the retry says what is wrong */ }
    }
  }
}

/**
 * `pin` is zeroed by the caller after use; pkcs11js takes the PIN as a JavaScript string, which
 * cannot be zeroed (README, "What JavaScript cannot promise").
 */
export async function withSession<T>(token: Token, pin: Uint8Array | null, fn: (s: Session) => Promise<T>, options: SessionOptions = {}): Promise<T> {
  const B = pkcs11js();
  const api = token.module.api;
  const flags = B.CKF_SERIAL_SESSION | (options.readWrite === false ? 0 : B.CKF_RW_SESSION);
  let handle: Handle;
  try {
    handle = api.C_OpenSession(token.slot, flags);
  } catch (err) {
    throw fromPkcs11(err, { token: token.label, what: 'opening a session' });
  }
  const key = loginKey(token);
  let loggedIn = false;
  try {
    if (pin !== null) {
      const held = logins.get(key);
      if (held === undefined) {
        logIn(api, B.CKU_USER, handle, token, pin);
        const macKey = randomBytes(32);
        logins.set(key, { count: 1, macKey, pinMac: pinMac(macKey, pin) });
      } else {
        if (!timingSafeEqual(pinMac(held.macKey, pin), held.pinMac)) {
          throw new KeyceremonyError('HSM_LOGIN_CONFLICT', `${token.label} is logged in by an operation still running, with another PIN than the one given now (no try of the token was used)`,
            `type the PIN of ${token.label}; if it is right, wait until the running operation ends`);
        }
        held.count++;
      }
      loggedIn = true;
    }
    return await fn(new Session(token, handle));
  } finally {
    if (loggedIn) {
      const held = logins.get(key);
      if (held === undefined || held.count <= 1) {
        logins.delete(key);
        try { api.C_Logout(handle); } catch (err) { if (ckrOf(err) !== CKR_USER_NOT_LOGGED_IN) { /* session gone: logout is moot */ } }
      } else {
        held.count--;
      }
    }
    try { api.C_CloseSession(handle); } catch { /* token removed: the session is gone anyway */ }
  }
}

/**
 * A read-write session logged in as the token's security officer (CKU_SO), for what only the SO
 * may do (PKCS#11 2.40 §4.8: set CKA_TRUSTED). PKCS#11 allows one login per token per process, so
 * it is refused while a user session of this process is logged in to the token. An SO session sees
 * and makes public objects only (SoftHSM2: CKR_USER_NOT_LOGGED_IN for a private one).
 */
export async function withSoSession<T>(token: Token, soPin: Uint8Array, fn: (s: Session) => Promise<T>): Promise<T> {
  const B = pkcs11js();
  const api = token.module.api;
  if (logins.has(loginKey(token))) {
    throw new KeyceremonyError('HSM_LOGIN_CONFLICT', `a user session of this program is logged in to token "${token.label}", so its security officer cannot log in`, 'finish the user\'s work on the token first, then let the security officer act');
  }
  let handle: Handle;
  try {
    handle = api.C_OpenSession(token.slot, B.CKF_SERIAL_SESSION | B.CKF_RW_SESSION);
  } catch (err) {
    throw fromPkcs11(err, { token: token.label, what: 'opening a session' });
  }
  try {
    try {
      api.C_Login(handle, B.CKU_SO, Buffer.from(soPin.buffer, soPin.byteOffset, soPin.byteLength).toString('utf8'));
    } catch (err) {
      // measured: NSS softokn 3.87 answers CKR_USER_TYPE_INVALID to any SO login once its user PIN is set
      if (ckrOf(err) === CKR_USER_TYPE_INVALID) {
        throw hsmError('HSM_SO_LOGIN_UNAVAILABLE', `token "${token.label}" lets no security officer log in (CKR_USER_TYPE_INVALID), as NSS softokn does once its user PIN is set`,
          'this token offers nothing only its security officer may do (no trusted wrapping key): keep its keys without wrap-with-trusted', err);
      }
      throw fromPkcs11(err, { token: token.label, what: 'logging in as security officer' });
    }
    try {
      return await fn(new Session(token, handle));
    } finally {
      try { api.C_Logout(handle); } catch { /* session gone: logout is moot */ }
    }
  } finally {
    try { api.C_CloseSession(handle); } catch { /* token removed: the session is gone anyway */ }
  }
}
