import { createPrivateKey, createPublicKey, sign as nodeSign, verify as nodeVerify } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ED25519_TORSION_SUBGROUP, ed25519 } from '@noble/curves/ed25519.js';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { Ed25519PublicKey, keyIdOf, publicKeyProblem, scalarIsCanonical, verifyStrict } from '../../src/crypto/ed25519.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');
const nodePublic = (pk: Uint8Array) => createPublicKey({ key: Buffer.concat([SPKI_PREFIX, pk]), format: 'der', type: 'spki' });
const nodePrivate = (sk: Uint8Array) => createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), sk]), format: 'der', type: 'pkcs8' });

// RFC 8032 §7.1, TEST 1–3.
const RFC8032 = [
  { sk: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', pk: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', msg: '',
    sig: 'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b' },
  { sk: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb', pk: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c', msg: '72',
    sig: '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00' },
  { sk: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7', pk: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025', msg: 'af82',
    sig: '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a' },
];

const L = 2n ** 252n + 27742317777372353535851937790883648493n;

function addLToS(sig: Uint8Array): Uint8Array {
  const s = BigInt(`0x${Buffer.from(sig.subarray(32)).reverse().toString('hex')}`) + L;
  const out = new Uint8Array(sig);
  const le = Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse();
  out.set(le, 32);
  return out;
}

describe('RFC 8032 §7.1 vectors', () => {
  test.each(RFC8032)('test vector with message "$msg" verifies here and in node:crypto', (v) => {
    const sig = hex(v.sig);
    expect(verifyStrict(sig, hex(v.msg), hex(v.pk))).toBe(true);
    expect(nodeVerify(null, hex(v.msg), nodePublic(hex(v.pk)), sig)).toBe(true);
    // the independent signer reproduces the published signature (Ed25519 is deterministic)
    expect(Buffer.from(nodeSign(null, hex(v.msg), nodePrivate(hex(v.sk)))).toString('hex')).toBe(v.sig);
    expect(verifyStrict(sig, hex(`${v.msg}00`), hex(v.pk))).toBe(false);
  });

  test('S + L (malleated, non-canonical S) is refused although the point equation holds', () => {
    const v = RFC8032[0]!;
    const malleated = addLToS(hex(v.sig));
    expect(scalarIsCanonical(malleated)).toBe(false);
    expect(verifyStrict(malleated, hex(v.msg), hex(v.pk))).toBe(false);
    expect(verifyStrict(hex(v.sig), hex(v.msg), hex(v.pk))).toBe(true);
  });
  test('scalarIsCanonical: L - 1 is canonical, L and 2^256 - 1 are not', () => {
    const withS = (s: bigint) => { const sig = new Uint8Array(64); sig.set(Buffer.from(s.toString(16).padStart(64, '0'), 'hex').reverse(), 32); return sig; };
    expect(scalarIsCanonical(withS(L - 1n))).toBe(true);
    expect(scalarIsCanonical(withS(0n))).toBe(true);
    expect(scalarIsCanonical(withS(L))).toBe(false);
    expect(scalarIsCanonical(withS(2n ** 256n - 1n))).toBe(false);
  });
});

describe('Wycheproof ed25519_test.json', () => {
  const file = JSON.parse(readFileSync(new URL('../vectors/ed25519_test.json', import.meta.url), 'utf8')) as {
    testGroups: { publicKey: { pk: string }; tests: { tcId: number; msg: string; sig: string; result: 'valid' | 'invalid' | 'acceptable'; flags: string[] }[] }[];
  };
  const cases = file.testGroups.flatMap((g) => g.tests.map((t) => ({ ...t, pk: g.publicKey.pk })));
  test('has the 151 cases we expect, with no "acceptable" left to interpret', () => {
    expect(cases).toHaveLength(151);
    expect(cases.filter((c) => c.result === 'acceptable')).toHaveLength(0);
  });
  test.each(cases)('tcId $tcId ($result, $flags): ours and noble (zip215: false) agree with the file', (c) => {
    expect(verifyStrict(hex(c.sig), hex(c.msg), hex(c.pk))).toBe(c.result === 'valid');
    let noble: boolean;
    try { noble = ed25519.verify(hex(c.sig), hex(c.msg), hex(c.pk), { zip215: false }); } catch { noble = false; }
    expect(noble).toBe(c.result === 'valid');
  });
});

