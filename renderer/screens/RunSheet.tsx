/// <reference types="vite/client" />
/**
 * The run sheet (issue 15): the whole window on ceremony day. A mode bar (LIVE, REHEARSAL), the air
 * gap, the UTC clock and the script's digest as words; a step rail numbered like the printed
 * script; one large "now" card saying who acts, what to do, with which token, and one primary
 * button. Witness checks are typed on a view that does not show the words. Each card's PIN is
 * typed on a hand-over when the run first needs the card, by its holder only. The run lives above
 * the screens (../run.tsx): leaving the sheet and coming back reconnects to it.
 */
import { useEffect, useRef, useState } from 'react';
import type { FormEvent, RefObject } from 'react';
import { AppError, call } from '../api.js';
import type { ApiError, Responses } from '../api.js';
import { AirGap, UtcClock } from '../components/airgap.js';
import { Banners, useMissing } from '../components/common.js';
import { Markdown } from '../components/markdown.js';
import { SetWarning } from '../components/signing.js';
import { KIND_NAME, WitnessSlots, WordList } from '../components/witness.js';
import { Digest, Hex } from '../components/values.js';
import { active, useRun } from '../run.js';
import type { Plan, RunRef, Status } from '../run.js';
import { useApp } from '../state.js';
// the hand-over's styles, bundled by Vite beside styles.css (vite/client declares what a .css import is)
import '../handover.css';

type Step = Plan['steps'][number];
type Question = NonNullable<Status['question']>;
type PinRequest = NonNullable<Status['pinRequest']>;

const nameOf = (plan: Plan, id: string): string => plan.participants.find((p) => p.id === id)?.name ?? id;
const and = (xs: readonly string[]): string => (xs.length <= 1 ? xs.join('') : `${xs.slice(0, -1).join(', ')} and ${xs[xs.length - 1] as string}`);
/** One person by name; several by id ("alice and bob"), since names may hold commas. */
const people = (plan: Plan, ids: string): string => { const list = ids.split(', '); return list.length === 1 ? nameOf(plan, ids) : and(list); };

const PRESENT = 'keyceremony.present';
/** Presentation mode (large type for a projector): kept for the session, so leaving the sheet and coming back keeps it. */
function usePresentation(): [boolean, (on: boolean) => void] {
  const [on, setOn] = useState(() => { try { return sessionStorage.getItem(PRESENT) === '1'; } catch { return false; } });
  const set = (v: boolean) => { setOn(v); try { sessionStorage.setItem(PRESENT, v ? '1' : '0'); } catch { /* kept while the page lives */ } };
  return [on, set];
}

/**
 * The room's window (electron/main/room.ts, screens/Room.tsx): a second window with the "now" card
 * and the words to read aloud, for a projector. Asked of the main process for this run; asked again,
 * it comes to the front (or moves to this run, after a resume). Where the app runs without its
 * desktop shell, the answer says so (APP_ROOM_WINDOW_UNAVAILABLE).
 */
function RoomButton({ runId }: { runId: string }) {
  const { run } = useApp();
  return (
    <button type="button" className="secondary room-toggle"
      onClick={() => void run("Opening the room's window…", () => call('room.open', { runId }), "The room's window shows this run: move it to the projector.")}>Open the room&apos;s window</button>
  );
}

