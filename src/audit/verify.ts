/**
 * `keyceremony audit verify`: the chain of every entry, then each checkpoint's signatures. The
 * result names the first bad entry's sequence: a changed entry at its own sequence, a removed or
 * reordered one where the sequence first breaks, an inserted one where it stands, and a log cut
 * short at the first sequence that is missing.
 */
import { formatProblem } from '../docs/problems.js';
import { parseEnvelope, signedBytesOf } from '../dsse/envelope.js';
import type { CustodianSet } from '../custodians/set.js';
import type { TrustedChain } from '../verify/verify.js';
import { countSignatures } from '../verify/threshold.js';
import { CHECKPOINT_TYPE, parseCheckpoint } from './checkpoint.js';
import { GENESIS, isLineProblem, parseLine } from './log.js';
import type { AuditEntry } from './log.js';

export interface AuditProblem { readonly seq: number; readonly code: string; readonly message: string }

export interface AuditResult {
  readonly valid: boolean;
  readonly entries: number;
  readonly log: string | null;
  readonly head: string;
  /** The first bad entry's sequence, or null when valid. */
  readonly firstBad: number | null;
  readonly problems: readonly AuditProblem[];
  readonly checkpoints: readonly { readonly seq: number; readonly covers: number; readonly signers: readonly string[]; readonly verified: boolean }[];
  /** Entries after the last checkpoint (a ceremony that has not finished, or a log cut short). */
  readonly unsignedTail: number;
}

export interface AuditVerifyOptions {
  /** With a chain, each checkpoint must be signed by the threshold of the set it names. */
  readonly chain?: TrustedChain | null;
  /** Checkpoint envelopes kept elsewhere: the log must still contain what each one signed. */
  readonly external?: readonly Uint8Array[];
  /** A log whose last entry is not a checkpoint is refused (true after a ceremony ends). */
  readonly requireCheckpointAtEnd?: boolean;
}

function setNamed(chain: TrustedChain, version: number): CustodianSet | undefined {
  return chain.sets.find((s) => s.version === version);
}

/** Split on \n; a last line without \n is a torn write (a crash while appending). */
export function splitLines(text: string): { lines: string[]; torn: boolean } {
  if (text.length === 0) return { lines: [], torn: false };
  const lines = text.split('\n');
  const last = lines.pop() as string;
  return { lines, torn: last.length > 0 };
}

export function verifyAuditLog(bytes: Uint8Array, opts: AuditVerifyOptions = {}): AuditResult {
  const problems: AuditProblem[] = [];
  const checkpoints: { seq: number; covers: number; signers: string[]; verified: boolean }[] = [];
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
  const { lines, torn } = splitLines(text);
  let prev = GENESIS;
  let log: string | null = null;
  let lastCheckpoint = 0;
  const hashes: string[] = [];
  let n = 0;
  for (let i = 0; i < lines.length; i++) {
    const expected = i + 1;
    const e = parseLine(lines[i] as string);
    if (isLineProblem(e)) {
      problems.push({ seq: expected, ...e });
      break;
    }
    if (e.seq !== expected) {
      // a repeated sequence (an inserted copy) is reported at that sequence; a gap or a later entry where this one should be, at the one missing
      problems.push({ seq: Math.min(expected, e.seq), code: 'AUDIT_SEQUENCE_BROKEN', message: e.seq < expected
        ? `entry ${e.seq} appears again on line ${expected}: an entry was inserted or repeated`
        : `entry ${expected} is missing or out of order: line ${expected} holds entry ${e.seq}` });
      break;
    }
    if (e.prev !== prev) {
      problems.push({ seq: expected, code: 'AUDIT_PREVIOUS_MISMATCH', message: `entry ${expected} does not follow entry ${expected - 1} (its previous hash differs): an entry was inserted, removed or changed` });
      break;
    }
    if (expected === 1) {
      if (e.action !== 'log.create' || typeof e.details.log !== 'string' || !/^[0-9a-f]{32}$/.test(e.details.log)) {
        problems.push({ seq: 1, code: 'AUDIT_NO_HEADER', message: 'the first entry does not create the log (action log.create with its id)' });
        break;
      }
      log = e.details.log;
    }
    if (e.action === 'checkpoint') {
      const p = checkCheckpoint(e, log as string, prev, opts.chain ?? null);
      checkpoints.push({ seq: e.seq, covers: e.seq - 1, signers: p.signers, verified: p.problem === null && opts.chain !== undefined && opts.chain !== null });
      if (p.problem !== null) {
        problems.push({ seq: e.seq, code: p.problem.code, message: p.problem.message });
        break;
      }
      lastCheckpoint = e.seq;
    }
    hashes.push(e.hash);
    prev = e.hash;
    n = expected;
  }
  if (problems.length === 0 && torn) {
    problems.push({ seq: n + 1, code: 'AUDIT_TORN_ENTRY', message: `the log ends inside entry ${n + 1} (a write that did not finish)` });
  }
  if (problems.length === 0) {
    for (const ext of opts.external ?? []) {
      const p = checkExternal(ext, log, hashes);
      if (p !== null) { problems.push(p); break; }
    }
  }
  if (problems.length === 0 && opts.requireCheckpointAtEnd === true && lastCheckpoint !== n) {
    problems.push({ seq: n + 1, code: 'AUDIT_UNCHECKPOINTED_TAIL', message: lastCheckpoint === 0
      ? `no checkpoint signs this log; it ends at entry ${n}`
      : `entries ${lastCheckpoint + 1} to ${n} follow the last checkpoint (entry ${lastCheckpoint}) and no checkpoint signs them: the log was cut short at ${n + 1}, or its ceremony did not finish` });
  }
  const firstBad = problems.length === 0 ? null : Math.min(...problems.map((p) => p.seq));
  return { valid: problems.length === 0, entries: n, log, head: prev, firstBad, problems, checkpoints, unsignedTail: n - lastCheckpoint };
}

