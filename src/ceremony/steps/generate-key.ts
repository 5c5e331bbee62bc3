/**
 * A master or backup key generated in the HSM; its check value, computed by the token, confirmed by
 * the witness. A master key the script makes wrap-with-trusted (src/pkcs11/trusted.ts) is made only
 * on a token that, measured now with throw-away objects in the user's session, enforces it (the
 * profile holds no SO PIN, so the SO's half of the probe is left to `keygen --wrap-with-trusted`
 * and `keyceremony trust`); a key found on the token is adopted only with the attribute the step says.
 */
import { KeyceremonyError, isKeyceremonyError } from '../../errors.js';
import { formatKcv, generateAesKey, keyCheckValue } from '../../pkcs11/keys.js';
import { findSecretKey } from '../../pkcs11/objects.js';
import type { Kcv } from '../../pkcs11/keys.js';
import { withSession } from '../../pkcs11/session.js';
import { probeTrustedWrap, requireTrustedWrap, wrapsOnlyUnderTrusted } from '../../pkcs11/trusted.js';
import { pinOf, provenKey, resumeMismatch } from '../context.js';
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

interface Found { readonly kcv: Kcv; readonly trusted: boolean }

/** The step's key as the token shows it now: its check value, and whether it is wrap-with-trusted (HSM_OBJECT_NOT_FOUND when it is not there). */
async function readKey(ctx: StepContext, step: S): Promise<Found> {
  const t = ctx.token(step.token);
  return withSession(t.token, await pinOf(t), async (s) => {
    const h = findSecretKey(s, { label: step.label });
    return { kcv: await keyCheckValue(s, h), trusted: wrapsOnlyUnderTrusted(s, h) };
  });
}

/** A key found is the step's only with the wrap-with-trusted attribute the step says: a key without it would only look protected. */
function checked(ctx: StepContext, step: S, k: Found): Kcv {
  if (k.trusted !== step.wrapWithTrusted) throw resumeMismatch(step.id, `${step.label} on token "${ctx.token(step.token).token.label}" made wrap-with-trusted:`, step.wrapWithTrusted, k.trusted);
  return k.kcv;
}

/** Make the key; a wrap-with-trusted one only where the user's half of the probe shows the token enforces it (HSM_TRUSTED_WRAP_UNENFORCED). */
async function make(ctx: StepContext, step: S): Promise<Kcv> {
  const t = ctx.token(step.token);
  const pin = await pinOf(t);
  if (step.wrapWithTrusted) requireTrustedWrap(t.token, await probeTrustedWrap(t.token, null, pin));
  const role = step.label.startsWith('backup') ? 'backup' : 'master';
  return (await withSession(t.token, pin, (s) => generateAesKey(s, { label: step.label, role, extractable: step.extractable, wrapWithTrusted: step.wrapWithTrusted }))).kcv;
}

function result(ctx: StepContext, step: S, kcv: Kcv): StepResult {
  ctx.kcvs.set(step.label, kcv.value);
  const label = ctx.token(step.token).token.label;
  return { title: `Generate ${step.label} in "${label}"`, outcome: `kcv ${formatKcv(kcv)}`, lines: step.wrapWithTrusted ? ['wrap-with-trusted: exported only by direct RSAES-OAEP under a KMS key the security officer trusted; no backup blob'] : [],
    keys: [step.label], details: { token: label, kcv: kcv.value, extractable: step.extractable, ...(step.wrapWithTrusted ? { wrapWithTrusted: true } : {}), libraries: librariesOf(ctx, [step.token]) } };
}

export const generateKey: StepKind<S> = {
  ...noInputs,
  needs: (step) => [{ token: step.token, need: 'aes-256-keys' }],
  outputs: () => [],
  proof: (step) => `${step.label} on token ${step.token}, its check value computed again by the token`,
  async perform(ctx, step) {
    let kcv: Kcv;
    try {
      const found = await readKey(ctx, step);
      ctx.requireBegun(step, `the key ${step.label} on token "${ctx.token(step.token).token.label}"`); // made before a crash by this ceremony: adopted
      kcv = checked(ctx, step, found);
    } catch (err) {
      if (!isKeyceremonyError(err) || err.code !== 'HSM_OBJECT_NOT_FOUND') throw err;
      kcv = await make(ctx, step);
    }
    ctx.say(`  ${step.label}: kcv ${formatKcv(kcv)} on "${ctx.token(step.token).token.label}"`);
    if (!(await ctx.confirm({ who: step.witness, what: `the check value of ${step.label}: ${formatKcv(kcv)}`, kind: 'check-value', value: kcv.value, source: 'this-run' }))) throw new KeyceremonyError('CEREMONY_WITNESS_REFUSED', `${step.witness} did not confirm ${step.label}`, 'stop the ceremony');
    return result(ctx, step, kcv);
  },
  async adopt(ctx, step) {
    return result(ctx, step, await provenKey(step.id, step.label, ctx.token(step.token).token.label, async () => checked(ctx, step, await readKey(ctx, step))));
  },
};