function ModeBar({ r, status, present, setPresent }: { r: RunRef; status: Status | null; present: boolean; setPresent: (on: boolean) => void }) {
  const { showSheet } = useRun();
  const [leaving, setLeaving] = useState(false);
  const live = r.mode === 'live';
  return (
    <header className={`modebar ${r.mode}`}>
      <span className="mode-badge" aria-label="mode">{live ? 'LIVE: recorded' : 'REHEARSAL: throw-away tokens'}</span>
      <span className="sheet-title">{r.plan.title}</span>
      <AirGap />
      <UtcClock />
      <span className="digest-words" aria-label="script digest as words">Script {r.plan.digestWords.join(' ')}</span>
      <button type="button" className="secondary present-toggle" aria-pressed={present} onClick={() => setPresent(!present)}>Presentation mode</button>
      {r.runId !== null && <RoomButton runId={r.runId} />}
      {!leaving && <button type="button" className="secondary" onClick={() => (active(status) ? setLeaving(true) : showSheet(false))}>Workbench</button>}
      {leaving && (
        <span className="confirm-leave" role="group" aria-label="Leave the run sheet">
          The run goes on, and a question waits for you.
          <button type="button" className="secondary" onClick={() => { setLeaving(false); showSheet(false); }}>Leave the run sheet</button>
          <button type="button" onClick={() => setLeaving(false)}>Stay</button>
        </span>
      )}
    </header>
  );
}

function StepRail({ plan, status }: { plan: Plan; status: Status | null }) {
  const steps = status?.steps ?? plan.steps.map((s) => ({ ...s, state: 'pending' as const }));
  const cp = status === null ? 'pending' : status.stage === 'finished' ? 'done' : status.stage === 'checkpoint' ? 'now' : 'pending';
  const mark = { done: '✓', now: '▶', pending: '' };
  const said = { done: 'done', now: 'now', pending: 'to do' };
  return (
    <nav className="rail" aria-label="Steps of the script">
      <ol>
        {steps.map((s) => (
          <li key={s.id} className={s.state} aria-current={s.state === 'now' ? 'step' : undefined}>
            <span className="mark" aria-hidden="true">{mark[s.state]}</span>
            <span className="num">{s.number}.</span>
            <span className="what"><strong>{s.id}</strong>{s.action === s.id ? '' : ` ${s.action}`}<br /><span className="by">{nameOf(plan, s.actor)}</span></span>
            <span className="sr">, {said[s.state]}</span>
          </li>
        ))}
        <li className={cp} aria-current={cp === 'now' ? 'step' : undefined}>
          <span className="mark" aria-hidden="true">{mark[cp]}</span>
          <span className="num">{steps.length + 1}.</span>
          <span className="what"><strong>checkpoint</strong> the custodians sign the audit log</span>
          <span className="sr">, {said[cp]}</span>
        </li>
      </ol>
    </nav>
  );
}

function Tokens({ step }: { step: Step }) {
  if (step.tokens.length === 0) return null;
  return (
    <div className="tokens">
      <span className="label">{step.tokens.length === 1 ? 'Token' : 'Tokens'}</span>
      <ul>{step.tokens.map((t) => <li key={t.name}><strong>{t.label}</strong> {t.serial === null ? '(any serial: the script does not pin one)' : `serial ${t.serial}`}{t.holder === null ? '' : `, held by ${t.holder}`}</li>)}</ul>
    </div>
  );
}

/** Focus moves to each new "now" card, so a screen reader and the keyboard follow the run. */
function useFocusOn(key: string): RefObject<HTMLHeadingElement | null> {
  const h = useRef<HTMLHeadingElement>(null);
  useEffect(() => { h.current?.focus(); }, [key]);
  return h;
}

function StepCard({ plan, status }: { plan: Plan; status: Status }) {
  const step = status.now === null ? undefined : status.steps[status.now - 1];
  const h = useFocusOn(`step${status.now ?? status.stage}`);
  if (step === undefined) {
    const what = { opening: 'Opening the ceremony: checking the folder and the tokens', resuming: 'Resuming: every step done before is proven again from the tokens and files',
      steps: 'Proving the steps done before', checkpoint: 'The custodians sign the checkpoint of the audit log', finished: 'Finishing' }[status.stage];
    return <section className="now-card" aria-labelledby="now-h"><h2 id="now-h" tabIndex={-1} ref={h}>{what}</h2><p className="working" role="status">Working…</p></section>;
  }
  return (
    <section className="now-card" aria-labelledby="now-h">
      <p className="step-no">Step {step.number} of {status.steps.length}: {step.id}</p>
      <h2 id="now-h" tabIndex={-1} ref={h}>{nameOf(plan, step.actor)} acts now</h2>
      <p className="does">{step.does}.</p>
      <Tokens step={step} />
      {step.threshold !== null && <SetWarning threshold={step.threshold} total={step.members.length} />}
      <p className="working" role="status">Working: follow the token&apos;s instructions.</p>
    </section>
  );
}

