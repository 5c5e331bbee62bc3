/** Shared by the document commands (verify, sign, merge, status, custodians, manifest). */
import { existsSync, statSync } from 'node:fs';
import { parseInstant } from '../docs/fields.js';
import { MAX_ENVELOPE_BYTES, parseEnvelope } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import { usageError } from '../errors.js';
import { readInput } from '../files.js';
import { verifiedChainWithWarnings } from '../usecases/chain.js';
import { newestRuleFor } from '../verify/verify.js';
import type { NewestRule, TrustedChain } from '../verify/verify.js';

export const CHAIN_OPTIONS = {
  custodians: { type: 'string', multiple: true },
  'root-digest': { type: 'string' },
  at: { type: 'string' },
} as const;

export function readDocument(path: string, what = 'the document'): Uint8Array {
  return readInput(path, what, MAX_ENVELOPE_BYTES);
}

export function readEnvelopeFile(path: string, what = 'the document'): Envelope {
  return parseEnvelope(readDocument(path, what));
}

/** `--at TIME` (RFC 3339 UTC, whole seconds) or now. */
/**
 * `--at TIME` of every command, "RFC 3339" (CLI.md): any RFC 3339 date-time, an offset or a
 * fraction of a second included (src/state/time.ts, whole seconds); else now. Anything else is a
 * usage error (exit 2).
 */
export function atOption(at: string | undefined): number {
  if (at === undefined) return Math.floor(Date.now() / 1000) * 1000;
  const t = parseInstant(at);
  if (t === null) throw usageError('USAGE', `--at ${JSON.stringify(at.slice(0, 80))} is not an RFC 3339 date-time`, 'write it like 2026-11-28T10:00:00Z (or with an offset, 2026-11-28T11:00:00+01:00)');
  return t;
}

export function rootDigestOption(d: string | undefined): string | undefined {
  if (d !== undefined && !/^sha256:[0-9a-f]{64}$/.test(d)) throw usageError('USAGE', '--root-digest must be sha256:<64 lowercase hex>', 'copy the digest printed when the root set was made');
  return d;
}

export function folderOption(dir: string, flag: string): string {
  if (!existsSync(dir) || !statSync(dir).isDirectory()) throw usageError('INPUT_UNREADABLE', `${flag} ${dir} is not a folder`, 'give the folder that holds the files');
  return dir;
}

/**
 * The --custodians files read and verified (root pinned by --root-digest when given) with the
 * verifier's warnings, or CHAIN_INVALID listing every reason (exit 1). `newest`: see ChainOptions;
 * `forDocument`, the document the chain approves, decides it as `verify` does.
 */
export function chainOption(files: readonly string[] | undefined, rootDigest: string | undefined, at: number, newest: NewestRule | { readonly forDocument: Uint8Array } = 'in-force'): { readonly files: readonly Uint8Array[] } & ReturnType<typeof verifiedChainWithWarnings> {
  if (files === undefined || files.length === 0) throw usageError('USAGE', 'no custodian set was given', 'pass the chain from the trusted root: --custodians custodians.v1.json [--custodians custodians.v2.json …]');
  const bytes = files.map((f) => readDocument(f, 'the custodian set')); // read once: what is verified is what the rule was decided on
  const rule = typeof newest === 'string' ? newest : newestRuleFor(newest.forDocument, bytes);
  return { files: bytes, ...verifiedChainWithWarnings(bytes, { at, rootDigest, newest: rule, fix: 'check that --custodians lists every set from the trusted root, in order, and --root-digest the root set\'s digest' }) };
}

/** The verified chain of --custodians files. */
export function trustedChain(files: readonly string[] | undefined, rootDigest: string | undefined, at: number, newest: NewestRule | { readonly forDocument: Uint8Array } = 'in-force'): TrustedChain {
  return chainOption(files, rootDigest, at, newest).chain;
}
