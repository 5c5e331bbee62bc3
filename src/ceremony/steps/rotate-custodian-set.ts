/** The next version of the set in force: signed by the threshold of the set in force and of the new one, verified before it is written. */
import { buildCustodianSet } from '../../custodians/set.js';
import { formatProblem } from '../../docs/problems.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { serializeEnvelope } from '../../dsse/envelope.js';
import { KeyceremonyError } from '../../errors.js';
import { verifyChain } from '../../verify/verify.js';
import type { StepContext, StepResult } from '../context.js';
import { cardsNeed, noInputs } from './kind.js';
import type { StepKind, StepOf } from './kind.js';
import { checkSetIs, membersWithKeys, validity } from './sets.js';

type S = StepOf<'rotate-custodian-set'>;

async function make(ctx: StepContext, step: S): Promise<void> {
  const before = ctx.requireSet();
  const version = before.chain.newest.version + 1;
  const payload = buildCustodianSet({ version, ...validity(ctx), threshold: step.threshold, custodians: membersWithKeys(ctx, step.members, before.chain.newest) });
  const bytes = new TextEncoder().encode(serializeEnvelope(await ctx.signNew(PAYLOAD_TYPES.custodians, payload, step.signers)));
  const check = verifyChain([...before.bytes, bytes], { at: ctx.now() });
  if (check.chain === null) {
    throw new KeyceremonyError('CEREMONY_SET_ROTATION_INVALID', `set version ${version} would not verify: ${check.reasons.map(formatProblem).join('; ')}`, `the signers must meet the threshold of set version ${before.chain.newest.version} and of the new set`);
  }
  ctx.write(step.out, bytes, false);
}

function prove(ctx: StepContext, step: S): StepResult {
  const before = ctx.requireSet();
  const files = [...before.files, step.out];
  const n = ctx.setInForce(files).chain.newest;
  checkSetIs(ctx, step.id, n, { version: before.chain.newest.version + 1, threshold: step.threshold, members: step.members, inForce: before.chain.newest });
  return { title: `Rotate the custodian set to version ${n.version}: ${n.threshold}-of-${n.custodians.length}`, outcome: `signed by the thresholds of versions ${n.version - 1} and ${n.version}, digest ${n.digest}`,
    lines: [step.out], keys: [], details: { file: step.out, digest: n.digest, chain: files } };
}

export const rotateCustodianSet: StepKind<S> = {
  ...noInputs,
  needs: (step, script) => cardsNeed(script, step.signers, 'ed25519-sign'),
  outputs: (step) => [step.out],
  proof: (step) => `${step.out}, verified as the next version of the set in force`,
  async perform(ctx, step) {
    if (ctx.folder.exists(step.out)) ctx.requireBegun(step, step.out);
    else await make(ctx, step);
    return prove(ctx, step);
  },
  async adopt(ctx, step) {
    return prove(ctx, step);
  },
};
