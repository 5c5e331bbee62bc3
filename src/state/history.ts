/**
 * The history half of FORMATS.md §8: a chain of rotation manifests checked against rules 1–3,
 * before any key entry is applied. The manifests come in any order; what is returned is one
 * manifest per sequence number, in sequence order, with every reason found.
 *
 * Paths in problems: `custodians[i]` is the i-th --custodians file (as verifyChain names them),
 * `manifests[i]` the i-th manifest file as given (what is wrong with that file: it does not parse,
 * its signatures do not reach the threshold), and `manifests[seq k]` the manifest of sequence k
 * (what is wrong with its content or its place in the chain, whichever file holds it).
 */
import { timingSafeEqual } from 'node:crypto';
import { parseCustodianSet } from '../custodians/set.js';
import type { CustodianSet } from '../custodians/set.js';
import { formatTime } from '../docs/fields.js';
import { DocumentError, problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';
import { PAYLOAD_TYPES } from '../docs/types.js';
import { parseEnvelope, signedBytesOf } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import { parseManifest } from '../manifest/manifest.js';
import type { Manifest } from '../manifest/manifest.js';
import { countSignatures } from '../verify/threshold.js';
import { verifyChain } from '../verify/verify.js';
import type { TrustedChain } from '../verify/verify.js';

export interface HistoryOptions {
  /** T, ms since the epoch. */
  readonly at: number;
  /** `sha256:<hex>` that the root set's payload digest must equal. */
  readonly rootDigest?: string | undefined;
}

export interface History {
  /**
   * One manifest per sequence number present, in sequence order, when they are the whole sequence
   * 1..n; empty when a number is forked or missing (the effect order is then undefined: applying the
   * entries of a history with a hole only adds, as impossible steps, what the missing manifest said).
   */
  readonly manifests: readonly Manifest[];
  readonly reasons: readonly Problem[];
  readonly warnings: readonly Problem[];
}

/** One manifest file as read: its place among the files given, its envelope and its manifest. */
interface Copy {
  readonly file: number;
  readonly env: Envelope;
  readonly manifest: Manifest;
}

export const seqPath = (sequence: number): string => `manifests[seq ${sequence}]`;

/** A parser's problems under `prefix` (its own root `$` dropped). */
function under(prefix: string, ps: readonly Problem[]): Problem[] {
  return ps.map((p) => problem(p.code, p.path === '$' || p.path === '' ? prefix : `${prefix}${p.path.startsWith('$') ? p.path.slice(1) : `.${p.path}`}`, p.message));
}

function digestsEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

/** A manifest file parsed, or its problems as reasons (a malformed or truncated file is invalid, not unreadable: CLI.md). */
function readCopy(bytes: Uint8Array, file: number, reasons: Problem[]): Copy | undefined {
  const prefix = `manifests[${file}]`;
  let env: Envelope;
  try {
    env = parseEnvelope(bytes);
  } catch (err) {
    if (!(err instanceof DocumentError)) throw err;
    reasons.push(...under(prefix, err.problems));
    return undefined;
  }
  if (env.payloadType !== PAYLOAD_TYPES.rotation) {
    reasons.push(problem('DOCUMENT_UNEXPECTED_TYPE', `${prefix}.payloadType`, `${JSON.stringify(env.payloadType.slice(0, 80))} is not ${PAYLOAD_TYPES.rotation}`));
    return undefined;
  }
  try {
    return { file, env, manifest: parseManifest(env.payload) };
  } catch (err) {
    if (!(err instanceof DocumentError)) throw err;
    reasons.push(...under(`${prefix}.payload`, err.problems));
    return undefined;
  }
}

/**
 * The custodian-set chain, verified from its root (§3.3–§3.4), and rule 3: the newest set is
 * unexpired at T (§3.5, read as T < expires, as verifyChain reads it).
 *
 * §8: "Validity depends on T only through §3.5", and §3.5 asks of the newest set only that it be
 * unexpired. So a T before the newest set's `issued` is no reason: it asks about history before
 * that set, whose later entries are then merely scheduled. verifyChain also refuses a newest set
 * not yet valid, so it is asked at max(T, issued of the newest set), which changes nothing else:
 * it reads no other time.
 */
function setChain(files: readonly Uint8Array[], o: HistoryOptions): { chain: TrustedChain | null; reasons: Problem[]; warnings: Problem[] } {
  const newestIssued = issuedOf(files.at(-1));
  const r = verifyChain(files, { at: Math.max(o.at, newestIssued ?? o.at), rootDigest: o.rootDigest }, 'in-force');
  const warnings = [...r.warnings];
  if (r.chain !== null && o.at < r.chain.newest.issued) {
    warnings.push(problem('STATE_BEFORE_NEWEST_SET', `custodians[${files.length - 1}]`,
      `${formatTime(o.at)} is before set version ${r.chain.newest.version} was issued (${formatTime(r.chain.newest.issued)}): the state is that of the history up to then`));
  }
  return { chain: r.chain, reasons: [...r.reasons], warnings };
}

/** The `issued` of a custodian-set file, or undefined when it does not parse (verifyChain reports why). */
function issuedOf(bytes: Uint8Array | undefined): number | undefined {
  if (bytes === undefined) return undefined;
  try {
    const env = parseEnvelope(bytes);
    return env.payloadType === PAYLOAD_TYPES.custodians ? parseCustodianSet(env.payload).issued : undefined;
  } catch (err) {
    if (err instanceof DocumentError) return undefined;
    throw err;
  }
}

/** The distinct manifests (by payload digest: "given twice count once", §8 Details), each with its copies. */
function distinct(copies: readonly Copy[], warnings: Problem[]): Map<string, Copy[]> {
  const byDigest = new Map<string, Copy[]>();
  for (const c of copies) {
    const same = byDigest.get(c.manifest.digest);
    if (same === undefined) byDigest.set(c.manifest.digest, [c]);
    else {
      warnings.push(problem('STATE_MANIFEST_DUPLICATE', `manifests[${c.file}]`, `holds the same manifest as manifests[${(same[0] as Copy).file}] (sequence ${c.manifest.sequence}, ${c.manifest.digest}): it counts once`));
      same.push(c);
    }
  }
  return byDigest;
}

/**
 * Rule 1: exactly one manifest per sequence number 1..n, each `previous` the digest of the one
 * before. Sequence numbers go up to 2^53, so gaps are found between the numbers present, never by
 * counting up to n. Returns the manifests in sequence order ([] when a number is forked), and
 * whether they are the whole sequence 1..n.
 */
function sequence(manifests: readonly Manifest[], reasons: Problem[]): { ordered: Manifest[]; whole: boolean } {
  if (manifests.length === 0) {
    reasons.push(problem('STATE_NO_MANIFESTS', 'manifests', 'no rotation manifest was given: the key state comes only from a chain of manifests'));
    return { ordered: [], whole: false };
  }
  const bySeq = new Map<number, Manifest[]>();
  for (const m of manifests) {
    const same = bySeq.get(m.sequence);
    if (same === undefined) bySeq.set(m.sequence, [m]);
    else same.push(m);
  }
  const numbers = [...bySeq.keys()].sort((a, b) => a - b);
  let forked = false;
  let missing = false;
  let before = 0;
  for (const n of numbers) {
    if (n !== before + 1) {
      missing = true;
      reasons.push(problem('STATE_SEQUENCE_GAP', seqPath(before + 1), n === before + 2 ? `no manifest has sequence ${before + 1}` : `no manifest has a sequence from ${before + 1} to ${n - 1}`));
    }
    const here = bySeq.get(n) as Manifest[];
    if (here.length > 1) {
      forked = true;
      reasons.push(problem('STATE_SEQUENCE_FORK', seqPath(n), `${here.length} different manifests have sequence ${n} (${here.map((m) => m.digest).sort().join(', ')}): the chain forks`));
    }
    before = n;
  }
  const ordered = numbers.map((n) => (bySeq.get(n) as Manifest[])[0] as Manifest);
  for (let i = 1; i < ordered.length; i++) {
    const [prev, m] = [ordered[i - 1] as Manifest, ordered[i] as Manifest];
    if (m.sequence !== prev.sequence + 1 || bySeq.get(prev.sequence)?.length !== 1 || bySeq.get(m.sequence)?.length !== 1) continue;
    if (m.previous === null || !digestsEqual(m.previous, prev.digest)) {
      reasons.push(problem('STATE_PREVIOUS_MISMATCH', `${seqPath(m.sequence)}.previous`, `is ${String(m.previous)}, not the digest of manifest ${prev.sequence} (${prev.digest})`));
    }
  }
  return { ordered: forked ? [] : ordered, whole: !forked && !missing };
}

/** Rule 2, along the sequence: `custodianSet` and `issued` never decrease. */
function neverDecrease(ordered: readonly Manifest[], reasons: Problem[]): void {
  for (let i = 1; i < ordered.length; i++) {
    const [prev, m] = [ordered[i - 1] as Manifest, ordered[i] as Manifest];
    if (m.custodianSet < prev.custodianSet) {
      reasons.push(problem('STATE_SET_DECREASES', `${seqPath(m.sequence)}.custodianSet`, `names set version ${m.custodianSet} after manifest ${prev.sequence} named version ${prev.custodianSet}`));
    }
    if (m.issued < prev.issued) {
      reasons.push(problem('STATE_ISSUED_DECREASES', `${seqPath(m.sequence)}.issued`, `${formatTime(m.issued)} is before manifest ${prev.sequence}'s issued, ${formatTime(prev.issued)}`));
    }
  }
}

/**
 * Rule 2, per manifest: the set it names, with validity periods at its own `issued` as §8 Details
 * define them: issued(v) ≤ issued(m) < expires(v), and issued(v+1) > issued(m) when v+1 exists
 * (custodians removed from the set cannot extend the history). Returns the set when it is in the
 * chain. §4's "issued ≤ time ≤ expires", at time issued(m), holds for every parsed manifest.
 */
function approvingSet(m: Manifest, chain: TrustedChain, reasons: Problem[]): CustodianSet | undefined {
  const path = seqPath(m.sequence);
  const set = chain.sets.find((s) => s.version === m.custodianSet);
  if (set === undefined) {
    reasons.push(problem('MANIFEST_SET_UNKNOWN', `${path}.custodianSet`, `names set version ${m.custodianSet}, which is not in the chain given (versions ${(chain.sets[0] as CustodianSet).version} to ${chain.newest.version})`));
    return undefined;
  }
  if (m.issued < set.issued) reasons.push(problem('STATE_SET_NOT_YET_VALID', `${path}.issued`, `${formatTime(m.issued)} is before set version ${set.version} was issued (${formatTime(set.issued)})`));
  if (m.issued >= set.expires) reasons.push(problem('STATE_SET_EXPIRED', `${path}.issued`, `${formatTime(m.issued)} is not before set version ${set.version} expired (${formatTime(set.expires)})`));
  const next = chain.sets.find((s) => s.version === set.version + 1);
  if (next !== undefined && !(next.issued > m.issued)) {
    reasons.push(problem('STATE_SET_REPLACED', `${path}.issued`, `${formatTime(m.issued)} is not before set version ${next.version} replaced version ${set.version} (${formatTime(next.issued)})`));
  }
  if (!set.custodians.some((c) => c.id === m.actor)) reasons.push(problem('MANIFEST_ACTOR_UNKNOWN', `${path}.actor`, `${m.actor} is not a custodian of set version ${set.version}`));
  return set;
}

/**
 * §6 counting of one file against the set: every file given must be approved on its own, copies of
 * one manifest included (an invalid document is never partially trusted, §7). Failed signatures
 * are reasons when the count falls short, warnings otherwise.
 */
function approved(c: Copy, set: CustodianSet, reasons: Problem[], warnings: Problem[]): void {
  const prefix = `manifests[${c.file}]`;
  const count = countSignatures(c.env, signedBytesOf(c.env), set);
  if (count.met) {
    warnings.push(...under(prefix, count.problems));
    return;
  }
  reasons.push(problem('THRESHOLD_NOT_MET', prefix, `rotation manifest ${c.manifest.sequence} is signed by ${count.signers.length}/${set.threshold} custodians of set version ${set.version}${count.signers.length > 0 ? ` (${count.signers.join(', ')})` : ''}`),
    ...under(prefix, count.problems));
}

/** FORMATS.md §8 rules 1–3 over the files given: the history in sequence order, with every reason and warning found. */
export function readHistory(chainFiles: readonly Uint8Array[], manifestFiles: readonly Uint8Array[], o: HistoryOptions): History {
  const sets = setChain(chainFiles, o);
  const reasons = [...sets.reasons];
  const warnings = [...sets.warnings];
  const copies = manifestFiles.map((bytes, i) => readCopy(bytes, i, reasons)).filter((c): c is Copy => c !== undefined);
  const byDigest = distinct(copies, warnings);
  const unique = [...byDigest.values()].map((cs) => (cs[0] as Copy).manifest);
  if (copies.length < manifestFiles.length && unique.length === 0) return { manifests: [], reasons, warnings };
  const { ordered, whole } = sequence(unique, reasons);
  neverDecrease(ordered, reasons);
  if (sets.chain !== null) {
    for (const cs of [...byDigest.values()].sort((a, b) => (a[0] as Copy).manifest.sequence - (b[0] as Copy).manifest.sequence)) {
      const set = approvingSet((cs[0] as Copy).manifest, sets.chain, reasons);
      if (set !== undefined) for (const c of cs) approved(c, set, reasons, warnings);
    }
  }
  return { manifests: whole ? ordered : [], reasons, warnings };
}
