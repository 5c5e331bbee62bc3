/**
 * Signed checkpoints of the audit log (issue 7): at the end of each ceremony the administrator and
 * the custodians sign, as a DSSE envelope, the log's id and the sequence and hash of the last entry
 * before the checkpoint. The envelope is written into the log as a `checkpoint` entry and may be
 * kept elsewhere too (on the ceremony's media): `audit verify --checkpoint FILE` then proves that
 * the log still reaches that far.
 */
import { Fields, formatTime } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { MAX_PAYLOAD_BYTES, readJson } from '../dsse/envelope.js';

export const CHECKPOINT_TYPE = 'application/vnd.keyceremony.audit-checkpoint+json';
export const CHECKPOINT_SPEC = 'keyceremony/audit-checkpoint@1';

export interface Checkpoint {
  readonly log: string;
  readonly seq: number;
  readonly head: string;
  readonly custodianSet: number;
  readonly time: number;
}

export function buildCheckpoint(c: Checkpoint): Uint8Array {
  return new TextEncoder().encode(JSON.stringify({ spec: CHECKPOINT_SPEC, log: c.log, seq: c.seq, head: c.head, custodianSet: c.custodianSet, time: formatTime(c.time) }));
}

export function parseCheckpoint(payload: Uint8Array): Checkpoint {
  const json = readJson(payload, MAX_PAYLOAD_BYTES, 'the audit checkpoint');
  const f = new Fields();
  const o = f.object(json, '$', ['spec', 'log', 'seq', 'head', 'custodianSet', 'time']);
  if (o === undefined) throw new DocumentError(f.problems, 'the audit checkpoint');
  if (f.string(o.spec, 'spec') !== CHECKPOINT_SPEC) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${CHECKPOINT_SPEC}"`);
  const log = f.string(o.log, 'log', { pattern: /^[0-9a-f]{32}$/, what: '32 hex digits' });
  const seq = f.integer(o.seq, 'seq', 1);
  const head = f.string(o.head, 'head', { pattern: /^sha256:[0-9a-f]{64}$/, what: 'sha256:<64 hex>' });
  const custodianSet = f.integer(o.custodianSet, 'custodianSet', 1);
  const time = f.time(o.time, 'time');
  if (f.problems.length > 0 || log === undefined || seq === undefined || head === undefined || custodianSet === undefined || time === undefined) throw new DocumentError(f.problems, 'the audit checkpoint');
  return { log, seq, head, custodianSet, time };
}
