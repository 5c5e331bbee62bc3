/**
 * The backup key split M-of-N onto the custodians' cards, its custody folder written whole and
 * signed M-of-N. The shares of an interrupted split lived only in memory: what it made is destroyed
 * and the split starts over. A done split is proven by its signed custody manifest, every file it
 * lists, and the backup key's check value computed again by the HSM.
 */
import { join } from 'node:path';
import { loadCustodyPlan } from '../../backup/plan.js';
import type { CustodyPlan } from '../../backup/plan.js';
import { CUSTODY_MANIFEST, refuseWrapWithTrustedKeys, splitBackupKey, writeCustodyFolder } from '../../backup/split.js';
import { shareLabel } from '../../backup/token-shares.js';
import { crashpoint } from '../../crashpoint.js';
import { formatProblem } from '../../docs/problems.js';
import { MAX_ENVELOPE_BYTES, parseEnvelope, serializeEnvelope } from '../../dsse/envelope.js';
import type { Envelope } from '../../dsse/envelope.js';
import { checkArtifacts } from '../../manifest/artifacts.js';
import { parseManifest } from '../../manifest/manifest.js';
import { destroyObject, findByLabel } from '../../pkcs11/objects.js';
import type { ObjectKind } from '../../pkcs11/objects.js';
import { withSession } from '../../pkcs11/session.js';
import type { Session } from '../../pkcs11/session.js';
import type { Token } from '../../pkcs11/tokens.js';
import { newestSetMembers, requireCustodian } from '../../usecases/custodians.js';
import { checkSplitHolders } from '../../usecases/split.js';
import { pinOf, provenKey, resumeMismatch } from '../context.js';
import type { ResolvedToken, StepContext, StepResult } from '../context.js';
import { everyFileUnder, requireExactly } from '../tree.js';
import { mediaRule } from '../media.js';
import { tokenKcv } from './generate-key.js';
import { cardsNeed, noInputs } from './kind.js';
import type { StepKind, StepOf } from './kind.js';
import { keyWrapByKnownAnswer, librariesOf } from './libraries.js';

type S = StepOf<'split-backup'>;

/**
 * Before a split starts (again): a backup key and share objects left by an interrupted split of
 * this ceremony are destroyed. Found where no earlier run of this ceremony began the split, they
 * are someone else's, and the run stops before destroying anything.
 */
async function destroyHalfSplit(ctx: StepContext, step: S, hsm: ResolvedToken, backupKey: string, cards: readonly ResolvedToken[]): Promise<void> {
  const purge = (s: Session, kind: ObjectKind, label: string): void => {
    const found = findByLabel(s, kind, label, 8);
    if (found.length > 0) ctx.requireBegun(step, `${label} on token "${s.token.label}"`);
    for (const h of found) destroyObject(s, h, 'destroying what an interrupted split left');
  };
  await withSession(hsm.token, await pinOf(hsm), async (s) => purge(s, 'secret-key', backupKey));
  for (const c of cards) await withSession(c.token, await pinOf(c), async (s) => purge(s, 'data', shareLabel(backupKey)));
}

/**
 * A key made CKA_WRAP_WITH_TRUSTED wraps under no backup key (the backup key cannot be trusted:
 * src/pkcs11/trusted.ts), so it has no backup blob: the split is refused before anything is made
 * or destroyed, naming every such key. The script refuses one its own generate-key step made
 * (SCRIPT_WRAP_WITH_TRUSTED); this catches one made before, by keygen or an earlier ceremony.
 */
async function split(ctx: StepContext, step: S, dir: string): Promise<void> {
  const set = ctx.requireSet().chain;
  requireCustodian(newestSetMembers(set), step.actor, 'actor');
  checkSplitHolders(set, step.holders, step.threshold);
  const hsm = ctx.token(step.token);
  // before the half-split clean-up and anything made: the one rule of the backup split (src/backup/split.ts)
  await withSession(hsm.token, await pinOf(hsm), async (s) => refuseWrapWithTrustedKeys(s, step.keys, `the split's keys (step ${step.id})`));
  await destroyHalfSplit(ctx, step, hsm, step.backupKey, step.holders.map((h) => ctx.cardOf(h)));
  const cards: { custodian: string; token: Token; pin: Uint8Array }[] = [];
  for (const h of step.holders) cards.push({ custodian: h, token: ctx.cardOf(h).token, pin: await pinOf(ctx.cardOf(h)) }); // asked one at a time
  const made = await splitBackupKey({ hsm: hsm.token, hsmPin: await pinOf(hsm), ceremony: `${ctx.script.id}-custody`, backupKey: step.backupKey, threshold: step.threshold, keys: step.keys, cards });
  crashpoint(`step:${step.id}:split`);
  await writeCustodyFolder(dir, made, { custodianSet: ctx.requireSet().chain.newest.version, actor: step.actor, now: ctx.now() }, ctx.dir);
}

