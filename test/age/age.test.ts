/**
 * src/age against the age v1 spec and the Debian `age` CLI, both ways: files sealed by `age -r`
 * open here, files sealed here open with `age -d -i`, across the STREAM edges (empty, one byte,
 * exactly 64 KiB, 64 KiB + 1, 128 KiB), several recipients, and hostile files (wrong identity,
 * tampered header and payload, truncated, extended, oversized, non-canonical base64, unknown and
 * malformed stanzas). Files built by hand here use node:crypto for HKDF, HMAC and
 * ChaCha20-Poly1305, not the module under test.
 */
import { createCipheriv, createHmac, hkdfSync, randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { beforeAll, describe, expect, test } from 'vitest';
import { decrypt, encrypt, parseIdentities, parseRecipient, X25519Identity } from '../../src/age/age.js';
import { bech32Decode, bech32Encode } from '../../src/age/bech32.js';
import { decodeBase64Canonical, encodeBase64 } from '../../src/age/base64.js';
import { formatStanza, parseHeader } from '../../src/age/header.js';
import type { Stanza } from '../../src/age/header.js';
import { wrapX25519 } from '../../src/age/x25519.js';
import { KeyceremonyError } from '../../src/errors.js';
import { expectCode } from '../support/expect-code.js';
import { ageDecrypt, ageEncrypt, identityFile, keygen, run, tempDir } from './support.js';

const KiB = 1024;
let dir: string;
let alice: ReturnType<typeof keygen>;
let bob: ReturnType<typeof keygen>;
let aliceId: X25519Identity;
let bobId: X25519Identity;

beforeAll(() => {
  dir = tempDir('kc-age-');
  alice = keygen(dir, 'alice.txt');
  bob = keygen(dir, 'bob.txt');
  aliceId = parseIdentities(alice.text)[0] as X25519Identity;
  bobId = parseIdentities(bob.text)[0] as X25519Identity;
});

const SIZES = [0, 1, 32, 64 * KiB - 1, 64 * KiB, 64 * KiB + 1, 128 * KiB, 128 * KiB + 17];

describe('interoperates with the Debian age CLI', () => {
  test('keys: the recipient of an age-keygen identity is the one age-keygen -y prints', () => {
    expect(aliceId.recipient).toBe(alice.recipient);
    expect(parseRecipient(alice.recipient).text).toBe(alice.recipient);
    const mine = X25519Identity.generate();
    const y = run('age-keygen', ['-y', identityFile(dir, 'mine.txt', mine.toString())]);
    expect(y.status).toBe(0);
    expect(y.stdout.toString('utf8').trim()).toBe(mine.recipient);
  });

  test.each(SIZES)('age -r seals %i bytes, decrypt opens them', (size) => {
    const pt = new Uint8Array(randomBytes(size));
    const sealed = ageEncrypt(dir, pt, [alice.recipient]);
    expect(Buffer.from(decrypt(sealed, [aliceId]))).toEqual(Buffer.from(pt));
  });

  test.each(SIZES)('encrypt seals %i bytes, age -d opens them', (size) => {
    const pt = new Uint8Array(randomBytes(size));
    const r = ageDecrypt(dir, encrypt(pt, [alice.recipient]), alice.path);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toEqual(Buffer.from(pt));
  });

  test('several recipients, either way: each identity opens the file, whichever stanza is its own', () => {
    const pt = new Uint8Array(randomBytes(100));
    const theirs = ageEncrypt(dir, pt, [alice.recipient, bob.recipient]);
    expect(Buffer.from(decrypt(theirs, [bobId]))).toEqual(Buffer.from(pt));
    expect(Buffer.from(decrypt(theirs, [aliceId]))).toEqual(Buffer.from(pt));
    const ours = encrypt(pt, [alice.recipient, bob.recipient]);
    expect(ageDecrypt(dir, ours, bob.path).stdout).toEqual(Buffer.from(pt));
    expect(ageDecrypt(dir, ours, alice.path).stdout).toEqual(Buffer.from(pt));
    expect(parseHeader(ours).stanzas.map((s) => s.type)).toEqual(['X25519', 'X25519']);
  });

  test('an identity file with several identities, comments and CRLF line ends', () => {
    const ids = parseIdentities(`# one\r\n${bob.text.trim().split('\n').at(-1)}\r\n\r\n# two\n${alice.text}`);
    expect(ids.map((i) => i.recipient)).toEqual([bob.recipient, alice.recipient]);
    expect(Buffer.from(decrypt(ageEncrypt(dir, Uint8Array.of(7), [alice.recipient]), ids))).toEqual(Buffer.from([7]));
  });
});

describe('the file format, byte for byte', () => {
  test('header: version line, one X25519 stanza (share 43 columns, body 43 columns), MAC line, 16-byte nonce, one chunk', () => {
    const sealed = encrypt(new Uint8Array(32), [alice.recipient]);
    const text = Buffer.from(sealed).toString('latin1');
    expect(text).toMatch(/^age-encryption\.org\/v1\n-> X25519 [A-Za-z0-9+/]{43}\n[A-Za-z0-9+/]{43}\n--- [A-Za-z0-9+/]{43}\n/);
    const h = parseHeader(sealed);
    expect(sealed.length - h.length).toBe(16 + 32 + 16);
  });

  test('a stanza body is wrapped at 64 columns, and one that fills its lines ends with an empty line (age reads ours)', () => {
    expect(formatStanza({ type: 'x', args: [], body: new Uint8Array(48) })).toBe(`-> x\n${'A'.repeat(64)}\n\n`);
    expect(formatStanza({ type: 'x', args: ['a'], body: new Uint8Array(0) })).toBe('-> x a\n\n');
    expect(formatStanza({ type: 'x', args: [], body: new Uint8Array(49) })).toBe(`-> x\n${'A'.repeat(64)}\nAA\n`);
    for (const n of [0, 1, 47, 48, 49, 96, 200]) {
      const file = handMade({ extra: [{ type: 'unknown-grease', args: ['a', 'b~'], body: new Uint8Array(randomBytes(n)) }] });
      expect(ageDecrypt(dir, file.bytes, alice.path).stdout).toEqual(Buffer.from(file.plaintext));
      expect(Buffer.from(decrypt(file.bytes, [aliceId]))).toEqual(Buffer.from(file.plaintext));
    }
  });
});

/**
 * An age file built here from the spec with node:crypto: the X25519 stanza from wrapX25519 (itself
 * checked against the CLI above), `extra` stanzas before it, and the payload chunks as given (each
 * with its own last flag), so that files the encoder never writes can be made.
 */
function handMade(o: { extra?: Stanza[]; chunks?: { data: Uint8Array; last: boolean }[]; to?: string[]; macOf?: (input: Buffer) => Buffer } = {}): { bytes: Uint8Array; plaintext: Uint8Array } {
  const fileKey = randomBytes(16);
  const stanzas = [...(o.extra ?? []), ...(o.to ?? [alice.recipient]).map((r) => wrapX25519(fileKey, parseRecipient(r)))];
  const macInput = Buffer.from(`age-encryption.org/v1\n${stanzas.map(formatStanza).join('')}---`, 'latin1');
  const macKey = Buffer.from(hkdfSync('sha256', fileKey, Buffer.alloc(0), 'header', 32));
  const mac = o.macOf?.(macInput) ?? createHmac('sha256', macKey).update(macInput).digest();
  const nonce = randomBytes(16);
  const key = Buffer.from(hkdfSync('sha256', fileKey, nonce, 'payload', 32));
  const chunks = o.chunks ?? [{ data: new Uint8Array(randomBytes(40)), last: true }];
  const sealed = chunks.map((c, i) => {
    const n = Buffer.alloc(12);
    n.writeUInt32BE(i, 7);
    n[11] = c.last ? 1 : 0;
    const cipher = createCipheriv('chacha20-poly1305', key, n, { authTagLength: 16 });
    return Buffer.concat([cipher.update(c.data), cipher.final(), cipher.getAuthTag()]);
  });
  const bytes = Buffer.concat([macInput, Buffer.from(` ${mac.toString('base64').replace(/=+$/, '')}\n`), nonce, ...sealed]);
  return { bytes: new Uint8Array(bytes), plaintext: new Uint8Array(Buffer.concat(chunks.map((c) => c.data))) };
}

describe('hostile files are refused with a code', () => {
  const cliRefuses = (bytes: Uint8Array) => expect(ageDecrypt(dir, bytes, alice.path).status).not.toBe(0);

  test('the hand-made file opens (so the refusals below are about what each one changes)', () => {
    const f = handMade();
    expect(Buffer.from(decrypt(f.bytes, [aliceId]))).toEqual(Buffer.from(f.plaintext));
  });

  test('wrong identity: AGE_NO_IDENTITY_MATCH (exit 1), as age -d refuses it', () => {
    const sealed = ageEncrypt(dir, Uint8Array.of(1, 2, 3), [alice.recipient]);
    const e = expectCode(() => decrypt(sealed, [bobId]), 'AGE_NO_IDENTITY_MATCH');
    expect(e.exit).toBe(1);
    expect(ageDecrypt(dir, sealed, bob.path).status).not.toBe(0);
  });

  test('unknown stanzas are skipped when an X25519 stanza matches; alone they match nothing', () => {
    const withUnknown = handMade({ extra: [{ type: 'ssh-ed25519', args: ['abc', 'def'], body: new Uint8Array(32) }] });
    expect(Buffer.from(decrypt(withUnknown.bytes, [aliceId]))).toEqual(Buffer.from(withUnknown.plaintext));
    const onlyUnknown = handMade({ extra: [{ type: 'ssh-ed25519', args: ['abc'], body: new Uint8Array(32) }], to: [] });
    expectCode(() => decrypt(onlyUnknown.bytes, [aliceId]), 'AGE_NO_IDENTITY_MATCH');
    cliRefuses(onlyUnknown.bytes);
  });

  test('malformed X25519 stanzas are errors even when another stanza is for us', () => {
    const good = wrapX25519(new Uint8Array(16), parseRecipient(bob.recipient));
    for (const bad of [
      { ...good, args: [...good.args, 'x'] },
      { ...good, args: [] },
      { ...good, args: [encodeBase64(new Uint8Array(31))] },
      { ...good, body: good.body.subarray(0, 31) },
      { ...good, args: [encodeBase64(new Uint8Array(32))] }, // a low-order share: the shared secret is zero
    ]) {
      const f = handMade({ extra: [bad] });
      expectCode(() => decrypt(f.bytes, [aliceId]), 'AGE_HEADER_INVALID');
      cliRefuses(f.bytes);
    }
  });

  test('scrypt: a passphrase file matches no identity; scrypt beside another stanza is invalid', () => {
    const scrypt = { type: 'scrypt', args: [encodeBase64(new Uint8Array(16)), '18'], body: new Uint8Array(32) };
    expectCode(() => decrypt(handMade({ extra: [scrypt], to: [] }).bytes, [aliceId]), 'AGE_NO_IDENTITY_MATCH');
    expectCode(() => decrypt(handMade({ extra: [scrypt] }).bytes, [aliceId]), 'AGE_HEADER_INVALID');
  });

  test('a header MAC that does not verify: AGE_MAC_INVALID, and an altered unknown stanza breaks it', () => {
    const f = handMade({ macOf: () => randomBytes(32) });
    expectCode(() => decrypt(f.bytes, [aliceId]), 'AGE_MAC_INVALID');
    cliRefuses(f.bytes);
    const g = handMade({ extra: [{ type: 'grease', args: ['aaaa'], body: new Uint8Array(3) }] });
    const at = Buffer.from(g.bytes).indexOf('aaaa');
    const altered = Uint8Array.from(g.bytes);
    altered[at] = 0x62; // 'b': still a valid header, no longer the one the MAC covers
    expectCode(() => decrypt(altered, [aliceId]), 'AGE_MAC_INVALID');
    cliRefuses(altered);
  });

  test('non-canonical base64 (padding, unused bits set) anywhere in the header: AGE_HEADER_INVALID', () => {
    const sealed = encrypt(Uint8Array.of(9), [alice.recipient]);
    const text = Buffer.from(sealed).toString('latin1');
    const lines = text.split('\n');
    const share = (lines[1] as string).slice('-> X25519 '.length);
    // 43 characters carry 258 bits for 32 bytes: the last 2 bits are unused and must be zero
    const last = share.at(-1) as string;
    const ALPH = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    const sameBytes = ALPH[ALPH.indexOf(last) | 1] as string;
    for (const [i, line] of [[1, `-> X25519 ${share.slice(0, -1)}${sameBytes}`], [1, `-> X25519 ${share}=`], [2, `${lines[2]}=`], [3, `${lines[3]}=`], [2, `${(lines[2] as string).slice(0, -1)}*`]] as const) {
      const copy = [...lines];
      copy[i] = line;
      const bad = new Uint8Array(Buffer.from(copy.join('\n'), 'latin1'));
      expectCode(() => decrypt(bad, [aliceId]), 'AGE_HEADER_INVALID');
      cliRefuses(bad);
    }
    expect(decodeBase64Canonical(`${share.slice(0, -1)}${sameBytes}`)).toBeNull();
  });

  test('header syntax: wrong version, armor, CRLF, an empty argument, a long body line, no MAC, no stanza, no end', () => {
    const sealed = Buffer.from(encrypt(Uint8Array.of(9), [alice.recipient])).toString('latin1');
    const variants = [
      sealed.replace('age-encryption.org/v1', 'age-encryption.org/v2'),
      `-----BEGIN AGE ENCRYPTED FILE-----\n${sealed}`,
      sealed.replace(/\n/g, '\r\n'),
      sealed.replace('-> X25519 ', '-> X25519  '),
      sealed.replace('-> X25519 ', '->  X25519 '),
      sealed.replace(/^(-> X25519 .*\n)(.*)\n/m, `$1${'A'.repeat(65)}\n$2\n`),
      sealed.replace(/\n--- .*\n/, '\n---\n'),
      sealed.replace(/^-> X25519 .*\n.*\n/m, ''),
      `age-encryption.org/v1\n${'-> x\n\n'.repeat(300)}`,
      `age-encryption.org/v1\n-> x ${'a'.repeat(70 * KiB)}`,
      sealed.slice(0, sealed.indexOf('---')),
      'age-encryption.org/v1',
      '',
    ];
    for (const v of variants) expectCode(() => decrypt(new Uint8Array(Buffer.from(v, 'latin1')), [aliceId]), 'AGE_HEADER_INVALID');
  });

  test('payload: truncated at every chunk edge, cut inside a chunk, extended, altered: AGE_PAYLOAD_INVALID', () => {
    const pt = new Uint8Array(randomBytes(128 * KiB + 5));
    const sealed = encrypt(pt, [alice.recipient]);
    const start = parseHeader(sealed).length;
    const chunk = 64 * KiB + 16;
    for (const end of [start, start + 15, start + 16, start + 16 + 15, start + 16 + chunk, start + 16 + 2 * chunk, start + 16 + 2 * chunk + 16, sealed.length - 1]) {
      expectCode(() => decrypt(sealed.subarray(0, end), [aliceId]), 'AGE_PAYLOAD_INVALID');
    }
    cliRefuses(sealed.subarray(0, start + 16 + chunk));
    expectCode(() => decrypt(new Uint8Array(Buffer.concat([sealed, Buffer.of(0)])), [aliceId]), 'AGE_PAYLOAD_INVALID');
    const altered = Uint8Array.from(sealed);
    altered[start + 16 + chunk + 3] = (altered[start + 16 + chunk + 3] as number) ^ 1;
    expectCode(() => decrypt(altered, [aliceId]), 'AGE_PAYLOAD_INVALID');
    cliRefuses(altered);
  });

  test('STREAM rules: a last chunk that is empty after a full one, a last flag on a full first chunk of two, a missing last flag', () => {
    const full = new Uint8Array(randomBytes(64 * KiB));
    const emptyLast = handMade({ chunks: [{ data: full, last: false }, { data: new Uint8Array(0), last: true }] });
    expectCode(() => decrypt(emptyLast.bytes, [aliceId]), 'AGE_PAYLOAD_INVALID');
    cliRefuses(emptyLast.bytes);
    const earlyLast = handMade({ chunks: [{ data: full, last: true }, { data: Uint8Array.of(1), last: true }] });
    expectCode(() => decrypt(earlyLast.bytes, [aliceId]), 'AGE_PAYLOAD_INVALID');
    const noLast = handMade({ chunks: [{ data: Uint8Array.of(1, 2), last: false }] });
    expectCode(() => decrypt(noLast.bytes, [aliceId]), 'AGE_PAYLOAD_INVALID');
    cliRefuses(noLast.bytes);
    // and the legitimate shapes built the same way open
    const ok = handMade({ chunks: [{ data: full, last: false }, { data: Uint8Array.of(1), last: true }] });
    expect(Buffer.from(decrypt(ok.bytes, [aliceId]))).toEqual(Buffer.from(ok.plaintext));
    const empty = handMade({ chunks: [{ data: new Uint8Array(0), last: true }] });
    expect(decrypt(empty.bytes, [aliceId])).toHaveLength(0);
  });

  test('oversized: refused by size before anything is parsed (AGE_FILE_TOO_LARGE)', () => {
    const sealed = encrypt(new Uint8Array(2000), [alice.recipient]);
    expectCode(() => decrypt(sealed, [aliceId], { maxBytes: sealed.length - 1 }), 'AGE_FILE_TOO_LARGE');
    expect(decrypt(sealed, [aliceId], { maxBytes: sealed.length })).toHaveLength(2000);
  });

  test('any single byte changed anywhere in a file is refused, never opened to other bytes', () => {
    const pt = new Uint8Array(randomBytes(300));
    const sealed = encrypt(pt, [alice.recipient, bob.recipient]);
    fc.assert(fc.property(fc.nat(sealed.length - 1), fc.integer({ min: 1, max: 255 }), (i, x) => {
      const copy = Uint8Array.from(sealed);
      copy[i] = (copy[i] as number) ^ x;
      try {
        decrypt(copy, [aliceId]);
        return false;
      } catch (err) {
        return err instanceof KeyceremonyError && err.code.startsWith('AGE_') && err.exit === 1;
      }
    }), { numRuns: 400 });
  });
});

describe('keys and encodings', () => {
  test('BIP-173 Bech32: valid strings decode, invalid ones do not (checksum constant 1, not Bech32m)', () => {
    for (const s of ['A12UEL5L', 'a12uel5l', 'abcdef1qpzry9x8gf2tvdw0s3jn54khce6mua7lmqqqxw', `11${'q'.repeat(82)}c8247j`, '?1ezyfcl',
      'an83characterlonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1tt5tgs']) {
      expect(bech32Decode(s, 90), s).not.toBeNull();
    }
    for (const s of ['\u00201nwldj5', '\u007f1axkwrx', 'an84characterslonghumanreadablepartthatcontainsthenumber1andtheexcludedcharactersbio1569pvx', 'pzry9x0s0muk', '1pzry9x0s0muk',
      'x1b4n0q5v', 'li1dgmt3', 'de1lg7wt\u00ff', 'A1G7SGD8', '10a06t8', '1qzzfhee', 'a1lqfn3a' /* bech32m's vector for "a" */, 'A12uEL5L']) {
      expect(bech32Decode(s, 90), JSON.stringify(s)).toBeNull();
    }
    const data = new Uint8Array(randomBytes(32));
    expect(Buffer.from((bech32Decode(bech32Encode('age', data), 90) as { data: Uint8Array }).data)).toEqual(Buffer.from(data));
  });

  test('recipients and identities: one case each, the right prefix, 32 bytes, a valid checksum; messages never quote an identity', () => {
    expectCode(() => parseRecipient(alice.recipient.toUpperCase()), 'AGE_RECIPIENT_INVALID');
    expectCode(() => parseRecipient(`${alice.recipient.slice(0, -1)}${alice.recipient.at(-1) === 'q' ? 'p' : 'q'}`), 'AGE_RECIPIENT_INVALID');
    expectCode(() => parseRecipient(bech32Encode('age', new Uint8Array(31))), 'AGE_RECIPIENT_INVALID');
    expectCode(() => parseRecipient(bech32Encode('agx', new Uint8Array(32))), 'AGE_RECIPIENT_INVALID');
    // the low-order points of Curve25519 (u = 0, u = 1, the order-8 points; RFC 7748 §6.1), refused where the recipient enters, as age refuses them
    const lowOrder = ['0000000000000000000000000000000000000000000000000000000000000000', '0100000000000000000000000000000000000000000000000000000000000000',
      'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800', '5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f'];
    for (const hex of lowOrder) expectCode(() => parseRecipient(bech32Encode('age', Buffer.from(hex, 'hex'))), 'AGE_RECIPIENT_INVALID');
    const secret = aliceId.toString();
    expect(secret).toMatch(/^AGE-SECRET-KEY-1[0-9A-Z]{58}$/);
    const e = expectCode(() => X25519Identity.parse(secret.toLowerCase()), 'AGE_IDENTITY_INVALID');
    expect(e.exit).toBe(2);
    expectCode(() => parseIdentities(`# only a comment\n${secret.slice(0, -1)}${secret.at(-1) === 'X' ? 'Y' : 'X'}`), 'AGE_IDENTITY_INVALID'); // the last character changed, whatever it was
    const err = expectCode(() => parseIdentities(`${secret}\n${secret.slice(0, -2)}`), 'AGE_IDENTITY_INVALID');
    expect(err.message).not.toContain(secret.slice(16, 30));
    expectCode(() => parseIdentities('# nothing\n\n'), 'AGE_IDENTITY_INVALID');
    expectCode(() => encrypt(Uint8Array.of(1), []), 'AGE_RECIPIENT_INVALID');
  });

  test('a disposed identity is zeroed and opens nothing', () => {
    const id = X25519Identity.generate();
    const sealed = encrypt(Uint8Array.of(1), [id.recipient]);
    expect(Buffer.from(decrypt(sealed, [id]))).toEqual(Buffer.of(1));
    id.dispose();
    expect(id.toString()).toBe(bech32Encode('AGE-SECRET-KEY-', new Uint8Array(32), true));
    expectCode(() => decrypt(sealed, [id]), 'AGE_NO_IDENTITY_MATCH');
  });
});
