/**
 * The one verifier (FORMATS.md §3–§7, CLI.md `verify`): serves the CLI, the app and the tests.
 * Returns `valid` or `invalid` with every reason found and the custodians whose signatures
 * counted; an invalid document is never partially trusted. Never throws on hostile input.
 */
import { timingSafeEqual } from 'node:crypto';
import { parseCustodianSet, payloadDigest } from '../custodians/set.js';
import type { CustodianSet } from '../custodians/set.js';
import { formatTime, DIGEST } from '../docs/fields.js';
import { DocumentError, formatProblem, problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';
import { kindOfPayloadType, PAYLOAD_TYPES } from '../docs/types.js';
import type { DocumentKind } from '../docs/types.js';
import { parseEnvelope, signedBytesOf } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import { parseDrillReport } from '../manifest/drill.js';
import { parseManifest } from '../manifest/manifest.js';
import type { Manifest } from '../manifest/manifest.js';
import { policyWarnings } from '../manifest/policy.js';
import { countSignatures } from './threshold.js';

export interface VerifyResult {
  readonly valid: boolean;
  readonly type: DocumentKind | 'unknown';
  readonly reasons: readonly string[];
  readonly signers: readonly string[];
  readonly threshold: number | null;
  readonly custodianSet: number | null;
  readonly warnings: readonly string[];
}

export interface TrustedChain {
  readonly sets: readonly CustodianSet[];
  readonly newest: CustodianSet;
}

export interface ChainResult {
  readonly chain: TrustedChain | null;
  readonly reasons: readonly Problem[];
  readonly warnings: readonly Problem[];
}

export interface VerifyOptions {
  /** Verification time, ms since the epoch (CLI `--at`, else now). */
  readonly at: number;
  /** `sha256:<hex>` that the first set's payload digest must equal. */
  readonly rootDigest?: string | undefined;
  /** The manifest that a rotation manifest must directly follow. */
  readonly previous?: Uint8Array | undefined;
}

/** The problems of a part of the input, their paths under `prefix` (a parser's own root `$` dropped: `$.x` under `$` is `$.x`, not `$.$.x`). */
function prefixed(ps: readonly Problem[], prefix: string): Problem[] {
  return ps.map((p) => {
    const rel = p.path.startsWith('$.') || p.path.startsWith('$[') ? p.path.slice(1) : p.path === '$' || p.path === '' ? '' : `.${p.path}`;
    return problem(p.code, `${prefix}${rel}`, p.message);
  });
}

function caught(err: unknown, prefix: string): Problem[] {
  if (err instanceof DocumentError) return prefixed(err.problems, prefix);
  throw err;
}

function digestsEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function readSet(bytes: Uint8Array, prefix: string): { env: Envelope; set: CustodianSet } | Problem[] {
  let env: Envelope;
  try {
    env = parseEnvelope(bytes);
  } catch (err) {
    return caught(err, prefix);
  }
  if (env.payloadType !== PAYLOAD_TYPES.custodians) return [problem('DOCUMENT_UNEXPECTED_TYPE', `${prefix}.payloadType`, `expected ${PAYLOAD_TYPES.custodians}`)];
  try {
    return { env, set: parseCustodianSet(env.payload) };
  } catch (err) {
    return caught(err, `${prefix}.payload`);
  }
}

function thresholdProblem(code: string, prefix: string, what: string, set: CustodianSet, signers: readonly string[]): Problem {
  return problem(code, prefix, `${what} is signed by ${signers.length}/${set.threshold} custodians of set version ${set.version}${signers.length > 0 ? ` (${signers.join(', ')})` : ''}`);
}

/**
 * A manifest is valid for issued ≤ time ≤ expires (FORMATS.md §4, inclusive); a set must be
 * "unexpired" (§3.5), which we read as time < expires, and not used before it was issued.
 */
function validityProblems(issued: number, expires: number, at: number, prefix: string, area: 'CHAIN' | 'MANIFEST'): Problem[] {
  if (at < issued) return [problem(`${area}_NOT_YET_VALID`, prefix, `valid from ${formatTime(issued)}, not yet at ${formatTime(at)}`)];
  if (area === 'MANIFEST' ? at > expires : at >= expires) return [problem(`${area}_EXPIRED`, prefix, `expired at ${formatTime(expires)}`)];
  return [];
}

/**
 * What the chain's newest set must be at `at` (FORMATS.md §3.5: only the newest set of a verified
 * chain must be unexpired; older sets may have expired):
 * - 'in-force' (the default): it approves what is verified, so it must be valid at `at`;
 * - 'replaced': a next version that follows it is being verified or made (`verify` of the next
 *   set, `custodians next`), so that next set is the newest and this one may have expired. Its
 *   expiry is then a warning, CHAIN_NEWEST_EXPIRED; a set not yet valid is still refused.
 */
export type NewestRule = 'in-force' | 'replaced';

/**
 * Verify sets from a trusted root, one version at a time (FORMATS.md §3.3–§3.5, TUF §5.3):
 * each set signed by its own threshold, and each rotation also by the previous set's threshold.
 * Validity periods are checked on the newest set alone, by `newest` (see NewestRule).
 */
export function verifyChain(files: readonly Uint8Array[], opts: VerifyOptions, newestRule: NewestRule = 'in-force'): ChainResult {
  const reasons: Problem[] = [];
  const warnings: Problem[] = [];
  if (files.length === 0) return { chain: null, reasons: [problem('CHAIN_EMPTY', 'custodians', 'no custodian set was given: pass the chain with --custodians')], warnings };
  const sets: CustodianSet[] = [];
  for (let i = 0; i < files.length; i++) {
    const prefix = `custodians[${i}]`;
    const r = readSet(files[i] as Uint8Array, prefix);
    if (Array.isArray(r)) return { chain: null, reasons: [...reasons, ...r], warnings };
    const { env, set } = r;
    const signed = signedBytesOf(env);
    if (i === 0) {
      if (opts.rootDigest !== undefined) {
        if (!DIGEST.test(opts.rootDigest)) reasons.push(problem('CHAIN_ROOT_DIGEST_INVALID', 'root-digest', 'expected sha256:<64 lowercase hex>'));
        else if (!digestsEqual(set.digest, opts.rootDigest)) reasons.push(problem('CHAIN_ROOT_DIGEST_MISMATCH', prefix, `the root set's digest ${set.digest} is not the pinned ${opts.rootDigest}`));
      } else {
        warnings.push(problem('CHAIN_ROOT_NOT_PINNED', prefix, `the root set (version ${set.version}) is trusted as given; pin it with --root-digest ${set.digest}`));
      }
    } else {
      const prev = sets[i - 1] as CustodianSet;
      if (set.version !== prev.version + 1) {
        reasons.push(problem(set.version > prev.version + 1 ? 'CHAIN_VERSION_SKIPPED' : 'CHAIN_VERSION_ORDER', `${prefix}.version`,
          `set version ${set.version} cannot follow version ${prev.version}: versions go one at a time`));
      }
      const old = countSignatures(env, signed, prev, 'the previous set');
      if (!old.met) reasons.push(thresholdProblem('THRESHOLD_PREVIOUS_NOT_MET', prefix, `the rotation to set version ${set.version}`, prev, old.signers));
      warnings.push(...prefixed(old.problems.filter((p) => p.code !== 'SIGNATURE_UNKNOWN_KEY'), prefix));
    }
    const own = countSignatures(env, signed, set, 'the set');
    if (!own.met) reasons.push(thresholdProblem('THRESHOLD_NOT_MET', prefix, `set version ${set.version}`, set, own.signers));
    warnings.push(...prefixed(i === 0 ? own.problems : own.problems.filter((p) => p.code !== 'SIGNATURE_UNKNOWN_KEY'), prefix));
    sets.push(set);
  }
  const newest = sets[sets.length - 1] as CustodianSet;
  // §3.5: an expired older set is no reason; the one set that must be unexpired is the newest
  const prefix = `custodians[${sets.length - 1}]`;
  for (const p of validityProblems(newest.issued, newest.expires, opts.at, prefix, 'CHAIN')) {
    if (newestRule === 'replaced' && p.code === 'CHAIN_EXPIRED') {
      warnings.push(problem('CHAIN_NEWEST_EXPIRED', prefix, `set version ${newest.version} expired at ${formatTime(newest.expires)}; the next version replaces it, and only that one must be unexpired (FORMATS.md §3.5)`));
    } else {
      reasons.push(p);
    }
  }
  return { chain: reasons.length === 0 ? { sets, newest } : null, reasons, warnings };
}

interface Partial {
  type: DocumentKind | 'unknown';
  reasons: Problem[];
  warnings: Problem[];
  signers: readonly string[];
  threshold: number | null;
  custodianSet: number | null;
}

function finish(p: Partial): VerifyResult {
  const reasons = p.reasons.map(formatProblem);
  return Object.freeze({
    valid: reasons.length === 0,
    type: p.type,
    reasons,
    signers: reasons.length === 0 ? p.signers : [],
    threshold: p.threshold,
    custodianSet: p.custodianSet,
    warnings: p.warnings.map(formatProblem),
  });
}

/** Verify a rotation manifest, drill report or next custodian set against a verified chain. */
export function verifyWithChain(doc: Uint8Array, chain: TrustedChain, opts: VerifyOptions, chainWarnings: readonly Problem[] = []): VerifyResult {
  const newest = chain.newest;
  const out: Partial = { type: 'unknown', reasons: [], warnings: [...chainWarnings], signers: [], threshold: newest.threshold, custodianSet: newest.version };
  let env: Envelope;
  try {
    env = parseEnvelope(doc);
  } catch (err) {
    out.reasons.push(...caught(err, '$'));
    return finish(out);
  }
  const kind = kindOfPayloadType(env.payloadType);
  if (kind === null) {
    out.reasons.push(problem('DOCUMENT_UNKNOWN_TYPE', 'payloadType', `${JSON.stringify(env.payloadType.slice(0, 80))} is not a keyceremony payload type`));
    return finish(out);
  }
  out.type = kind;
  const signed = signedBytesOf(env);
  const count = (set: CustodianSet, what: string, code = 'THRESHOLD_NOT_MET'): readonly string[] => {
    const c = countSignatures(env, signed, set);
    if (!c.met) out.reasons.push(thresholdProblem(code, '$', what, set, c.signers), ...c.problems);
    else out.warnings.push(...c.problems);
    return c.signers;
  };
  try {
    if (kind === 'custodians') {
      const set = parseCustodianSet(env.payload);
      const member = chain.sets.find((s) => s.digest === set.digest);
      if (member !== undefined) {
        out.warnings.push(problem('CHAIN_MEMBER', '$', `this is set version ${set.version} of the given chain, verified with it`));
        out.signers = count(set, `set version ${set.version}`);
        out.custodianSet = set.version;
        out.threshold = set.threshold;
        if (member !== newest) out.warnings.push(problem('CHAIN_SUPERSEDED', '$', `set version ${set.version} is superseded by version ${newest.version}`));
        return finish(out);
      }
      if (set.version !== newest.version + 1) {
        out.reasons.push(problem(set.version > newest.version + 1 ? 'CHAIN_VERSION_SKIPPED' : 'CHAIN_VERSION_ORDER', 'version', `set version ${set.version} cannot follow version ${newest.version}`));
      }
      const oldSigners = countSignatures(env, signed, newest);
      if (!oldSigners.met) out.reasons.push(thresholdProblem('THRESHOLD_PREVIOUS_NOT_MET', '$', `the rotation to set version ${set.version}`, newest, oldSigners.signers));
      out.signers = count(set, `set version ${set.version}`);
      out.threshold = set.threshold;
      out.custodianSet = set.version;
      out.reasons.push(...validityProblems(set.issued, set.expires, opts.at, '$', 'CHAIN'));
      return finish(out);
    }
    if (kind === 'rotation') {
      const m = parseManifest(env.payload);
      checkApprovingSet(m.custodianSet, newest, out.reasons);
      out.signers = count(newest, `rotation manifest ${m.ceremony} #${m.sequence}`);
      if (!newest.custodians.some((c) => c.id === m.actor)) out.reasons.push(problem('MANIFEST_ACTOR_UNKNOWN', 'actor', `${m.actor} is not a custodian of set version ${newest.version}`));
      out.reasons.push(...validityProblems(m.issued, m.expires, opts.at, '$', 'MANIFEST'));
      let previous: Manifest | undefined;
      if (opts.previous !== undefined) {
        previous = readPrevious(opts.previous, out.reasons);
        if (previous !== undefined) {
          if (m.sequence !== previous.sequence + 1) out.reasons.push(problem('MANIFEST_SEQUENCE_GAP', 'sequence', `sequence ${m.sequence} does not directly follow ${previous.sequence}`));
          if (m.previous === null || !digestsEqual(m.previous, previous.digest)) out.reasons.push(problem('MANIFEST_PREVIOUS_MISMATCH', 'previous', `expected ${previous.digest}, found ${String(m.previous)}`));
        }
      } else if (m.sequence > 1) {
        out.warnings.push(problem('MANIFEST_PREVIOUS_UNCHECKED', 'previous', `sequence ${m.sequence} follows ${m.previous}; pass --previous FILE to check the chain of manifests`));
      }
      out.warnings.push(...policyWarnings(m, opts.at, previous));
      return finish(out);
    }
    const d = parseDrillReport(env.payload);
    checkApprovingSet(d.custodianSet, newest, out.reasons);
    out.signers = count(newest, `drill report ${d.drill}`);
    d.sharesPresented.forEach((id, i) => {
      if (!newest.custodians.some((c) => c.id === id)) out.reasons.push(problem('DRILL_SHARE_UNKNOWN', `sharesPresented[${i}]`, `${id} is not a custodian of set version ${newest.version}`));
    });
    if (opts.at < d.finished) out.reasons.push(problem('DRILL_NOT_YET_VALID', 'finished', `the drill finished at ${formatTime(d.finished)}, after ${formatTime(opts.at)}`));
    return finish(out);
  } catch (err) {
    out.reasons.push(...caught(err, 'payload'));
    return finish(out);
  }
}

function checkApprovingSet(version: number, newest: CustodianSet, reasons: Problem[]): void {
  if (version < newest.version) reasons.push(problem('MANIFEST_SET_SUPERSEDED', 'custodianSet', `approved under set version ${version}, which version ${newest.version} supersedes`));
  if (version > newest.version) reasons.push(problem('MANIFEST_SET_UNKNOWN', 'custodianSet', `names set version ${version}, but the chain given ends at version ${newest.version}`));
}

function readPrevious(bytes: Uint8Array, reasons: Problem[]): Manifest | undefined {
  try {
    const env = parseEnvelope(bytes);
    if (env.payloadType !== PAYLOAD_TYPES.rotation) {
      reasons.push(problem('DOCUMENT_UNEXPECTED_TYPE', 'previous.payloadType', `expected ${PAYLOAD_TYPES.rotation}`));
      return undefined;
    }
    return parseManifest(env.payload);
  } catch (err) {
    reasons.push(...caught(err, 'previous'));
    return undefined;
  }
}

/**
 * A custodian set that is not one of the chain's: verified as the chain's next version, which
 * makes it the newest set (so the chain's last set may have expired, §3.5). A set of the chain,
 * or anything else, leaves the chain's last set in force. For every caller that loads a chain to
 * act on a document (sign, merge, status of the next set): pass it to verifyChain.
 */
export function newestRuleFor(doc: Uint8Array, chainFiles: readonly Uint8Array[]): NewestRule {
  const digestOf = (bytes: Uint8Array): string | null => {
    try {
      const env = parseEnvelope(bytes);
      return env.payloadType === PAYLOAD_TYPES.custodians ? payloadDigest(env.payload) : null;
    } catch (err) {
      if (err instanceof DocumentError) return null; // its problems are reported where it is verified
      throw err;
    }
  };
  const digest = digestOf(doc);
  if (digest === null) return 'in-force';
  return chainFiles.some((f) => digestOf(f) === digest) ? 'in-force' : 'replaced';
}

/** CLI.md `verify`: the chain first, then the document against its newest set. */
export function verifyDocument(doc: Uint8Array, chainFiles: readonly Uint8Array[], opts: VerifyOptions): VerifyResult {
  const c = verifyChain(chainFiles, opts, newestRuleFor(doc, chainFiles));
  if (c.chain === null) {
    let type: DocumentKind | 'unknown' = 'unknown';
    try { type = kindOfPayloadType(parseEnvelope(doc).payloadType) ?? 'unknown'; } catch { /* reported below only as the chain's failure */ }
    return finish({ type, reasons: [...c.reasons], warnings: [...c.warnings], signers: [], threshold: null, custodianSet: null });
  }
  return verifyWithChain(doc, c.chain, opts, c.warnings);
}
