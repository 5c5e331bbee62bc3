/**
 * `keyceremony audit verify`: the chain of every entry, then each checkpoint's signatures. The
 * result names the first bad entry's sequence: a changed entry at its own sequence, a removed or
 * reordered one where the sequence first breaks, an inserted one where it stands, and a log cut
 * short at the first sequence that is missing; entries that no checkpoint signs, from the first
 * of them.
 *
 * The log is read as bytes: invalid UTF-8 is refused at its entry (FORMATS.md §1), never decoded
 * to U+FFFD, which would let two different files hash alike. Each line is decoded on its own, and
 * only what a checkpoint kept apart needs is remembered per entry, so a large log never becomes one
 * string (V8 holds at most 2^29 - 24 characters in one: a 600 MB log used to end in "Cannot create
 * a string longer than …", a bug's exit 3) and verifying costs memory for one line at a time
 * besides the bytes. How large a log may be is MAX_LOG_BYTES (log.ts), checked where it is read.
 *
 * Checkpoints, in the log or kept elsewhere (`--checkpoint FILE`), are checked alike: against the
 * custodian set in force at the checkpoint's time, that is the newest set of the chain whose
 * `issued` is not after it. A checkpoint that names an older set is refused
 * (AUDIT_CHECKPOINT_SET_SUPERSEDED): custodians removed from the set cannot sign for the log once
 * their set is replaced. The checkpoint's time may not precede any entry it signs, nor fall
 * outside the validity of the set in force.
 *
 * What this cannot stop, as in TUF (a superseded root still verifies what it signed while it was
 * in force): a log written entirely before a set changed, and checkpointed then, can be forged by
 * the threshold of that old set (rewritten from the start, with its times and its checkpoint dated
 * before the change). The defence is the custodians', not the verifier's: keep each signed
 * checkpoint apart from the log (on the ceremony's media, and pass it with --checkpoint), and after
 * a set changes have the new set sign a checkpoint of the log as it stands.
 */
import { isUtf8 } from 'node:buffer';
import { formatProblem, problem } from '../docs/problems.js';
import { formatTime, parseTime } from '../docs/fields.js';
import { sanitizeText } from '../docs/sanitize.js';
import { parseEnvelope, signedBytesOf } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import type { Envelope } from '../dsse/envelope.js';
import type { CustodianSet } from '../custodians/set.js';
import type { TrustedChain } from '../verify/verify.js';
import { countSignatures } from '../verify/threshold.js';
import { CHECKPOINT_TYPE, parseCheckpoint } from './checkpoint.js';
import type { Checkpoint } from './checkpoint.js';
import { GENESIS, isLineProblem, MAX_LINE_BYTES, parseLine } from './log.js';
import type { AuditEntry } from './log.js';

/** `seq` 0: the problem is in a checkpoint file given apart from the log, not in an entry. */
export interface AuditProblem { readonly seq: number; readonly code: string; readonly message: string }

/**
 * - `empty`: no entry at all (a 0-byte file): never valid, not even the entry that creates the log;
 * - `broken`: an entry or a checkpoint is bad (see problems);
 * - `no-checkpoint`: the chain of entries holds, and no checkpoint signs any of it;
 * - `unsigned-tail`: checkpoints sign the log up to a point, and entries follow the last one;
 * - `checkpointed`: the log ends with a checkpoint.
 */
export type AuditState = 'empty' | 'broken' | 'no-checkpoint' | 'unsigned-tail' | 'checkpointed';

export interface AuditResult {
  readonly valid: boolean;
  readonly state: AuditState;
  readonly entries: number;
  readonly log: string | null;
  readonly head: string;
  /** The first bad entry's sequence, or null when valid (0: a checkpoint file given apart). */
  readonly firstBad: number | null;
  /** The first entry no checkpoint signs (`no-checkpoint`: 1), or null. */
  readonly firstUnsigned: number | null;
  readonly problems: readonly AuditProblem[];
  readonly checkpoints: readonly { readonly seq: number; readonly covers: number; readonly signers: readonly string[]; readonly verified: boolean }[];
  /** The checkpoint files given apart, in order, as far as they were checked. */
  readonly externals: readonly { readonly covers: number; readonly signers: readonly string[]; readonly verified: boolean }[];
  /** Entries after the last checkpoint (a ceremony that has not finished, or a log cut short). */
  readonly unsignedTail: number;
  /** `CODE: sentence`, as `verify` prints them: what was not checked, what is not signed. */
  readonly warnings: readonly string[];
}

