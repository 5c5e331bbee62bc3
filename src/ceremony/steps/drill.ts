/**
 * A restoration drill: the presenters' shares read from their cards and checked against their
 * commitments, the backup restored on the drill token, the report signed M-of-N. The step fails
 * when the report does not verify or the drill did not pass.
 */
import { join } from 'node:path';
import { loadCustodyPlan } from '../../backup/plan.js';
import { CUSTODY_MANIFEST } from '../../backup/split.js';
import { ShareCollector } from '../../backup/shares.js';
import { readShare } from '../../backup/token-shares.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { MAX_ENVELOPE_BYTES, parseEnvelope, serializeEnvelope } from '../../dsse/envelope.js';
import { KeyceremonyError } from '../../errors.js';
import { withSession } from '../../pkcs11/session.js';
import { presentShare, restoreFromShares } from '../../usecases/drill.js';
import { pinOf } from '../context.js';
import type { StepContext, StepResult } from '../context.js';
import { mediaRule } from '../media.js';
import { cardsNeed, noInputs } from './kind.js';
import type { StepKind, StepOf } from './kind.js';
import { keyWrapByKnownAnswer, librariesOf } from './libraries.js';

type S = StepOf<'drill'>;

async function drill(ctx: StepContext, step: S): Promise<void> {
  const set = ctx.requireSet();
  const custody = join(ctx.dir, step.custody);
  const plan = loadCustodyPlan(ctx.folder.read(`${step.custody}/${CUSTODY_MANIFEST}`, 'the custody manifest', MAX_ENVELOPE_BYTES), set.bytes, custody, { at: ctx.now() });
  // the drill token's PIN first: a run stopped at that hand-over holds no share yet
  const target = ctx.token(step.token);
  const targetPin = await pinOf(target);
  const collector = new ShareCollector(plan.expected);
  let drilled;
  try {
    for (const p of step.presenters) {
      const card = ctx.cardOf(p);
      const share = await withSession(card.token, await pinOf(card), async (s) => readShare(s, plan.backupKey));
      try { presentShare(plan, collector, share, p, `the card "${card.token.label}"`); } finally { share.fill(0); }
      ctx.say(`  ${p} presented a share: checked against its commitment`);
    }
    const second = (): number => Math.floor(ctx.now() / 1000) * 1000;
    drilled = await restoreFromShares(target.token, targetPin, plan, collector, { restore: false, id: `${ctx.script.id}-drill`, custodianSet: set.chain.newest.version, started: second(), now: second });
  } finally {
    collector.dispose(); // shares gathered before a stop, a failed card or a failed restore are zeroed too
  }
  const { outcome, report } = drilled;
  ctx.write(step.out, serializeEnvelope(await ctx.signAll({ payloadType: PAYLOAD_TYPES.drill, payload: report, signatures: [] }, step.signers)));
  if (!outcome.pass) throw new KeyceremonyError(outcome.failures[0] ?? 'DRILL_FAILED', `the drill failed: ${outcome.failures.join(', ')}`, 'stop: the backup does not restore; the signed report says what failed');
}

/** The signed report verifies against the set in force, and says pass; the drill token's key unwrap is asked of it by known answer. */
async function prove(ctx: StepContext, step: S): Promise<StepResult> {
  const bytes = ctx.folder.read(step.out, 'the drill report', MAX_ENVELOPE_BYTES);
  const v = ctx.verify(bytes);
  if (!v.valid || v.type !== 'drill') throw new KeyceremonyError('CEREMONY_DRILL_REPORT_INVALID', `${step.out} does not verify: ${v.reasons.join('; ') || `it is a ${v.type}`}`, 'stop: the drill is not proven; keep the folder as evidence and run the drill again in a new folder');
  const report = JSON.parse(Buffer.from(parseEnvelope(bytes).payload).toString('utf8')) as { result: string; drill: string; restored: { id: string; kcv: string }[] };
  if (report.result !== 'pass' || report.drill !== `${ctx.script.id}-drill`) throw new KeyceremonyError(report.result !== 'pass' ? 'DRILL_FAILED' : 'CEREMONY_DRILL_REPORT_INVALID', `${step.out} reports ${report.result} for drill ${report.drill}`, 'stop: the backup does not restore; the signed report says what failed');
  const kw = await keyWrapByKnownAnswer(ctx, step.token);
  const cards = ctx.script.tokens.filter((t) => t.holder !== null && step.presenters.includes(t.holder)).map((t) => t.name);
  return { title: `Restoration drill: ${step.presenters.join(', ')} present their shares`, outcome: `${report.result}; report signed by ${v.signers.join(', ')}`,
    lines: [...report.restored.map((r) => `${r.id}: kcv ${r.kcv}, matches the manifest`), kw.line], keys: report.restored.map((r) => r.id),
    details: { file: step.out, result: report.result, ...kw.details, libraries: librariesOf(ctx, [step.token, ...cards]) } };
}

export const drillStep: StepKind<S> = {
  ...noInputs,
  needs: (step, script) => [{ token: step.token, need: 'aes-key-unwrap' }, ...cardsNeed(script, step.signers, 'ed25519-sign')],
  outputs: (step) => [step.out],
  proof: (step) => `${step.out}, verified against the set in force, with its result`,
  async perform(ctx, step) {
    mediaRule(ctx.dir, { steps: [step], simulation: ctx.simulation, env: ctx.o.env });
    if (ctx.folder.exists(step.out)) ctx.requireBegun(step, step.out);
    else await drill(ctx, step);
    return prove(ctx, step);
  },
  adopt: (ctx, step) => prove(ctx, step),
};
