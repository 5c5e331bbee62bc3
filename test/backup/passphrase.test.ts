/**
 * Issue 14, item 11: a paper share's passphrase is 8 words of the BIP-39 English list drawn by
 * keyceremony (88 bits), never a person's choice. The list is the BIP-39 reference file (pinned by
 * its SHA-256); words come from the CSPRNG without bias; typed words are normalised (NFC, case,
 * runs of white space, leading and trailing space) before they are compared or fed to the KDF,
 * whose input is checked here against @noble/hashes' scrypt and @noble/ciphers' GCM; anything but
 * 8 list words is refused, and only generated, confirmed words seal a share.
 */
import { createHash } from 'node:crypto';
import { gcm } from '@noble/ciphers/aes.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import { wordlist } from '@scure/bip39/wordlists/english.js';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { MIN_PASSPHRASE_CHARACTERS, openPaperShare, sealPaperShare } from '../../src/backup/paper.js';
import { PaperPassphrase, PASSPHRASE_BITS, PASSPHRASE_WORDS } from '../../src/backup/passphrase.js';
import { KeyceremonyError } from '../../src/errors.js';
import { expectCode } from '../support/expect-code.js';

const enc = (s: string): Uint8Array => new TextEncoder().encode(s);
const kdfInput = (p: PaperPassphrase): string => p.withKdfInput((k) => Buffer.from(k).toString('latin1'));
const typed = (s: string): PaperPassphrase => PaperPassphrase.fromTyped(enc(s));
const WORDS = 'wrist ozone bamboo lizard tenant ghost rescue thumb';
/** A generated passphrase's words, as the custodian reads them off the screen. */
const shown = (p: PaperPassphrase): string[] => [...p.display().toString('latin1').matchAll(/\d ([a-z]+)/g)].map((m) => m[1] as string);

describe('the word list and the strength', () => {
  test('is the BIP-39 English reference list: 2048 sorted words of 3 to 8 lowercase letters, SHA-256 of english.txt', () => {
    expect(createHash('sha256').update(`${wordlist.join('\n')}\n`).digest('hex')).toBe('2f5eed53a4727b4bf8880d8f3f199efc90e58503646d9ff8eff3a2ed3b24dbda');
    expect(wordlist.length).toBe(2048);
    expect(wordlist.every((w, i) => /^[a-z]{3,8}$/.test(w) && (i === 0 || (wordlist[i - 1] as string) < w))).toBe(true);
  });
  test('8 words of 11 bits: 88 bits, and the shortest KDF input is above the primitive\'s floor', () => {
    expect(PASSPHRASE_WORDS).toBe(8);
    expect(PASSPHRASE_BITS).toBe(PASSPHRASE_WORDS * Math.log2(wordlist.length));
    expect(PASSPHRASE_WORDS * 3 + PASSPHRASE_WORDS - 1).toBeGreaterThan(MIN_PASSPHRASE_CHARACTERS);
  });
});

describe('generating', () => {
  test('8 list words, shown numbered, whose KDF input is the words joined by single spaces', () => {
    const p = PaperPassphrase.generate();
    const words = shown(p);
    expect(words).toHaveLength(8);
    expect(words.every((w) => wordlist.includes(w))).toBe(true);
    expect(kdfInput(p)).toBe(words.join(' '));
    expect(p.generated).toBe(true);
    expect(p.confirmed).toBe(false);
  });
  test('from the CSPRNG, not Math.random: with Math.random stuck, passphrases still differ; every one of the 11 bits is used, evenly', () => {
    const random = Math.random;
    Math.random = () => 0;
    const seen = new Set<string>();
    const bitCounts = new Array<number>(11).fill(0);
    let draws = 0;
    try {
      for (let i = 0; i < 1000; i++) {
        const p = PaperPassphrase.generate();
        seen.add(kdfInput(p));
        for (const w of shown(p)) {
          const index = wordlist.indexOf(w);
          for (let b = 0; b < 11; b++) bitCounts[b]! += (index >> b) & 1;
          draws++;
        }
      }
    } finally {
      Math.random = random;
    }
    expect(seen.size).toBe(1000);
    // 8000 draws: each bit is set about 4000 times (σ ≈ 45); 3700..4300 is beyond 6σ either way
    for (const c of bitCounts) expect(c / draws).toBeGreaterThan(0.4625);
    for (const c of bitCounts) expect(c / draws).toBeLessThan(0.5375);
  });
});

