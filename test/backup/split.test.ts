/**
 * Issue 14 on real SoftHSM2 tokens, through splitBackupKey (the CLI's, the app's and the
 * ceremony's split):
 *   item 12: every buffer of key or share bytes the code handed to pkcs11js or to the Shamir library,
 *     or received from them, is zeroed once a split (and a drill) is over. The real module objects'
 *     functions are wrapped by recording spies that pass through to the real implementations
 *     (a Proxy around the real binding, as test/support/faults.ts does; the Shamir module's own
 *     functions around the real ones): nothing is mocked.
 *   item 15: every share takes part in a recombination whose KCV is checked before the split is
 *     reported done. A fault injected after the real split (a share off the polynomial, outside the
 *     first M) passes the old check of the first M shares and is refused now, CUSTODY_CHECK_FAILED.
 *   item 11: a paper holder whose passphrase was typed rather than generated, or not typed back, is
 *     refused before the HSM is touched.
 */
import { createRequire } from 'node:module';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import { parseBlob } from '../../src/backup/blob.js';
import { recombinationSubsets, recombinedKcv } from '../../src/backup/custody.js';
import { runDrill } from '../../src/backup/drill.js';
import { PaperPassphrase } from '../../src/backup/passphrase.js';
import { ShareCollector, shareCommitment } from '../../src/backup/shares.js';
import { splitBackupKey } from '../../src/backup/split.js';
import type { CustodianCard, PaperHolder, SplitProgress } from '../../src/backup/split.js';
import { readShare } from '../../src/backup/token-shares.js';
import { zero } from '../../src/bytes.js';
import { generateAesKey } from '../../src/pkcs11/keys.js';
import { Pkcs11Module } from '../../src/pkcs11/module.js';
import { withSession } from '../../src/pkcs11/session.js';
import { findToken } from '../../src/pkcs11/tokens.js';
import { expectCodeAsync } from '../support/expect-code.js';
import { createSoftHsm, pinBytes } from '../support/softhsm.js';
import type { SoftHsm } from '../support/softhsm.js';

/** Every buffer of key or share bytes seen crossing into or out of a library, with whether it held anything then. */
const spy = vi.hoisted(() => ({ seen: [] as { what: string; bytes: Uint8Array; heldData: boolean }[], fault: null as null | ((shares: Uint8Array[]) => void) }));
const record = (what: string, bytes: Uint8Array): void => { spy.seen.push({ what, bytes, heldData: bytes.some((b) => b !== 0) }); };

vi.mock('shamir-secret-sharing', async (importOriginal) => {
  const real = await importOriginal<typeof import('shamir-secret-sharing')>();
  const rec = (what: string, bytes: Uint8Array): void => { spy.seen.push({ what, bytes, heldData: bytes.some((b) => b !== 0) }); };
  return {
    ...real,
    split: async (secret: Uint8Array, n: number, m: number): Promise<Uint8Array[]> => {
      rec('shamir split: the secret', secret);
      const shares = await real.split(secret, n, m);
      spy.fault?.(shares); // a fault after the real split, as a bug in it would make
      for (const s of shares) rec('shamir split: a share', s);
      return shares;
    },
    combine: async (shares: Uint8Array[]): Promise<Uint8Array> => {
      for (const s of shares) rec('shamir combine: a share', s);
      const secret = await real.combine(shares);
      rec('shamir combine: the secret', secret);
      return secret;
    },
  };
});

const B = createRequire(import.meta.url)('pkcs11js') as { CKA_VALUE: number; CKA_CLASS: number; CKO_SECRET_KEY: number; CKO_DATA: number };

