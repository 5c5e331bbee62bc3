/**
 * What a custodian sees before typing a PIN (issue 15): what they are signing (the document, the
 * set's members and M of N), one signature strip per approving set (a chip per custodian, signed or
 * pending, how many more are needed, who is missing), and a warning when a set is 1-of-N (any one
 * card approves alone) or N-of-N (one lost card blocks every later signature).
 */
import type { Responses } from '../api.js';

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

/** Beside a PIN entry in the workbench: the document and every set that approves it. */
export function YouAreSigning({ status }: { status: Responses['documents.status'] | null }) {
  return (
    <aside className="signing" aria-label="You are signing">
      <h4>You are signing</h4>
      {status === null ? <p className="hint">Reading the document…</p> : (
        <>
          <p className="doc-summary">{status.summary}</p>
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
