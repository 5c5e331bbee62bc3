import { parseEnvelope } from '../../dsse/envelope.js';
import { approvals, describePayload } from '../../verify/approvals.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import { atOption, CHAIN_OPTIONS, readDocument, rootDigestOption, trustedChain } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const STATUS_USAGE = 'keyceremony status FILE --custodians SET [--custodians SET ...] [--at TIME] [--json]';

export async function statusCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, ...CHAIN_OPTIONS }, { min: 1, max: 1, usage: STATUS_USAGE });
  const doc = readDocument(positionals[0] as string);
  const env = parseEnvelope(doc);
  const summary = describePayload(env);
  const chain = trustedChain(values.custodians, rootDigestOption(values['root-digest']), atOption(values.at), { forDocument: doc });
  const list = approvals(env, chain.newest);
  const complete = list.every((a) => a.needed === 0);
  if (values.json === true) {
    writeJson(io, { document: summary, complete, approvals: list });
    return 0;
  }
  writeLines(io.stdout, [summary, ...list.map((a) => `  ${a.role} (version ${a.set}): ${a.signed.length} of ${a.threshold} needed${a.signed.length > 0 ? `; signed: ${a.signed.join(', ')}` : ''}`
    + (a.needed > 0 ? `; ${a.needed} more from: ${a.unsigned.join(', ')}` : '; complete'))]);
  return 0;
}
