import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { expect, test } from 'vitest';
import { fingerprint, fromWords, toWords } from '../../src/crypto/fingerprint.js';
import { EVEN_WORDS, ODD_WORDS } from '../../src/crypto/pgp-words.js';

test('the PGP word list has 256 distinct words on each side, none shared', () => {
  expect(EVEN_WORDS).toHaveLength(256);
  expect(ODD_WORDS).toHaveLength(256);
  expect(new Set([...EVEN_WORDS, ...ODD_WORDS].map((w) => w.toLowerCase())).size).toBe(512);
  // published anchors of the list: 0x00, 0xFF on both sides
  expect([EVEN_WORDS[0], EVEN_WORDS[255], ODD_WORDS[0], ODD_WORDS[255]]).toEqual(['aardvark', 'Zulu', 'adroitness', 'Yucatan']);
});

test('fingerprint: hex is SHA-256 (node:crypto), words are its first 12 bytes alternating lists', () => {
  const key = Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex');
  const fp = fingerprint(key);
  expect(fp.hex).toBe(createHash('sha256').update(key).digest('hex'));
  expect(fp.words).toHaveLength(12);
  expect(fromWords(fp.words)).toEqual(new Uint8Array(Buffer.from(fp.hex, 'hex').subarray(0, 12)));
  expect(toWords(new Uint8Array([0x00, 0x00, 0xff, 0xff]))).toEqual(['aardvark', 'adroitness', 'zulu', 'yucatan']);
});

test('words round-trip, and a word from the wrong list or a typo is refused', () => {
  fc.assert(fc.property(fc.uint8Array({ maxLength: 32 }), (b) => {
    expect(fromWords(toWords(b))).toEqual(b);
  }));
  expect(fromWords(['adroitness'])).toBeNull(); // odd-list word in an even position
  expect(fromWords(['aardvark', 'aardvark'])).toBeNull();
  expect(fromWords(['aardvarc'])).toBeNull();
});

test('fingerprint validates its argument', () => {
  expect(() => fingerprint('00' as never)).toThrow(TypeError);
});
