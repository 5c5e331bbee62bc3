/**
 * `keyceremony audit verify FILE [--custodians SET ...] [--checkpoint FILE ...] [--json]` (issue 7).
 * CLI.md does not define it; it follows the common rules: exit 0 when the log verifies, 1 when it
 * does not (the first bad entry's sequence is named, or the first entry no checkpoint signs) or is
 * over MAX_LOG_BYTES, 64 MiB (AUDIT_LOG_TOO_LARGE), 2 when a file cannot be read. Like `verify
 * --json`, `--json` carries `warnings`: without --custodians no checkpoint signature is checked,
 * and the output says so.
 */
import { statSync } from 'node:fs';
import { logTooLarge, MAX_LOG_BYTES } from '../../audit/log.js';
import { verifyAuditLog } from '../../audit/verify.js';
import type { AuditResult } from '../../audit/verify.js';
import { formatProblem } from '../../docs/problems.js';
import { usageError } from '../../errors.js';
import { readInput } from '../../files.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import { atOption, CHAIN_OPTIONS, chainOption, readDocument, rootDigestOption } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const AUDIT_USAGE = 'keyceremony audit verify FILE [--custodians SET ...] [--root-digest sha256:HEX] [--at TIME] [--checkpoint FILE ...] [--json]';

function headline(r: AuditResult): string {
  switch (r.state) {
    case 'checkpointed': return `valid audit log ${r.log ?? ''}: ${r.entries} entries, head ${r.head}`;
    case 'empty': return 'INVALID audit log: the file is empty (no entry, not even the one that creates the log)';
    case 'no-checkpoint': return `${r.valid ? 'unsigned' : 'INVALID'} audit log ${r.log ?? ''}: ${r.entries} entries, no checkpoint: first unsigned entry ${r.firstUnsigned ?? 1}`;
    case 'unsigned-tail': return `${r.valid ? 'unsigned tail in' : 'INVALID'} audit log ${r.log ?? ''}: ${r.entries} entries, first unsigned entry ${r.firstUnsigned ?? '?'}`;
    case 'broken': return r.firstBad === 0 ? 'INVALID audit log: a checkpoint file given with --checkpoint does not check out' : `INVALID audit log: first bad entry ${r.firstBad ?? '?'}`;
  }
}

const tooLarge = logTooLarge;

/**
 * The log's bytes, at most MAX_LOG_BYTES (exit 1 beyond, as for any input that is not what it
 * should be: a log this tool wrote is never that large). A larger file is refused by its size before a byte of it is read; readInput stops at the
 * limit whatever the size said (a file that grows meanwhile, or one whose size a file system
 * misreports).
 */
function readLog(path: string): Uint8Array {
  let size = 0;
  try { const st = statSync(path); if (st.isFile()) size = st.size; } catch { /* readInput reports a missing or unreadable file */ }
  if (size > MAX_LOG_BYTES) throw tooLarge(path, `${size} bytes`);
  const bytes = readInput(path, 'the audit log', MAX_LOG_BYTES);
  if (bytes.length > MAX_LOG_BYTES) throw tooLarge(path, `more than ${MAX_LOG_BYTES} bytes`);
  return bytes;
}

export async function auditCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'verify') throw usageError('USAGE', `unknown subcommand ${JSON.stringify(sub ?? '')}`, `usage: ${AUDIT_USAGE}`);
  const { values, positionals } = parse(rest, { ...COMMON_OPTIONS, ...CHAIN_OPTIONS, checkpoint: { type: 'string', multiple: true } }, { min: 1, max: 1, usage: AUDIT_USAGE });
  const bytes = readLog(positionals[0] as string);
  const external = (values.checkpoint ?? []).map((f) => readDocument(f, 'the checkpoint'));
  const given = values.custodians === undefined ? null : chainOption(values.custodians, rootDigestOption(values['root-digest']), atOption(values.at));
  const r = verifyAuditLog(bytes, { chain: given?.chain ?? null, external, requireCheckpointAtEnd: true });
  const warnings = [...(given?.warnings ?? []).map(formatProblem), ...r.warnings];
  if (values.json === true) {
    writeJson(io, { valid: r.valid, state: r.state, entries: r.entries, log: r.log, head: r.head, firstBad: r.firstBad, firstUnsigned: r.firstUnsigned,
      problems: r.problems, checkpoints: r.checkpoints, externals: r.externals, warnings });
    return r.valid ? 0 : 1;
  }
  const out = [headline(r)];
  if (r.checkpoints.length > 0) out.push(`  checkpoints: ${r.checkpoints.map((c) => `entry ${c.covers}${c.signers.length > 0 ? ` (${c.signers.join(', ')})` : ''}`).join('; ')}`);
  for (const x of r.externals) out.push(`  checkpoint file: entry ${x.covers}${x.signers.length > 0 ? ` (${x.signers.join(', ')})` : ''}`);
  for (const p of r.problems) out.push(`  - ${p.seq === 0 ? 'checkpoint file' : `entry ${p.seq}`}: ${p.code}: ${p.message}`);
  for (const w of warnings) out.push(`  warning: ${w}`);
  writeLines(io.stdout, out);
  return r.valid ? 0 : 1;
}
