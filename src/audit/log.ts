/**
 * The tamper-evident audit log (issue 7): append-only JSON lines, each entry naming its sequence,
 * UTC time, initiating actor, action, the key ids it touched, details (never a secret) and the
 * hash of the entry before it; each entry's own hash is
 *
 *     SHA-256("keyceremony/audit-entry@1" ‖ 0x00 ‖ body)
 *
 * where body is the entry's canonical JSON without `hash` (members in a fixed order, details
 * sorted, no whitespace), so the same entry has exactly one spelling. A ceremony ends with a
 * checkpoint entry carrying a DSSE envelope in which the administrator and custodians sign the
 * log's id, the sequence and hash of the entry before it, and their custodian set's version.
 * The chain shows any modified, removed, reordered or inserted entry at its sequence; the
 * signed checkpoints show a log rewritten from the start, or cut short.
 */
import { hash } from 'node:crypto';
import { KeyceremonyError } from '../errors.js';
import { parseTime } from '../docs/fields.js';
import { CUSTODIAN_ID } from '../custodians/set.js';

export const ENTRY_SPEC = 'keyceremony/audit-entry@1';
export const GENESIS = `sha256:${'0'.repeat(64)}`;
export const MAX_LINE_BYTES = 64 * 1024;
/**
 * The largest audit log that is read: 64 MiB, the limit the app's audit.verify request already has
 * (src/api/schema.ts), so a log one verifies the other does too. A ceremony writes a few hundred
 * entries of a few hundred bytes; the bench's 100,000 entries take 33 MB. It is far below V8's
 * longest string (2^29 - 24 UTF-16 units; UTF-8 never decodes to more units than it has bytes),
 * though the verifier decodes one line at a time anyway, and it bounds the memory a read takes.
 */
export const MAX_LOG_BYTES = 64 * 1024 * 1024;

/** A log larger than MAX_LOG_BYTES is refused by its size before it is read (no log the tool writes comes near it): AUDIT_LOG_TOO_LARGE, exit 1. */
export function logTooLarge(path: string, size: string): KeyceremonyError {
  return new KeyceremonyError('AUDIT_LOG_TOO_LARGE', `the audit log ${path} has ${size}, over the limit of ${MAX_LOG_BYTES} bytes (${MAX_LOG_BYTES / (1024 * 1024)} MiB)`,
    'check that it is the audit.jsonl of a ceremony: no log the tool writes comes near that size');
}

export type DetailValue = string | number | boolean | null | readonly string[];

export interface AuditEntry {
  readonly seq: number;
  readonly time: string;
  readonly actor: string;
  readonly action: string;
  readonly keys: readonly string[];
  readonly details: Readonly<Record<string, DetailValue>>;
  readonly prev: string;
  readonly hash: string;
}

export type EntryDraft = Omit<AuditEntry, 'hash' | 'prev' | 'seq' | 'time'> & { readonly time?: string };

const ACTION = /^[a-z][a-z0-9-]*(?:\.[a-z][a-z0-9-]*)*$/;
const DETAIL_NAME = /^[a-z][A-Za-z0-9]{0,31}$/;
const KEY_REF = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/;
/** Detail names that would carry a secret: refused when writing, whatever the value. */
const SECRET_NAME = /pin|passphrase|password|secret|seed|private|plaintext|^share$|^shares$|keyMaterial/i;
const ACTORS = /^(?:[a-z0-9][a-z0-9._-]{0,63})$/;

/**
 * The form of a hash (sha256: and 71 characters). Its digits need no check of their own: `prev`
 * must equal the hash computed for the entry before, and `hash` the one computed for this entry.
 */
function isHash(h: string): boolean {
  return h.length === 71 && h.startsWith('sha256:');
}

/** The canonical body: fixed member order, details sorted by name, no whitespace. */
export function entryBody(e: Omit<AuditEntry, 'hash'>): string {
  const names = Object.keys(e.details);
  let sorted = true;
  for (let i = 1; i < names.length && sorted; i++) sorted = (names[i - 1] as string) < (names[i] as string);
  let details = e.details;
  if (!sorted) {
    const d: Record<string, DetailValue> = {};
    for (const k of names.sort()) d[k] = e.details[k] as DetailValue;
    details = d;
  }
  return JSON.stringify({ seq: e.seq, time: e.time, actor: e.actor, action: e.action, keys: e.keys, details, prev: e.prev });
}

const DOMAIN_TEXT = `${ENTRY_SPEC}\0`;

/** One-shot crypto.hash (Node ≥ 20.12, and Electron's Node): a fraction of createHash's cost per short line. */
export function entryHash(body: string): string {
  return `sha256:${hash('sha256', DOMAIN_TEXT + body, 'hex')}`;
}