function checkCheckpoint(e: AuditEntry, log: string, prev: string, chain: TrustedChain | null): { problem: { code: string; message: string } | null; signers: string[] } {
  const text = e.details.envelope;
  if (typeof text !== 'string') return { problem: { code: 'AUDIT_CHECKPOINT_INVALID', message: `checkpoint ${e.seq} holds no envelope` }, signers: [] };
  try {
    const env = parseEnvelope(new TextEncoder().encode(text));
    if (env.payloadType !== CHECKPOINT_TYPE) return { problem: { code: 'AUDIT_CHECKPOINT_INVALID', message: `checkpoint ${e.seq} is a ${env.payloadType.slice(0, 60)}` }, signers: [] };
    const c = parseCheckpoint(env.payload);
    if (c.log !== log || c.seq !== e.seq - 1 || c.head !== prev) {
      return { problem: { code: 'AUDIT_CHECKPOINT_MISMATCH', message: `checkpoint ${e.seq} signs entry ${c.seq} of log ${c.log.slice(0, 8)}…, not entry ${e.seq - 1} of this log as it now is: entries before it were changed` }, signers: [] };
    }
    if (chain === null) return { problem: null, signers: [] };
    const set = setNamed(chain, c.custodianSet);
    if (set === undefined) return { problem: { code: 'AUDIT_CHECKPOINT_SET_UNKNOWN', message: `checkpoint ${e.seq} names custodian set version ${c.custodianSet}, which the chain given does not hold` }, signers: [] };
    const count = countSignatures(env, signedBytesOf(env), set);
    if (!count.met) {
      return { problem: { code: 'AUDIT_CHECKPOINT_UNSIGNED', message: `checkpoint ${e.seq} is signed by ${count.signers.length} of the ${set.threshold} custodians set version ${set.version} requires${count.problems.length > 0 ? ` (${count.problems.map(formatProblem).join('; ')})` : ''}` }, signers: [...count.signers] };
    }
    return { problem: null, signers: [...count.signers] };
  } catch (err) {
    return { problem: { code: 'AUDIT_CHECKPOINT_INVALID', message: `checkpoint ${e.seq} cannot be read: ${err instanceof Error ? err.message : String(err)}` }, signers: [] };
  }
}

function checkExternal(bytes: Uint8Array, log: string | null, hashes: readonly string[]): AuditProblem | null {
  let c;
  try {
    const env = parseEnvelope(bytes);
    if (env.payloadType !== CHECKPOINT_TYPE) throw new Error('not a checkpoint');
    c = parseCheckpoint(env.payload);
  } catch (err) {
    return { seq: 0, code: 'AUDIT_CHECKPOINT_INVALID', message: `the checkpoint file cannot be read: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (c.log !== log) return { seq: 1, code: 'AUDIT_CHECKPOINT_MISMATCH', message: `the checkpoint file is for log ${c.log.slice(0, 8)}…, not this one` };
  if (c.seq > hashes.length) return { seq: hashes.length + 1, code: 'AUDIT_TRUNCATED', message: `the checkpoint file signs entry ${c.seq}, but the log ends at entry ${hashes.length}: it was cut short` };
  if (hashes[c.seq - 1] !== c.head) return { seq: c.seq, code: 'AUDIT_CHECKPOINT_MISMATCH', message: `entry ${c.seq} is not the one the checkpoint file signed` };
  return null;
}
