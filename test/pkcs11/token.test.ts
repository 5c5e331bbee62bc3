/** The PKCS#11 layer against real SoftHSM2 tokens made for this file. */
import { createCipheriv, createPublicKey, verify as nodeVerify } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pkcs11js } from '../../src/pkcs11/binding.js';
import { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA } from '../../src/pkcs11/binding.js';
import { generateAesKey, generateEd25519, generateRsa, keyCheckValue, parseEd25519Point, signEd25519 } from '../../src/pkcs11/keys.js';
import { chooseModule, Pkcs11Module } from '../../src/pkcs11/module.js';
import { withSession } from '../../src/pkcs11/session.js';
import { findToken, hasMechanism, listTokens, mechanisms } from '../../src/pkcs11/tokens.js';
import { expectCode, expectCodeAsync } from '../support/expect-code.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

const HSM = { label: 'Test HSM', pin: '123456', soPin: '12345678' };
const CARD = { label: 'custodian-dana', pin: '2468', soPin: '87654321' };
const TWIN_A = { label: 'twin', pin: '1111', soPin: '11111111' };
const TWIN_B = { label: 'twin', pin: '2222', soPin: '22222222' };

let hsm: SoftHsm;
let mod: Pkcs11Module;

beforeAll(() => {
  hsm = createSoftHsm([HSM, CARD, TWIN_A, TWIN_B]);
  mod = Pkcs11Module.open(hsm.module);
});
afterAll(() => {
  mod.close();
  hsm.cleanup();
});

const B = () => pkcs11js();
// CK_STATE values (PKCS#11 2.40 §5.6.1); pkcs11js has no constants for them.
const CKS_RO_PUBLIC_SESSION = 0;
const CKS_RW_USER_FUNCTIONS = 3;
const inHsm = <T>(fn: Parameters<typeof withSession<T>>[2]) => withSession(findToken(mod, { label: HSM.label }), pinBytes(HSM.pin), fn);

describe('module', () => {
  test('opening the same path again returns the same initialised module', () => {
    expect(Pkcs11Module.open(hsm.module)).toBe(mod);
    expect(mod.isSoftHsm).toBe(true);
    expect(mod.info.cryptokiVersion).toMatch(/^2\.\d+$/);
  });
  test('a path that does not exist is a usage error naming the path', () => {
    const e = expectCode(() => Pkcs11Module.open('/nonexistent/libpkcs11.so'), 'HSM_MODULE_NOT_FOUND');
    expect(e.exit).toBe(2);
    expect(e.message).toContain('/nonexistent/libpkcs11.so');
  });
  test('a file that is not a PKCS#11 library is refused', () => {
    const e = expectCode(() => Pkcs11Module.open('/etc/hostname'), 'HSM_MODULE_LOAD_FAILED');
    expect(e.exit).toBe(2);
  });
  test('a library another part of the process initialised is detected by CKR code, not text', () => {
    // A raw binding initialises the library first; our layer must cope, and must not finalise it.
    const raw = new (B().PKCS11)();
    raw.load(hsm.module);
    // Our module already initialised the library in this process, so the raw one is refused:
    expect(() => raw.C_Initialize()).toThrow(expect.objectContaining({ code: 0x191 }));
    raw.close();
  });
  test('choice order (CLI.md): a URI\'s module-path names its token\'s library; else --module, the environment, SoftHSM2; parameters go to the default library', () => {
    const env = { KEYCEREMONY_PKCS11_MODULE: '/env.so', KEYCEREMONY_PKCS11_MODULE_PARAMS: 'env-params' };
    expect(chooseModule({ flag: '/flag.so', env, uriModulePath: '/uri.so' })).toEqual({ path: '/uri.so', source: 'uri' });
    expect(chooseModule({ flag: '/flag.so', env })).toEqual({ path: '/flag.so', source: 'flag', params: 'env-params' });
    expect(chooseModule({ flag: '/flag.so', paramsFlag: 'flag-params', env })).toEqual({ path: '/flag.so', source: 'flag', params: 'flag-params' });
    expect(chooseModule({ env })).toEqual({ path: '/env.so', source: 'env', params: 'env-params' });
    expect(chooseModule({ env, uriModulePath: '/env.so' })).toEqual({ path: '/env.so', source: 'uri', params: 'env-params' }); // the same library
    expect(chooseModule({ env: {}, uriModulePath: '/uri.so' })).toEqual({ path: '/uri.so', source: 'uri' });
    expect(chooseModule({ env: {} })).toEqual({ path: hsm.module, source: 'auto' });
  });
});

