/**
 * Who may act: a manifest's initiating actor and a split's share holders must be custodians of
 * the newest set (FORMATS.md §4), and a drill's presenters must be custodians the backup key was
 * split to. One rule, one function, one code: CUSTODIAN_NOT_MEMBER (exit 1: the custodian set
 * says no). Drill presenters are checked against the split's holders and not the newest set on
 * purpose: a custodian rotated out of the set still holds their share until the backup key is
 * split again, and a real restore may need it.
 */
import { KeyceremonyError } from '../errors.js';
import type { TrustedChain } from '../verify/verify.js';

/** A group of custodians, by id, and how to name it in a sentence. */
export interface Members {
  readonly ids: readonly string[];
  /** "set version 3", "the split of backup-v2" */
  readonly of: string;
}

export type CustodianRole = 'actor' | 'holder' | 'presenter';

const ROLES: Readonly<Record<CustodianRole, { readonly who: string; readonly fix: string }>> = {
  actor: { who: 'the initiating actor', fix: 'name a custodian of the newest set as the actor' },
  holder: { who: 'a share holder', fix: 'shares go to custodians of the newest set' },
  presenter: { who: 'a drill presenter', fix: 'only the custodians the backup key was split to present a share' },
};

/** The custodians of the newest set of a verified chain. */
export function newestSetMembers(chain: TrustedChain): Members {
  return { ids: chain.newest.custodians.map((c) => c.id), of: `set version ${chain.newest.version}` };
}

/** `id` acting as `role` must be one of `members`. */
export function requireCustodian(members: Members, id: string, role: CustodianRole): void {
  if (members.ids.includes(id)) return;
  const r = ROLES[role];
  throw new KeyceremonyError('CUSTODIAN_NOT_MEMBER', `${id}, ${r.who}, is not one of the custodians of ${members.of} (${members.ids.join(', ')})`, r.fix);
}
