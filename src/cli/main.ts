/**
 * The `keyceremony` command line (../shared/spec/CLI.md). Exit codes: 0 success or valid,
 * 1 the documents or tokens said no, 2 usage or unreadable input, 3 a bug. Errors are one line
 * on stderr, `keyceremony: <code>: <what happened>; <what to do>`, with a stack only on --debug.
 */
import { demoCommand, DEMO_USAGE } from './commands/demo.js';
import { keygenCommand, KEYGEN_USAGE } from './commands/keygen.js';
import { trustCommand, TRUST_USAGE } from './commands/trust.js';
import { tokensCommand, TOKENS_USAGE } from './commands/tokens.js';
import { custodiansCommand, CUSTODIANS_USAGE } from './commands/custodians.js';
import { manifestCommand, MANIFEST_USAGE } from './commands/manifest.js';
import { mergeCommand, MERGE_USAGE, signCommand, SIGN_USAGE } from './commands/sign.js';
import { statusCommand, STATUS_USAGE } from './commands/status.js';
import { verifyCommand, VERIFY_USAGE } from './commands/verify.js';
import { stateCommand, STATE_USAGE } from './commands/state.js';
import { deployCommand, DEPLOY_USAGE } from './commands/deploy.js';
import { exportCommand, EXPORT_HELP, EXPORT_USAGE } from './commands/export.js';
import { mediaCommand, MEDIA_USAGE } from './commands/media.js';
import { bundleCommand, BUNDLE_USAGE } from './commands/bundle.js';
import { auditCommand, AUDIT_USAGE } from './commands/audit.js';
import { ceremonyCommand, CEREMONY_USAGE } from './commands/ceremony.js';
import { backupCommand, BACKUP_USAGE, drillCommand, DRILL_USAGE } from './commands/backup.js';
import { processIo } from './io.js';
import type { Io } from './io.js';
import { runCommandLine } from './run.js';
import type { Command } from './run.js';


const COMMANDS: ReadonlyMap<string, { run: Command; usage: string; what: string }> = new Map([
  ['tokens', { run: tokensCommand, usage: TOKENS_USAGE, what: 'list tokens, their flags and mechanisms' }],
  ['keygen', { run: keygenCommand, usage: KEYGEN_USAGE, what: 'generate a key inside a token' }],
  ['trust', { run: trustCommand, usage: TRUST_USAGE, what: "the token's security officer imports a KMS wrapping key as trusted, for keys made with keygen --wrap-with-trusted" }],
  ['custodians', { run: custodiansCommand, usage: CUSTODIANS_USAGE, what: 'create a custodian set, or its next version' }],
  ['manifest', { run: manifestCommand, usage: MANIFEST_USAGE, what: 'create an unsigned rotation manifest' }],
  ['sign', { run: signCommand, usage: SIGN_USAGE, what: "add one custodian's signature to a document" }],
  ['merge', { run: mergeCommand, usage: MERGE_USAGE, what: 'combine signed copies of the same document' }],
  ['status', { run: statusCommand, usage: STATUS_USAGE, what: 'who signed a document and how many signatures are missing' }],
  ['verify', { run: verifyCommand, usage: VERIFY_USAGE, what: 'verify a signed document against a custodian-set chain' }],
  ['state', { run: stateCommand, usage: STATE_USAGE, what: 'the key state at a time from a chain of rotation manifests: current, accepted, retired, revoked, compromised' }],
  ['deploy', { run: deployCommand, usage: DEPLOY_USAGE, what: 'write the secrets a deployment surfaces at a time (current and next, by the key state), opened from their sealed age files and checked against their signed bindings' }],
  ['export', { run: exportCommand, usage: EXPORT_USAGE, help: EXPORT_HELP, what: 'wrap a token key for import into a cloud KMS, onto removable media' }],
  ['bundle', { run: bundleCommand, usage: BUNDLE_USAGE, what: 'export keys for several targets onto removable media with SHA256SUMS and an unsigned manifest' }],
  ['media', { run: mediaCommand, usage: MEDIA_USAGE, what: 'list removable drives with their free space' }],
  ['backup', { run: backupCommand, usage: BACKUP_USAGE, what: "split a new backup key M-of-N onto the custodians' cards, with backup blobs and an unsigned custody manifest" }],
  ['drill', { run: drillCommand, usage: DRILL_USAGE, what: 'restore the backup from M shares into a drill token and prove every key (or --restore for real)' }],
  ['ceremony', { run: ceremonyCommand, usage: CEREMONY_USAGE, what: 'print a template, validate a ceremony script, rehearse it on throw-away tokens, or run it' }],
  ['audit', { run: auditCommand, usage: AUDIT_USAGE, what: 'verify a hash-chained audit log and its signed checkpoints' }],
  ['demo', { run: demoCommand, usage: DEMO_USAGE, what: 'run a whole ceremony on throw-away SoftHSM2 tokens' }],
]);

export function usage(): string {
  const lines = [...COMMANDS.values()].map((c) => `  ${c.usage}\n      ${c.what}`);
  return `usage: keyceremony <command> [options]\n\n${lines.join('\n')}\n\nPINs come from --pin-env NAME or a prompt, never from arguments. --debug shows stack traces.\n`;
}

export async function main(argv: readonly string[], io: Io = processIo()): Promise<number> {
  return runCommandLine({ commands: COMMANDS, usage }, argv, io);
}
