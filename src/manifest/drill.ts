/** Restoration-drill reports (FORMATS.md §5). `result` is `pass` only when every restored key's KCV matched. */
import { Fields } from '../docs/fields.js';
import { DocumentError } from '../docs/problems.js';
import { SPECS } from '../docs/types.js';
import { MAX_PAYLOAD_BYTES, readJson } from '../dsse/envelope.js';
import { CUSTODIAN_ID, payloadDigest } from '../custodians/set.js';
import { CEREMONY_ID, KEY_ID } from './manifest.js';

const KCV = /^[0-9a-f]{6}$/;

export interface DrillReport {
  readonly drill: string;
  readonly custodianSet: number;
  readonly started: number;
  readonly finished: number;
  readonly backupKey: { readonly id: string; readonly kcv: string };
  readonly sharesPresented: readonly string[];
  readonly threshold: number;
  readonly restored: readonly { readonly id: string; readonly kcv: string; readonly kcvMatches: boolean }[];
  readonly result: 'pass' | 'fail';
  readonly digest: string;
}

export function parseDrillReport(payload: Uint8Array): DrillReport {
  const json = readJson(payload, MAX_PAYLOAD_BYTES, 'the drill report');
  const f = new Fields();
  const o = f.object(json, '$', ['spec', 'drill', 'custodianSet', 'started', 'finished', 'backupKey', 'sharesPresented', 'threshold', 'restored', 'result']);
  if (o === undefined) throw new DocumentError(f.problems, 'the drill report');
  const spec = f.string(o.spec, 'spec');
  if (spec !== undefined && spec !== SPECS.drill) f.add('DOCUMENT_WRONG_SPEC', 'spec', `expected "${SPECS.drill}"`);
  const drill = f.string(o.drill, 'drill', { pattern: CEREMONY_ID, what: 'a drill id' });
  const custodianSet = f.integer(o.custodianSet, 'custodianSet', 1);
  const started = f.time(o.started, 'started');
  const finished = f.time(o.finished, 'finished');
  if (started !== undefined && finished !== undefined && finished < started) f.add('DRILL_TIMES_INVALID', 'finished', 'finished before it started');
  const bo = f.object(o.backupKey, 'backupKey', ['id', 'kcv']);
  const backupId = bo === undefined ? undefined : f.string(bo.id, 'backupKey.id', { pattern: KEY_ID, what: 'a versioned key id' });
  const backupKcv = bo === undefined ? undefined : f.string(bo.kcv, 'backupKey.kcv', { pattern: KCV, what: '6 lowercase hex digits' });
  const shares: string[] = [];
  f.array(o.sharesPresented, 'sharesPresented', { max: 64 })?.forEach((s, i) => {
    const id = f.string(s, `sharesPresented[${i}]`, { pattern: CUSTODIAN_ID, what: 'a custodian id' });
    if (id === undefined) return;
    if (shares.includes(id)) f.add('DRILL_SHARE_DUPLICATE', `sharesPresented[${i}]`, `${id} is listed twice`);
    shares.push(id);
  });
  const threshold = f.integer(o.threshold, 'threshold', 1);
  const restored: { id: string; kcv: string; kcvMatches: boolean }[] = [];
  f.array(o.restored, 'restored', { max: 256 })?.forEach((r, i) => {
    const ro = f.object(r, `restored[${i}]`, ['id', 'kcv', 'kcvMatches']);
    if (ro === undefined) return;
    const id = f.string(ro.id, `restored[${i}].id`, { pattern: KEY_ID, what: 'a versioned key id' });
    const kcv = f.string(ro.kcv, `restored[${i}].kcv`, { pattern: KCV, what: '6 lowercase hex digits' });
    const kcvMatches = f.boolean(ro.kcvMatches, `restored[${i}].kcvMatches`);
    if (id !== undefined && kcv !== undefined && kcvMatches !== undefined) restored.push({ id, kcv, kcvMatches });
  });
  const result = f.oneOf(o.result, 'result', ['pass', 'fail'] as const);
  if (result === 'pass') {
    if (restored.length === 0 || restored.some((r) => !r.kcvMatches)) f.add('DRILL_RESULT_INCONSISTENT', 'result', 'a drill passes only when every restored key matched its KCV');
    if (threshold !== undefined && shares.length < threshold) f.add('DRILL_RESULT_INCONSISTENT', 'sharesPresented', `a drill passes only with at least ${threshold} shares presented`);
  }
  if (f.problems.length > 0 || drill === undefined || custodianSet === undefined || started === undefined || finished === undefined || backupId === undefined
    || backupKcv === undefined || threshold === undefined || result === undefined) {
    throw new DocumentError(f.problems, 'the drill report');
  }
  return Object.freeze({ drill, custodianSet, started, finished, backupKey: { id: backupId, kcv: backupKcv }, sharesPresented: shares, threshold, restored, result, digest: payloadDigest(payload) });
}
