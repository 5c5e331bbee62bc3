/** A master or backup key generated in the HSM; its check value, computed by the token, confirmed by the witness. */
import { KeyceremonyError, isKeyceremonyError } from '../../errors.js';
import { formatKcv, generateAesKey, keyCheckValue } from '../../pkcs11/keys.js';
import { findSecretKey } from '../../pkcs11/objects.js';
import type { Kcv } from '../../pkcs11/keys.js';
import { withSession } from '../../pkcs11/session.js';
import { pinOf, provenKey } from '../context.js';
import type { StepContext, StepResult } from '../context.js';
import { noInputs } from './kind.js';
import { librariesOf } from './libraries.js';
import type { StepKind, StepOf } from './kind.js';

type S = StepOf<'generate-key'>;

/** The check value of a secret key on a token, computed by the token now (HSM_OBJECT_NOT_FOUND when it is not there). */
export async function tokenKcv(ctx: StepContext, tokenName: string, label: string): Promise<Kcv> {
  const t = ctx.token(tokenName);
  return withSession(t.token, await pinOf(t), async (s) => keyCheckValue(s, findSecretKey(s, { label })));
}

function result(ctx: StepContext, step: S, kcv: Kcv): StepResult {
  ctx.kcvs.set(step.label, kcv.value);
  const label = ctx.token(step.token).token.label;
  return { title: `Generate ${step.label} in "${label}"`, outcome: `kcv ${formatKcv(kcv)}`, lines: [], keys: [step.label], details: { token: label, kcv: kcv.value, extractable: step.extractable, libraries: librariesOf(ctx, [step.token]) } };
}

export const generateKey: StepKind<S> = {
  ...noInputs,
  needs: (step) => [{ token: step.token, need: 'aes-256-keys' }],
  outputs: () => [],
  proof: (step) => `${step.label} on token ${step.token}, its check value computed again by the token`,
  async perform(ctx, step) {
    let kcv: Kcv;
    try {
      kcv = await tokenKcv(ctx, step.token, step.label);
      ctx.requireBegun(step, `the key ${step.label} on token "${ctx.token(step.token).token.label}"`); // made before a crash by this ceremony: adopted
    } catch (err) {
      if (!isKeyceremonyError(err) || err.code !== 'HSM_OBJECT_NOT_FOUND') throw err;
      const t = ctx.token(step.token);
      kcv = (await withSession(t.token, await pinOf(t), (s) => generateAesKey(s, { label: step.label, role: step.label.startsWith('backup') ? 'backup' : 'master', extractable: step.extractable }))).kcv;
    }
    ctx.say(`  ${step.label}: kcv ${formatKcv(kcv)} on "${ctx.token(step.token).token.label}"`);
    if (!(await ctx.confirm({ who: step.witness, what: `the check value of ${step.label}: ${formatKcv(kcv)}`, kind: 'check-value', value: kcv.value, source: 'this-run' }))) throw new KeyceremonyError('CEREMONY_WITNESS_REFUSED', `${step.witness} did not confirm ${step.label}`, 'stop the ceremony');
    return result(ctx, step, kcv);
  },
  async adopt(ctx, step) {
    return result(ctx, step, await provenKey(step.id, step.label, ctx.token(step.token).token.label, () => tokenKcv(ctx, step.token, step.label)));
  },
};
