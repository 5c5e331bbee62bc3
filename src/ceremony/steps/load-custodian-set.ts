/**
 * The custodian set of earlier ceremonies, loaded from the media: its chain verified from a root
 * pinned by digest or confirmed by the witness against the first ceremony's record, and each
 * custodian present proving that their card holds the key the set lists for them. A rehearsal's
 * throw-away cards cannot hold those keys: it signs with a stand-in set of the same version,
 * members and threshold, and says so.
 */
import { join } from 'node:path';
import { ed25519 } from '@noble/curves/ed25519.js';
import { buildCustodianSet } from '../../custodians/set.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { MAX_ENVELOPE_BYTES, serializeEnvelope } from '../../dsse/envelope.js';
import { KeyceremonyError } from '../../errors.js';
import { readInput } from '../../files.js';
import { verifiedChain } from '../../usecases/chain.js';
import type { TrustedChain } from '../../verify/verify.js';
import { KEY_SUFFIX, provenKey } from '../context.js';
import type { StepContext, StepResult } from '../context.js';
import { SET_ACTIONS } from '../script.js';
import type { CeremonyScript } from '../script.js';
import type { Preflight, StepKind, StepOf } from './kind.js';
import { checkSetIs, validity } from './sets.js';

type S = StepOf<'load-custodian-set'>;
type Member = TrustedChain['newest']['custodians'][number];

/**
 * The chain the step brings in, read from the inputs and verified (root pinned when the step pins
 * it), with the custodians of its newest set that hold a card in the script: enough to meet its
 * threshold. The preflight and the step read it alike.
 */
export function loadedChain(script: CeremonyScript, step: S, read: (rel: string) => Uint8Array, at: number): { files: Uint8Array[]; chain: TrustedChain; present: Member[] } {
  const files = step.chain.map(read);
  const chain = verifiedChain(files, { at, rootDigest: step.rootDigest ?? undefined, fix: `bring the chain the earlier ceremonies wrote (${step.chain.join(', ')}), root first, and its pinned root digest` });
  const newest = chain.newest;
  const present = newest.custodians.filter((c) => script.tokens.some((t) => t.holder === c.id));
  if (present.length < newest.threshold) {
    throw new KeyceremonyError('CEREMONY_QUORUM_ABSENT', `set version ${newest.version} needs ${newest.threshold} custodians, and the script has cards for ${present.map((c) => c.id).join(', ') || 'none of them'}`, "add the custodians' cards to the script's tokens");
  }
  return { files, chain, present };
}

/** The loaded set's threshold is known only now: the signers of the steps it governs must meet it. */
function checkQuorum(p: Preflight, step: S): void {
  const i = p.script.steps.indexOf(step);
  const newest = loadedChain(p.script, step, (rel) => readInput(join(p.inputs, rel), 'the custodian set', MAX_ENVELOPE_BYTES), p.at).chain.newest;
  const next = p.script.steps.findIndex((x, j) => j > i && SET_ACTIONS.includes(x.action));
  for (const later of p.script.steps.slice(i + 1, next < 0 ? undefined : next + 1)) {
    if (!('signers' in later) || later.action === 'custodian-set') continue;
    const members = later.signers.filter((c) => newest.custodians.some((m) => m.id === c));
    if (members.length < newest.threshold) {
      throw new KeyceremonyError('CEREMONY_QUORUM_INVALID', `step ${later.id} is signed by ${later.signers.join(', ')}, and set version ${newest.version} needs ${newest.threshold} of its custodians (${newest.custodians.map((m) => m.id).join(', ')})`, 'name enough of the set\'s custodians as the step\'s signers');
    }
  }
}

const baseName = (p: string): string => p.split('/').pop() as string;
const standInName = (step: S): string => `rehearsal-${baseName(step.chain[step.chain.length - 1] as string)}`;

/** Each custodian present: the key on their card is the one the set lists (a done step: without asking the witness again). */
async function cardsMatch(ctx: StepContext, step: S, chain: TrustedChain, present: readonly Member[], ask: boolean): Promise<string[]> {
  const lines: string[] = [];
  for (const c of present) {
    const label = ctx.cardOf(c.id).token.label;
    const onCard = await provenKey(step.id, `${c.id}${KEY_SUFFIX}`, label, () => ctx.cardKey(c.id, false));
    if (Buffer.compare(Buffer.from(onCard), Buffer.from(c.publicKey.bytes)) !== 0) {
      throw new KeyceremonyError('CEREMONY_CARD_KEY_MISMATCH', `the key on "${label}" is not ${c.id}'s key in set version ${chain.newest.version}`, `${c.id} brings the card whose key the set lists (fingerprint ${c.fingerprint.hex})`);
    }
    lines.push(ask ? await ctx.confirmFingerprint(c.id, onCard, step.witness, 'record') : ctx.fingerprintLine(c.id, onCard));
  }
  return lines;
}

