/**
 * The verified custodian-set chain (FORMATS.md §3.3–§3.5): the one way the CLI, the app and the
 * ceremony engine turn custodian-set files into a TrustedChain. The root is pinned when a digest
 * is given; a chain that does not verify is refused with one code, CHAIN_INVALID (exit 1), and a
 * message that lists every reason with its own code (CHAIN_ROOT_DIGEST_MISMATCH, THRESHOLD_NOT_MET…).
 */
import { formatProblem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';
import { MAX_ENVELOPE_BYTES } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { readInput } from '../files.js';
import { newestRuleFor, verifyChain } from '../verify/verify.js';
import type { NewestRule, TrustedChain } from '../verify/verify.js';

export interface ChainOptions {
  /** Verification time, ms since the epoch. */
  readonly at: number;
  /** `sha256:<hex>` that the root set's payload digest must equal. */
  readonly rootDigest?: string | undefined;
  /** What to do, in the caller's words (which option, screen or script field brings the chain). */
  readonly fix?: string | undefined;
  /**
   * 'in-force' (the default): the chain's newest set must be unexpired. 'replaced': the chain is
   * loaded to make or approve its next set, which becomes the newest, so its last set may have
   * expired (FORMATS.md §3.5; an expired set is replaced so, signed by its own threshold).
   */
  readonly newest?: NewestRule | undefined;
}

const FIX = 'bring every custodian set from the trusted root, in order, and the root digest recorded when the root set was made';

/** The chain and what the verifier warns of (an unpinned root, a signature that counted for nothing), or CHAIN_INVALID with every reason. */
export function verifiedChainWithWarnings(files: readonly Uint8Array[], o: ChainOptions): { readonly chain: TrustedChain; readonly warnings: readonly Problem[] } {
  const r = verifyChain(files, { at: o.at, rootDigest: o.rootDigest }, o.newest ?? 'in-force');
  if (r.chain === null) {
    throw new KeyceremonyError('CHAIN_INVALID', `the custodian set chain does not verify: ${r.reasons.map(formatProblem).join('; ')}`, o.fix ?? FIX);
  }
  return { chain: r.chain, warnings: r.warnings };
}

/** The chain of these custodian-set documents, root first, or CHAIN_INVALID with every reason. */
export function verifiedChain(files: readonly Uint8Array[], o: ChainOptions): TrustedChain {
  return verifiedChainWithWarnings(files, o).chain;
}

/** The chain that approves `doc`, read as the verifier reads it: when `doc` is the chain's next custodian set, the chain's last set may have expired. */
export function chainForDocument(doc: Uint8Array, files: readonly Uint8Array[], o: ChainOptions): TrustedChain {
  return verifiedChain(files, { ...o, newest: newestRuleFor(doc, files) });
}

/** The chain of documents given as text (the app's IPC requests carry them so). */
export function verifiedChainOfTexts(docs: readonly string[], o: ChainOptions): TrustedChain {
  const enc = new TextEncoder();
  return verifiedChain(docs.map((d) => enc.encode(d)), o);
}

/**
 * The chain read from files (a missing or unreadable file is a usage error, exit 2) and verified;
 * the bytes are returned too, for callers that copy the files or verify documents against them,
 * and the verifier's warnings, for callers that show them.
 */
export function chainFromFiles(paths: readonly string[], o: ChainOptions): { readonly files: readonly Uint8Array[]; readonly chain: TrustedChain; readonly warnings: readonly Problem[] } {
  const files = paths.map((p) => readInput(p, 'the custodian set', MAX_ENVELOPE_BYTES));
  return { files, ...verifiedChainWithWarnings(files, o) };
}
