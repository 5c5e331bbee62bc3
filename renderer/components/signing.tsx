/**
 * What a custodian sees before typing a PIN (issue 15): what they are signing (a custodian set's
 * members and M of N; a manifest's keys, each with its phase, KCV and validity; a drill's result),
 * the document's digest as words, one signature strip per approving set (a chip per custodian,
 * signed or pending, how many more are needed, who is missing), and a warning when a set is 1-of-N
 * (any one card approves alone) or N-of-N (one lost card blocks every later signature).
 */
import { useMemo } from 'react';
import type { Responses } from '../api.js';
import { Digest, documentDigest, Kcv } from './values.js';
import type { KcvMethod } from './values.js';

type Approval = Responses['documents.status']['approvals'][number];

export function SetWarning({ threshold, total }: { threshold: number; total: number }) {
  if (total === 0) return null;
  if (threshold === 1) return <p className="warning" role="note"><strong>1-of-{total}:</strong> any single custodian&apos;s card approves alone. A set should need at least two.</p>;
  if (threshold === total) return <p className="warning" role="note"><strong>{total}-of-{total}:</strong> every custodian must sign; one lost, broken or locked card blocks every later signature.</p>;
  return null;
}

/** One chip per custodian of a set: signed or pending, and how many more are needed. */
export function SignatureStrip({ approval }: { approval: Approval }) {
  const members = [...approval.signed, ...approval.unsigned];
  return (
    <div className="strip" role="group" aria-label={`signatures of the ${approval.role}`}>
      <span className="strip-title">{approval.role} (version {approval.set}), {approval.threshold} of {members.length} must sign:</span>
      <ul>
        {approval.signed.map((m) => <li key={m} className="chip signed"><span aria-hidden="true">✓ </span>{m}<span className="sr"> signed</span></li>)}
        {approval.unsigned.map((m) => <li key={m} className="chip pending"><span aria-hidden="true">○ </span>{m}<span className="sr"> not signed</span></li>)}
      </ul>
      <strong className={approval.needed === 0 ? 'good' : 'needed'}>{approval.needed === 0 ? 'complete' : `${approval.needed} more needed`}</strong>
    </div>
  );
}

const TYPES = { 'application/vnd.keyceremony.custodians+json': 'custodians', 'application/vnd.keyceremony.rotation+json': 'rotation', 'application/vnd.keyceremony.drill+json': 'drill' } as const;
type Obj = Record<string, unknown>;
const str = (v: unknown): string => (typeof v === 'string' || typeof v === 'number' ? String(v) : '');
/** A time of the document (RFC 3339, UTC) as the room reads it: 2026-11-28 10:00:00 UTC. */
const utc = (v: unknown): string => str(v).replace(/^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)Z$/, '$1 $2 UTC');
const list = (v: unknown): Obj[] => (Array.isArray(v) ? v.filter((x): x is Obj => typeof x === 'object' && x !== null) : []);

/** The payload of an envelope (FORMATS.md §2), read for showing only: the core parses and verifies it. */
function payloadOf(document: string): { kind: (typeof TYPES)[keyof typeof TYPES]; body: Obj } | null {
  try {
    const env = JSON.parse(document) as { payloadType?: unknown; payload?: unknown };
    const kind = TYPES[env.payloadType as keyof typeof TYPES] as (typeof TYPES)[keyof typeof TYPES] | undefined;
    if (kind === undefined || typeof env.payload !== 'string') return null;
    const body = JSON.parse(new TextDecoder().decode(Uint8Array.from(atob(env.payload), (c) => c.charCodeAt(0)))) as unknown;
    return typeof body === 'object' && body !== null ? { kind, body: body as Obj } : null;
  } catch {
    return null;
  }
}

/** Custodian ids of the newest set of a chain, for display and choices only (the core verifies the chain). */
export function custodiansOf(chain: readonly string[]): string[] {
  const p = payloadOf(chain[chain.length - 1] ?? '');
  return p?.kind === 'custodians' ? list(p.body.custodians).map((c) => str(c.id)) : [];
}

