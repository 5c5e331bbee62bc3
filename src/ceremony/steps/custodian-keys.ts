/** Custodians generate their Ed25519 signing keys on their own cards; a witness confirms each fingerprint read aloud. */
import { KEY_SUFFIX, provenKey } from '../context.js';
import type { StepContext, StepResult } from '../context.js';
import { cardsNeed, noInputs } from './kind.js';
import { librariesOf } from './libraries.js';
import type { StepKind, StepOf } from './kind.js';

type S = StepOf<'custodian-keys'>;

function result(ctx: StepContext, step: S, lines: string[], keys: Map<string, Uint8Array>): StepResult {
  const cards = ctx.script.tokens.filter((t) => t.holder !== null && step.custodians.includes(t.holder)).map((t) => t.name);
  return { title: `Custodians ${step.custodians.join(', ')} generate their signing keys on their cards`, outcome: `fingerprints confirmed by ${step.witness}`, lines,
    keys: step.custodians.map((c) => `${c}${KEY_SUFFIX}`), details: { publicKeys: step.custodians.map((c) => `${c}:${Buffer.from(keys.get(c) as Uint8Array).toString('hex')}`), libraries: librariesOf(ctx, cards) } };
}

export const custodianKeys: StepKind<S> = {
  ...noInputs,
  needs: (step, script) => [...cardsNeed(script, step.custodians, 'ed25519-keys'), ...cardsNeed(script, step.custodians, 'ed25519-sign')],
  outputs: () => [],
  proof: (step) => `the signing keys of ${step.custodians.join(', ')} read from their cards`,
  async perform(ctx: StepContext, step: S) {
    const lines: string[] = [];
    for (const c of step.custodians) lines.push(await ctx.confirmFingerprint(c, await ctx.cardKey(c, true, step), step.witness));
    return result(ctx, step, lines, ctx.publicKeys);
  },
  async adopt(ctx: StepContext, step: S) {
    const lines: string[] = [];
    for (const c of step.custodians) {
      const key = await provenKey(step.id, `${c}${KEY_SUFFIX}`, ctx.cardOf(c).token.label, () => ctx.cardKey(c, false));
      lines.push(ctx.fingerprintLine(c, key));
    }
    return result(ctx, step, lines, ctx.publicKeys);
  },
};
