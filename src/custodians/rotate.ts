/**
 * The next version of a custodian set (FORMATS.md §3.4): members removed, added or given a new
 * key, and perhaps a new threshold. It must then be signed by the threshold of the current set
 * and by its own threshold. Shared by `keyceremony custodians next` and the app.
 */
import { KeyceremonyError } from '../errors.js';
import { verifyChain } from '../verify/verify.js';
import type { ChainResult } from '../verify/verify.js';
import { buildCustodianSet } from './set.js';
import type { CustodianInput, CustodianSet } from './set.js';

export interface SetChanges {
  readonly remove?: readonly string[] | undefined;
  readonly replaceKeys?: readonly { readonly id: string; readonly publicKey: Uint8Array }[] | undefined;
  readonly add?: readonly CustodianInput[] | undefined;
  /** Default: the current threshold, capped at the new number of custodians. */
  readonly threshold?: number | undefined;
  readonly issued: string;
  readonly expires: string;
}

function unknownCustodian(id: string, set: CustodianSet): KeyceremonyError {
  return new KeyceremonyError('CUSTODIANS_UNKNOWN_MEMBER', `${id} is not a custodian of set version ${set.version}`, 'check the custodian id', { exit: 2 });
}

export function nextCustodianSet(current: CustodianSet, changes: SetChanges): Uint8Array {
  const members: CustodianInput[] = current.custodians.map((c) => ({ id: c.id, name: c.name, publicKey: c.publicKey.bytes }));
  for (const id of changes.remove ?? []) {
    const i = members.findIndex((m) => m.id === id);
    if (i < 0) throw unknownCustodian(id, current);
    members.splice(i, 1);
  }
  for (const r of changes.replaceKeys ?? []) {
    const i = members.findIndex((m) => m.id === r.id);
    if (i < 0) throw unknownCustodian(r.id, current);
    members[i] = { ...(members[i] as CustodianInput), publicKey: r.publicKey };
  }
  for (const m of changes.add ?? []) {
    if (members.some((x) => x.id === m.id)) throw new KeyceremonyError('CUSTODIANS_DUPLICATE_ID', `${m.id} is already a custodian`, 'replace its key instead, or choose another id', { exit: 2 });
    members.push(m);
  }
  const threshold = changes.threshold ?? Math.min(current.threshold, members.length);
  return buildCustodianSet({ version: current.version + 1, issued: changes.issued, expires: changes.expires, threshold, custodians: members });
}

export interface ChainToReplace extends ChainResult {
  /** The newest set has expired at `at`: the next version is how it is replaced (a CHAIN_NEWEST_EXPIRED warning says so). */
  readonly newestExpired: boolean;
}

/**
 * The chain that the next set will follow (`custodians next`, the app's rotation). Only the newest
 * set of a chain must be unexpired (FORMATS.md §3.5), and the next set becomes the newest, so the
 * current one may have expired: that is how an expired set is replaced, signed by the threshold
 * of the expired set (§3.4; TUF lets an expired root sign its successor likewise). Every other
 * check of the chain applies, a set not yet valid included. Like verifyChain it does not throw:
 * `chain` is null with every reason, and the caller refuses as it refuses any chain (CHAIN_INVALID,
 * src/usecases/chain.ts).
 */
export function chainToReplace(files: readonly Uint8Array[], opts: { readonly at: number; readonly rootDigest?: string | undefined }): ChainToReplace {
  const c = verifyChain(files, { at: opts.at, rootDigest: opts.rootDigest }, 'replaced');
  return { ...c, newestExpired: c.chain !== null && c.warnings.some((w) => w.code === 'CHAIN_NEWEST_EXPIRED') };
}