export interface AuditVerifyOptions {
  /** With a chain, each checkpoint must be signed by the threshold of the set in force at its time. */
  readonly chain?: TrustedChain | null;
  /** Checkpoint envelopes kept elsewhere: the log must still contain what each one signed, and each is checked like a checkpoint in the log. */
  readonly external?: readonly Uint8Array[];
  /** A log whose last entry is not a checkpoint is refused (true after a ceremony ends). */
  readonly requireCheckpointAtEnd?: boolean;
}

/** Split on \n; a last line without \n is a torn write (a crash while appending). For text already in memory (the ceremony journal); the log itself is walked line by line. */
export function splitLines(text: string): { lines: string[]; torn: boolean } {
  if (text.length === 0) return { lines: [], torn: false };
  const lines = text.split('\n');
  const last = lines.pop() as string;
  return { lines, torn: last.length > 0 };
}

/** The index of the first line (split on the byte 0x0a, which no multi-byte sequence holds) that is not UTF-8. */
function firstNonUtf8Line(buf: Buffer): number {
  let start = 0;
  for (let i = 0; ; i++) {
    const end = buf.indexOf(0x0a, start);
    if (!isUtf8(buf.subarray(start, end < 0 ? buf.length : end))) return i;
    if (end < 0) return i + 1;
    start = end + 1;
  }
}

const bad = (seq: number, code: string, message: string): AuditProblem => ({ seq, code, message: sanitizeText(message) });

function warning(code: string, message: string): string {
  return formatProblem(problem(code, '$', message));
}

/** The chain of entries as far as it holds: what was read, and the first problem (then it stopped). */
interface Walk {
  problem: AuditProblem | null;
  log: string | null;
  prev: string;
  n: number;
  lastCheckpoint: number;
  /** The latest time of the entries read so far (entry times have one fixed form, so they compare as text). */
  latest: string;
  /** The entries whose hash and latest time a checkpoint kept apart needs, by sequence; filled in as they are read. */
  readonly kept: Map<number, { hash: string; latest: string } | null>;
  readonly checkpoints: { seq: number; covers: number; signers: string[]; verified: boolean }[];
}

/** Why entry `expected` (already parsed) does not continue the chain, or null. */
function linkProblem(e: AuditEntry, expected: number, prev: string): AuditProblem | null {
  if (e.seq !== expected) {
    // a repeated sequence (an inserted copy) is reported at that sequence; a gap or a later entry where this one should be, at the one missing
    return bad(Math.min(expected, e.seq), 'AUDIT_SEQUENCE_BROKEN', e.seq < expected
      ? `entry ${e.seq} appears again on line ${expected}: an entry was inserted or repeated`
      : `entry ${expected} is missing or out of order: line ${expected} holds entry ${e.seq}`);
  }
  if (e.prev !== prev) return bad(expected, 'AUDIT_PREVIOUS_MISMATCH', `entry ${expected} does not follow entry ${expected - 1} (its previous hash differs): an entry was inserted, removed or changed`);
  if (expected === 1 && (e.action !== 'log.create' || typeof e.details.log !== 'string' || !/^[0-9a-f]{32}$/.test(e.details.log))) {
    return bad(1, 'AUDIT_NO_HEADER', 'the first entry does not create the log (action log.create with its id)');
  }
  return null;
}

