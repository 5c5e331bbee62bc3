/** The first custodian set of a ceremony: its members' keys as read from their cards, signed by its signers. */
import { buildCustodianSet } from '../../custodians/set.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { serializeEnvelope } from '../../dsse/envelope.js';
import type { StepContext, StepResult } from '../context.js';
import { cardsNeed, noInputs } from './kind.js';
import type { StepKind, StepOf } from './kind.js';
import { checkSetIs, membersWithKeys, validity } from './sets.js';

type S = StepOf<'custodian-set'>;

function prove(ctx: StepContext, step: S): StepResult {
  const c = ctx.setInForce([step.out]).chain;
  checkSetIs(ctx, step.id, c.newest, { version: 1, threshold: step.threshold, members: step.members });
  return { title: `Form the ${c.newest.threshold}-of-${c.newest.custodians.length} custodian set`, outcome: `set version 1, digest ${c.newest.digest}`, lines: [step.out], keys: [],
    details: { file: step.out, digest: c.newest.digest, chain: [step.out] } };
}

export const custodianSet: StepKind<S> = {
  ...noInputs,
  needs: (step, script) => cardsNeed(script, step.signers, 'ed25519-sign'),
  outputs: (step) => [step.out],
  proof: (step) => `${step.out}, verified, with the members' keys on their cards`,
  async perform(ctx, step) {
    if (ctx.folder.exists(step.out)) ctx.requireBegun(step, step.out);
    else {
      const payload = buildCustodianSet({ version: 1, ...validity(ctx), threshold: step.threshold, custodians: membersWithKeys(ctx, step.members) });
      ctx.write(step.out, serializeEnvelope(await ctx.signNew(PAYLOAD_TYPES.custodians, payload, step.signers)), false);
    }
    return prove(ctx, step);
  },
  async adopt(ctx, step) {
    return prove(ctx, step);
  },
};
