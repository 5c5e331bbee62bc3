/**
 * Shared by the steps that put a custodian set in force: a set file this run writes (or an
 * interrupted attempt wrote) is checked to be the set the step makes, with the keys read from the
 * cards in this run, before anything relies on it.
 */
import { formatTime } from '../../docs/fields.js';
import type { CustodianSet } from '../../custodians/set.js';
import { KeyceremonyError } from '../../errors.js';
import { resumeMismatch } from '../context.js';
import type { StepContext } from '../context.js';

export const SET_VALIDITY_MS = 365 * 86400_000;

/** The members of a new set: each with the key read from their card in this run, else the key of the set in force. */
export function membersWithKeys(ctx: StepContext, ids: readonly string[], inForce?: CustodianSet): { id: string; name: string; publicKey: Uint8Array }[] {
  return ids.map((id) => {
    const key = ctx.publicKeys.get(id) ?? inForce?.custodians.find((x) => x.id === id)?.publicKey.bytes;
    if (key === undefined) throw new KeyceremonyError('CEREMONY_NO_CUSTODIAN_KEY', `${id} has no signing key yet`, 'put a custodian-keys step for them first');
    return { id, name: ctx.participantName(id), publicKey: key };
  });
}

/** The validity of a set issued now. */
export function validity(ctx: StepContext): { issued: string; expires: string } {
  const t = ctx.now();
  return { issued: formatTime(t), expires: formatTime(t + SET_VALIDITY_MS) };
}

/** The set read from the folder is the one the step makes: its version, threshold, members and their keys. */
export function checkSetIs(ctx: StepContext, stepId: string, set: CustodianSet, want: { version: number; threshold: number; members: readonly string[]; inForce?: CustodianSet }): void {
  const got = { version: set.version, threshold: set.threshold, members: set.custodians.map((c) => c.id) };
  const expected = { version: want.version, threshold: want.threshold, members: [...want.members] };
  if (JSON.stringify(got) !== JSON.stringify(expected)) throw resumeMismatch(stepId, 'the custodian set', expected, got);
  for (const c of set.custodians) {
    const key = ctx.publicKeys.get(c.id) ?? want.inForce?.custodians.find((x) => x.id === c.id)?.publicKey.bytes;
    if (key !== undefined && Buffer.compare(Buffer.from(key), Buffer.from(c.publicKey.bytes)) !== 0) {
      throw resumeMismatch(stepId, `${c.id}'s key`, Buffer.from(key).toString('hex'), Buffer.from(c.publicKey.bytes).toString('hex'));
    }
  }
}
