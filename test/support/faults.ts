/**
 * The fault-injecting wrapper of issue 8 (tests only): it stands between the code and the real
 * SoftHSM2 binding of one module and makes one chosen call fail, at its nth use, with a chosen
 * CKR; every other call passes through to SoftHSM2.
 */
import pkcs11 from 'pkcs11js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';

export const CKR = { DEVICE_REMOVED: 0x32, TOKEN_NOT_PRESENT: 0xe0, SESSION_HANDLE_INVALID: 0xb3, DEVICE_ERROR: 0x30, PIN_LOCKED: 0xa4 } as const;

const realApi = new WeakMap<Pkcs11Module, Pkcs11Module['api']>();

/** Make `fn` fail with `ckr` on its nth call from now on (once), counting only calls made while `when()` holds. */
export function injectFault(mod: Pkcs11Module, fn: string, nth: number, ckr: number, when: () => boolean = () => true): { fired: () => boolean } {
  const real = realApi.get(mod) ?? mod.api;
  realApi.set(mod, real);
  let calls = 0;
  let fired = false;
  const proxy = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      if (prop !== fn) return (v as (...a: unknown[]) => unknown).bind(target);
      return (...args: unknown[]) => {
        if (!fired && when()) calls++;
        if (calls === nth && !fired) {
          fired = true;
          const err = new pkcs11.Pkcs11Error(`CKR 0x${ckr.toString(16)}`, ckr, fn);
          if (fn.endsWith('Async')) return Promise.reject(err);
          throw err;
        }
        return (v as (...a: unknown[]) => unknown).apply(target, args);
      };
    },
  });
  Object.defineProperty(mod, 'api', { value: proxy, configurable: true });
  return { fired: () => fired };
}

/** The real binding back: the fault is gone (the card is back in, the device answers). */
export function healFaults(mod: Pkcs11Module): void {
  const real = realApi.get(mod);
  if (real !== undefined) Object.defineProperty(mod, 'api', { value: real, configurable: true });
}

/** The binding of a module as it is without faults. */
export function realBinding(mod: Pkcs11Module): Pkcs11Module['api'] {
  return realApi.get(mod) ?? mod.api;
}

/**
 * Every module opened from now on gets `fault` injected when opened (for code that opens its own
 * module, such as a ceremony run); restore() puts Pkcs11Module.open back.
 */
export function injectOnOpen(fault: () => { fn: string; nth: number; ckr: number; when?: () => boolean } | null): { fired: () => boolean; restore: () => void } {
  const open = Object.getOwnPropertyDescriptor(Pkcs11Module, 'open')!.value as typeof Pkcs11Module.open;
  let last: { fired: () => boolean } | null = null;
  Object.defineProperty(Pkcs11Module, 'open', {
    configurable: true, writable: true,
    value: (path: string) => {
      const mod = open.call(Pkcs11Module, path);
      healFaults(mod);
      const f = fault();
      last = f === null ? null : injectFault(mod, f.fn, f.nth, f.ckr, f.when);
      return mod;
    },
  });
  return { fired: () => last?.fired() ?? false, restore: () => Object.defineProperty(Pkcs11Module, 'open', { configurable: true, writable: true, value: open }) };
}
