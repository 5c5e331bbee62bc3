/**
 * Issue 14, item 5 (c): a paper share whose scrypt parameters each pass their own bound but
 * together exceed `maxmem` (N = 2^20, r = 16: 2 GiB) used to reach scrypt and crash with
 * ERR_CRYPTO_INVALID_SCRYPT_PARAMS (exit 3). Every KDF parameter and their memory are now bounded
 * before use, on reading and on opening or sealing a share built in code, with a code and exit 1.
 * The memory bound is OpenSSL's own rule, checked here against node:crypto at small N.
 */
import { createHash, scryptSync } from 'node:crypto';
import { describe, expect, test } from 'vitest';
import { encodePaperShare, kdfProblem, MAX_KDF_MEMORY, openPaperShare, PAPER_KDF, parsePaperShare, scryptMemory, sealPaperShare } from '../../src/backup/paper.js';
import type { PaperShare } from '../../src/backup/paper.js';
import { DocumentError } from '../../src/docs/problems.js';
import { KeyceremonyError } from '../../src/errors.js';
import { expectCode } from '../support/expect-code.js';

const header = { ceremony: 'q4-custody', backupKey: 'backup-v2', custodian: 'carol', index: 3, threshold: 2, total: 3 };
const pass = new TextEncoder().encode('correct horse battery staple');
const FAST = { name: 'scrypt' as const, N: 1 << 14, r: 8, p: 1 };
const sealed = sealPaperShare(new TextEncoder().encode('{"share":"x"}'), pass, header, FAST);

/** The share with other KDF parameters and its public checksum recomputed, as a forger would (src/backup/paper.ts: SHA-256 of the AAD, IV and ciphertext). */
function withKdf(kdf: { N: number; r: number; p: number }): PaperShare {
  const k = { ...sealed.kdf, ...kdf };
  const aad = JSON.stringify(['keyceremony/paper-share@1', header.ceremony, header.backupKey, header.custodian, header.index, header.threshold, header.total, 'scrypt', k.N, k.r, k.p, Buffer.from(k.salt).toString('base64')]);
  const checksum = createHash('sha256').update(aad).update(sealed.iv).update(sealed.ciphertext).digest('hex').slice(0, 16);
  return { ...sealed, kdf: k, checksum };
}

describe('scrypt parameters beyond maxmem', () => {
  test('reading: N = 2^20, r = 16 (2 GiB) is refused with SHARE_KDF_UNSUPPORTED, a DocumentError (exit 1)', () => {
    for (const kdf of [{ N: 1 << 20, r: 16, p: 1 }, { N: 1 << 18, r: 8, p: 1 }, { N: 1 << 17, r: 16, p: 4 }]) {
      try {
        parsePaperShare(new TextEncoder().encode(encodePaperShare(withKdf(kdf))));
        expect.unreachable();
      } catch (err) {
        expect(err).toBeInstanceOf(DocumentError);
        expect([(err as DocumentError).code, (err as DocumentError).exit, (err as DocumentError).problems.map((p) => p.path)]).toEqual(['SHARE_KDF_UNSUPPORTED', 1, ['kdf']]);
      }
    }
  });
  test('opening a share built in code (no parse): refused before scrypt runs, SHARE_KDF_UNSUPPORTED, exit 1, never ERR_CRYPTO_*', () => {
    const t = performance.now();
    for (const kdf of [{ N: 1 << 20, r: 16, p: 1 }, { N: 1 << 22, r: 8, p: 1 }, { N: 1 << 14, r: 1, p: 1 }, { N: 3 << 14, r: 8, p: 1 }, { N: 1 << 14, r: 8, p: 1000 }, { N: 1 << 14, r: 8.5, p: 1 }]) {
      const e = expectCode(() => openPaperShare(withKdf(kdf), pass), 'SHARE_KDF_UNSUPPORTED');
      expect(e.exit).toBe(1);
    }
    expect(performance.now() - t).toBeLessThan(2000);
    expect(expectCode(() => sealPaperShare(new Uint8Array(4), pass, header, { name: 'scrypt', N: 1 << 20, r: 16, p: 1 }), 'SHARE_KDF_UNSUPPORTED').exit).toBe(1);
  });
  test('the errors are KeyceremonyErrors, so the command line exits 1 (exit 3 is a bug)', () => {
    try {
      openPaperShare(withKdf({ N: 1 << 20, r: 16, p: 1 }), pass);
      expect.unreachable();
    } catch (err) {
      expect(err).toBeInstanceOf(KeyceremonyError);
      expect((err as KeyceremonyError).exit).not.toBe(3);
    }
  });
});

describe('the bound', () => {
  test('is exactly what OpenSSL allocates: scrypt runs with maxmem = scryptMemory and refuses one byte less', () => {
    for (const [N, r, p] of [[16, 8, 1], [1024, 8, 4], [4096, 16, 2], [256, 9, 3], [1 << 14, 8, 1]] as const) {
      const need = scryptMemory(N, r, p);
      expect(() => scryptSync('x', 'salt', 32, { N, r, p, maxmem: need })).not.toThrow();
      expect(() => scryptSync('x', 'salt', 32, { N, r, p, maxmem: need - 1 })).toThrow(expect.objectContaining({ code: 'ERR_CRYPTO_INVALID_SCRYPT_PARAMS' }));
    }
  });
  test('over every combination the reader admits, a share is accepted exactly when its memory fits', () => {
    let accepted = 0;
    for (let log = 14; log <= 20; log++) {
      for (let r = 8; r <= 16; r++) {
        for (let p = 1; p <= 4; p++) {
          const fits = scryptMemory(1 << log, r, p) <= MAX_KDF_MEMORY;
          expect([log, r, p, kdfProblem({ N: 1 << log, r, p }) === null]).toEqual([log, r, p, fits]);
          if (fits) accepted++;
        }
      }
    }
    expect(accepted).toBeGreaterThan(0);
    expect(kdfProblem(PAPER_KDF)).toBeNull(); // the default seals and opens (test/backup/paper.test.ts)
  });
});