describe('typed words', () => {
  test('normalised before the KDF: case, runs of spaces and tabs, leading and trailing space, Unicode spaces, NFC', () => {
    const canonical = kdfInput(typed(WORDS));
    expect(canonical).toBe(WORDS);
    for (const variant of [
      WORDS.toUpperCase(),
      `   ${WORDS.replaceAll(' ', '  \t ')}  \n`,
      WORDS.replace('wrist', 'WrIsT').replace('thumb', 'Thumb'),
      WORDS.replaceAll(' ', '\u00a0'), // no-break spaces, as a paste may bring
      WORDS.replaceAll(' ', '\u3000'), // ideographic spaces
      WORDS.replace('ozone', 'ozone\u200a'), // a hair space after a word
    ]) {
      expect(kdfInput(typed(variant))).toBe(canonical);
    }
    // NFC turns U+212A KELVIN SIGN into K, then K is lower-cased: the word "key"
    expect(kdfInput(typed('\u212Aey ozone bamboo lizard tenant ghost rescue thumb'))).toBe('key ozone bamboo lizard tenant ghost rescue thumb');
  });
  test('a passphrase a person chose is refused: SHARE_PASSPHRASE_NOT_WORDS, whatever its length', () => {
    for (const chosen of ['aaaaaaaaaaaaaaaa', 'passwordpassword', 'correct horse battery staple', `${WORDS} ozone`, WORDS.split(' ').slice(0, 7).join(' '),
      WORDS.replace('tenant', 'tenants'), WORDS.replace('ghost', 'ghöst'), WORDS.replace('ghost', 'gho5t'), '', '        ', `${WORDS}\u0000`]) {
      const e = expectCode(() => typed(chosen), 'SHARE_PASSPHRASE_NOT_WORDS');
      expect(e.exit).toBe(1);
    }
  });
  test('property: any text is 8 list words or SHARE_PASSPHRASE_NOT_WORDS, never another error', () => {
    fc.assert(fc.property(fc.string({ maxLength: 120, unit: 'binary' }), (s) => {
      try {
        const p = typed(s);
        expect(kdfInput(p).split(' ').every((w) => wordlist.includes(w))).toBe(true);
      } catch (err) {
        expect(err).toBeInstanceOf(KeyceremonyError);
        expect((err as KeyceremonyError).code).toBe('SHARE_PASSPHRASE_NOT_WORDS');
      }
    }), { numRuns: 300 });
  });
  test('property: list words in any case, between any white space, give the same KDF input', () => {
    const space = fc.constantFrom(' ', '  ', '\t', ' \t ', '\u00a0', '\u2003');
    fc.assert(fc.property(fc.array(fc.integer({ min: 0, max: 2047 }), { minLength: 8, maxLength: 8 }), fc.array(space, { minLength: 9, maxLength: 9 }), fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
      (indices, spaces, upper) => {
        const words = indices.map((i) => wordlist[i] as string);
        const text = words.map((w, i) => `${spaces[i]}${upper[i] ? w.toUpperCase() : w}`).join('') + spaces[8]!;
        expect(kdfInput(typed(text))).toBe(words.join(' '));
      }), { numRuns: 200 });
  });
});

describe('confirming and sealing', () => {
  test('the words typed back confirm a generated passphrase, in any case and spacing; a wrong word is named by its place', () => {
    const p = PaperPassphrase.generate();
    const words = shown(p);
    const swapped = [...words];
    swapped[2] = words[2] === 'abandon' ? 'ability' : 'abandon';
    const e = expectCode(() => p.confirm(enc(swapped.join(' '))), 'SHARE_PASSPHRASE_NOT_CONFIRMED');
    expect(e.message).toMatch(/\b3\b/);
    expectCode(() => p.confirm(enc(words.slice(0, 7).join(' '))), 'SHARE_PASSPHRASE_NOT_WORDS');
    expect(p.confirmed).toBe(false);
    p.confirm(enc(`  ${words.map((w) => w.toUpperCase()).join('   ')} `));
    expect(p.confirmed).toBe(true);
  });
  test('only generated, confirmed words may seal: typed ones are SHARE_PASSPHRASE_CHOSEN, unconfirmed ones SHARE_PASSPHRASE_NOT_CONFIRMED', () => {
    expectCode(() => PaperPassphrase.requireSealable(typed(WORDS), 'carol'), 'SHARE_PASSPHRASE_CHOSEN');
    expectCode(() => PaperPassphrase.requireSealable(enc(WORDS), 'carol'), 'SHARE_PASSPHRASE_CHOSEN');
    expectCode(() => PaperPassphrase.requireSealable({ generated: true, confirmed: true }, 'carol'), 'SHARE_PASSPHRASE_CHOSEN');
    const p = PaperPassphrase.generate();
    expectCode(() => PaperPassphrase.requireSealable(p, 'carol'), 'SHARE_PASSPHRASE_NOT_CONFIRMED');
    p.withKdfInput((k) => p.confirm(k));
    expect(() => PaperPassphrase.requireSealable(p, 'carol')).not.toThrow();
  });
  test('a disposed passphrase is zeroed and never used again (zero indices would be "abandon" × 8)', () => {
    const p = typed(WORDS);
    p.dispose();
    expect(expectCode(() => kdfInput(p), 'SHARE_PASSPHRASE_DISPOSED').exit).toBe(3);
    expectCode(() => p.display(), 'SHARE_PASSPHRASE_DISPOSED');
  });
  test('the KDF input is what an independent scrypt + GCM needs to open a share sealed under the words', () => {
    const header = { ceremony: 'q4-custody', backupKey: 'backup-v2', custodian: 'carol', index: 3, threshold: 2, total: 3 };
    const kdf = { name: 'scrypt' as const, N: 1 << 14, r: 8, p: 1 };
    const record = enc('{"share":"x"}');
    const sealed = typed(WORDS).withKdfInput((k) => sealPaperShare(record, k, header, kdf));
    const key = scrypt(enc(WORDS), sealed.kdf.salt, { N: kdf.N, r: 8, p: 1, dkLen: 32 });
    const aad = enc(JSON.stringify(['keyceremony/paper-share@2', 'q4-custody', 'backup-v2', 'carol', 3, 2, 3, 'scrypt', kdf.N, 8, 1, Buffer.from(sealed.kdf.salt).toString('base64')]));
    expect(Buffer.from(gcm(key, sealed.iv, aad).decrypt(sealed.ciphertext)).equals(Buffer.from(record))).toBe(true);
    // typed back in capitals with stray spaces, the same words open it
    expect(Buffer.from(typed(`  ${WORDS.toUpperCase()}  `).withKdfInput((k) => openPaperShare(sealed, k))).equals(Buffer.from(record))).toBe(true);
  });
});