/** The chain's files copied into the ceremony folder; a different file of the same name is never overwritten. */
function copyChain(ctx: StepContext, step: S, files: readonly Uint8Array[], write: boolean): string[] {
  return step.chain.map((p, i) => {
    const name = baseName(p);
    const there = ctx.folder.exists(name);
    if (!there && write) ctx.write(name, files[i] as Uint8Array);
    else if (!there || Buffer.compare(ctx.folder.read(name, 'the custodian set', MAX_ENVELOPE_BYTES), files[i] as Uint8Array) !== 0) {
      throw new KeyceremonyError('CEREMONY_FILE_CONFLICT', `${join(ctx.dir, name)} is ${there ? 'already in the ceremony folder and is not' : 'missing, and should be a copy of'} the ${p} brought in`, 'use a new ceremony folder, or bring the same chain the interrupted run used');
    }
    return baseName(p);
  });
}

/** A rehearsal's stand-in set: the cards' keys for the members present, a key no one holds for the others. */
async function standIn(ctx: StepContext, step: S, chain: TrustedChain, present: readonly Member[], write: boolean): Promise<string> {
  const name = standInName(step);
  const newest = chain.newest;
  if (ctx.folder.exists(name)) ctx.requireBegun(step, `the stand-in set ${name}`);
  else {
    if (!write) throw new KeyceremonyError('CEREMONY_FILE_MISSING', `the rehearsal's stand-in set ${name} is gone from the folder`, 'rehearse again in a new folder');
    const members = [];
    for (const c of newest.custodians) members.push({ id: c.id, name: c.name, publicKey: present.includes(c) ? await ctx.cardKey(c.id, true, step) : ed25519.getPublicKey(ed25519.utils.randomSecretKey()) });
    const payload = buildCustodianSet({ version: newest.version, ...validity(ctx), threshold: newest.threshold, custodians: members });
    ctx.write(name, serializeEnvelope(await ctx.signNew(PAYLOAD_TYPES.custodians, payload, present.map((c) => c.id))), false);
  }
  for (const c of present) await provenKey(step.id, `${c.id}${KEY_SUFFIX}`, ctx.cardOf(c.id).token.label, () => ctx.cardKey(c.id, false));
  return name;
}

async function run(ctx: StepContext, step: S, first: boolean): Promise<StepResult> {
  const { files, chain: given, present } = loadedChain(ctx.script, step, (rel) => ctx.input(rel), ctx.now()); // the bytes pinned when the run began
  const root = given.sets[0] as TrustedChain['sets'][number];
  const newest = given.newest;
  if (first && step.rootDigest === null) {
    // the digest is not said: the witness types it from the record of the ceremony that made it, and a slot accepts its hex
    ctx.say(`  the root set (version ${root.version}) is loaded; ${step.witness} checks its digest against the record of the ceremony that made it`);
    if (!(await ctx.confirm({ who: step.witness, what: `the root set's digest ${root.digest}, against the record of the ceremony that made it`, kind: 'digest', value: root.digest.slice('sha256:'.length), source: 'record' }))) {
      throw new KeyceremonyError('CEREMONY_WITNESS_REFUSED', `${step.witness} did not confirm the root set's digest`, 'stop: this is not the custodian set the organisation trusts');
    }
  }
  let lines: string[] = [];
  let inForce: string[];
  if (!ctx.simulation) {
    lines = await cardsMatch(ctx, step, given, present, first);
    inForce = copyChain(ctx, step, files, first);
  } else {
    const name = await standIn(ctx, step, given, present, first);
    lines.push(`rehearsal: ${name} stands in for set version ${newest.version} (${root.digest} is the real root)`);
    inForce = [name];
  }
  const set = ctx.setInForce(inForce).chain.newest;
  if (ctx.simulation) checkSetIs(ctx, step.id, set, { version: newest.version, threshold: newest.threshold, members: newest.custodians.map((c) => c.id) });
  else if (set.digest !== newest.digest) throw new KeyceremonyError('CEREMONY_FILE_CONFLICT', 'the set copied into the ceremony folder is not the one brought in', 'use a new ceremony folder');
  return { title: `Load custodian set version ${newest.version} (${newest.threshold}-of-${newest.custodians.length}), chain of ${given.sets.length}`,
    outcome: `root ${root.digest} ${step.rootDigest === null ? `confirmed by ${step.witness}` : 'pinned'}; ${ctx.simulation ? 'rehearsal stand-in' : `${present.length} cards match`}`,
    lines, keys: [], details: { chain: inForce, digest: set.digest, root: root.digest } };
}

export const loadCustodianSet: StepKind<S> = {
  inputs: (step) => step.chain,
  checkInputs: (p, step) => [{ what: `step ${step.id}, ${step.chain.join(', ')}`, run: () => checkQuorum(p, step) }],
  needs: () => [],
  outputs: (step, simulation) => (simulation ? [standInName(step)] : step.chain.map(baseName)),
  proof: (step) => `the chain ${step.chain.join(', ')} verified again, and each card present against the key the set lists`,
  perform: (ctx, step) => run(ctx, step, true),
  adopt: (ctx, step) => run(ctx, step, false),
};
