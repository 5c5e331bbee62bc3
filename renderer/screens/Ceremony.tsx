/**
 * The ceremony runner (issue 7): load a script and review it, rehearse it on throw-away tokens,
 * type each token's PIN, start, follow the steps with who acts now, answer the witness questions
 * (the words to read aloud are shown), then read the transcript and verify the audit log. A
 * ceremony interrupted by a crash resumes when it is started again on the same folder. The folder
 * is chosen in the main process's own dialog: this screen holds only its handle, and shows its path.
 */
import { useEffect, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Field, FileDrop } from '../components/common.js';
import { useApp } from '../state.js';

type Plan = Responses['ceremony.validate'];
type Status = Responses['ceremony.status'];

function AuditView({ result }: { result: Responses['audit.verify'] }) {
  return (
    <section className={`result ${result.valid ? 'valid' : 'invalid'}`} aria-label="audit log verification">
      <h3>{result.valid ? `Audit log valid: ${result.entries} entries` : `Audit log INVALID at entry ${result.firstBad ?? '?'}`}</h3>
      {result.problems.map((p) => <p key={`${p.seq}${p.code}`} className="bad">entry {p.seq}: {p.code}: {p.message}</p>)}
      <ul>{result.checkpoints.map((c) => <li key={c.seq}>checkpoint at entry {c.seq} signs entries 1 to {c.covers}{c.signers.length > 0 ? `, signed by ${c.signers.join(', ')}` : ''}{c.verified ? ' (verified against the custodian set)' : ''}</li>)}</ul>
      <p>Head <code>{result.head}</code></p>
    </section>
  );
}

function Question({ q, onAnswer }: { q: NonNullable<Status['question']>; onAnswer: (yes: boolean) => void }) {
  const [typed, setTyped] = useState('');
  const said = typed.trim().toLowerCase().split(/\s+/).filter(Boolean).join(' ');
  const ok = said === 'yes' || (q.words !== null && said === q.words.join(' ').toLowerCase());
  return (
    <form className="grid question" aria-label="Witness confirmation" onSubmit={(e) => { e.preventDefault(); if (ok) onAnswer(true); }}>
      <p className="now"><strong>{q.who}</strong> confirms {q.what}.</p>
      {q.words !== null && <p>Words read aloud: <span className="words" aria-label="words to read aloud">{q.words.join(' ')}</span></p>}
      <Field label="Type the words you heard, or yes">{(i) => <input id={i} autoComplete="off" value={typed} onChange={(e) => setTyped(e.target.value)} />}</Field>
      <button type="submit" disabled={!ok}>Confirm</button>
      <button type="button" className="secondary" onClick={() => onAnswer(false)}>They do not match: stop</button>
    </form>
  );
}