/** A manifest key's check value by its algorithm (FORMATS.md §4): AES from ECB of zeros, the HMAC kinds from the binding. */
const kcvMethod = (algorithm: string): KcvMethod => (algorithm.startsWith('AES') ? 'ecb' : 'binding');

/** What a document says, laid out: a set's members, a manifest's keys, a drill's result; the one-line summary when it is none of these. */
export function DocumentContents({ document, summary }: { document: string; summary: string }) {
  const p = useMemo(() => payloadOf(document), [document]);
  if (p === null) return <p className="doc-summary">{summary}</p>;
  const b = p.body;
  if (p.kind === 'custodians') {
    const members = list(b.custodians);
    return (
      <>
        <p>Custodian set version {str(b.version)}: <strong>{str(b.threshold)} of {members.length}</strong> must sign; valid until {utc(b.expires)}.</p>
        <table aria-label={`members of custodian set version ${str(b.version)}`}><thead><tr><th>Custodian</th><th>Key fingerprint</th></tr></thead>
          <tbody>{members.map((m) => <tr key={str(m.id)}><td>{str(m.name)} ({str(m.id)})</td><td><Digest value={str(m.keyid)} label={`fingerprint of ${str(m.id)}'s key`} /></td></tr>)}</tbody></table>
      </>
    );
  }
  if (p.kind === 'rotation') {
    return (
      <>
        <p>Rotation manifest <strong>{str(b.ceremony)}</strong> #{str(b.sequence)}, for custodian set version {str(b.custodianSet)}, initiated by {str(b.actor)}; valid until {utc(b.expires)}.</p>
        <table aria-label="keys in the manifest"><thead><tr><th>Key</th><th>Phase</th><th>Check value</th><th>From</th></tr></thead>
          <tbody>{list(b.keys).map((k) => (
            <tr key={str(k.id)}><td>{str(k.id)} <span className="hint">{str(k.name)}, {str(k.algorithm)}</span></td><td>{str(k.phase)}</td>
              <td>{typeof k.kcv === 'string' ? <Kcv value={k.kcv} method={kcvMethod(str(k.algorithm))} /> : <span className="hint">none</span>}</td><td>{utc(k.notBefore)}</td></tr>
          ))}</tbody></table>
      </>
    );
  }
  const backup = typeof b.backupKey === 'object' && b.backupKey !== null ? b.backupKey as Obj : {};
  return (
    <>
      <p>Restoration drill <strong>{str(b.drill)}</strong>: <strong>{str(b.result).toUpperCase()}</strong>, shares of {Array.isArray(b.sharesPresented) ? b.sharesPresented.map(str).join(', ') : ''} ({str(b.threshold)} needed).</p>
      <ul>
        <li>{str(backup.id)}: <Kcv value={str(backup.kcv)} /></li>
        {list(b.restored).map((r) => <li key={str(r.id)}>{str(r.id)}: <Kcv value={str(r.kcv)} /> {r.kcvMatches === true ? 'matches' : 'DIFFERS'}</li>)}
      </ul>
    </>
  );
}

/** Beside a PIN entry in the workbench: the document, its digest as words, and every set that approves it. */
export function YouAreSigning({ status, document }: { status: Responses['documents.status'] | null; document: string }) {
  const digest = useMemo(() => documentDigest(document), [document]);
  return (
    <aside className="signing" aria-label="You are signing">
      <h4>You are signing</h4>
      {status === null ? <p className="hint">Reading the document…</p> : (
        <>
          <DocumentContents document={document} summary={status.summary} />
          {digest !== null && <p>Document digest: <Digest value={digest} label="document digest" /></p>}
          {status.approvals.map((a) => (
            <div key={a.role}>
              <SignatureStrip approval={a} />
              <SetWarning threshold={a.threshold} total={a.signed.length + a.unsigned.length} />
            </div>
          ))}
        </>
      )}
    </aside>
  );
}
