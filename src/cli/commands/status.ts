import { parseCustodianSet } from '../../custodians/set.js';
import type { CustodianSet } from '../../custodians/set.js';
import { kindOfPayloadType } from '../../docs/types.js';
import { pae } from '../../dsse/envelope.js';
import type { Envelope } from '../../dsse/envelope.js';
import { countSignatures } from '../../verify/threshold.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import { atOption, CHAIN_OPTIONS, readEnvelopeFile, rootDigestOption, trustedChain } from '../docs.js';
import type { Io, Warnings } from '../io.js';
import { describePayload } from './sign.js';

export const STATUS_USAGE = 'keyceremony status FILE --custodians SET [--custodians SET ...] [--at TIME] [--json]';

export interface Approval {
  readonly set: number;
  readonly role: string;
  readonly threshold: number;
  readonly signed: readonly string[];
  readonly unsigned: readonly string[];
  readonly needed: number;
}

/** Who signed, and how many signatures are still missing, for every set that must approve. */
export function approvals(env: Envelope, newest: CustodianSet): Approval[] {
  const signed = pae(env.payloadType, env.payload);
  const sets: [CustodianSet, string][] = [[newest, 'approving set']];
  if (kindOfPayloadType(env.payloadType) === 'custodians') {
    const next = parseCustodianSet(env.payload);
    if (next.digest !== newest.digest) sets.splice(0, 1, [newest, 'current set (rotation)'], [next, 'new set']);
  }
  return sets.map(([set, role]) => {
    const c = countSignatures(env, signed, set);
    return { set: set.version, role, threshold: set.threshold, signed: c.signers, unsigned: set.custodians.map((x) => x.id).filter((id) => !c.signers.includes(id)), needed: Math.max(0, set.threshold - c.signers.length) };
  });
}

export async function statusCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, ...CHAIN_OPTIONS }, { min: 1, max: 1, usage: STATUS_USAGE });
  const env = readEnvelopeFile(positionals[0] as string);
  const summary = describePayload(env);
  const chain = trustedChain(values.custodians, rootDigestOption(values['root-digest']), atOption(values.at));
  const list = approvals(env, chain.newest);
  const complete = list.every((a) => a.needed === 0);
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify({ document: summary, complete, approvals: list })}\n`);
    return 0;
  }
  io.stdout.write(`${summary}\n`);
  for (const a of list) {
    io.stdout.write(`  ${a.role} (version ${a.set}): ${a.signed.length} of ${a.threshold} needed${a.signed.length > 0 ? `; signed: ${a.signed.join(', ')}` : ''}`);
    io.stdout.write(a.needed > 0 ? `; ${a.needed} more from: ${a.unsigned.join(', ')}\n` : '; complete\n');
  }
  return 0;
}
