/** Backup-key shares (issue 6 foundation): every M-subset rebuilds the key; every bad share is named on entry. */
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { parseShare, ShareCollector, shareCommitment, splitSecret } from '../../src/backup/shares.js';
import type { ExpectedShares, SplitShare } from '../../src/backup/shares.js';
import { KeyceremonyError } from '../../src/errors.js';

/** An independent GF(2^8) (AES field, x^8+x^4+x^3+x+1) Lagrange interpolation at x = 0. */
function gfMul(a: number, b: number): number {
  let p = 0;
  for (let i = 0; i < 8; i++) {
    if (b & 1) p ^= a;
    const hi = a & 0x80;
    a = (a << 1) & 0xff;
    if (hi) a ^= 0x1b;
    b >>= 1;
  }
  return p;
}
function gfInv(a: number): number {
  let r = 1;
  for (let i = 0; i < 254; i++) r = gfMul(r, a); // a^254 = a^-1
  return r;
}
function interpolateAtZero(shares: Uint8Array[]): Uint8Array {
  const xs = shares.map((s) => s[s.length - 1]!);
  const out = new Uint8Array(shares[0]!.length - 1);
  for (let b = 0; b < out.length; b++) {
    let acc = 0;
    shares.forEach((s, i) => {
      let basis = 1;
      xs.forEach((xj, j) => { if (j !== i) basis = gfMul(basis, gfMul(xj, gfInv(xj ^ xs[i]!))); });
      acc ^= gfMul(s[b]!, basis);
    });
    out[b] = acc;
  }
  return out;
}

function subsets<T>(xs: readonly T[], k: number): T[][] {
  if (k === 0) return [[]];
  if (xs.length < k) return [];
  const [h, ...t] = xs as [T, ...T[]];
  return [...subsets(t, k - 1).map((s) => [h, ...s]), ...subsets(t, k)];
}

const expectedOf = (shares: SplitShare[], m: number, over: Partial<ExpectedShares> = {}): ExpectedShares => ({
  ceremony: '2026-q4-backup', backupKey: 'backup-v2', threshold: m, total: shares.length, commitments: new Map(shares.map((s) => [s.custodian, s.commitment])), ...over,
});
const code = async (p: Promise<unknown> | (() => unknown)) => {
  try { await (typeof p === 'function' ? p() : p); } catch (e) { expect(e).toBeInstanceOf(KeyceremonyError); return (e as KeyceremonyError).code; }
  return 'accepted';
};

describe('every M-subset rebuilds the key, checked by an independent interpolation', () => {
  test.each([[2, ['alice', 'bob', 'carol']], [3, ['alice', 'bob', 'carol', 'dave', 'erin']]] as const)('%i of %j', async (m, custodians) => {
    const secret = new Uint8Array(randomBytes(32));
    const shares = await splitSecret(secret, { ceremony: '2026-q4-backup', backupKey: 'backup-v2', custodians, threshold: m });
    expect(shares.map((s) => parseShare(s.bytes).index)).toEqual(custodians.map((_, i) => i + 1));
    for (const subset of subsets(shares, m)) {
      const c = new ShareCollector(expectedOf(shares, m));
      for (const s of subset) c.present(s.bytes);
      const key = await c.combine();
      expect(Buffer.from(key).equals(Buffer.from(secret))).toBe(true);
      expect(Buffer.from(interpolateAtZero(subset.map((s) => parseShare(s.bytes).share))).equals(Buffer.from(secret))).toBe(true);
      c.dispose();
    }
  });
});

describe('bad shares are named on entry, and nothing is combined without M', () => {
  test('M-1 shares, one share twice, another ceremony, a corrupted or forged share, garbage', async () => {
    const secret = new Uint8Array(randomBytes(32));
    const shares = await splitSecret(secret, { ceremony: '2026-q4-backup', backupKey: 'backup-v2', custodians: ['alice', 'bob', 'carol'], threshold: 2 });
    const c = new ShareCollector(expectedOf(shares, 2));
    c.present(shares[0]!.bytes);
    expect(await code(c.combine())).toBe('SHARE_THRESHOLD_NOT_MET');
    expect(await code(() => c.present(shares[0]!.bytes))).toBe('SHARE_DUPLICATE');
    const foreign = await splitSecret(secret, { ceremony: '2026-q3-backup', backupKey: 'backup-v2', custodians: ['alice', 'bob', 'carol'], threshold: 2 });
    expect(await code(() => c.present(foreign[1]!.bytes))).toBe('SHARE_FOREIGN');
    const otherKey = await splitSecret(secret, { ceremony: '2026-q4-backup', backupKey: 'backup-v2', custodians: ['alice', 'bob', 'carol'], threshold: 2 });
    expect(await code(() => c.present(otherKey[1]!.bytes))).toBe('SHARE_COMMITMENT_MISMATCH'); // same ceremony, another split
    const corrupted = new Uint8Array(shares[1]!.bytes);
    const rec = parseShare(corrupted);
    const flipped = new TextEncoder().encode(new TextDecoder().decode(corrupted).replace(Buffer.from(rec.share).toString('base64'), Buffer.from(rec.share.map((b, i) => (i === 3 ? b ^ 1 : b))).toString('base64')));
    expect(await code(() => c.present(flipped))).toBe('SHARE_COMMITMENT_MISMATCH');
    expect(await code(() => c.present(new TextEncoder().encode('{"spec":')))).toBe('SHARE_MALFORMED');
    expect(c.count).toBe(1);
    c.present(shares[2]!.bytes);
    expect(Buffer.from(await c.combine()).equals(Buffer.from(secret))).toBe(true);
  });
  test('property: any one-byte change to a share record is refused on entry', async () => {
    const shares = await splitSecret(new Uint8Array(32).fill(7), { ceremony: 'c1', backupKey: 'backup-v1', custodians: ['a1', 'b1'], threshold: 2 });
    await fc.assert(fc.asyncProperty(fc.nat({ max: shares[0]!.bytes.length - 1 }), fc.integer({ min: 1, max: 255 }), async (i, d) => {
      const b = new Uint8Array(shares[0]!.bytes);
      b[i] = (b[i]! + d) & 0xff;
      expect(shareCommitment(b)).not.toBe(shares[0]!.commitment);
      const got = await code(() => new ShareCollector(expectedOf(shares, 2)).present(b));
      expect(['SHARE_MALFORMED', 'SHARE_FOREIGN', 'SHARE_COMMITMENT_MISMATCH']).toContain(got);
    }), { numRuns: 300 });
  });
  test('split parameters are checked', async () => {
    for (const [m, cs] of [[1, ['a', 'b']], [3, ['a', 'b']], [2, ['a', 'a']]] as const) {
      expect(await code(splitSecret(new Uint8Array(32), { ceremony: 'c', backupKey: 'backup-v1', custodians: cs, threshold: m }))).toBe('SHARES_PARAMETERS_INVALID');
    }
  });
});
