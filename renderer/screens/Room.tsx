/**
 * The room's window (issue 15): what a projector or a screen facing the room shows during a run,
 * in large type. The mode (LIVE, REHEARSAL), the step and who acts now with what to do; while a
 * witness question of a value made in this run waits, the words to read aloud; for a question
 * answered from an earlier ceremony's record, or a hand-over, only who comes to the keyboard.
 * Nothing else: no log, no hex, no path, no PIN field and no button. The run is named by the
 * window's fragment (#room=<run id>, put there by the main process, electron/main/room.ts), and its
 * status is polled read-only: ceremony.status is the one channel this page calls, and the only one
 * the main process answers for this window.
 */
import { useEffect, useState } from 'react';
import { AppError, call } from '../api.js';
import type { Responses } from '../api.js';
import { UtcClock } from '../components/airgap.js';
import { KIND_NAME, WordList } from '../components/witness.js';

type Status = Responses['ceremony.status'];

/** The run the fragment names: 32 lower-case hex digits, else null (the page then says so and asks nothing). */
export function roomRunId(hash: string): string | null {
  return /^#room=([0-9a-f]{32})$/.exec(hash)?.[1] ?? null;
}

/** The fragment's run, followed when the main process moves the window to another run (a resumed run has a new id). */
function useFragmentRun(): string | null {
  const [runId, setRunId] = useState(() => roomRunId(window.location.hash));
  useEffect(() => {
    const on = () => setRunId(roomRunId(window.location.hash));
    window.addEventListener('hashchange', on);
    return () => window.removeEventListener('hashchange', on);
  }, []);
  return runId;
}

type Seen = { readonly status: Status } | { readonly lost: true } | null;

function usePolledStatus(runId: string | null): Seen {
  const [seen, setSeen] = useState<Seen>(null);
  useEffect(() => {
    setSeen(null);
    if (runId === null) return undefined;
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      try {
        const s = await call('ceremony.status', { runId });
        if (stop) return;
        setSeen({ status: s });
        // a run that ended changes no more; a resumed run is a new id, which the main process puts in the fragment
        if (s.state === 'running' || s.state === 'waiting') timer = setTimeout(() => void poll(), 500);
      } catch (err) {
        if (stop) return;
        if (err instanceof AppError && err.error.code === 'CEREMONY_RUN_UNKNOWN') { setSeen({ lost: true }); return; }
        timer = setTimeout(() => void poll(), 1000);
      }
    };
    void poll();
    return () => { stop = true; clearTimeout(timer); };
  }, [runId]);
  return seen;
}

/** The room sees no hex: digests, run ids and serials in a question's wording are left out (the app window shows them). */
const withoutHex = (s: string): string => s.replace(/(?:sha256:)?[0-9a-f]{8,}/gi, '…');

