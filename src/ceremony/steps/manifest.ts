/**
 * A rotation manifest of the step's keys, phase and version, signed M-of-N by the set in force and
 * verified before it is written. The check values and bindings it records are the ones the tokens
 * and make-secret steps computed in this run; what each entry supersedes and when it takes effect
 * follow FORMATS.md §8 (see supersedesOf, notBeforeOf); a manifest found in the folder is proven to
 * be exactly the one the step makes, its notBefore included.
 */
import { join } from 'node:path';
import { formatTime } from '../../docs/fields.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { MAX_ENVELOPE_BYTES, parseEnvelope, serializeEnvelope } from '../../dsse/envelope.js';
import { KeyceremonyError } from '../../errors.js';
import { readInput } from '../../files.js';
import { SEED_INVENTORY } from '../../manifest/inventory.js';
import { buildManifest, followOn, parseManifest } from '../../manifest/manifest.js';
import type { Manifest } from '../../manifest/manifest.js';
import { POLICY } from '../../manifest/policy.js';
import { verifyDocument } from '../../verify/verify.js';
import { newestSetMembers, requireCustodian } from '../../usecases/custodians.js';
import { resumeMismatch } from '../context.js';
import type { StepContext, StepResult } from '../context.js';
import { durationMs } from '../script.js';
import type { CeremonyScript } from '../script.js';
import { cardsNeed } from './kind.js';
import type { Preflight, StepKind, StepOf } from './kind.js';

type S = StepOf<'manifest'>;

const MANIFEST_VALIDITY_MS = 30 * 86400_000;

/** The previous manifest is an input when no earlier step of this script writes it. */
function previousIsInput(script: CeremonyScript, step: S): boolean {
  const i = script.steps.indexOf(step);
  return step.previous !== null && !script.steps.slice(0, i).some((s) => s.action === 'manifest' && s.out === step.previous);
}

function prior(ctx: StepContext, step: S): Uint8Array | undefined {
  if (step.previous === null) return undefined;
  return previousIsInput(ctx.script, step) ? ctx.input(step.previous) : ctx.folder.read(step.previous, 'the previous rotation manifest', MAX_ENVELOPE_BYTES);
}

/** The manifest this one follows, parsed (checked when the run began, or written by an earlier step of this run). */
function priorManifest(previous: Uint8Array | undefined): Manifest | undefined {
  return previous === undefined ? undefined : parseManifest(parseEnvelope(previous).payload);
}

/**
 * When the step's entries take effect (FORMATS.md §8 applies entries at their notBefore): at the
 * issue time, or with the step's `notBefore` delay after the previous manifest's latest notBefore
 * (after the issue time for a chain's first manifest), never before the issue time (§4: issued ≤
 * notBefore). So a ceremony can sign a schedule (prepare now, dual-publish in an hour, cutover a day
 * later), and the manifests of keys joining a chain share one notBefore.
 */
export function notBeforeOf(step: S, issued: number, prior: Manifest | undefined): number {
  if (step.notBefore === null) return issued;
  const base = prior === undefined ? issued : Math.max(...prior.keys.map((k) => k.notBefore));
  return Math.max(issued, base + (durationMs(step.notBefore) as number));
}

/**
 * What an entry supersedes: nothing for keys joining the chain (`supersedes: none`, or version 1,
 * or a chain's first manifest, before which nothing can be superseded); what the previous manifest
 * said of the same version when it names it (a version keeps what it supersedes across its
 * phases); else the version before. FORMATS.md §8 refuses a cutover whose `supersedes` is not the
 * name's current version, so a key joining at vN > 1 must supersede nothing.
 */
export function supersedesOf(step: S, prefix: string, prior: Manifest | undefined): string | null {
  if (step.supersedes === 'none' || step.keyVersion === 1 || prior === undefined) return null;
  const earlier = prior.keys.find((k) => k.id === `${prefix}-v${step.keyVersion}`);
  return earlier !== undefined ? earlier.supersedes : `${prefix}-v${step.keyVersion - 1}`;
}

/** The key entries the step approves: the seed's inventory names, at the step's version, with the tokens' check values and the secrets' bindings. */
function entries(ctx: StepContext, step: S, notBefore: string, prior: Manifest | undefined) {
  return SEED_INVENTORY.filter((e) => step.keys.includes(e.name)).map((e) => {
    const id = `${e.prefix}-v${step.keyVersion}`;
    const binding = ctx.bindings.get(id);
    return { name: e.name, id, supersedes: supersedesOf(step, e.prefix, prior), algorithm: e.algorithm, phase: step.phase, kcv: ctx.kcvs.get(id) ?? null, notBefore, ...(binding === undefined ? {} : { binding }) };
  });
}

