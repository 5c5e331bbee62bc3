/**
 * Creating the backup key under custody (issue 6). The key is drawn from the token's RNG, split
 * into shares in host memory, imported into the HSM as a token key that may only wrap and unwrap,
 * and the host buffer is zeroed: the one place where the backup key exists in clear outside a
 * token, as the issue allows (and the audit log will record). Then the creation check: every
 * share takes part in recombinations imported as session keys, each KCV compared with the HSM's
 * (recombinationSubsets says which).
 *
 * Secret bytes go to pkcs11js as views of the caller's buffer, never as copies: Buffer.from(u8)
 * would copy the key into Node's shared pool, where nothing zeroes it.
 */
import { zero } from '../bytes.js';
import { KeyceremonyError } from '../errors.js';
import type { Handle } from '../pkcs11/binding.js';
import { assertLabelFree, keyCheckValue, validateLabel } from '../pkcs11/keys.js';
import { destroyQuietly } from '../pkcs11/objects.js';
import { importAesKey } from '../pkcs11/wrapping.js';
import type { Session } from '../pkcs11/session.js';
import { ShareCollector, splitSecret } from './shares.js';
import type { SplitShare } from './shares.js';

/** Import 32 bytes as an AES key that only wraps and unwraps (src/pkcs11/wrapping.ts); `token: false` for a session key that dies with the session. */
export { importAesKey };

export interface Custody {
  readonly backupKey: string;
  readonly kcv: string;
  readonly shares: readonly SplitShare[];
}

export async function createBackupCustody(s: Session, opts: { backupKey: string; ceremony: string; custodians: readonly string[]; threshold: number }): Promise<Custody> {
  const label = validateLabel(opts.backupKey);
  assertLabelFree(s, label);
  const secret = s.random(32);
  try {
    const shares = await splitSecret(secret, { ceremony: opts.ceremony, backupKey: label, custodians: opts.custodians, threshold: opts.threshold });
    const handle = importAesKey(s, secret, { label, token: true, encrypt: false });
    const kcv = (await keyCheckValue(s, handle)).value;
    return { backupKey: label, kcv, shares };
  } finally {
    zero(secret);
  }
}

/**
 * The KCV of the key that `custodians`' shares in the collector rebuild (the first M presented when
 * not named), from a session key destroyed at once; the host copy is zeroed. The caller disposes
 * of the collector.
 */
export async function recombinedKcv(s: Session, collector: ShareCollector, custodians?: readonly string[]): Promise<string> {
  const secret = await collector.combine(custodians);
  let probe: Handle | undefined;
  try {
    probe = importAesKey(s, secret, { label: 'custody check (session)', token: false, encrypt: true });
    zero(secret);
    return (await keyCheckValue(s, probe)).value;
  } finally {
    zero(secret);
    destroyQuietly(s, probe);
  }
}

export function custodyCheckFailed(custodians: readonly string[], kcv: string, expected: string): KeyceremonyError {
  return new KeyceremonyError('CUSTODY_CHECK_FAILED', `the shares of ${custodians.join(', ')} rebuild a key with KCV ${kcv}, not the backup key's ${expected}`, 'stop: destroy the shares and the backup key, and split again');
}

/** Up to this many shares, the creation check recombines every M-subset (C(10, 5) = 252 at most). */
export const EVERY_SUBSET_UP_TO = 10;

/**
 * Which M-subsets of the N shares (as indices) the creation check recombines (issue 14, item 15).
 * For N ≤ EVERY_SUBSET_UP_TO, every one: exactly the recombinations a restore can ever need, at most
 * 252 imports and KCVs in the HSM. Beyond, C(N, M) grows too fast (C(20, 10) = 184,756), so the
 * N − M + 1 windows of M consecutive shares: each overlaps the one before in M − 1 shares, so if
 * each rebuilds the key, both polynomials of degree M − 1 agree on M − 1 shares and at 0, hence are
 * one; all N shares then lie on the one polynomial whose value at 0 is the key, and by uniqueness
 * of interpolation every M-subset rebuilds it. A cover that merely touches every share (disjoint
 * blocks) proves less: a block of shares from another polynomial with the same secret passes alone.
 */
export function recombinationSubsets(n: number, m: number): number[][] {
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(m) || m < 1 || m > n) throw new RangeError(`"m" expected 1 to ${n}, got ${m}`);
  if (n > EVERY_SUBSET_UP_TO) return Array.from({ length: n - m + 1 }, (_, i) => Array.from({ length: m }, (_, j) => i + j));
  const out: number[][] = [];
  const pick = (from: number, chosen: number[]): void => {
    if (chosen.length === m) {
      out.push(chosen);
      return;
    }
    for (let i = from; i <= n - (m - chosen.length); i++) pick(i + 1, [...chosen, i]);
  };
  pick(0, []);
  return out;
}

/**
 * The creation check: every share is presented once (checked against its commitment), then each of
 * recombinationSubsets is rebuilt in the HSM and its KCV compared with the backup key's;
 * CUSTODY_CHECK_FAILED names the first subset that differs. Returns how many were rebuilt.
 */
export async function checkRecombinations(s: Session, collector: ShareCollector, custodians: readonly string[], threshold: number, expectedKcv: string): Promise<number> {
  const subsets = recombinationSubsets(custodians.length, threshold);
  for (const subset of subsets) {
    const names = subset.map((i) => custodians[i] as string);
    const kcv = await recombinedKcv(s, collector, names);
    if (kcv !== expectedKcv) throw custodyCheckFailed(names, kcv, expectedKcv);
  }
  return subsets.length;
}

/** The creation check on a custody made in this session: every share's records recombined as recombinationSubsets says. */
export async function checkCustody(s: Session, custody: Custody, ceremony: string, threshold: number): Promise<number> {
  const c = new ShareCollector({ ceremony, backupKey: custody.backupKey, threshold, total: custody.shares.length, commitments: new Map(custody.shares.map((x) => [x.custodian, x.commitment])) });
  try {
    for (const sh of custody.shares) c.present(sh.bytes);
    return await checkRecombinations(s, c, custody.shares.map((x) => x.custodian), threshold, custody.kcv);
  } finally {
    c.dispose();
  }
}