function Card({ status }: { status: Status }) {
  const steps = status.steps.length;
  const at = (n: number | null) => (n === null ? undefined : status.steps[n - 1]);
  const stepLine = (n: number | null) => {
    const s = at(n);
    if (s !== undefined) return `Step ${s.number} of ${steps}: ${s.id}`;
    return status.stage === 'checkpoint' ? `Step ${steps + 1}: checkpoint` : status.stage === 'opening' ? 'Opening the ceremony' : '';
  };
  if (status.state === 'done') {
    return <section className="room-card done" aria-labelledby="room-h"><h2 id="room-h">{status.mode === 'live' ? 'Ceremony complete' : 'Rehearsal passed'}</h2></section>;
  }
  if (status.state === 'failed') {
    const n = status.resumeFrom;
    return (
      <section className="room-card failed" aria-labelledby="room-h">
        <h2 id="room-h">{status.mode === 'live' ? 'The ceremony stopped' : 'The rehearsal stopped'}{n !== null && n <= steps ? ` at step ${n}` : ''}</h2>
        <p className="does">The app window says why, and how it resumes.</p>
      </section>
    );
  }
  const req = status.pinRequest;
  if (status.state === 'waiting' && req !== null) {
    return (
      <section className="room-card handover" aria-labelledby="room-h">
        <p className="step-no">{stepLine(req.step)} · Hand-over</p>
        <h2 id="room-h">{req.person} comes to the keyboard</h2>
        <p className="does">The run needs <strong>{req.label}</strong>{req.holder === null ? ", the administrator's token" : `, ${req.holder}'s card`}. Everyone else steps back.</p>
      </section>
    );
  }
  const q = status.question;
  if (status.state === 'waiting' && q !== null) {
    const kind = KIND_NAME[q.kind];
    // the words only while they are read aloud: once the witness types, no screen the witness may see shows them
    if (q.slots > 0 && q.source === 'this-run' && q.words !== null && q.reading) {
      return (
        <section className="room-card question" aria-labelledby="room-h">
          <p className="step-no">{stepLine(status.now)} · Witness check: {kind}</p>
          <h2 id="room-h">Read these {q.words.length} words aloud to {q.who}</h2>
          <p className="what">{withoutHex(q.what)}.</p>
          <WordList words={q.words} label="words to read aloud" />
        </section>
      );
    }
    if (q.slots > 0) {
      return (
        <section className="room-card question" aria-labelledby="room-h">
          <p className="step-no">{stepLine(status.now)} · Witness check: {kind}</p>
          <h2 id="room-h">{q.who} comes to the keyboard</h2>
          <p className="does">{q.source === 'record' ? <>{q.who} types the {kind} of {withoutHex(q.what)} from the printed transcript of the ceremony that made it. Nobody reads it out.</>
            : <>{q.who} types the {q.slots} words of {withoutHex(q.what)} as heard, each in its own slot. The words are no longer shown.</>}</p>
        </section>
      );
    }
    return (
      <section className="room-card question" aria-labelledby="room-h">
        <p className="step-no">{stepLine(status.now)} · Confirmation: {kind}</p>
        <h2 id="room-h">{q.who} confirm{q.who.includes(', ') ? '' : 's'}</h2>
        <p className="what">{withoutHex(q.what)}.</p>
      </section>
    );
  }
  const step = at(status.now);
  if (step === undefined) {
    const what = { opening: 'Opening the ceremony', resuming: 'Resuming: the steps done before are proven again', steps: 'Proving the steps done before',
      checkpoint: 'The custodians sign the checkpoint of the audit log', finished: 'Finishing' }[status.stage];
    return <section className="room-card" aria-labelledby="room-h"><h2 id="room-h">{what}</h2></section>;
  }
  return (
    <section className="room-card" aria-labelledby="room-h">
      <p className="step-no">{stepLine(status.now)}</p>
      <h2 id="room-h">{step.actor} acts now</h2>
      <p className="does">{step.does}.</p>
      {step.tokens.length > 0 && <p className="tokens">With {step.tokens.map((t) => t.label).join(', ')}</p>}
    </section>
  );
}

export function Room() {
  const runId = useFragmentRun();
  const seen = usePolledStatus(runId);
  const status = seen !== null && 'status' in seen ? seen.status : null;
  useEffect(() => { document.title = status === null ? "keyceremony: the room's window" : `${status.mode === 'live' ? 'LIVE' : 'REHEARSAL'}: ${status.script.title}`; }, [status]);
  let body;
  if (runId === null) body = <section className="room-card failed" aria-labelledby="room-h"><h2 id="room-h">No run is named for this window</h2><p className="does">Open the room&apos;s window from the run sheet.</p></section>;
  else if (seen === null) body = <section className="room-card" aria-labelledby="room-h"><h2 id="room-h">Connecting to the run…</h2></section>;
  else if (status === null) body = <section className="room-card failed" aria-labelledby="room-h"><h2 id="room-h">The app no longer follows this run</h2></section>;
  else body = <Card status={status} />;
  return (
    <div className={`room ${status?.mode ?? 'none'}`}>
      <header className="room-bar">
        {status !== null && <span className="mode-badge" aria-label="mode">{status.mode === 'live' ? 'LIVE: recorded' : 'REHEARSAL: throw-away tokens'}</span>}
        <h1>{status?.script.title ?? 'keyceremony'}</h1>
        <UtcClock />
      </header>
      {/* what changes is said as it changes: a screen reader in the room follows the run */}
      <main className="room-body" aria-label="the room's window" aria-live="polite">{body}</main>
    </div>
  );
}
