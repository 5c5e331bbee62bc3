/**
 * Paper shares: sealed under a passphrase with scrypt and AES-256-GCM (node:crypto), checked
 * against independent implementations (@noble/hashes scrypt, @noble/ciphers GCM), refused with
 * their own codes when damaged or opened with the wrong passphrase, and printed as a QR code
 * that decodes back to the same text. The passphrase is 8 generated words (passphrase.test.ts):
 * its KDF input is the words joined by single spaces. Version 1 shares (a chosen passphrase) are
 * refused with SHARE_PAPER_OUTDATED; the KDF bound is checked before the checksum.
 */
import { createHash } from 'node:crypto';
import { gcm } from '@noble/ciphers/aes.js';
import { scrypt } from '@noble/hashes/scrypt.js';
import fc from 'fast-check';
import encodeQR from 'qr';
import { decodeQR } from 'qr/decode.js';
import { describe, expect, test } from 'vitest';
import { encodePaperShare, openPaperShare, PAPER_KDF, PAPER_SPEC_V1, parsePaperShare, sealPaperShare } from '../../src/backup/paper.js';
import type { PaperShare } from '../../src/backup/paper.js';
import { paperShareHtml } from '../../src/backup/paper-print.js';
import { DocumentError } from '../../src/docs/problems.js';
import { expectCode } from '../support/expect-code.js';

const header = { ceremony: 'q4-custody', backupKey: 'backup-v2', custodian: 'carol', index: 3, threshold: 2, total: 3 };
const record = new TextEncoder().encode('{"spec":"keyceremony/backup-share@1","share":"c2hhcmUgYnl0ZXM="}');
const pass = (s: string): Uint8Array => new TextEncoder().encode(s);
/** What PaperPassphrase.withKdfInput hands over for these 8 list words. */
const PASSPHRASE = 'wrist ozone bamboo lizard tenant ghost rescue thumb';
const FAST = { name: 'scrypt' as const, N: 1 << 14, r: 8, p: 1 };
const enc = (p: PaperShare): Uint8Array => new TextEncoder().encode(encodePaperShare(p));

describe('sealing and opening', () => {
  test('the default cost opens with the passphrase; an independent scrypt + GCM opens it too', () => {
    const sealed = sealPaperShare(record, pass(PASSPHRASE), header);
    expect(sealed.kdf).toMatchObject({ N: PAPER_KDF.N, r: 8, p: 1 });
    const back = parsePaperShare(enc(sealed));
    expect(Buffer.from(openPaperShare(back, pass(PASSPHRASE))).equals(Buffer.from(record))).toBe(true);
    const key = scrypt(pass(PASSPHRASE), sealed.kdf.salt, { N: sealed.kdf.N, r: 8, p: 1, dkLen: 32, maxmem: 256 * 1024 * 1024 });
    const aad = new TextEncoder().encode(JSON.stringify(['keyceremony/paper-share@2', 'q4-custody', 'backup-v2', 'carol', 3, 2, 3, 'scrypt', sealed.kdf.N, 8, 1, Buffer.from(sealed.kdf.salt).toString('base64')]));
    expect(Buffer.from(gcm(key, sealed.iv, aad).decrypt(sealed.ciphertext)).equals(Buffer.from(record))).toBe(true);
  });
  test('a wrong passphrase, a damaged paper, a header moved to another custodian: each refused by its own code', () => {
    const sealed = sealPaperShare(record, pass(PASSPHRASE), header, FAST);
    expectCode(() => openPaperShare(sealed, pass('correct horse battery stapler')), 'SHARE_PASSPHRASE_INCORRECT');
    const ct = new Uint8Array(sealed.ciphertext);
    ct[3] = ct[3]! ^ 1;
    expectCode(() => openPaperShare({ ...sealed, ciphertext: ct }, pass(PASSPHRASE)), 'SHARE_PAPER_DAMAGED');
    // moved to another name, the public checksum no longer matches ...
    const moved = { ...sealed, custodian: 'alice' };
    expectCode(() => openPaperShare(moved, pass(PASSPHRASE)), 'SHARE_PAPER_DAMAGED');
    // ... and a forger who recomputes it (it is public) still cannot open it under the new name: the header is GCM's AAD
    const aad = JSON.stringify(['keyceremony/paper-share@2', 'q4-custody', 'backup-v2', 'alice', 3, 2, 3, 'scrypt', FAST.N, 8, 1, Buffer.from(sealed.kdf.salt).toString('base64')]);
    const checksum = createHash('sha256').update(aad).update(sealed.iv).update(sealed.ciphertext).digest('hex').slice(0, 16);
    expectCode(() => openPaperShare({ ...moved, checksum }, pass(PASSPHRASE)), 'SHARE_PASSPHRASE_INCORRECT');
  });
  test('a short KDF input is refused before anything is sealed (the floor under the generated words)', () => {
    expectCode(() => sealPaperShare(record, pass('short one'), header, FAST), 'SHARE_PASSPHRASE_WEAK');
  });
  test('a version 1 share (a passphrase a person chose) is refused by its own code, before any passphrase is asked for', () => {
    const v1 = { ...JSON.parse(encodePaperShare(sealPaperShare(record, pass(PASSPHRASE), header, FAST))) as object, spec: PAPER_SPEC_V1 };
    const e = expectCode(() => parsePaperShare(new TextEncoder().encode(JSON.stringify(v1))), 'SHARE_PAPER_OUTDATED');
    expect(e.exit).toBe(1);
  });
  test('the opened record is a buffer of its own, not a view into Node\'s shared pool', () => {
    const opened = openPaperShare(sealPaperShare(record, pass(PASSPHRASE), header, FAST), pass(PASSPHRASE));
    expect(opened.byteOffset).toBe(0);
    expect(opened.buffer.byteLength).toBe(opened.length);
  });
});