export function CeremonyScreen() {
  const { run, chain } = useApp();
  const [script, setScript] = useState('');
  const [plan, setPlan] = useState<Plan | null>(null);
  const [folder, setFolder] = useState<Responses['folders.choose']['folder']>(null);
  const [pins, setPins] = useState<Record<string, string>>({});
  const [noRehearsal, setNoRehearsal] = useState(false);
  const [allowNetwork, setAllowNetwork] = useState(false);
  const [mode, setMode] = useState<'rehearsal' | 'ceremony'>('ceremony');
  const [runId, setRunId] = useState<string | null>(null);
  const [status, setStatus] = useState<Status | null>(null);
  const [transcript, setTranscript] = useState<Responses['transcript.read'] | null>(null);
  const [audit, setAudit] = useState<Responses['audit.verify'] | null>(null);
  const [pdf, setPdf] = useState<Responses['transcript.pdf'] | null>(null);

  const load = async (text: string) => {
    setScript(text);
    const r = await run('Reading the ceremony script…', () => call('ceremony.validate', { script: text }));
    if (r !== undefined) { setPlan(r); setPins({}); }
  };
  const chooseFolder = async () => {
    const r = await run('Choosing the ceremony folder…', () => call('folders.choose', { purpose: 'ceremony' }));
    // cancelled: the folder chosen before stays
    if (r !== undefined && r.folder !== null) setFolder(r.folder);
  };
  const start = async () => {
    if (folder === null) return;
    const r = await run('Starting the ceremony…', () => call('ceremony.start', { script, ceremonyFolder: folder.handle, pins: Object.entries(pins).map(([token, pin]) => ({ token, pin })), noRehearsal }));
    setPins({});
    if (r !== undefined) { setMode('ceremony'); setRunId(r.runId); }
  };
  const rehearse = async () => {
    if (folder === null) return;
    const r = await run('Starting the rehearsal…', () => call('ceremony.rehearse', { script, ceremonyFolder: folder.handle, allowNetwork }));
    if (r !== undefined) { setMode('rehearsal'); setRunId(r.runId); }
  };
  /** After a rehearsal: back to the script, to run it for real. */
  const backToScript = () => { setRunId(null); setStatus(null); setTranscript(null); setAudit(null); setPdf(null); };
  useEffect(() => {
    if (runId === null) return undefined;
    let stop = false;
    const poll = async () => {
      const s = await call('ceremony.status', { runId }).catch(() => null);
      if (stop || s === null) return;
      setStatus(s);
      if (s.state === 'done') {
        const t = await call('transcript.read', { runId });
        setTranscript(t);
        setAudit(await call('audit.verify', { log: t.audit, chain: [...t.chain], checkpoint: t.checkpoint }));
        return;
      }
      if (s.state !== 'failed') setTimeout(() => void poll(), 250);
    };
    void poll();
    return () => { stop = true; };
  }, [runId]);
  const answer = async (yes: boolean) => {
    if (runId === null) return;
    await run('Recording the answer…', () => call('ceremony.answer', { runId, confirmed: yes }));
  };
  const verifyDropped = async (text: string) => {
    const r = await run('Verifying the audit log…', () => call('audit.verify', { log: text, chain: [...chain] }));
    if (r !== undefined) setAudit(r);
  };

  return (
    <section aria-labelledby="cer-h">
      <h2 id="cer-h">Ceremony</h2>
      <p className="lead">Run a reviewed, rehearsed ceremony script step by step. Every step goes into the audit log; the transcript is written at the end.</p>
      {runId === null && (
        <>
          <FileDrop label="Ceremony script" onText={(t) => void load(t)} />
          {plan !== null && !plan.valid && (
            <section className="result invalid" aria-label="script problems">
              <h3>The script is not valid ({plan.problems.length} problems)</h3>
              <ul>{plan.problems.map((p) => <li key={`${p.path}${p.code}`}><code>{p.path}</code>: {p.code}: {p.message}</li>)}</ul>
            </section>
          )}
          {plan?.valid === true && (
            <>
              <h3>{plan.title}</h3>
              <p>Script <code>{plan.id}</code>, SHA-256 <code>{plan.digest}</code></p>
              <table aria-label="participants"><thead><tr><th>Participant</th><th>Role</th></tr></thead><tbody>{plan.participants.map((p) => <tr key={p.id}><td>{p.name} ({p.id})</td><td>{p.role}</td></tr>)}</tbody></table>
              <ol aria-label="steps">{plan.steps.map((s) => <li key={s.id}>{s.id}: {s.action}, by {s.actor}</li>)}</ol>
              <form className="grid" aria-label="Start the ceremony" onSubmit={(e) => { e.preventDefault(); void start(); }}>
                <div className="field">
                  <span className="label">Ceremony folder</span>
                  {folder === null ? <span className="hint">none chosen yet</span> : <code className="chosen" aria-label="ceremony folder">{folder.path}</code>}
                  <button type="button" className="secondary" onClick={() => void chooseFolder()}>{folder === null ? 'Choose the ceremony folder…' : 'Choose another folder…'}</button>
                  <small className="hint">a new folder, or the folder of an interrupted run to resume it</small>
                </div>
                {plan.tokens.map((t) => (
                  <Field key={t.name} label={`PIN for ${t.label}`} hint={t.holder === null ? 'typed by the administrator' : `typed by ${t.holder}`}>
                    {(i) => <input id={i} type="password" autoComplete="off" value={pins[t.name] ?? ''} onChange={(e) => setPins((p) => ({ ...p, [t.name]: e.target.value }))} />}
                  </Field>
                ))}
                <label className="check"><input type="checkbox" checked={noRehearsal} onChange={(e) => setNoRehearsal(e.target.checked)} /> Run without a recorded rehearsal (logged)</label>
                <button type="submit" disabled={folder === null || plan.tokens.some((t) => (pins[t.name] ?? '') === '')}>Start the ceremony</button>
              </form>
              <form className="grid" aria-label="Rehearse the ceremony" onSubmit={(e) => { e.preventDefault(); void rehearse(); }}>
                <p>A rehearsal runs the whole script on throw-away SoftHSM2 tokens, in the folder beside the ceremony folder, and records that this script passed. No PIN is needed and no card is touched.</p>
                <label className="check"><input type="checkbox" checked={allowNetwork} onChange={(e) => setAllowNetwork(e.target.checked)} /> Rehearse with the network up (logged)</label>
                <button type="submit" className="secondary" disabled={folder === null}>Rehearse on throw-away tokens</button>
              </form>
            </>
          )}
        </>
      )}
      {status !== null && (
        <>
          <p role="status" aria-label="ceremony state"><strong>{(mode === 'rehearsal' ? { running: 'Rehearsing', waiting: 'Rehearsing', done: 'Rehearsal passed', failed: 'Rehearsal stopped' } : { running: 'Running', waiting: 'Waiting for a witness', done: 'Ceremony complete', failed: 'Stopped' })[status.state]}</strong></p>
          {mode === 'rehearsal' && status.state === 'done' && <p className="good">This script&apos;s rehearsal is recorded: the real run needs no exception. <button type="button" onClick={backToScript}>Back to the script, to run it for real</button></p>}
          {mode === 'rehearsal' && status.state === 'failed' && <button type="button" className="secondary" onClick={backToScript}>Back to the script</button>}
          {status.question !== null && <Question key={`${status.question.who}${status.question.what}`} q={status.question} onAnswer={(y) => void answer(y)} />}
          {status.error !== null && <div className="banner error" role="alert"><strong>{status.error.code}</strong>: {status.error.message}.<br /><span className="fix">What to do: {status.error.fix}.</span></div>}
          <pre className="log" aria-label="ceremony log">{status.lines.join('\n')}</pre>
        </>
      )}
      {transcript !== null && (
        <section aria-label="transcript">
          <h3>Transcript</h3>
          <a className="button secondary" download="transcript.html" href={`data:text/html;charset=utf-8,${encodeURIComponent(transcript.html)}`}>Save the transcript (HTML, to print or save as PDF)</a>
          <button type="button" onClick={() => { if (runId !== null) void run('Printing the transcript to PDF…', () => call('transcript.pdf', { runId })).then((r) => { if (r !== undefined) setPdf(r); }); }}>Print the transcript to PDF</button>
          {pdf !== null && <p className="good">Written {pdf.file} ({pdf.bytes} bytes, SHA-256 <code>{pdf.sha256.slice(0, 16)}…</code>): print it, and everyone signs their line.</p>}
          <pre className="transcript">{transcript.markdown}</pre>
        </section>
      )}
      <h3>Audit log</h3>
      <FileDrop label="Verify an audit log (with the custodian set in use)" onText={(t) => void verifyDropped(t)} />
      {audit !== null && <AuditView result={audit} />}
    </section>
  );
}