/** The line as written: the body with the hash as its last member. */
export function formatEntry(e: Omit<AuditEntry, 'hash'>): { line: string; hash: string } {
  const body = entryBody(e);
  const hash = entryHash(body);
  return { line: `${body.slice(0, -1)},"hash":"${hash}"}`, hash };
}

/** Names already checked (actors, actions and detail names repeat across a log): pure checks, remembered. */
const goodNames = { a: new Set<string>(), c: new Set<string>(), d: new Set<string>() };
function nameOk(kind: keyof typeof goodNames, v: string, test: (v: string) => boolean): boolean {
  const seen = goodNames[kind];
  if (seen.has(v)) return true;
  if (!test(v)) return false;
  if (seen.size > 10_000) seen.clear();
  seen.add(v);
  return true;
}

/** Why a draft may not be written, or null. Secrets never reach the log. */
export function draftProblem(d: EntryDraft): string | null {
  if (!nameOk('a', d.actor, (v) => ACTORS.test(v) || CUSTODIAN_ID.test(v))) return `actor ${JSON.stringify(d.actor.slice(0, 40))} is not an id`;
  if (!nameOk('c', d.action, (v) => ACTION.test(v) && v.length <= 64)) return `action ${JSON.stringify(d.action.slice(0, 40))} is not a dotted name`;
  if (d.keys.length > 256 || !d.keys.every((k) => typeof k === 'string' && KEY_REF.test(k))) return 'keys must be up to 256 key ids';
  for (const k in d.details) {
    if (!nameOk('d', k, (v) => DETAIL_NAME.test(v) && !SECRET_NAME.test(v))) {
      return SECRET_NAME.test(k) ? `detail ${k} would put a secret in the audit log` : `detail name ${JSON.stringify(k.slice(0, 40))} is not a camelCase word`;
    }
    if (!detailValueOk(d.details[k])) return `detail ${k} must be a short string, a whole number, true/false, null or a list of strings`;
  }
  return null;
}

function detailValueOk(v: unknown): boolean {
  if (v === null || typeof v === 'boolean') return true;
  if (typeof v === 'number') return Number.isSafeInteger(v);
  if (typeof v === 'string') return v.length <= 32 * 1024;
  return Array.isArray(v) && v.length <= 256 && v.every((x) => typeof x === 'string' && x.length <= 1024);
}

export interface LineProblem { readonly code: string; readonly message: string }

/** One line parsed and checked on its own: canonical spelling, fields, its own hash. */
export function parseLine(line: string): AuditEntry | LineProblem {
  if (line.length > MAX_LINE_BYTES) return { code: 'AUDIT_LINE_MALFORMED', message: `longer than ${MAX_LINE_BYTES} characters` };
  const at = line.length - 82; // ,"hash":"sha256:<64>"}
  if (at < 2 || !line.startsWith(',"hash":"sha256:', at) || !line.endsWith('"}')) return { code: 'AUDIT_LINE_MALFORMED', message: 'does not end with its hash' };
  const hash = line.slice(at + 9, line.length - 2);
  const body = `${line.slice(0, at)}}`;
  let o: unknown;
  try {
    o = JSON.parse(body);
  } catch {
    return { code: 'AUDIT_LINE_MALFORMED', message: 'not JSON' };
  }
  if (o === null || typeof o !== 'object' || Array.isArray(o)) return { code: 'AUDIT_LINE_MALFORMED', message: 'not an object' };
  const e = o as Record<string, unknown>;
  if (!Number.isSafeInteger(e.seq) || (e.seq as number) < 1 || typeof e.time !== 'string' || parseTime(e.time) === null || typeof e.actor !== 'string' || typeof e.action !== 'string'
    || !Array.isArray(e.keys) || e.details === null || typeof e.details !== 'object' || Array.isArray(e.details) || typeof e.prev !== 'string' || !isHash(e.prev)) {
    return { code: 'AUDIT_LINE_MALFORMED', message: 'a member is missing or of the wrong type' };
  }
  const entry = { seq: e.seq as number, time: e.time, actor: e.actor, action: e.action, keys: e.keys as string[], details: e.details as Record<string, DetailValue>, prev: e.prev, hash };
  const why = draftProblem(entry);
  if (why !== null) return { code: 'AUDIT_LINE_MALFORMED', message: why };
  // one spelling only: unknown or duplicate members, other orders or whitespace all differ here
  if (entryBody(entry) !== body) return { code: 'AUDIT_NOT_CANONICAL', message: 'not in the one canonical form (unknown, duplicate or reordered members, or whitespace)' };
  if (entryHash(body) !== hash) return { code: 'AUDIT_HASH_MISMATCH', message: 'the entry does not match its hash: it was changed' };
  return entry;
}

export function isLineProblem(x: AuditEntry | LineProblem): x is LineProblem {
  return (x as LineProblem).code !== undefined;
}
