import { usageError } from '../../errors.js';
import { keyState } from '../../state/state.js';
import type { KeyStateResult } from '../../state/state.js';
import { COMMON_OPTIONS, parseWithFileList } from '../args.js';
import { atOption, CHAIN_OPTIONS, readDocument, rootDigestOption } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const STATE_USAGE = 'keyceremony state --custodians SET [--custodians SET ...] --manifests FILE [FILE ...] [--root-digest sha256:HEX] [--at TIME] [--json]';

const OPTIONS = { ...COMMON_OPTIONS, ...CHAIN_OPTIONS, manifests: { type: 'string', multiple: true } } as const;

/**
 * `--manifests FILE [FILE ...]`: the files after --manifests up to the next option (and --manifests
 * may be repeated). Any other bare argument is a usage error, so a file given in the wrong place is
 * never silently read as a manifest.
 */
/** CLI.md `state`: exit 0 when the chain is valid, 1 when not (a malformed or truncated file included), 2 when a file cannot be read. */
export async function stateCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const { values, paths } = parseWithFileList(argv, OPTIONS, 'manifests', STATE_USAGE);
  const at = atOption(values.at);
  const rootDigest = rootDigestOption(values['root-digest']);
  if (values.custodians === undefined || values.custodians.length === 0) {
    throw usageError('USAGE', 'no custodian set was given', 'pass the chain from the trusted root: --custodians custodians.v1.json [--custodians custodians.v2.json …]');
  }
  if (paths.length === 0) throw usageError('USAGE', 'no rotation manifest was given', 'pass every manifest of the chain, in any order: --manifests FILE [FILE ...]');
  const chain = values.custodians.map((f) => readDocument(f, 'the custodian set'));
  const manifests = paths.map((f) => readDocument(f, 'the rotation manifest'));
  const result = keyState(chain, manifests, { at, rootDigest });
  if (values.json === true) {
    writeJson(io, { valid: result.valid, at: result.at, sequence: result.sequence, tip: result.tip, keys: result.keys, reasons: result.reasons, warnings: result.warnings });
  } else {
    writeLines(io.stdout, [...describe(result), ...result.warnings.map((w) => `  warning: ${w}`)]);
  }
  return result.valid ? 0 : 1;
}

/** Lines for a person: each name's current version and accepted set, then the lists that are not empty. */
function describe(r: KeyStateResult): string[] {
  if (!r.valid) return [`INVALID manifest chain at ${r.at}: no key state`, ...r.reasons.map((x) => `  - ${x}`)];
  const lines = [`valid manifest chain 1..${r.sequence} at ${r.at}, tip ${r.tip}`];
  for (const [name, s] of Object.entries(r.keys)) {
    lines.push(name, `  current      ${s.current ?? '(none)'}`, `  accept       ${s.accept.length > 0 ? s.accept.join(', ') : '(none)'}`);
    for (const what of ['pending', 'retired', 'revoked', 'compromised', 'scheduled'] as const) {
      if (s[what].length > 0) lines.push(`  ${what.padEnd(12)} ${s[what].join(', ')}`);
    }
  }
  return lines;
}
