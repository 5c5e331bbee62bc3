/**
 * Appending to the audit log. Opening verifies the chain so far (a broken log is never extended);
 * a torn last line, the trace of a crash during a write that was never acknowledged, is cut off
 * and the cut recorded as the next entry. Every entry is written with one write(2) on an
 * O_APPEND descriptor and fsynced before append() returns: an entry that was acknowledged
 * survives a power cut.
 */
import { randomBytes, createHash } from 'node:crypto';
import { closeSync, existsSync, fsyncSync, openSync, readFileSync, ftruncateSync, statSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { formatTime } from '../docs/fields.js';
import { addSignature } from '../dsse/sign.js';
import type { Signer } from '../dsse/sign.js';
import { KeyceremonyError } from '../errors.js';
import { crashpoint } from '../crashpoint.js';
import { fsyncDir } from '../files.js';
import { buildCheckpoint, CHECKPOINT_TYPE, parseCheckpoint } from './checkpoint.js';
import { encodeBase64 } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import { draftProblem, formatEntry, GENESIS, logTooLarge, MAX_LOG_BYTES } from './log.js';
import type { AuditEntry, EntryDraft } from './log.js';
import { verifyAuditLog } from './verify.js';

/**
 * What a writer may add to each entry before it is hashed: a `mac` detail computed over the entry
 * without it (the ceremony journal's token-held key, src/ceremony/journal.ts).
 */
export type EntryMac = (unsigned: Omit<AuditEntry, 'hash'>) => string;

export interface WriterOptions {
  readonly now?: () => number;
  readonly mac?: EntryMac;
  /** The id of a new log (32 hex digits); random when absent. */
  readonly log?: string;
}

export class AuditWriter {
  private constructor(readonly path: string, readonly log: string, private seq: number, private head: string, private readonly now: () => number, private readonly mac?: EntryMac) {}

  /** Opens (or creates, with its log.create entry) the log at `path`, as `actor`. */
  static open(path: string, actor: string, nowOrOptions: (() => number) | WriterOptions = {}): AuditWriter {
    const o: WriterOptions = typeof nowOrOptions === 'function' ? { now: nowOrOptions } : nowOrOptions;
    const now = o.now ?? (() => Date.now());
    if (!existsSync(path)) {
      const log = o.log ?? randomBytes(16).toString('hex');
      const fd = openSync(path, 'wx', 0o644);
      closeSync(fd);
      fsyncDir(dirname(path));
      const w = new AuditWriter(path, log, 0, GENESIS, now, o.mac);
      w.append({ actor, action: 'log.create', keys: [], details: { log } });
      return w;
    }
    const size = statSync(path).size;
    if (size > MAX_LOG_BYTES) throw logTooLarge(path, `${size} bytes`);
    const bytes = readFileSync(path);
    // whole lines end at the last newline, counted in bytes (re-encoding decoded text would miscount invalid UTF-8)
    const torn = bytes.length > 0 && bytes[bytes.length - 1] !== 0x0a;
    const whole = torn ? bytes.lastIndexOf(0x0a) + 1 : bytes.length;
    const r = verifyAuditLog(bytes.subarray(0, whole));
    if (!r.valid || r.log === null) {
      const p = r.problems[0];
      throw new KeyceremonyError(p?.code ?? 'AUDIT_INVALID', `the audit log ${path} is broken at entry ${r.firstBad ?? 1}: ${p?.message ?? 'it has no entries'}`, 'nothing was appended; keep the log as evidence and run keyceremony audit verify on it');
    }
    const w = new AuditWriter(path, r.log, r.entries, r.head, now, o.mac);
    if (torn) {
      const cut = bytes.subarray(whole);
      const fd = openSync(path, 'r+');
      try { ftruncateSync(fd, whole); fsyncSync(fd); } finally { closeSync(fd); }
      w.append({ actor, action: 'log.recover', keys: [], details: { tornBytes: cut.length, tornSha256: createHash('sha256').update(cut).digest('hex') } });
    }
    return w;
  }

  get entries(): number {
    return this.seq;
  }

  get lastHash(): string {
    return this.head;
  }

  append(d: EntryDraft): number {
    const why = draftProblem(d);
    if (why !== null) throw new KeyceremonyError('AUDIT_ENTRY_REFUSED', `the audit entry ${d.action} was refused: ${why}`, 'this is a bug: report it');
    const seq = this.seq + 1;
    const unsigned = { seq, time: d.time ?? formatTime(this.now()), actor: d.actor, action: d.action, keys: d.keys, details: d.details, prev: this.head };
    const { line, hash } = formatEntry(this.mac === undefined ? unsigned : { ...unsigned, details: { ...d.details, mac: this.mac(unsigned) } });
    crashpoint('audit:append');
    const fd = openSync(this.path, 'a');
    try {
      const buf = Buffer.from(`${line}\n`, 'utf8');
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    crashpoint('audit:appended');
    this.seq = seq;
    this.head = hash;
    return seq;
  }

  /** The unsigned checkpoint of the log as it is now: this log's id and its last entry. */
  checkpointEnvelope(custodianSet: number): Envelope {
    return { payloadType: CHECKPOINT_TYPE, payload: buildCheckpoint({ log: this.log, seq: this.seq, head: this.head, custodianSet, time: Math.floor(this.now() / 1000) * 1000 }), signatures: [] };
  }

  /** Appends a checkpoint signed elsewhere (on the custodians' cards); it must sign this log's last entry. Returns the envelope's text. */
  appendCheckpoint(actor: string, signed: Envelope): string {
    const c = parseCheckpoint(signed.payload);
    if (signed.payloadType !== CHECKPOINT_TYPE || c.log !== this.log || c.seq !== this.seq || c.head !== this.head) {
      throw new KeyceremonyError('AUDIT_CHECKPOINT_STALE', `the checkpoint signs entry ${c.seq} of log ${c.log.slice(0, 8)}…, but the log is at entry ${this.seq}`, 'make the checkpoint again, after the last entry, and sign it');
    }
    const text = JSON.stringify({ payloadType: signed.payloadType, payload: encodeBase64(signed.payload), signatures: signed.signatures.map((s) => ({ keyid: s.keyid, sig: encodeBase64(s.sig) })) });
    this.append({ actor, action: 'checkpoint', keys: [], details: { envelope: text, custodianSet: c.custodianSet } });
    return text;
  }

  /** A checkpoint signed here by each signer in turn. */
  async checkpoint(actor: string, custodianSet: number, signers: readonly Signer[]): Promise<string> {
    let env = this.checkpointEnvelope(custodianSet);
    for (const s of signers) env = await addSignature(env, s);
    return this.appendCheckpoint(actor, env);
  }
}