/** The real binding behind a recording Proxy: CKA_VALUE handed to C_CreateObject, random bytes drawn, CKA_VALUE read back. */
function recordBinding(mod: Pkcs11Module): void {
  const real = mod.api;
  const proxy = new Proxy(real, {
    get(target, prop, receiver) {
      const v = Reflect.get(target, prop, receiver) as unknown;
      if (typeof v !== 'function') return v;
      const fn = (v as (...a: unknown[]) => unknown).bind(target);
      if (prop === 'C_CreateObject') {
        return (session: unknown, template: { type: number; value?: unknown }[]) => {
          const cls = template.find((a) => a.type === B.CKA_CLASS)?.value;
          for (const a of template) if (a.type === B.CKA_VALUE && a.value instanceof Uint8Array) record(cls === B.CKO_DATA ? 'pkcs11 C_CreateObject: a share record' : 'pkcs11 C_CreateObject: a key', a.value);
          return fn(session, template);
        };
      }
      if (prop === 'C_GenerateRandom') return (...args: unknown[]) => { const out = fn(...args) as Buffer; if (out.length === 32) record('pkcs11 C_GenerateRandom: the backup key', out); return out; };
      if (prop === 'C_GetAttributeValue') {
        return (...args: unknown[]) => {
          const out = fn(...args) as { type: number; value?: Buffer }[];
          for (const a of out) if (a.type === B.CKA_VALUE && a.value !== undefined) record('pkcs11 C_GetAttributeValue: a share read back', a.value);
          return out;
        };
      }
      return fn;
    },
  });
  Object.defineProperty(mod, 'api', { value: proxy, configurable: true });
}

const tok = (label: string, pin: string) => ({ label, pin, soPin: '12345678' });
const HSM = tok('Ceremony HSM', '55443322');
const DRILL = tok('Drill token', '66778899');
const ids = ['alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi', 'ivan', 'judy', 'mallory', 'niaj'] as const;
const cards = ids.map((id, i) => tok(`card-${id}`, `${String(i).padStart(2, '0')}4411`));
let hsm: SoftHsm;
let mod: Pkcs11Module;
let run = 0;

const session = <T>(t: { label: string; pin: string }, fn: Parameters<typeof withSession<T>>[2]) => withSession(findToken(mod, { label: t.label }), pinBytes(t.pin), fn);
const cardsFor = (n: number): CustodianCard[] => cards.slice(0, n).map((c, i) => ({ custodian: ids[i] as string, token: findToken(mod, { label: c.label }), pin: pinBytes(c.pin) }));
/** A split of its own (a fresh backup key id, so that cards and HSM never hold a leftover); the events it reported. */
async function split(o: { cards: number; threshold: number; paper?: PaperHolder[] }): Promise<{ result: Awaited<ReturnType<typeof splitBackupKey>>; events: Parameters<SplitProgress>[0][]; backupKey: string }> {
  const events: Parameters<SplitProgress>[0][] = [];
  const backupKey = `backup-v${++run}`;
  const result = await splitBackupKey({ hsm: findToken(mod, { label: HSM.label }), hsmPin: pinBytes(HSM.pin), ceremony: 'zeroed', backupKey, threshold: o.threshold, keys: ['master-v1'],
    cards: cardsFor(o.cards), paper: o.paper ?? [], progress: (e) => events.push(e) });
  return { result, events, backupKey };
}
const confirmed = (): PaperPassphrase => {
  const p = PaperPassphrase.generate();
  p.withKdfInput((k) => p.confirm(k)); // what the custodian types back
  return p;
};

beforeAll(async () => {
  hsm = createSoftHsm([HSM, DRILL, ...cards]);
  mod = Pkcs11Module.open(hsm.module);
  await session(HSM, async (s) => generateAesKey(s, { label: 'master-v1', role: 'master', extractable: true }));
  recordBinding(mod);
}, 120_000);
afterAll(() => { mod.close(); hsm.cleanup(); });
beforeEach(() => { spy.seen.length = 0; spy.fault = null; });

const unzeroed = (): string[] => spy.seen.filter((x) => x.bytes.some((b) => b !== 0)).map((x) => x.what);
const count = (what: string): number => spy.seen.filter((x) => x.what === what).length;