/** Reads line i as entry i + 1 onto the walk; false when it is bad (w.problem says why). */
function step(w: Walk, line: string, i: number, notUtf8: boolean, chain: TrustedChain | null): boolean {
  const expected = i + 1;
  if (notUtf8) {
    w.problem = bad(expected, 'AUDIT_NOT_UTF8', `entry ${expected} is not valid UTF-8: its bytes were changed (a decoder would have shown them as U+FFFD)`);
    return false;
  }
  const e = parseLine(line);
  w.problem = isLineProblem(e) ? bad(expected, e.code, e.message) : linkProblem(e, expected, w.prev);
  if (w.problem !== null || isLineProblem(e)) return false;
  if (expected === 1) w.log = e.details.log as string;
  if (e.action === 'checkpoint') {
    const p = checkInLog(e.seq, e.details.envelope, w.log as string, w.prev, w.latest, chain);
    w.checkpoints.push({ seq: e.seq, covers: e.seq - 1, signers: p.signers, verified: p.problem === null && chain !== null });
    if (p.problem !== null) {
      w.problem = bad(e.seq, p.problem.code, p.problem.message);
      return false;
    }
    w.lastCheckpoint = e.seq;
  }
  if (e.time > w.latest) w.latest = e.time;
  if (w.kept.has(expected)) w.kept.set(expected, { hash: e.hash, latest: w.latest });
  w.prev = e.hash;
  w.n = expected;
  return true;
}

/** A line that cannot be within MAX_LINE_BYTES characters (a UTF-16 unit takes at most 3 bytes of UTF-8) is refused before it is decoded. */
const MAX_LINE_UTF8 = 3 * MAX_LINE_BYTES;

/**
 * Every entry in order until the first bad one; then a torn last line, or no entry at all. Lines
 * are found by the byte 0x0a (no multi-byte sequence holds it) and decoded one at a time: once the
 * bytes are known to be UTF-8 (or the walk stops at the line that is not), decoding loses nothing.
 * `keep`: the sequences whose hash and latest time are to be remembered.
 */
function walk(bytes: Uint8Array, chain: TrustedChain | null, keep: readonly number[]): Walk {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const badUtf8 = isUtf8(buf) ? -1 : firstNonUtf8Line(buf);
  const w: Walk = { problem: null, log: null, prev: GENESIS, n: 0, lastCheckpoint: 0, latest: '', kept: new Map(keep.map((k) => [k, null])), checkpoints: [] };
  let start = 0;
  for (let i = 0; ; i++) {
    const end = buf.indexOf(0x0a, start);
    if (end < 0) break;
    if (end - start > MAX_LINE_UTF8 && i !== badUtf8) {
      w.problem = bad(i + 1, 'AUDIT_LINE_MALFORMED', `longer than ${MAX_LINE_BYTES} characters`);
      return w;
    }
    if (!step(w, buf.toString('utf8', start, end), i, i === badUtf8, chain)) return w;
    start = end + 1;
  }
  if (start < buf.length) w.problem = bad(w.n + 1, 'AUDIT_TORN_ENTRY', `the log ends inside entry ${w.n + 1} (a write that did not finish)`);
  else if (w.n === 0) w.problem = bad(1, 'AUDIT_EMPTY', 'the log is empty: it has no entry, not even the one that creates it (an empty file proves nothing)');
  return w;
}

/** What a whole, unbroken log is by its checkpoints; an unsigned part is a problem when one is required, else a warning. */
function tail(w: Walk, required: boolean, problems: AuditProblem[], warnings: string[]): { state: AuditState; firstUnsigned: number | null } {
  const { n, lastCheckpoint } = w;
  if (lastCheckpoint === n) return { state: 'checkpointed', firstUnsigned: null };
  const first = lastCheckpoint + 1;
  const [code, what] = lastCheckpoint === 0
    ? ['AUDIT_NO_CHECKPOINT', `no checkpoint signs this log: none of its ${n} entries is signed by the custodians`]
    : ['AUDIT_UNCHECKPOINTED_TAIL', `entr${n === first ? `y ${n} follows` : `ies ${first} to ${n} follow`} the last checkpoint (entry ${lastCheckpoint}) and no checkpoint signs ${n === first ? 'it' : 'them'}: entries after ${first - 1} were appended, or the log was cut short, or its ceremony did not finish`];
  if (required) problems.push(bad(first, code, what));
  else warnings.push(warning(code, what));
  return { state: lastCheckpoint === 0 ? 'no-checkpoint' : 'unsigned-tail', firstUnsigned: first };
}