function QuestionCard({ plan, q, runId, step }: { plan: Plan; q: Question; runId: string; step: string }) {
  const { run } = useApp();
  const [phase, setPhase] = useState<'read' | 'type'>(q.source === 'this-run' ? 'read' : 'type');
  // the room's window shows the words only while they are read: it follows this view's phase
  // (a question already answered has nothing to hide: that refusal alone is expected)
  const reading = (on: boolean) => call('ceremony.reading', { runId, reading: on })
    .catch((err: unknown) => { if (!(err instanceof AppError && err.error.code === 'CEREMONY_NO_QUESTION')) throw err; });
  const [refusing, setRefusing] = useState(false);
  // a new question takes focus at its heading; so does going back to the words. Going on to type
  // them focuses the first slot (WitnessSlots), as the heading was read already.
  const h = useFocusOn(`${q.who}${q.what}`);
  useEffect(() => { if (phase === 'read') h.current?.focus(); }, [phase, h]);
  const answer = (confirmed: boolean, words?: string[]) => run('Recording the answer…', () => call('ceremony.answer', { runId, confirmed, ...(words === undefined ? {} : { words }) }));
  const refuse = refusing
    ? (
      <div className="refuse" role="group" aria-label="Stop the ceremony">
        <p>Stop the ceremony here? It stops at this step; started again on the same folder, it resumes from it.</p>
        <button type="button" className="danger" onClick={() => void answer(false)}>Stop the ceremony</button>
        <button type="button" className="secondary" onClick={() => setRefusing(false)}>Go back</button>
      </div>
    ) : null;
  if (q.slots === 0) {
    return (
      <section className="now-card question" aria-labelledby="now-h">
        <p className="step-no">{step}Confirmation: {KIND_NAME[q.kind]}</p>
        <h2 id="now-h" tabIndex={-1} ref={h}>{people(plan, q.who)} confirm{q.who.includes(', ') ? '' : 's'}</h2>
        <p className="what">{q.what.split(/(sha256:[0-9a-f]{64})/).map((part, i) => (i % 2 === 1 ? <Hex key={i} value={part} /> : part))}.</p>
        {refuse ?? (
          <div className="actions">
            <button type="button" className="primary" onClick={() => void answer(true)}>Confirm</button>
            <button type="button" className="danger" onClick={() => setRefusing(true)}>Refuse and stop</button>
          </div>
        )}
      </section>
    );
  }
  if (phase === 'read' && q.words !== null) {
    return (
      <section className="now-card question" aria-labelledby="now-h">
        <p className="step-no">{step}Witness check: {KIND_NAME[q.kind]}, read aloud</p>
        <h2 id="now-h" tabIndex={-1} ref={h}>Read these {q.words.length} words aloud to {nameOf(plan, q.who)}</h2>
        <p className="what">{q.what}: {nameOf(plan, q.who)} writes each word down as it is read, then types them on the next view, which does not show them.</p>
        <WordList words={q.words} label="words to read aloud" />
        {refuse ?? (
          <div className="actions">
            <button type="button" className="primary" onClick={() => { setPhase('type'); void reading(false); }}>Words read: {nameOf(plan, q.who)} types them</button>
            <button type="button" className="danger" onClick={() => setRefusing(true)}>Stop the ceremony</button>
          </div>
        )}
      </section>
    );
  }
  return (
    <section className="now-card question" aria-labelledby="now-h">
      <p className="step-no">{step}Witness check: {KIND_NAME[q.kind]}</p>
      <h2 id="now-h" tabIndex={-1} ref={h}>{nameOf(plan, q.who)} types what {q.source === 'record' ? 'the printed transcript shows' : 'was read aloud'}</h2>
      <p className="what">{q.what}.</p>
      {refuse ?? (
        <WitnessSlots q={q} who={people(plan, q.who)} onRefuse={() => setRefusing(true)} {...(q.words !== null ? { onShowWords: () => { setPhase('read'); void reading(true); } } : {})}
          onSubmit={async (words) => { const r = await answer(true, words); return r === undefined ? null : r.wrong; }} />
      )}
    </section>
  );
}