/**
 * A custody manifest found half signed (an interrupted attempt wrote it) is shown to no signer
 * before it is checked: the files it lists, its backup key and that key's check value on the HSM.
 */
async function checkUnsigned(ctx: StepContext, step: S, dir: string, env: Envelope): Promise<void> {
  const m = parseManifest(env.payload);
  const problems = checkArtifacts(dir, m.artifacts);
  const kcv = (await tokenKcv(ctx, step.token, step.backupKey)).value;
  const key = m.keys[0];
  if (problems.length > 0 || m.ceremony !== `${ctx.script.id}-custody` || m.custodianSet !== ctx.requireSet().chain.newest.version || key?.id !== step.backupKey || key.kcv !== kcv) {
    throw resumeMismatch(step.id, 'the custody manifest', `${step.backupKey} kcv ${kcv} and the files it lists`, problems.length > 0 ? problems.map(formatProblem) : `${key?.id ?? 'no key'} kcv ${key?.kcv ?? 'none'}`);
  }
}

async function prove(ctx: StepContext, step: S, dir: string): Promise<StepResult> {
  const set = ctx.requireSet();
  const plan: CustodyPlan = loadCustodyPlan(ctx.folder.read(`${step.out}/${CUSTODY_MANIFEST}`, 'the custody manifest', MAX_ENVELOPE_BYTES), set.bytes, dir, { at: ctx.now() });
  const kcv = (await provenKey(step.id, step.backupKey, ctx.token(step.token).token.label, () => tokenKcv(ctx, step.token, step.backupKey))).value;
  if (plan.backupKey !== step.backupKey || plan.backupKcv !== kcv) throw resumeMismatch(step.id, 'the backup key', `${plan.backupKey} kcv ${plan.backupKcv}`, `${step.backupKey} kcv ${kcv}`);
  ctx.kcvs.set(step.backupKey, kcv);
  requireExactly(everyFileUnder(ctx.dir, step.out), [CUSTODY_MANIFEST, ...plan.manifest.artifacts.map((a) => a.path)].sort(), `the custody folder ${step.out} of step ${step.id}`);
  // each blob records the key wrap it was made with: the one a known answer on this HSM finds to be RFC 5649
  const kw = await keyWrapByKnownAnswer(ctx, step.token);
  for (const b of plan.blobs) if (b.wrap !== undefined && b.wrap.mechanism !== kw.choice.name) throw resumeMismatch(step.id, `the key wrap of the blob of ${b.keyId}`, kw.choice.name, b.wrap.mechanism);
  const cards = ctx.script.tokens.filter((t) => t.holder !== null && step.holders.includes(t.holder)).map((t) => t.name);
  return { title: `Split ${step.backupKey} ${step.threshold}-of-${step.holders.length} onto the custodians' cards`, outcome: `kcv ecb:${plan.backupKcv}; custody manifest signed by ${plan.signers.join(', ')}`,
    lines: [...plan.receipts.map((r) => `${r.custodian}: share ${r.index}, commitment ${r.commitment}`), ...plan.blobs.map((b) => `${b.keyId}: backup blob wrapped under ${b.backupKey} with ${b.wrap === undefined ? 'RFC 5649 (its mechanism not recorded)' : `${b.wrap.mechanism} (RFC 5649)`}`), kw.line],
    keys: [step.backupKey, ...step.keys], details: { folder: step.out, kcv: plan.backupKcv, holders: [...step.holders], manifest: plan.manifest.digest, ...kw.details, libraries: librariesOf(ctx, [step.token, ...cards]) } };
}

export const splitBackup: StepKind<S> = {
  ...noInputs,
  needs: (step, script) => [{ token: step.token, need: 'aes-key-wrap' }, ...cardsNeed(script, step.signers, 'ed25519-sign')],
  outputs: (step) => [step.out],
  proof: (step) => `${step.out}: its signed custody manifest and every file it lists, and ${step.backupKey}'s check value on the HSM`,
  async perform(ctx, step) {
    mediaRule(ctx.dir, { steps: [step], simulation: ctx.simulation, env: ctx.o.env });
    const dir = join(ctx.dir, step.out);
    const file = `${step.out}/${CUSTODY_MANIFEST}`;
    // the shares of an interrupted split lived only in memory, and its manifest was never approved: all of it starts over
    if (ctx.folder.exists(step.out)) {
      ctx.requireBegun(step, step.out);
      ctx.folder.remove(step.out);
    }
    await split(ctx, step, dir);
    const unsigned = parseEnvelope(ctx.folder.read(file, 'the custody manifest', MAX_ENVELOPE_BYTES));
    await checkUnsigned(ctx, step, dir, unsigned);
    const signed = await ctx.signAll(unsigned, step.signers);
    ctx.write(file, serializeEnvelope(signed), true);
    return prove(ctx, step, dir);
  },
  async adopt(ctx, step) {
    return prove(ctx, step, join(ctx.dir, step.out));
  },
};