describe('item 12: key and share buffers handed to pkcs11js and the Shamir library are zeroed', () => {
  test('a 2-of-3 split onto two cards and a paper share, then a drill: every recorded buffer held data when handed over and is zero now', async () => {
    const carol = confirmed();
    const { result, backupKey } = await split({ cards: 2, threshold: 2, paper: [{ custodian: 'carol', passphrase: carol }] });
    carol.dispose();
    expect(result.recombinations).toBe(3);
    expect({
      random: count('pkcs11 C_GenerateRandom: the backup key'), keys: count('pkcs11 C_CreateObject: a key'), records: count('pkcs11 C_CreateObject: a share record'),
      readBack: count('pkcs11 C_GetAttributeValue: a share read back'), secret: count('shamir split: the secret'), made: count('shamir split: a share'),
      combined: count('shamir combine: a share'), rebuilt: count('shamir combine: the secret'),
    }).toEqual({ random: 1, keys: 1 + 3 + 2, records: 2, readBack: 2 * 2, secret: 1, made: 3, combined: 3 * 2, rebuilt: 3 });
    expect(spy.seen.filter((x) => !x.heldData).map((x) => x.what)).toEqual([]);
    expect(unzeroed()).toEqual([]);
    // views, not copies: the key handed to C_CreateObject is the very memory C_GenerateRandom filled
    const drawn = spy.seen.find((x) => x.what === 'pkcs11 C_GenerateRandom: the backup key')!.bytes;
    expect(spy.seen.find((x) => x.what === 'pkcs11 C_CreateObject: a key')!.bytes.buffer).toBe(drawn.buffer);

    // the drill: two cards' shares read, combined, imported into the drill token
    spy.seen.length = 0;
    const blob = parseBlob(new TextEncoder().encode(result.blobs[0]!.text));
    const collector = new ShareCollector({ ceremony: 'zeroed', backupKey, threshold: 2, total: 3, commitments: new Map(result.receipts.map((r) => [r.custodian, r.commitment])) });
    for (const c of cards.slice(0, 2)) {
      const bytes = await session(c, async (s) => readShare(s, backupKey));
      try { collector.present(bytes); } finally { zero(bytes); }
    }
    const outcome = await session(DRILL, (s) => runDrill(s, collector, backupKey, result.backupKcv, [blob], new Map([['master-v1', blob.kcv]])));
    expect(outcome.pass).toBe(true);
    expect(count('shamir combine: the secret')).toBe(1);
    expect(count('pkcs11 C_CreateObject: a key')).toBe(1 + 2); // the backup key, and the two of the known-answer check of the token's key wrap
    expect(spy.seen.filter((x) => !x.heldData).map((x) => x.what)).toEqual([]);
    expect(unzeroed()).toEqual([]);
  }, 60_000);
});

