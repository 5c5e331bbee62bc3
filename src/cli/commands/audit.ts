/**
 * `keyceremony audit verify FILE [--custodians SET ...] [--checkpoint FILE ...] [--json]` (issue 7).
 * CLI.md does not define it; it follows the common rules: exit 0 when the log verifies, 1 when it
 * does not (the first bad entry's sequence is named), 2 when a file cannot be read.
 */
import { verifyAuditLog } from '../../audit/verify.js';
import { readInput } from '../../files.js';
import { usageError } from '../../errors.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import { atOption, CHAIN_OPTIONS, readDocument, rootDigestOption, trustedChain } from '../docs.js';
import type { Io, Warnings } from '../io.js';

export const AUDIT_USAGE = 'keyceremony audit verify FILE [--custodians SET ...] [--root-digest sha256:HEX] [--checkpoint FILE ...] [--json]';
const MAX_LOG_BYTES = 1024 * 1024 * 1024;

export async function auditCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') throw usageError('USAGE', `unknown subcommand ${JSON.stringify(sub ?? '')}`, `usage: ${AUDIT_USAGE}`);
  const { values, positionals } = parse(rest, { ...COMMON_OPTIONS, ...CHAIN_OPTIONS, checkpoint: { type: 'string', multiple: true } }, { min: 1, max: 1, usage: AUDIT_USAGE });
  const bytes = readInput(positionals[0] as string, 'the audit log', MAX_LOG_BYTES);
  const external = (values.checkpoint ?? []).map((f) => readDocument(f, 'the checkpoint'));
  const chain = values.custodians === undefined ? null : trustedChain(values.custodians, rootDigestOption(values['root-digest']), atOption(values.at));
  const r = verifyAuditLog(bytes, { chain, external, requireCheckpointAtEnd: true });
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify({ valid: r.valid, entries: r.entries, log: r.log, head: r.head, firstBad: r.firstBad, problems: r.problems, checkpoints: r.checkpoints })}\n`);
  } else if (r.valid) {
    const signed = r.checkpoints.map((c) => `entry ${c.covers}${c.signers.length > 0 ? ` (${c.signers.join(', ')})` : ''}`).join('; ');
    io.stdout.write(`valid audit log ${r.log ?? ''}: ${r.entries} entries, head ${r.head}\n  checkpoints: ${signed}${chain === null ? '\n  warning: signatures not checked: pass --custodians to check them' : ''}\n`);
  } else {
    io.stdout.write(`INVALID audit log: first bad entry ${r.firstBad ?? '?'}\n${r.problems.map((p) => `  - entry ${p.seq}: ${p.code}: ${p.message}\n`).join('')}`);
  }
  return r.valid ? 0 : 1;
}