/** What a token holder's card does in this run, shown while they type its PIN. */
function CardWillSign({ plan, holder, label }: { plan: Plan; holder: string | null; label: string }) {
  const uses = plan.steps.filter((s) => s.tokens.some((t) => t.label === label));
  return (
    <aside className="signing" aria-label="You are signing">
      <h4>{holder === null ? `The administrator's token ${label}` : `You are signing, ${nameOf(plan, holder)}`}</h4>
      <p>In this run, {label} is used in:</p>
      <ul>
        {uses.map((s) => (
          <li key={s.id}>Step {s.number} ({s.id}): {s.does}{s.threshold !== null ? ` (${s.threshold} of ${s.members.length}: ${s.members.join(', ')})` : ''}.
            {s.threshold !== null && <SetWarning threshold={s.threshold} total={s.members.length} />}</li>
        ))}
        {holder !== null && <li>the checkpoint of the audit log, if the set&apos;s threshold needs this card.</li>}
      </ul>
      <p className="hint">Script {plan.digestWords.join(' ')}: compare with the printed script.</p>
    </aside>
  );
}

/**
 * A hand-over (issue 15): the run needs a card for the first time. The person at the keyboard picks
 * their name; only the card's holder (the administrator, for a token no custodian holds) is shown
 * the card the app found, how it found it, its serial, and a PIN field beside what the card signs.
 * Anyone else is refused before a PIN is typed. Rendered per card (keyed by it), so nothing of the
 * previous person's remains: no name chosen, an empty field.
 */
