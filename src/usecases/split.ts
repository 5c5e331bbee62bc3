/**
 * A backup split's rules, for the CLI's `backup split` (all shares at once) and the app's
 * step-by-step split alike: the holders are custodians of the newest set (CUSTODIAN_NOT_MEMBER),
 * each named once with M ≤ N (SHARES_PARAMETERS_INVALID, exit 2, the code the share splitter
 * itself uses), checked before the HSM is touched; the custody folder is checked before the split
 * and written after it, its unsigned manifest under the newest set and an actor who is a custodian.
 */
import { writeCustodyFolder } from '../backup/split.js';
import type { SplitResult } from '../backup/split.js';
import { KeyceremonyError } from '../errors.js';
import { checkFreeSpace } from '../export/media.js';
import { checkOutputDir } from '../files.js';
import type { Artifact } from '../manifest/manifest.js';
import type { TrustedChain } from '../verify/verify.js';
import { newestSetMembers, requireCustodian } from './custodians.js';

/** The room a custody folder needs on its drive, with margin (blobs and receipts are small). */
const CUSTODY_BYTES = 256 * 1024;

/** Before the HSM is touched: every holder a custodian of the newest set, each once, and M ≤ N. */
export function checkSplitHolders(chain: TrustedChain, holders: readonly string[], threshold: number): void {
  const members = newestSetMembers(chain);
  for (const h of holders) requireCustodian(members, h, 'holder');
  if (new Set(holders).size !== holders.length) {
    throw new KeyceremonyError('SHARES_PARAMETERS_INVALID', `a custodian is named twice among the holders (${holders.join(', ')})`, 'one share per custodian', { exit: 2 });
  }
  if (threshold > holders.length) {
    throw new KeyceremonyError('SHARES_PARAMETERS_INVALID', `${threshold} of ${holders.length} shares`, 'the threshold is at most the number of holders', { exit: 2 });
  }
}

/** The custody folder can be made (absent or empty) and its drive has room. */
export function checkCustodyFolder(outDir: string): void {
  checkOutputDir(outDir, false);
  checkFreeSpace(outDir, CUSTODY_BYTES);
}

/** The custody folder, all or nothing, with its unsigned manifest under the newest set, initiated by `actor`. */
export async function writeCustody(outDir: string, result: SplitResult, o: { readonly chain: TrustedChain; readonly actor: string; readonly now: number }): Promise<Artifact[]> {
  requireCustodian(newestSetMembers(o.chain), o.actor, 'actor');
  return writeCustodyFolder(outDir, result, { custodianSet: o.chain.newest.version, actor: o.actor, now: o.now });
}