describe('item 15: every share takes part in a recombination checked by KCV', () => {
  test('which subsets: every M-subset up to N = 10; beyond, the N − M + 1 overlapping windows', () => {
    const binomial = (n: number, k: number): number => (k === 0 ? 1 : (binomial(n - 1, k - 1) * n) / k);
    for (let n = 2; n <= 10; n++) {
      for (let m = 2; m <= n; m++) {
        const subsets = recombinationSubsets(n, m);
        expect(subsets).toHaveLength(binomial(n, m));
        expect(new Set(subsets.map((s) => s.join(','))).size).toBe(subsets.length);
        expect(subsets.every((s) => s.length === m && s.every((x, i) => x >= 0 && x < n && (i === 0 || x > s[i - 1]!)))).toBe(true);
      }
    }
    for (const [n, m] of [[11, 2], [12, 3], [20, 10], [255, 128], [255, 255]] as const) {
      const windows = recombinationSubsets(n, m);
      expect(windows).toHaveLength(n - m + 1);
      expect(new Set(windows.flat()).size).toBe(n); // every share in one
      windows.slice(1).forEach((w, i) => expect(w.filter((x) => windows[i]!.includes(x))).toHaveLength(m - 1));
    }
    expect(recombinationSubsets(10, 5)).toHaveLength(252);
  });

  test('why windows and not any cover: shares of another polynomial with the same secret pass disjoint blocks, and fail a window (the real combine)', async () => {
    const { combine } = await import('shamir-secret-sharing');
    const gfMul = (a: number, b: number): number => {
      let p = 0;
      for (let i = 0; i < 8; i++) { if (b & 1) p ^= a; const hi = a & 0x80; a = (a << 1) & 0xff; if (hi) a ^= 0x1b; b >>= 1; }
      return p;
    };
    const secret = Uint8Array.from({ length: 32 }, (_, i) => (i * 73 + 5) & 0xff);
    const poly = (seed: number) => (byte: number, x: number): number => secret[byte]! ^ gfMul((seed + byte) & 0xff || 1, x) ^ gfMul(gfMul((seed * 7 + byte) & 0xff || 3, x), x);
    const f1 = poly(11);
    const f2 = poly(99);
    const shares = Array.from({ length: 12 }, (_, i) => { const x = i + 1; const f = i < 9 ? f1 : f2; return Uint8Array.from([...Array.from({ length: 32 }, (_, b) => f(b, x)), x]); });
    const rebuilds = async (subset: number[]): Promise<boolean> => Buffer.from(await combine(subset.map((i) => shares[i]!))).equals(Buffer.from(secret));
    const all = async (subsets: number[][]): Promise<boolean> => (await Promise.all(subsets.map(rebuilds))).every(Boolean);
    expect(await all([[0, 1, 2], [3, 4, 5], [6, 7, 8], [9, 10, 11]])).toBe(true); // a cover that touches every share: passes
    expect(await all(recombinationSubsets(12, 3))).toBe(false); // the windows: window 8, 9, 10 mixes the two
  });

  test('2-of-3: a share off the polynomial, the last one (outside the first M), is refused: CUSTODY_CHECK_FAILED before the split is reported done', async () => {
    spy.fault = (shares) => { shares[2]![0]! ^= 0x01; };
    const events: Parameters<SplitProgress>[0][] = [];
    const backupKey = `backup-v${++run}`;
    await expectCodeAsync(splitBackupKey({ hsm: findToken(mod, { label: HSM.label }), hsmPin: pinBytes(HSM.pin), ceremony: 'zeroed', backupKey, threshold: 2, keys: ['master-v1'],
      cards: cardsFor(3), progress: (e) => events.push(e) }), 'CUSTODY_CHECK_FAILED');
    expect(events.map((e) => e.step)).toEqual(['generated', 'stored', 'stored', 'stored']); // never 'recombined'
    expect(unzeroed()).toEqual([]); // a refused split zeroes too
    // the old check, the first M shares, would have passed: alice's and bob's shares rebuild the backup key
    const read = await Promise.all(cards.slice(0, 2).map((c) => session(c, async (s) => readShare(s, backupKey))));
    const collector = new ShareCollector({ ceremony: 'zeroed', backupKey, threshold: 2, total: 3, commitments: new Map(read.map((b, i) => [ids[i] as string, shareCommitment(b)])) });
    for (const b of read) collector.present(b);
    const first = events[0] as { backupKcv: string };
    expect(await session(HSM, (s) => recombinedKcv(s, collector))).toBe(first.backupKcv);
    collector.dispose();
    zero(...read);
  }, 60_000);

  test('3-of-5: all 10 subsets rebuilt; 12 shares, 3 needed: the 10 windows, and a fault in the middle or the last share is caught', async () => {
    const five = await split({ cards: 5, threshold: 3 });
    expect(five.result.recombinations).toBe(10);
    expect(five.events.at(-1)).toEqual({ step: 'recombined', kcv: five.result.backupKcv, recombinations: 10 });
    const twelve = await split({ cards: 12, threshold: 3 });
    expect(twelve.result.recombinations).toBe(10);
    for (const bad of [5, 11]) {
      spy.fault = (shares) => { shares[bad]![7]! ^= 0x80; };
      await expectCodeAsync(split({ cards: 12, threshold: 3 }), 'CUSTODY_CHECK_FAILED');
    }
  }, 120_000);
});

describe('item 11: only generated, confirmed words seal a paper share', () => {
  test('a typed passphrase is SHARE_PASSPHRASE_CHOSEN, an unconfirmed one SHARE_PASSPHRASE_NOT_CONFIRMED, both before the HSM is touched', async () => {
    const objects = () => session(HSM, async (s) => s.findObjects([{ type: B.CKA_CLASS, value: B.CKO_SECRET_KEY }], 100).length);
    const before = await objects();
    const chosen = PaperPassphrase.fromTyped(new TextEncoder().encode('wrist ozone bamboo lizard tenant ghost rescue thumb'));
    await expectCodeAsync(split({ cards: 2, threshold: 2, paper: [{ custodian: 'carol', passphrase: chosen }] }), 'SHARE_PASSPHRASE_CHOSEN');
    await expectCodeAsync(split({ cards: 2, threshold: 2, paper: [{ custodian: 'carol', passphrase: PaperPassphrase.generate() }] }), 'SHARE_PASSPHRASE_NOT_CONFIRMED');
    await expectCodeAsync(split({ cards: 2, threshold: 2, paper: [{ custodian: 'carol', passphrase: new TextEncoder().encode('passwordpassword') as never }] }), 'SHARE_PASSPHRASE_CHOSEN');
    expect(await objects()).toBe(before);
    expect(spy.seen).toEqual([]);
  });
});