function HandOver({ plan, req, runId, step }: { plan: Plan; req: PinRequest; runId: string; step: string }) {
  const { run } = useApp();
  const [who, setWho] = useState<string | null>(null);
  const [pin, setPin] = useState('');
  const [sending, setSending] = useState(false);
  const [refused, setRefused] = useState<ApiError | null>(null);
  const [accepted, setAccepted] = useState(false);
  const [stopping, setStopping] = useState(false);
  const h = useFocusOn(`handover${req.token}`);
  const pinEntry = useRef<HTMLInputElement>(null);
  const toGive = useMissing('Waiting for', [pin === '' && 'the PIN, typed by the card\'s holder', sending && 'the card to answer']);
  const person = nameOf(plan, req.person);
  const right = who === req.person;
  useEffect(() => { if (right) pinEntry.current?.focus(); }, [right]);
  const pick = (id: string) => { setWho(id); setPin(''); setRefused(null); };
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (!right || pin === '' || sending || req.card === 'not-registered-key') return;
    const typed = pin;
    setPin(''); // the field never holds a PIN that was sent
    setSending(true);
    setRefused(null);
    try {
      await call('ceremony.pin', { runId, token: req.token, pin: typed });
      setWho(null);
      setAccepted(true);
    } catch (err) {
      setRefused(err instanceof AppError ? err.error : { code: 'APP_ERROR', message: String(err), fix: 'type the PIN again; if it repeats, stop the ceremony' });
      pinEntry.current?.focus();
    } finally {
      setSending(false);
    }
  };
  const found = {
    'registered-key': `Found by its key: it holds the key custodian set version ${req.set ?? '?'} registers for you.${req.rootPinned === true ? ' The set\'s root is the one the script pins.'
      : ' The set is the one on the ceremony media: the witness checks its root against the earlier ceremony\'s record before anything is signed.'}`,
    // the main process says why no registered key applies (the administrator's token, no set loaded yet, none for this holder)
    'script-token': `Found as the script's token, not by a registered key: ${req.why}.`,
    // no set version: the set the run began with does not verify, so no card can be checked against it (the main process says why)
    'not-registered-key': req.set === null ? `This card cannot be checked against the custodian set: ${req.why}. No PIN is typed into it: stop the ceremony.`
      : `This card does not hold the key custodian set version ${req.set} registers for you: no PIN is typed into it. Bring your own card, or stop the ceremony.`,
  }[req.card];
  const stop = stopping
    ? (
      <div className="refuse" role="group" aria-label="Stop the ceremony">
        <p>Stop the ceremony here? No PIN is typed; started again on the same folder, it resumes from this step.</p>
        <button type="button" className="danger" onClick={() => void run('Stopping the ceremony…', () => call('ceremony.stop', { runId }))}>Stop the ceremony</button>
        <button type="button" className="secondary" onClick={() => setStopping(false)}>Go back</button>
      </div>
    ) : <div className="actions"><button type="button" className="danger" onClick={() => setStopping(true)}>The card is not here: stop</button></div>;
  return (
    <section className="now-card handover-card" aria-labelledby="now-h">
      <p className="step-no">{step}Hand-over</p>
      <h2 id="now-h" tabIndex={-1} ref={h}>Hand-over to {person}</h2>
      <p className="does">The run needs <strong>{req.label}</strong> now{req.holder === null ? ", the administrator's token" : `, ${person}'s card`}. {person} comes to the keyboard and picks their name; everyone else steps back.</p>
      {accepted ? <p className="good" role="status">PIN accepted by the card: {person} steps back. The run goes on.</p> : (
        <>
          <fieldset className="who">
            <legend>Who is at the keyboard?</legend>
            {plan.participants.map((p) => (
              <button key={p.id} type="button" className={who === p.id ? 'chosen' : 'secondary'} aria-pressed={who === p.id} onClick={() => pick(p.id)}>{p.name}</button>
            ))}
          </fieldset>
          {who !== null && !right && (
            <p className="bad" role="alert">{nameOf(plan, who)}: this is not your card. {req.label} is {req.holder === null ? "the administrator's token" : `${person}'s card`}; {person} comes to the keyboard, and nobody else types its PIN.</p>
          )}
          {right && (
            <div className="sign-row">
              <div>
                <div className={`card-found ${req.card}`} role="region" aria-label="Your card">
                  <p className="card-id"><strong>{req.label}</strong>, serial <code>{req.serial}</code>{req.serialPinned ? ', as the script names it' : ': the script names it by label only, so compare the serial with the card'}</p>
                  <p className={req.card === 'not-registered-key' ? 'bad' : 'how'}>{found}</p>
                </div>
                {req.card !== 'not-registered-key' && (
                  <form className="grid" aria-label="PIN entry" onSubmit={(e) => void submit(e)}>
                    <div className="field">
                      <label htmlFor="pin-now">PIN for {req.label}</label>
                      <input id="pin-now" ref={pinEntry} type="password" autoComplete="off" value={pin} onChange={(e) => setPin(e.target.value)} aria-describedby="pin-hint" />
                      <small id="pin-hint" className="hint">Typed PINs are never shown, stored or logged. A wrong PIN is refused by the card and asked again; each uses up one of its tries.</small>
                    </div>
                    <button type="submit" className="primary" {...toGive.button}>Give the PIN to the card</button>
                    {toGive.note}
                    {refused !== null && <p className="bad span" role="alert">{refused.code}: {refused.message}.<br /><span className="fix">What to do: {refused.fix}.</span></p>}
                  </form>
                )}
              </div>
              <CardWillSign plan={plan} holder={req.holder} label={req.label} />
            </div>
          )}
          {stop}
        </>
      )}
    </section>
  );
}

/**
 * Before the start. A live run asks no PIN here: each card's PIN is typed on its hand-over when the
 * run first needs it. The dangerous override (no rehearsal) needs a reason for the audit log.
 */
