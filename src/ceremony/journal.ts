/**
 * The ceremony's journal (issue 13): its audit log, made authentic for resuming. A hash chain
 * alone can be forged by anyone who can write the folder, so each entry of a run also carries
 * `mac`: HMAC-SHA256, computed in the journal token by a key generated there when the run began
 * (sensitive, never extractable), over
 *
 *     "keyceremony/journal-mac@1" ‖ 0x00 ‖ the entry's canonical body without `mac`
 *
 * (the body holds the previous entry's hash, so the MACs authenticate the order too). A folder is
 * resumed only when its log names this script (id and SHA-256) and every entry's MAC checks out on
 * the token; a planted log fails without a session on that token. The key is destroyed when the
 * run ends: the custodians' signed checkpoint seals the finished log from then on.
 *
 * The journal token is the script's first token held by no custodian (the HSM), else its first.
 */
import { randomBytes } from 'node:crypto';
import { lstatSync, readFileSync } from 'node:fs';
import { entryBody, GENESIS, isLineProblem, logTooLarge, MAX_LOG_BYTES, parseLine } from '../audit/log.js';
import type { AuditEntry } from '../audit/log.js';
import { splitLines } from '../audit/verify.js';
import { AuditWriter } from '../audit/writer.js';
import { KeyceremonyError } from '../errors.js';
import { destroyMacKey, findMacKey, generateMacKey, hmacSha256, macMatches } from '../pkcs11/mac.js';
import type { MacKeyRef } from '../pkcs11/mac.js';
import type { Handle } from '../pkcs11/binding.js';
import type { Session } from '../pkcs11/session.js';
import type { CeremonyScript, ScriptToken } from './script.js';

const MAC_DOMAIN = 'keyceremony/journal-mac@1\0';
const MAC_PREFIX = 'hmac-sha256:';

/** The token that holds a run's journal key. */
export function journalToken(script: CeremonyScript): ScriptToken {
  const t = script.tokens.find((x) => x.holder === null) ?? script.tokens[0];
  if (t === undefined) throw new KeyceremonyError('CEREMONY_NO_TOKENS', 'the script names no token', 'name the tokens of the ceremony in the script');
  return t;
}

function macBytes(unsigned: Omit<AuditEntry, 'hash'>): Buffer {
  const { mac: _mac, ...details } = unsigned.details;
  return Buffer.from(MAC_DOMAIN + entryBody({ ...unsigned, details }), 'utf8');
}

function keyRef(ceremony: string, log: string): MacKeyRef {
  return { label: `journal-${ceremony}`.slice(0, 64), id: Buffer.from(log, 'hex') };
}

/** The entries of a log file, whole lines only (a torn last line is the writer's to recover). */
function readEntries(file: string): AuditEntry[] {
  const st = lstatSync(file);
  if (!st.isFile()) throw new KeyceremonyError('FOLDER_NOT_REGULAR', `${file} is not a regular file`, 'remove it: a ceremony log is a plain file the tool wrote');
  if (st.size > MAX_LOG_BYTES) throw logTooLarge(file, `${st.size} bytes`);
  const { lines } = splitLines(readFileSync(file).toString('utf8'));
  let prev = GENESIS;
  return lines.map((l, i) => {
    const e = parseLine(l);
    const broken = isLineProblem(e) ? e : e.seq !== i + 1 || e.prev !== prev ? { code: 'AUDIT_SEQUENCE_BROKEN', message: 'it does not follow the entry before it' } : null;
    if (broken !== null) throw new KeyceremonyError(broken.code, `the ceremony log ${file} is broken at entry ${i + 1}: ${broken.message}`, 'nothing was done; keep the folder as evidence and start the ceremony in a new folder');
    prev = (e as AuditEntry).hash;
    return e as AuditEntry;
  });
}

export class Journal {
  private constructor(readonly writer: AuditWriter, private readonly session: Session, private readonly key: Handle, readonly entries: readonly AuditEntry[]) {}