describe('public keys: canonical and not of small order (FORMATS.md §2)', () => {
  test.each(ED25519_TORSION_SUBGROUP.map((h) => [h]))('torsion point %s is refused', (h) => {
    const problem = publicKeyProblem(hex(h));
    expect(problem === 'small-order' || problem === 'non-canonical').toBe(true);
  });
  test('every small-order point, even canonically encoded, is small-order', () => {
    const canonical = ED25519_TORSION_SUBGROUP.filter((h) => Buffer.from(ed25519.Point.fromHex(h).toBytes()).toString('hex') === h);
    expect(canonical.length).toBeGreaterThanOrEqual(6);
    for (const h of canonical) expect(publicKeyProblem(hex(h))).toBe('small-order');
  });
  test('y >= p and x = 0 with the sign bit set are non-canonical', () => {
    // y = p = 2^255 - 19
    expect(publicKeyProblem(hex('edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'))).toBe('non-canonical');
    // y = 1 (the identity), x = 0 but sign bit set
    expect(publicKeyProblem(hex('0100000000000000000000000000000000000000000000000000000000000080'))).toBe('non-canonical');
  });
  test('lengths other than 32 are refused, and verifyStrict never throws on junk', () => {
    const pk = hex(RFC8032[0]!.pk);
    expect(publicKeyProblem(pk.subarray(0, 31))).toBe('length');
    const sig = hex(RFC8032[0]!.sig);
    expect(verifyStrict(sig.subarray(0, 63), new Uint8Array(), pk)).toBe(false);
    expect(verifyStrict(new Uint8Array([...sig, 0]), new Uint8Array(), pk)).toBe(false);
    for (const junk of [null, undefined, 'x', 42, {}, [], new Uint16Array(32)]) {
      expect(verifyStrict(junk as never, new Uint8Array(), pk)).toBe(false);
      expect(verifyStrict(sig, junk as never, pk)).toBe(false);
      expect(verifyStrict(sig, new Uint8Array(), junk as never)).toBe(false);
    }
  });
  test('Ed25519PublicKey refuses unacceptable keys and verifies like verifyStrict', () => {
    expect(Ed25519PublicKey.from(hex(ED25519_TORSION_SUBGROUP[0]!))).toBeNull();
    const v = RFC8032[1]!;
    const k = Ed25519PublicKey.from(hex(v.pk))!;
    expect(k.keyid).toBe(keyIdOf(hex(v.pk)));
    expect(k.verify(hex(v.sig), hex(v.msg))).toBe(true);
    expect(k.verify(hex(v.sig), hex('73'))).toBe(false);
  });
  test('keyIdOf is SHA-256 of the raw key and checks its length', () => {
    expect(keyIdOf(hex(RFC8032[0]!.pk))).toBe('21fe31dfa154a261626bf854046fd2271b7bed4b6abe45aa58877ef47f9721b9');
    expect(() => keyIdOf(new Uint8Array(31))).toThrow(RangeError);
  });
});

describe('properties (fast-check)', () => {
  test('sign then verify holds; any one-byte change to message or signature breaks it', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 32, maxLength: 32 }), fc.uint8Array({ maxLength: 200 }), fc.nat(), fc.integer({ min: 1, max: 255 }),
      (seed, msg, where, delta) => {
        const pk = ed25519.getPublicKey(seed);
        const sig = ed25519.sign(msg, seed);
        expect(verifyStrict(sig, msg, pk)).toBe(true);
        const badSig = new Uint8Array(sig);
        badSig[where % 64] = (badSig[where % 64]! + delta) & 0xff;
        expect(verifyStrict(badSig, msg, pk)).toBe(false);
        if (msg.length > 0) {
          const badMsg = new Uint8Array(msg);
          badMsg[where % msg.length] = (badMsg[where % msg.length]! + delta) & 0xff;
          expect(verifyStrict(sig, badMsg, pk)).toBe(false);
        }
      }), { numRuns: 200 });
  });
});