function StartCard({ r }: { r: RunRef }) {
  const { run } = useApp();
  const { started } = useRun();
  const plan = r.plan;
  const [noRehearsal, setNoRehearsal] = useState(false);
  const [reason, setReason] = useState('');
  const [allowNetwork, setAllowNetwork] = useState(false);
  const h = useFocusOn(`start${r.mode}`);
  const live = r.mode === 'live';
  const start = async () => {
    const res = live
      ? await run(r.resumeFrom === undefined ? 'Starting the ceremony…' : 'Resuming the ceremony…', () => call('ceremony.start', { script: r.script, ceremonyFolder: r.folder.handle,
        ...(noRehearsal ? { noRehearsal: true, reason: reason.trim() } : {}) }))
      : await run('Starting the rehearsal…', () => call('ceremony.rehearse', { script: r.script, ceremonyFolder: r.folder.handle, allowNetwork }));
    if (res !== undefined) started(res.runId);
  };
  const missing = live && noRehearsal && reason.trim().length < 10 ? ['the reason for running without a rehearsal (at least 10 characters)'] : [];
  const label = live ? (r.resumeFrom === undefined ? 'Start the ceremony' : r.resumeFrom > plan.steps.length ? 'Resume: sign the checkpoint' : `Resume from step ${r.resumeFrom}`)
    : (r.resumeFrom === undefined ? 'Rehearse on throw-away tokens' : `Rehearse again from step ${r.resumeFrom}`);
  return (
    <section className="now-card" aria-labelledby="now-h">
      <p className="step-no">{live ? 'Before the start' : 'Rehearsal'}: folder <code>{r.folder.path}</code></p>
      <h2 id="now-h" tabIndex={-1} ref={h}>{live ? (r.resumeFrom === undefined ? 'Ready to start' : 'Ready to resume') : 'Rehearse the whole script'}</h2>
      {!live && <p className="does">The rehearsal runs every step on throw-away SoftHSM2 tokens, in the folder beside the ceremony folder, and records that this script passed. No PIN is typed and no card is touched.</p>}
      {live && (
        <>
          <p className="does">No PIN is typed now. When the run first needs a card, a hand-over asks for it: its holder comes to the keyboard, picks their name, checks the card the app found, and types its PIN.</p>
          <ul className="cards" aria-label="Cards of this run">
            {plan.tokens.map((t) => <li key={t.name}><strong>{t.label}</strong>: {t.holder === null ? "the administrator's token" : `${nameOf(plan, t.holder)}'s card`}</li>)}
          </ul>
          <div className="danger-zone">
            <label className="check"><input type="checkbox" checked={noRehearsal} onChange={(e) => setNoRehearsal(e.target.checked)} /> Run without a recorded rehearsal</label>
            <p className="hint">An exception: the audit log and the transcript record that this script ran without a rehearsal, with the reason typed here.</p>
            {noRehearsal && (
              <div className="field">
                <label htmlFor="no-rehearsal-reason">Reason (goes into the audit log)</label>
                <input id="no-rehearsal-reason" autoComplete="off" value={reason} onChange={(e) => setReason(e.target.value)} />
              </div>
            )}
          </div>
        </>
      )}
      {!live && (
        <div className="danger-zone">
          <label className="check"><input type="checkbox" checked={allowNetwork} onChange={(e) => setAllowNetwork(e.target.checked)} /> Rehearse with the network up (logged)</label>
          <p className="hint">Only a rehearsal may run with a network interface up; a live run never does.</p>
        </div>
      )}
      <div className="actions">
        <button type="button" className="primary" disabled={missing.length > 0} onClick={() => void start()}>{label}</button>
      </div>
      {missing.length > 0 && <p className="hint missing">Still needed: {missing.join('; ')}.</p>}
    </section>
  );
}