  /** A new log whose every entry is MACed by a key generated now in the journal token. */
  static create(file: string, session: Session, o: { ceremony: string; admin: string; now: () => number }): Journal {
    const log = randomBytes(16).toString('hex');
    const key = generateMacKey(session, keyRef(o.ceremony, log));
    const mac = (u: Omit<AuditEntry, 'hash'>): string => `${MAC_PREFIX}${hmacSha256(session, key, macBytes(u)).toString('hex')}`;
    return new Journal(AuditWriter.open(file, o.admin, { now: o.now, mac, log }), session, key, []);
  }

  /**
   * An existing log, resumed only when it is this script's and every entry's MAC checks out on the
   * journal token. Returns null when the key is gone (a finished run destroyed it): the caller
   * then proves every step from the tokens and files and writes nothing.
   */
  static resume(file: string, session: Session, o: { script: CeremonyScript; admin: string; now: () => number }): Journal | null {
    const entries = readEntries(file);
    const log = checkLogScript(file, entries, o.script);
    const key = findMacKey(session, keyRef(o.script.id, log));
    if (key === null) return null;
    for (const e of entries) {
      const mac = e.details.mac;
      const ok = typeof mac === 'string' && mac.startsWith(MAC_PREFIX) && /^[0-9a-f]{64}$/.test(mac.slice(MAC_PREFIX.length))
        && macMatches(session, key, macBytes(e), Buffer.from(mac.slice(MAC_PREFIX.length), 'hex'));
      if (!ok) {
        throw new KeyceremonyError('CEREMONY_LOG_UNAUTHENTIC', `entry ${e.seq} (${e.action}) of ${file} was not written by this run: its MAC does not check out on token "${session.token.label}"`,
          'nothing was done: keep the folder as evidence, and run the ceremony again in a new folder');
      }
    }
    const mac = (u: Omit<AuditEntry, 'hash'>): string => `${MAC_PREFIX}${hmacSha256(session, key, macBytes(u)).toString('hex')}`;
    return new Journal(AuditWriter.open(file, o.admin, { now: o.now, mac }), session, key, entries);
  }

  /** Entries of a log that may no longer be authenticated (its key destroyed), parsed and chained. */
  static entriesOf(file: string): AuditEntry[] {
    return readEntries(file);
  }

  /** The step.done entries the log holds, by step id. */
  get done(): Map<string, AuditEntry> {
    return doneOf(this.entries);
  }

  /** The run is over and sealed: the key that could extend the log goes. */
  close(): void {
    destroyMacKey(this.session, this.key);
  }
}

/** The log begins as a run of this script does (log.create, then ceremony.start naming its id and SHA-256); returns the log's id. */
export function checkLogScript(file: string, entries: readonly AuditEntry[], script: CeremonyScript): string {
  const log = entries[0]?.action === 'log.create' ? entries[0].details.log : undefined;
  const start = entries[1];
  if (typeof log !== 'string' || start?.action !== 'ceremony.start') {
    throw new KeyceremonyError('CEREMONY_LOG_FOREIGN', `${file} is not the log of a ceremony run: it does not begin with log.create and ceremony.start`, 'use a new, empty ceremony folder; keep this one as evidence');
  }
  if (start.details.ceremony !== script.id || start.details.script !== script.digest) {
    throw new KeyceremonyError('CEREMONY_LOG_FOREIGN', `the log in this folder is of ceremony ${JSON.stringify(String(start.details.ceremony)).slice(0, 140)} with script ${JSON.stringify(String(start.details.script)).slice(0, 80)}, not of ${script.id} (${script.digest})`,
      'run the script that began this folder, or use a new folder for this script');
  }
  return log;
}

export function doneOf(entries: readonly AuditEntry[]): Map<string, AuditEntry> {
  const done = new Map<string, AuditEntry>();
  for (const e of entries) if (e.action === 'step.done' && typeof e.details.step === 'string') done.set(e.details.step, e);
  return done;
}