describe('tokens', () => {
  test('lists label, serial, manufacturer, model and flags', () => {
    const tokens = listTokens(mod).filter((t) => t.info.flags.initialized);
    expect(tokens.map((t) => t.label).sort()).toEqual(['Test HSM', 'custodian-dana', 'twin', 'twin']);
    const t = tokens.find((x) => x.label === HSM.label)!;
    expect(t.info.serial).toMatch(/^[0-9a-f]{16}$/);
    expect(t.info.manufacturer).toBe('SoftHSM project');
    expect(t.info.model).toBe('SoftHSM v2');
    expect(t.info.flags).toMatchObject({ initialized: true, loginRequired: true, userPinInitialized: true, pinLocked: false, rng: true });
    expect(listTokens(mod).some((x) => !x.info.flags.initialized)).toBe(true); // SoftHSM2's free slot
  });
  test('chosen by label or serial; a duplicate label needs the serial', () => {
    const t = findToken(mod, { label: HSM.label });
    expect(findToken(mod, { serial: t.info.serial }).label).toBe(HSM.label);
    expectCode(() => findToken(mod, { label: 'twin' }), 'HSM_TOKEN_AMBIGUOUS');
    const twins = listTokens(mod).filter((x) => x.label === 'twin');
    expect(findToken(mod, { label: 'twin', serial: twins[1]!.info.serial }).info.serial).toBe(twins[1]!.info.serial);
    expectCode(() => findToken(mod, { label: 'nobody' }), 'HSM_TOKEN_NOT_FOUND');
    expectCode(() => findToken(mod, { label: HSM.label, serial: twins[0]!.info.serial }), 'HSM_TOKEN_NOT_FOUND');
    expectCode(() => findToken(mod, {}), 'HSM_TOKEN_AMBIGUOUS');
  });
  test('the capability probe reports what SoftHSM2 2.6.1 was measured to offer', () => {
    const caps = mechanisms(findToken(mod, { label: HSM.label }));
    expect(hasMechanism(caps, CKM_EC_EDWARDS_KEY_PAIR_GEN, 'generate-key-pair')).toBe(true);
    expect(hasMechanism(caps, CKM_EDDSA, 'sign')).toBe(true);
    expect(hasMechanism(caps, 0x210a, 'wrap')).toBe(true); // CKM_AES_KEY_WRAP_PAD
    expect(hasMechanism(caps, B().CKM_RSA_PKCS_OAEP, 'wrap')).toBe(true);
    expect(hasMechanism(caps, 0x1054)).toBe(false); // no CKM_RSA_AES_KEY_WRAP
    const aesGen = caps.find((m) => m.name === 'CKM_AES_KEY_GEN')!;
    expect(aesGen).toMatchObject({ minKeySize: 16, maxKeySize: 32 });
    expect(caps.find((m) => m.id === CKM_EDDSA)!.name).toBe('CKM_EDDSA');
  });
});

describe('sessions and PINs', () => {
  test('wrong PIN: HSM_PIN_INCORRECT naming the token, then the right PIN still works', async () => {
    const card = findToken(mod, { label: CARD.label });
    const e = await expectCodeAsync(withSession(card, pinBytes('0000'), async () => 1), 'HSM_PIN_INCORRECT');
    expect(e.message).toContain(CARD.label);
    expect(card.pinState().countLow).toBe(true); // SoftHSM2 sets COUNT_LOW after a failure
    expect(await withSession(card, pinBytes(CARD.pin), async () => 'in')).toBe('in');
    expect(card.pinState().countLow).toBe(false);
  });
  test('withSession logs out and closes even when fn throws; nested sessions share one login', async () => {
    const t = findToken(mod, { label: HSM.label });
    await expect(withSession(t, pinBytes(HSM.pin), async () => { throw new Error('boom'); })).rejects.toThrow('boom');
    await withSession(t, pinBytes(HSM.pin), async (outer) => {
      await withSession(t, pinBytes(HSM.pin), async (inner) => expect(inner.handle.equals(outer.handle)).toBe(false));
      // still logged in after the inner session ends: a private object can be created
      expect(outer.random(4)).toHaveLength(4);
      const info = mod.api.C_GetSessionInfo(outer.handle);
      expect(info.state).toBe(CKS_RW_USER_FUNCTIONS);
    });
    const s = mod.api.C_OpenSession(t.slot, B().CKF_SERIAL_SESSION);
    expect(mod.api.C_GetSessionInfo(s).state).toBe(CKS_RO_PUBLIC_SESSION); // logged out afterwards
    mod.api.C_CloseSession(s);
  });
});