export function verifyAuditLog(bytes: Uint8Array, opts: AuditVerifyOptions = {}): AuditResult {
  const chain = opts.chain ?? null;
  // each checkpoint kept apart is read twice, before the walk for the entry it signs and after it to be checked in order
  const w = walk(bytes, chain, (opts.external ?? []).map(signedSeq).filter((s): s is number => s !== null));
  const problems: AuditProblem[] = w.problem === null ? [] : [w.problem];
  const externals: { covers: number; signers: string[]; verified: boolean }[] = [];
  if (problems.length === 0) {
    for (const ext of opts.external ?? []) {
      const r = checkExternal(ext, w, chain);
      if (r.checked !== null) externals.push(r.checked);
      if (r.problem !== null) { problems.push(r.problem); break; }
    }
  }
  const warnings: string[] = [];
  if (chain === null) {
    warnings.push(warning('AUDIT_SIGNATURES_UNCHECKED', 'no custodian-set chain was given, so no checkpoint signature was checked: anyone could have written this log; pass --custodians with the chain from the trusted root'));
  }
  const { state, firstUnsigned } = problems.length > 0
    ? { state: problems[0]?.code === 'AUDIT_EMPTY' ? 'empty' as const : 'broken' as const, firstUnsigned: null }
    : tail(w, opts.requireCheckpointAtEnd === true, problems, warnings);
  const firstBad = problems.length === 0 ? null : Math.min(...problems.map((p) => p.seq));
  return { valid: problems.length === 0, state, entries: w.n, log: w.log, head: w.prev, firstBad, firstUnsigned, problems, checkpoints: w.checkpoints, externals, unsignedTail: w.n - w.lastCheckpoint, warnings };
}

interface Checked { problem: { code: string; message: string } | null; signers: string[] }

const failed = (code: string, message: string): Checked => ({ problem: { code, message }, signers: [] });

/** The newest set of the chain whose `issued` is not after `time`, or undefined before the root. */
export function setInForce(chain: TrustedChain, time: number): CustodianSet | undefined {
  let found: CustodianSet | undefined;
  for (const s of chain.sets) if (s.issued <= time && (found === undefined || s.version > found.version)) found = s;
  return found;
}

/**
 * One checkpoint, in the log or apart from it, after its log, sequence and head were matched:
 * its time against the entries it signs and against the chain, then its signatures against the
 * set in force at that time. `what` names it in messages; `latest` is the latest entry time it covers.
 */
function checkSigned(env: Envelope, c: Checkpoint, latest: string, chain: TrustedChain | null, what: string): Checked {
  const latestTime = parseTime(latest);
  if (latestTime !== null && c.time < latestTime) {
    return failed('AUDIT_CHECKPOINT_TIME_INVALID', `${what} is dated ${formatTime(c.time)}, before ${latest}, the time of an entry it signs: it was dated back`);
  }
  if (chain === null) return { problem: null, signers: [] };
  const inForce = setInForce(chain, c.time);
  const root = chain.sets[0] as CustodianSet;
  if (inForce === undefined) {
    return failed('AUDIT_CHECKPOINT_TIME_INVALID', `${what} is dated ${formatTime(c.time)}, before set version ${root.version} was issued (${formatTime(root.issued)})`);
  }
  if (c.custodianSet < inForce.version) {
    return failed('AUDIT_CHECKPOINT_SET_SUPERSEDED', `${what} names custodian set version ${c.custodianSet}, but at its time (${formatTime(c.time)}) set version ${inForce.version} was in force (issued ${formatTime(inForce.issued)}): a superseded set does not sign for the log`);
  }
  if (c.custodianSet > inForce.version) {
    if (!chain.sets.some((s) => s.version === c.custodianSet)) {
      return failed('AUDIT_CHECKPOINT_SET_UNKNOWN', `${what} names custodian set version ${c.custodianSet}, which the chain given does not hold (it ends at version ${chain.newest.version})`);
    }
    return failed('AUDIT_CHECKPOINT_TIME_INVALID', `${what} names custodian set version ${c.custodianSet} but is dated ${formatTime(c.time)}, before that set was issued`);
  }
  if (c.time >= inForce.expires) {
    return failed('AUDIT_CHECKPOINT_SET_EXPIRED', `${what} is dated ${formatTime(c.time)}, after set version ${inForce.version} expired (${formatTime(inForce.expires)})`);
  }
  const count = countSignatures(env, signedBytesOf(env), inForce);
  if (!count.met) {
    return { problem: { code: 'AUDIT_CHECKPOINT_UNSIGNED', message: `${what} is signed by ${count.signers.length} of the ${inForce.threshold} custodians set version ${inForce.version} requires${count.problems.length > 0 ? ` (${count.problems.map(formatProblem).join('; ')})` : ''}` }, signers: [...count.signers] };
  }
  return { problem: null, signers: [...count.signers] };
}