/**
 * Refused before anything is signed: a version moved the way the previous manifest already moved
 * it (no two manifests of a chain do the same to one version), or moved before the time the
 * previous manifest moves it (§8 would apply the phases out of order), a cutover that replaces a version
 * earlier than the previous manifest's dual-publish of it plus the policy's overlap (the seed:
 * "switch verification to vN+1 only after downstream systems have rotated"), and a notBefore past
 * the manifest's expiry.
 */
export function checkSchedule(step: S, keys: readonly { id: string; phase: string; supersedes: string | null }[], notBefore: number, expires: number, prior: Manifest | undefined): void {
  for (const k of keys) {
    const before = prior?.keys.find((p) => p.id === k.id && p.phase === k.phase);
    if (before !== undefined) {
      throw new KeyceremonyError('CEREMONY_PHASE_REPEATED', `step ${step.id} would ${k.phase} ${k.id} again: ${step.previous as string} already does`, 'correct the script: each manifest of a chain moves a version one phase further (FORMATS.md §8)');
    }
    // §8 applies entries in notBefore order: one that took effect before what the previous manifest did to the same version would undo the order of its phases
    const later = prior?.keys.find((p) => p.id === k.id && p.notBefore > notBefore);
    if (later !== undefined) {
      throw new KeyceremonyError('CEREMONY_SCHEDULE_BACKWARDS', `step ${step.id} would ${k.phase} ${k.id} at ${formatTime(notBefore)}, before the ${later.phase} that ${step.previous as string} schedules for ${formatTime(later.notBefore)}`,
        k.phase === 'compromise' ? 'a version with a phase still scheduled cannot be marked compromised before it (FORMATS.md §8 would refuse the chain): schedule the compromise no earlier, and make the new version beside it' : 'give the step a notBefore (PT0S: no earlier than the previous manifest\'s)');
    }
    // an overlap is owed to the version a cutover replaces: a key joining the chain (superseding nothing) replaces none
    const dual = k.phase === 'cutover' && k.supersedes !== null ? prior?.keys.find((p) => p.id === k.id && p.phase === 'dual-publish') : undefined;
    if (dual !== undefined && notBefore < dual.notBefore + POLICY.minOverlapHours * 3600_000) {
      throw new KeyceremonyError('CEREMONY_CUTOVER_EARLY', `step ${step.id} would cut over to ${k.id} at ${formatTime(notBefore)}, before its dual-publish (${formatTime(dual.notBefore)}) plus the ${POLICY.minOverlapHours} h overlap`,
        `give the step a notBefore of at least PT${POLICY.minOverlapHours}H, so downstream systems have the overlap to rotate`);
    }
  }
  if (notBefore > expires) {
    throw new KeyceremonyError('CEREMONY_NOT_BEFORE_LATE', `step ${step.id} would take effect at ${formatTime(notBefore)}, after the manifest expires (${formatTime(expires)})`, 'give the step, or the steps before it, a shorter notBefore');
  }
}

/**
 * Refused before anything is signed, where the manifest follows the previous one: §8 rule 2 (along
 * the sequence `issued` and `custodianSet` never decrease: a ceremony laptop whose clock is behind,
 * or a set chain on the media older than the one the previous manifest names, would sign a manifest
 * that makes the whole chain invalid), and a version the previous manifest binds to one secret
 * (binding, or check value) approved with another: a secret made again in a later ceremony, whose
 * two bindings a deployment could not choose between.
 */
export function checkFollows(step: S, keys: readonly { id: string; kcv: string | null; binding?: string }[], issued: number, custodianSet: number, prior: Manifest | undefined): void {
  if (prior === undefined) return;
  if (issued < prior.issued) {
    throw new KeyceremonyError('CEREMONY_ISSUED_BACKWARDS', `step ${step.id} would be issued at ${formatTime(issued)}, before ${step.previous as string} (${formatTime(prior.issued)}) that it follows`,
      'set this computer\'s clock right (FORMATS.md §8: issued never decreases along the chain), then run again');
  }
  if (custodianSet < prior.custodianSet) {
    throw new KeyceremonyError('CEREMONY_SET_BACKWARDS', `step ${step.id} would be approved by custodian set ${custodianSet}, and ${step.previous as string} already by set ${prior.custodianSet}`,
      'bring the whole custodian-set chain to the ceremony (FORMATS.md §8: the custodian set never decreases along the chain)');
  }
  for (const k of keys) {
    const p = prior.keys.find((e) => e.id === k.id);
    if (p === undefined) continue;
    const b = k.binding ?? null;
    if ((p.binding !== null && b !== null && p.binding !== b) || (p.kcv !== null && k.kcv !== null && p.kcv !== k.kcv)) {
      throw new KeyceremonyError('CEREMONY_VERSION_REMADE', `step ${step.id} would approve ${k.id} with ${b ?? k.kcv}, and ${step.previous as string} approved it with ${p.binding ?? p.kcv}: it was made again`,
        'a version is made once: remove the step that made it again, or have the custodians mark it compromised and make a new version');
    }
  }
}