describe('a login held by a running operation', () => {
  test('a second caller with a wrong PIN is refused without using a try (the token would say "already logged in" to any PIN); the right PIN shares the login', async () => {
    const t = findToken(mod, { label: HSM.label });
    await withSession(t, pinBytes(HSM.pin), async (outer) => {
      const e = await expectCodeAsync(withSession(t, pinBytes('totally-wrong'), async () => 'made a key'), 'HSM_LOGIN_CONFLICT');
      expect(e.message).toContain(HSM.label);
      expect(e.message).not.toContain('totally-wrong');
      expect(t.pinState().countLow).toBe(false); // the token was not asked: no try used
      expect(await withSession(t, pinBytes(HSM.pin), async () => 'shared')).toBe('shared');
      // the refused caller left the holder's login alone
      expect(mod.api.C_GetSessionInfo(outer.handle).state).toBe(CKS_RW_USER_FUNCTIONS);
    });
    const s = mod.api.C_OpenSession(t.slot, B().CKF_SERIAL_SESSION);
    expect(mod.api.C_GetSessionInfo(s).state).toBe(CKS_RO_PUBLIC_SESSION); // the holder's end logged out
    mod.api.C_CloseSession(s);
  });
  test('a login this process no longer counts is not taken as proof of a PIN: it is logged out and the PIN asked of the token', async () => {
    const t = findToken(mod, { label: HSM.label });
    const stray = mod.api.C_OpenSession(t.slot, B().CKF_SERIAL_SESSION | B().CKF_RW_SESSION);
    mod.api.C_Login(stray, B().CKU_USER, HSM.pin); // as a logout that failed would leave it
    await expectCodeAsync(withSession(t, pinBytes('totally-wrong'), async () => 'in'), 'HSM_PIN_INCORRECT');
    expect(await withSession(t, pinBytes(HSM.pin), async () => 'in')).toBe('in');
    mod.api.C_CloseSession(stray);
  });
});

describe('AES-256 keys', () => {
  test('master key: template as asked, KCV computed in the token matches CKA_CHECK_VALUE', async () => {
    await inHsm(async (s) => {
      const k = await generateAesKey(s, { label: 'master-v1', role: 'master' });
      expect(k.kcv.method).toBe('ecb');
      expect(k.kcv.value).toMatch(/^[0-9a-f]{6}$/);
      expect(k.uri).toContain('object=master-v1');
      expect(k.id).toMatch(/^[0-9a-f]{32}$/);
      const [h] = s.findObjects([{ type: B().CKA_LABEL, value: 'master-v1' }]);
      const attr = (t: number) => s.attribute(h!, t)!;
      expect(attr(B().CKA_VALUE_LEN).readUInt32LE(0)).toBe(32);
      for (const [t, want] of [[B().CKA_TOKEN, 1], [B().CKA_PRIVATE, 1], [B().CKA_SENSITIVE, 1], [B().CKA_EXTRACTABLE, 0], [B().CKA_ENCRYPT, 1], [B().CKA_DECRYPT, 1],
        [B().CKA_WRAP, 0], [B().CKA_UNWRAP, 0], [B().CKA_SIGN, 0], [B().CKA_DERIVE, 0], [B().CKA_MODIFIABLE, 0], [B().CKA_NEVER_EXTRACTABLE, 1]] as const) {
        expect([t, attr(t)[0]]).toEqual([t, want]);
      }
      expect(s.attribute(h!, B().CKA_VALUE)).toBeNull(); // sensitive: the token will not reveal it
      expect(s.attribute(h!, B().CKA_CHECK_VALUE)!.toString('hex')).toBe(k.kcv.value);
    });
  });
  test('backup key wraps only (no encrypt), extractable when asked; its KCV comes from CKA_CHECK_VALUE', async () => {
    await inHsm(async (s) => {
      const k = await generateAesKey(s, { label: 'backup-v1', role: 'backup', extractable: true });
      const [h] = s.findObjects([{ type: B().CKA_LABEL, value: 'backup-v1' }]);
      expect(s.attribute(h!, B().CKA_ENCRYPT)![0]).toBe(0);
      expect(s.attribute(h!, B().CKA_WRAP)![0]).toBe(1);
      expect(s.attribute(h!, B().CKA_EXTRACTABLE)![0]).toBe(1);
      expect(k.extractable).toBe(true);
      expect(k.kcv.value).toBe(s.attribute(h!, B().CKA_CHECK_VALUE)!.toString('hex'));
    });
  });
  test('KCV cross-checked with node:crypto on a key of known value', async () => {
    await inHsm(async (s) => {
      const value = Buffer.from('603deb1015ca71be2b73aef0857d77811f352c073b6108d72d9810a30914dff4', 'hex');
      const h = mod.api.C_CreateObject(s.handle, [
        { type: B().CKA_CLASS, value: B().CKO_SECRET_KEY }, { type: B().CKA_KEY_TYPE, value: B().CKK_AES }, { type: B().CKA_TOKEN, value: false },
        { type: B().CKA_ENCRYPT, value: true }, { type: B().CKA_VALUE, value }, { type: B().CKA_LABEL, value: 'known' }]);
      const c = createCipheriv('aes-256-ecb', value, null).setAutoPadding(false);
      const expected = Buffer.concat([c.update(Buffer.alloc(16)), c.final()]).subarray(0, 3).toString('hex');
      expect((await keyCheckValue(s, h)).value).toBe(expected);
    });
  });
  test('a label that exists already is refused and nothing is created', async () => {
    await inHsm(async (s) => {
      const count = () => s.findObjects([], 1000).length;
      const before = count();
      await expectCodeAsync(generateAesKey(s, { label: 'master-v1', role: 'master' }), 'HSM_OBJECT_EXISTS');
      await expectCodeAsync(generateEd25519(s, { label: 'master-v1' }), 'HSM_OBJECT_EXISTS');
      expect(count()).toBe(before);
    });
  });
  test('labels are validated before anything reaches the token', async () => {
    await inHsm(async (s) => {
      for (const label of ['', ' padded', 'a\nb', 'x'.repeat(65), 42]) {
        await expectCodeAsync(generateAesKey(s, { label: label as string, role: 'master' }), 'KEY_LABEL_INVALID');
      }
    });
  });
});