/** Why a checkpoint could not be read, with the reader's code when it has one (DOCUMENT_TOO_LARGE, DOCUMENT_BAD_NUMBER, …). */
function unreadable(err: unknown): string {
  if (err instanceof KeyceremonyError) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(err);
}

function readCheckpoint(bytes: Uint8Array): { env: Envelope; c: Checkpoint } {
  const env = parseEnvelope(bytes);
  if (env.payloadType !== CHECKPOINT_TYPE) throw new Error(`it is a ${env.payloadType.slice(0, 60)}, not an audit checkpoint`);
  return { env, c: parseCheckpoint(env.payload) };
}

function checkInLog(seq: number, text: unknown, log: string, prev: string, latest: string, chain: TrustedChain | null): Checked {
  if (typeof text !== 'string') return failed('AUDIT_CHECKPOINT_INVALID', `checkpoint ${seq} holds no envelope`);
  let read;
  try {
    read = readCheckpoint(new TextEncoder().encode(text));
  } catch (err) {
    return failed('AUDIT_CHECKPOINT_INVALID', `checkpoint ${seq} cannot be read: ${unreadable(err)}`);
  }
  const { env, c } = read;
  if (c.log !== log || c.seq !== seq - 1 || c.head !== prev) {
    return failed('AUDIT_CHECKPOINT_MISMATCH', `checkpoint ${seq} signs entry ${c.seq} of log ${c.log.slice(0, 8)}…, not entry ${seq - 1} of this log as it now is: entries before it were changed`);
  }
  return checkSigned(env, c, latest, chain, `checkpoint ${seq}`);
}

/** The entry a checkpoint file signs, or null when it cannot be read (checkExternal then says why). */
function signedSeq(bytes: Uint8Array): number | null {
  try {
    return readCheckpoint(bytes).c.seq;
  } catch {
    return null;
  }
}

/** A checkpoint file given apart, against the walk of a whole log (whose `kept` holds the entry it signs). */
function checkExternal(bytes: Uint8Array, w: Walk, chain: TrustedChain | null): { problem: AuditProblem | null; checked: { covers: number; signers: string[]; verified: boolean } | null } {
  let read;
  try {
    read = readCheckpoint(bytes);
  } catch (err) {
    return { problem: bad(0, 'AUDIT_CHECKPOINT_INVALID', `the checkpoint file cannot be read: ${unreadable(err)}`), checked: null };
  }
  const { env, c } = read;
  if (c.log !== w.log) return { problem: bad(1, 'AUDIT_CHECKPOINT_MISMATCH', `the checkpoint file is for log ${c.log.slice(0, 8)}…, not this one`), checked: null };
  if (c.seq > w.n) return { problem: bad(w.n + 1, 'AUDIT_TRUNCATED', `the checkpoint file signs entry ${c.seq}, but the log ends at entry ${w.n}: it was cut short`), checked: null };
  const entry = w.kept.get(c.seq); // set for every sequence 1..n a readable file names, since the walk read them all
  if (entry === undefined || entry === null || entry.hash !== c.head) return { problem: bad(c.seq, 'AUDIT_CHECKPOINT_MISMATCH', `entry ${c.seq} is not the one the checkpoint file signed`), checked: null };
  // exactly as a checkpoint in the log: a file that anyone could write proves nothing unsigned
  const r = checkSigned(env, c, entry.latest, chain, `the checkpoint file (of entry ${c.seq})`);
  const checked = { covers: c.seq, signers: r.signers, verified: r.problem === null && chain !== null };
  return { problem: r.problem === null ? null : bad(0, r.problem.code, r.problem.message), checked };
}
