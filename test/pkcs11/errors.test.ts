import { createRequire } from 'node:module';
import { describe, expect, test } from 'vitest';
import { KeyceremonyError } from '../../src/errors.js';
import { ckrOf, describeCkr, fromPkcs11 } from '../../src/pkcs11/errors.js';

const pkcs11js = createRequire(import.meta.url)('pkcs11js') as Record<string, unknown> & { Pkcs11Error: new (m: string, c: number) => Error };
const CKR = Object.entries(pkcs11js).filter(([k, v]) => k.startsWith('CKR_') && k !== 'CKR_OK' && typeof v === 'number') as [string, number][];

describe('every CKR_* maps to a stable code', () => {
  test('pkcs11js knows the 91 non-OK return values of PKCS#11 2.40', () => {
    expect(CKR.length).toBe(91);
  });
  test.each(CKR)('%s has a code, a message and a fix', (_name, value) => {
    const entry = describeCkr(value);
    expect(entry.code).toMatch(/^HSM_[A-Z_]+$/);
    expect(entry.code).not.toBe('HSM_UNKNOWN');
    expect(entry.message.length).toBeGreaterThan(5);
    expect(entry.fix.length).toBeGreaterThan(5);
  });
  test('PKCS#11 3.0 additions are mapped too, and anything else is HSM_UNKNOWN with its value', () => {
    for (const v of [0x1b, 0x140, 0x201, 0x202]) expect(describeCkr(v).code).not.toBe('HSM_UNKNOWN');
    expect(describeCkr(0x8000_0001).code).toBe('HSM_UNKNOWN');
    expect(describeCkr(0x8000_0001).message).toContain('0x80000001');
  });
  test.each([
    ['CKR_PIN_INCORRECT', 'HSM_PIN_INCORRECT'], ['CKR_PIN_LOCKED', 'HSM_PIN_LOCKED'], ['CKR_TOKEN_NOT_PRESENT', 'HSM_TOKEN_NOT_PRESENT'],
    ['CKR_MECHANISM_INVALID', 'HSM_MECHANISM_UNSUPPORTED'], ['CKR_OBJECT_HANDLE_INVALID', 'HSM_OBJECT_NOT_FOUND'], ['CKR_KEY_UNEXTRACTABLE', 'HSM_KEY_NOT_EXTRACTABLE'],
    ['CKR_SESSION_HANDLE_INVALID', 'HSM_SESSION_CLOSED'], ['CKR_SESSION_CLOSED', 'HSM_SESSION_CLOSED'], ['CKR_DEVICE_REMOVED', 'HSM_DEVICE_REMOVED'],
  ])('%s → %s', (ckr, code) => {
    expect(describeCkr(pkcs11js[ckr] as number).code).toBe(code);
  });
});

describe('fromPkcs11', () => {
  const pinError = () => new pkcs11js.Pkcs11Error('CKR_PIN_INCORRECT:160', 160);
  test('names the token and the step', () => {
    const e = fromPkcs11(pinError(), { token: 'alice', what: 'logging in' });
    expect(e.code).toBe('HSM_PIN_INCORRECT');
    expect(e.message).toContain('"alice"');
    expect(e.exit).toBe(1);
  });
  test('the fix depends on the tries left; a PIN that locked on this try says so', () => {
    const low = fromPkcs11(pinError(), { pin: { countLow: true, finalTry: false, locked: false } });
    const final = fromPkcs11(pinError(), { pin: { countLow: true, finalTry: true, locked: false } });
    const plain = fromPkcs11(pinError(), { pin: { countLow: false, finalTry: false, locked: false } });
    expect(new Set([low.fix, final.fix, plain.fix]).size).toBe(3);
    expect(fromPkcs11(pinError(), { pin: { countLow: true, finalTry: true, locked: true } }).code).toBe('HSM_PIN_LOCKED');
  });
  test('the plain Error pkcs11js 2.1 throws from C_CreateObject, C_CopyObject and C_SetAttributeValue ("CKR_NAME:decimal") is read for its CKR too', () => {
    expect(ckrOf(new Error('CKR_ATTRIBUTE_READ_ONLY:16'))).toBe(0x10);
    expect(fromPkcs11(new Error('CKR_TEMPLATE_INCONSISTENT:209'), { token: 'hsm' })).toMatchObject({ code: 'HSM_TEMPLATE_REJECTED', exit: 1 });
    for (const m of ['CKR_X:16 and more', 'something CKR_X:16', 'CKR_X:', 'ckr_x:16']) expect(ckrOf(new Error(m))).toBeNull();
  });
  test('a non-PKCS#11 failure of the binding is a bug (exit 3); a KeyceremonyError passes through', () => {
    expect(fromPkcs11(new TypeError('bad')).exit).toBe(3);
    const own = new KeyceremonyError('X', 'm', 'f');
    expect(fromPkcs11(own)).toBe(own);
  });
});