async function make(ctx: StepContext, step: S, previous: Uint8Array | undefined): Promise<void> {
  const set = ctx.requireSet();
  requireCustodian(newestSetMembers(set.chain), step.actor, 'actor');
  const t = Math.floor(ctx.now() / 1000) * 1000;
  const prior = priorManifest(previous);
  const notBefore = notBeforeOf(step, t, prior);
  const keys = entries(ctx, step, formatTime(notBefore), prior);
  checkFollows(step, keys, t, set.chain.newest.version, prior);
  checkSchedule(step, keys, notBefore, t + MANIFEST_VALIDITY_MS, prior);
  const payload = buildManifest({ ceremony: ctx.script.id, ...followOn(previous), custodianSet: set.chain.newest.version, issued: formatTime(t), expires: formatTime(t + MANIFEST_VALIDITY_MS), actor: step.actor, artifacts: [], keys });
  const signed = new TextEncoder().encode(serializeEnvelope(await ctx.signAll({ payloadType: PAYLOAD_TYPES.rotation, payload, signatures: [] }, step.signers)));
  // verified before it is written: a manifest the set does not approve is never left looking finished
  const check = verifyDocument(signed, set.bytes, { at: ctx.now(), previous });
  if (!check.valid) throw new KeyceremonyError('CEREMONY_MANIFEST_INVALID', `${step.out} would not verify: ${check.reasons.join('; ')}`, 'nothing was written: correct the script (its signers must meet the threshold of the set in force) and start again');
  ctx.write(step.out, signed, false);
}

function prove(ctx: StepContext, step: S, previous: Uint8Array | undefined): StepResult {
  const set = ctx.requireSet();
  const bytes = ctx.folder.read(step.out, 'the rotation manifest', MAX_ENVELOPE_BYTES);
  const v = verifyDocument(bytes, set.bytes, { at: ctx.now(), previous });
  if (!v.valid || v.type !== 'rotation') throw new KeyceremonyError('CEREMONY_MANIFEST_INVALID', `${step.out} does not verify: ${v.reasons.join('; ')}`, 'stop the ceremony and inspect the file');
  const m = parseManifest(parseEnvelope(bytes).payload);
  const prior = priorManifest(previous);
  // the entries as this step makes them, at the time the manifest says it was issued
  const notBefore = formatTime(notBeforeOf(step, m.issued, prior));
  const want = entries(ctx, step, notBefore, prior);
  const got = m.keys.map((k) => ({ name: k.name, id: k.id, supersedes: k.supersedes, algorithm: k.algorithm, phase: k.phase, kcv: k.kcv, notBefore: formatTime(k.notBefore), ...(k.binding === null ? {} : { binding: k.binding }) }));
  if (m.ceremony !== ctx.script.id || m.actor !== step.actor || JSON.stringify(got) !== JSON.stringify(want)) throw resumeMismatch(step.id, `the keys of ${step.out}`, want, got);
  return { title: `Rotation manifest: ${step.keys.length} key(s), ${step.phase}, version ${step.keyVersion}`, outcome: `valid, signed by ${v.signers.join(', ')}; takes effect ${notBefore}`, lines: [step.out],
    keys: want.map((e) => e.id), details: { file: step.out, signers: [...v.signers], sequence: m.sequence, notBefore } };
}

export const manifest: StepKind<S> = {
  inputs: (step, script) => (previousIsInput(script, step) ? [step.previous as string] : []),
  checkInputs: (p: Preflight, step: S) => (!previousIsInput(p.script, step) ? [] : [{ what: `step ${step.id}, ${step.previous as string}`,
    run: () => { followOn(readInput(join(p.inputs, step.previous as string), 'the previous rotation manifest', MAX_ENVELOPE_BYTES)); } }]),
  needs: (step, script) => cardsNeed(script, step.signers, 'ed25519-sign'),
  outputs: (step) => [step.out],
  proof: (step) => `${step.out}, verified against the set in force, its keys and check values against the tokens'`,
  async perform(ctx, step) {
    const previous = prior(ctx, step);
    if (ctx.folder.exists(step.out)) ctx.requireBegun(step, step.out);
    else await make(ctx, step, previous);
    return prove(ctx, step, previous);
  },
  async adopt(ctx, step) {
    return prove(ctx, step, prior(ctx, step));
  },
};