describe('Ed25519 custodian keys', () => {
  test('generated in the token; the signature verifies in node:crypto; CKA_EC_POINT parsed', async () => {
    const card = findToken(mod, { label: CARD.label });
    await withSession(card, pinBytes(CARD.pin), async (s) => {
      const k = await generateEd25519(s, { label: 'dana-sign-v1' });
      expect(k.publicKey).toHaveLength(32);
      expect(k.fingerprint.hex).toBe(k.keyid);
      expect(k.fingerprint.words).toHaveLength(12);
      const [priv] = s.findObjects([{ type: B().CKA_CLASS, value: B().CKO_PRIVATE_KEY }, { type: B().CKA_LABEL, value: 'dana-sign-v1' }]);
      expect(s.attribute(priv!, B().CKA_EXTRACTABLE)![0]).toBe(0);
      expect(s.attribute(priv!, B().CKA_SENSITIVE)![0]).toBe(1);
      const msg = Buffer.from('DSSEv1 35 application/vnd.keyceremony.rotation+json 2 {}');
      const sig = await signEd25519(s, { label: 'dana-sign-v1' }, msg, k.publicKey);
      expect(sig.signature).toHaveLength(64);
      const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), k.publicKey]);
      expect(nodeVerify(null, msg, createPublicKey({ key: spki, format: 'der', type: 'spki' }), sig.signature)).toBe(true);
    });
  });
  test('the wrong card is caught: the expected public key differs', async () => {
    const card = findToken(mod, { label: CARD.label });
    await withSession(card, pinBytes(CARD.pin), async (s) => {
      const other = new Uint8Array(Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex'));
      await expectCodeAsync(signEd25519(s, { label: 'dana-sign-v1' }, Buffer.from('x'), other), 'HSM_WRONG_KEY');
      await expectCodeAsync(signEd25519(s, { label: 'nobody-sign' }, Buffer.from('x')), 'HSM_OBJECT_NOT_FOUND');
    });
  });
  test('both CKA_EC_POINT encodings are accepted; anything else is refused', () => {
    const raw = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
    expect(Buffer.from(parseEd25519Point(raw)).equals(raw)).toBe(true);
    expect(Buffer.from(parseEd25519Point(Buffer.concat([Buffer.from([4, 32]), raw]))).equals(raw)).toBe(true);
    expectCode(() => parseEd25519Point(Buffer.concat([Buffer.from([4, 33]), raw, Buffer.from([0])])), 'HSM_PUBLIC_KEY_INVALID');
    expectCode(() => parseEd25519Point(raw.subarray(1)), 'HSM_PUBLIC_KEY_INVALID');
    // the identity point (y = 1) is a valid encoding of a small-order point: refused
    expectCode(() => parseEd25519Point(Buffer.from('01'.padEnd(64, '0'), 'hex')), 'HSM_PUBLIC_KEY_INVALID');
  });
});

describe('RSA key pairs', () => {
  test('the SPKI built from CKA_MODULUS/CKA_PUBLIC_EXPONENT is what node:crypto reads', async () => {
    await inHsm(async (s) => {
      const k = await generateRsa(s, { label: 'kek-test', bits: 2048 });
      const pub = createPublicKey({ key: Buffer.from(k.spki), format: 'der', type: 'spki' });
      expect(pub.asymmetricKeyDetails?.modulusLength).toBe(2048);
      expect(pub.asymmetricKeyDetails?.publicExponent).toBe(65537n);
    });
  });
});
