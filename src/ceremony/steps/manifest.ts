/**
 * A rotation manifest of the step's keys, phase and version, signed M-of-N by the set in force and
 * verified before it is written. The check values it records are the ones the tokens computed in
 * this run; a manifest found in the folder is proven to be exactly the one the step makes.
 */
import { join } from 'node:path';
import { formatTime } from '../../docs/fields.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { MAX_ENVELOPE_BYTES, parseEnvelope, serializeEnvelope } from '../../dsse/envelope.js';
import { KeyceremonyError } from '../../errors.js';
import { readInput } from '../../files.js';
import { SEED_INVENTORY } from '../../manifest/inventory.js';
import { buildManifest, followOn, parseManifest } from '../../manifest/manifest.js';
import { verifyDocument } from '../../verify/verify.js';
import { newestSetMembers, requireCustodian } from '../../usecases/custodians.js';
import { resumeMismatch } from '../context.js';
import type { StepContext, StepResult } from '../context.js';
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

/** The key entries the step approves: the seed's inventory names, at the step's version, with the tokens' check values. */
function entries(ctx: StepContext, step: S, notBefore: string) {
  return SEED_INVENTORY.filter((e) => step.keys.includes(e.name)).map((e) => {
    const id = `${e.prefix}-v${step.keyVersion}`;
    const binding = ctx.bindings.get(id);
    return { name: e.name, id, supersedes: step.keyVersion > 1 ? `${e.prefix}-v${step.keyVersion - 1}` : null, algorithm: e.algorithm, phase: step.phase, kcv: ctx.kcvs.get(id) ?? null, notBefore, ...(binding === undefined ? {} : { binding }) };
  });
}

async function make(ctx: StepContext, step: S, previous: Uint8Array | undefined): Promise<void> {
  const set = ctx.requireSet();
  requireCustodian(newestSetMembers(set.chain), step.actor, 'actor');
  const t = ctx.now();
  const payload = buildManifest({ ceremony: ctx.script.id, ...followOn(previous), custodianSet: set.chain.newest.version, issued: formatTime(t), expires: formatTime(t + MANIFEST_VALIDITY_MS), actor: step.actor, artifacts: [], keys: entries(ctx, step, formatTime(t)) });
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
  const want = entries(ctx, step, '').map((e) => ({ ...e, notBefore: '' }));
  const got = m.keys.map((k) => ({ name: k.name, id: k.id, supersedes: k.supersedes, algorithm: k.algorithm, phase: k.phase, kcv: k.kcv, notBefore: '', ...(k.binding === null ? {} : { binding: k.binding }) }));
  if (m.ceremony !== ctx.script.id || m.actor !== step.actor || JSON.stringify(got) !== JSON.stringify(want)) throw resumeMismatch(step.id, `the keys of ${step.out}`, want, got);
  return { title: `Rotation manifest: ${step.keys.length} key(s), ${step.phase}, version ${step.keyVersion}`, outcome: `valid, signed by ${v.signers.join(', ')}`, lines: [step.out],
    keys: want.map((e) => e.id), details: { file: step.out, signers: [...v.signers] } };
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