describe('reading hostile paper shares', () => {
  const good = JSON.parse(encodePaperShare(sealPaperShare(record, pass(PASSPHRASE), header, FAST))) as Record<string, unknown>;
  const codes = (o: unknown): string[] => {
    try {
      parsePaperShare(new TextEncoder().encode(typeof o === 'string' ? o : JSON.stringify(o)));
    } catch (err) {
      expect(err).toBeInstanceOf(DocumentError);
      return (err as DocumentError).problems.map((p) => `${p.code} ${p.path}`);
    }
    return [];
  };
  test('KDF costs outside the floor and ceiling, bad sizes, unknown members', () => {
    expect(codes({ ...good, kdf: { ...(good.kdf as object), N: 1 << 30 } })).toEqual(['DOCUMENT_BAD_VALUE kdf.N']);
    expect(codes({ ...good, kdf: { ...(good.kdf as object), N: 1024 } })).toEqual(['DOCUMENT_BAD_VALUE kdf.N']);
    expect(codes({ ...good, kdf: { ...(good.kdf as object), N: 3 << 14 } })).toEqual(['DOCUMENT_BAD_VALUE kdf.N']);
    expect(codes({ ...good, kdf: { ...(good.kdf as object), p: 64 } })).toEqual(['DOCUMENT_BAD_VALUE kdf.p']);
    expect(codes({ ...good, kdf: { ...(good.kdf as object), name: 'pbkdf2' } })).toEqual(['DOCUMENT_BAD_VALUE kdf.name']);
    expect(codes({ ...good, iv: Buffer.alloc(8).toString('base64') })).toEqual(['DOCUMENT_BAD_VALUE iv']);
    expect(codes({ ...good, checksum: 'XYZ' })).toEqual(['DOCUMENT_BAD_VALUE checksum']);
    expect(codes({ ...good, passphrase: 'x' })).toEqual(['DOCUMENT_UNKNOWN_MEMBER $.passphrase']);
    expect(codes(JSON.stringify(good).slice(0, 100))[0]).toMatch(/^DOCUMENT_NOT_JSON/);
  });
  test('property: arbitrary bytes are refused with a DocumentError only', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (b) => {
      expect(() => parsePaperShare(b)).toThrow(DocumentError);
    }));
  });
});

describe('printing', () => {
  test('the QR code decodes back to the sealed share; the page has no passphrase, no script, and a CSP', () => {
    const sealed = sealPaperShare(record, pass(PASSPHRASE), header, FAST);
    const text = encodePaperShare(sealed);
    const grid = encodeQR(text, 'raw', { ecc: 'medium', border: 4 });
    const scale = 4;
    const size = grid.length * scale;
    const data = new Uint8Array(size * size * 4);
    for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
      const v = grid[Math.floor(y / scale)]![Math.floor(x / scale)] ? 0 : 255;
      data.set([v, v, v, 255], (y * size + x) * 4);
    }
    expect(decodeQR({ width: size, height: size, data })).toBe(text);
    const html = paperShareHtml(sealed);
    expect(html).toContain("Content-Security-Policy\" content=\"default-src 'none'");
    expect(html).not.toMatch(/<script|src=|href=/i);
    expect(html).not.toContain(PASSPHRASE);
    expect(html).toContain(sealed.checksum);
    expect(html).toContain('<svg');
  });
});