/** An audit log's verification, as the run sheet and the workbench's Ceremony screen both show it. */
export function AuditView({ result }: { result: Responses['audit.verify'] }) {
  return (
    <section className={`result ${result.valid ? 'valid' : 'invalid'}`} aria-label="audit log verification">
      <h3>{result.valid ? `Audit log valid: ${result.entries} entries` : `Audit log INVALID at entry ${result.firstBad ?? '?'}`}</h3>
      {result.problems.map((p) => <p key={`${p.seq}${p.code}`} className="bad">entry {p.seq}: {p.code}: {p.message}</p>)}
      <ul>{result.checkpoints.map((c) => <li key={c.seq}>checkpoint at entry {c.seq} signs entries 1 to {c.covers}{c.signers.length > 0 ? `, signed by ${c.signers.join(', ')}` : ''}{c.verified ? ' (verified against the custodian set)' : ''}</li>)}</ul>
      <p>Head <Digest value={result.head} label="audit log head" /></p>
    </section>
  );
}

function DoneCard({ r, runId }: { r: RunRef; runId: string }) {
  const { transcript, audit, again, close } = useRun();
  const { run } = useApp();
  const [pdf, setPdf] = useState<Responses['transcript.pdf'] | null>(null);
  const h = useFocusOn('done');
  const live = r.mode === 'live';
  return (
    <section className="now-card done" aria-labelledby="now-h">
      <h2 id="now-h" tabIndex={-1} ref={h}>{live ? 'Ceremony complete' : 'Rehearsal passed'}</h2>
      {!live && <p className="good">This script&apos;s rehearsal is recorded: the live run needs no exception.</p>}
      {audit !== null && <AuditView result={audit} />}
      {transcript !== null && (
        <div className="actions">
          {live && <button type="button" className="primary" onClick={() => void run('Printing the transcript to PDF…', () => call('transcript.pdf', { runId })).then((x) => { if (x !== undefined) setPdf(x); })}>Print the transcript to PDF</button>}
          <a className="button secondary" download="transcript.html" href={`data:text/html;charset=utf-8,${encodeURIComponent(transcript.html)}`}>Save the transcript (HTML)</a>
          {!live && <button type="button" className="primary" onClick={() => again('live', undefined)}>Run it live now</button>}
          <button type="button" className="secondary" onClick={close}>Close the run sheet</button>
        </div>
      )}
      {pdf !== null && <p className="good">Written {pdf.file} ({pdf.bytes} bytes, SHA-256 <Digest value={pdf.sha256} label="SHA-256 of the PDF" />): print it, and everyone signs their line.</p>}
    </section>
  );
}

function FailedCard({ r, status }: { r: RunRef; status: Status }) {
  const { again, close } = useRun();
  const h = useFocusOn('failed');
  const e = status.error;
  const n = status.resumeFrom ?? 1;
  const live = r.mode === 'live';
  return (
    <section className="now-card failed" aria-labelledby="now-h">
      <h2 id="now-h" tabIndex={-1} ref={h}>{live ? 'The ceremony stopped' : 'The rehearsal stopped'}{n <= status.steps.length ? ` at step ${n}` : ' before the checkpoint'}</h2>
      {e !== null && <div className="banner error" role="alert"><strong>{e.code}</strong>: {e.message}.<br /><span className="fix">What to do: {e.fix}.</span></div>}
      <p>Started again on the same folder, the run proves every step done before from the tokens and files, then goes on{n <= status.steps.length ? ` from step ${n}` : ' to the checkpoint'}.</p>
      <div className="actions">
        <button type="button" className="primary" onClick={() => again(r.mode, n)}>{live ? (n <= status.steps.length ? `Resume from step ${n}` : 'Resume: sign the checkpoint') : 'Rehearse again'}</button>
        <button type="button" className="secondary" onClick={close}>Close the run sheet</button>
      </div>
    </section>
  );
}

function AuditorDrawer({ r, status }: { r: RunRef; status: Status | null }) {
  const log = useRef<HTMLPreElement>(null);
  const lines = status?.lines ?? [];
  // the log follows its end, as a terminal does
  useEffect(() => { if (log.current !== null) log.current.scrollTop = log.current.scrollHeight; }, [lines.length]);
  return (
    <details className="drawer">
      <summary>Auditor: the run&apos;s log and full values</summary>
      <dl>
        <dt>Script</dt><dd>{r.plan.id}, <Digest value={r.plan.digest ?? ''} words={r.plan.digestWords} label="script digest" /></dd>
        <dt>Folder</dt><dd><code>{r.folder.path}</code></dd>
      </dl>
      <pre className="log" ref={log} role="log" aria-live="off" aria-label="ceremony log" tabIndex={0}>{lines.join('\n')}</pre>
      {status?.state === 'done' && <TranscriptText />}
    </details>
  );
}

/** The transcript as it will be printed: the engine's Markdown rendered (never as HTML), the source one click away. */
function TranscriptText() {
  const { transcript } = useRun();
  const [source, setSource] = useState(false);
  if (transcript === null) return null;
  return (
    <section className="transcript" aria-label="transcript">
      <button type="button" className="link" aria-pressed={source} onClick={() => setSource((x) => !x)}>{source ? 'Show the transcript as printed' : 'Show the Markdown source'}</button>
      {source ? <pre className="transcript-source" role="region" aria-label="transcript source" tabIndex={0}>{transcript.markdown}</pre> : <Markdown text={transcript.markdown} />}
    </section>
  );
}

export function RunSheet() {
  const { ref: r, status, lost, again } = useRun();
  const [present, setPresent] = usePresentation();
  if (r === null) return null;
  let card;
  if (r.runId === null) card = <StartCard key={`${r.mode}${r.resumeFrom ?? ''}`} r={r} />;
  else if (lost !== null) {
    card = (
      <section className="now-card failed" aria-labelledby="now-h">
        <h2 id="now-h">The app no longer follows this run</h2>
        <p>{lost.message}. {lost.fix}.</p>
        <div className="actions"><button type="button" className="primary" onClick={() => again(r.mode, undefined)}>Start again on the same folder (it resumes)</button></div>
      </section>
    );
  } else if (status === null) card = <section className="now-card" aria-label="now"><p className="working" role="status">Connecting to the run…</p></section>;
  else if (status.state === 'waiting' && status.pinRequest !== null) {
    const req = status.pinRequest;
    const at = req.step === null ? undefined : status.steps[req.step - 1];
    const step = at === undefined ? (status.stage === 'checkpoint' ? `Step ${status.steps.length + 1}: checkpoint · ` : 'Opening the ceremony · ') : `Step ${at.number} of ${status.steps.length}: ${at.id} · `;
    card = <HandOver key={`${r.runId}${req.token}`} plan={r.plan} req={req} runId={r.runId} step={step} />;
  } else if (status.state === 'waiting' && status.question !== null) {
    const at = status.now === null ? undefined : status.steps[status.now - 1];
    const step = at === undefined ? (status.stage === 'checkpoint' ? `Step ${status.steps.length + 1}: checkpoint · ` : '') : `Step ${at.number} of ${status.steps.length}: ${at.id} · `;
    card = <QuestionCard key={`${status.question.who}${status.question.what}`} plan={r.plan} q={status.question} runId={r.runId} step={step} />;
  }
  else if (status.state === 'done') card = <DoneCard r={r} runId={r.runId} />;
  else if (status.state === 'failed') card = <FailedCard r={r} status={status} />;
  else card = <StepCard plan={r.plan} status={status} />;
  return (
    <div className={`sheet ${r.mode}${present ? ' present' : ''}`}>
      <ModeBar r={r} status={status} present={present} setPresent={setPresent} />
      <div className="sheet-body">
        <StepRail plan={r.plan} status={status} />
        <main className="now-area" aria-label="run sheet">
          <Banners />
          {card}
          {/* the log holds the words and digests said: not on screen while a witness check waits */}
          {(status?.question?.slots ?? 0) === 0 && <AuditorDrawer r={r} status={status} />}
        </main>
      </div>
    </div>
  );
}
