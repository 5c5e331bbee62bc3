/**
 * The ceremony screen of the workbench (issue 7, issue 15): load a script and review it (steps
 * numbered like the printed script, participants, the digest as words), choose the ceremony
 * folder in the main process's own dialog (this screen holds only its handle), then open the run
 * sheet to rehearse it or to run it live. A run in progress is shown here and reopened, never
 * replaced. Audit logs are verified here too.
 */
import { useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Beside, FileDrop, useMissing, usePlace } from '../components/common.js';
import { SetWarning } from '../components/signing.js';
import { Digest } from '../components/values.js';
import { active, useRun } from '../run.js';
import type { FolderView, Plan } from '../run.js';
import { useApp } from '../state.js';
import { AuditView } from './RunSheet.js';

function OpenRun() {
  const { ref, status, showSheet } = useRun();
  if (ref === null) return null;
  const now = status?.now === null || status?.now === undefined ? null : status.steps[status.now - 1];
  const what = ref.runId === null ? 'not started yet' : status === null ? 'connecting…' : { running: 'running', waiting: 'waiting for a witness', done: 'finished', failed: 'stopped' }[status.state];
  return (
    <section className="open-run" aria-label="run in progress">
      <p><strong>{ref.mode === 'live' ? 'LIVE run' : 'Rehearsal'}</strong> of {ref.plan.title}: {what}{now === null || now === undefined ? '' : `; step ${now.number}, ${now.actor} acts now`}.</p>
      <button type="button" className="primary" onClick={() => showSheet(true)}>Return to the run sheet</button>
    </section>
  );
}

export function CeremonyScreen() {
  const { chain } = useApp();
  const { run, at } = usePlace();
  const auditing = usePlace();
  const r = useRun();
  const [script, setScript] = useState('');
  const [plan, setPlan] = useState<Plan | null>(null);
  const [folder, setFolder] = useState<FolderView | null>(null);
  const [audit, setAudit] = useState<Responses['audit.verify'] | null>(null);

  const load = async (text: string) => {
    setScript(text);
    const v = await run('Reading the ceremony script…', () => call('ceremony.validate', { script: text }));
    if (v !== undefined) setPlan(v);
  };
  const chooseFolder = async () => {
    const v = await run('Choosing the ceremony folder…', () => call('folders.choose', { purpose: 'ceremony' }));
    // cancelled: the folder chosen before stays
    if (v !== undefined && v.folder !== null) setFolder(v.folder);
  };
  const verifyDropped = async (text: string) => {
    const v = await auditing.run('Verifying the audit log…', () => call('audit.verify', { log: text, chain: [...chain] }));
    if (v !== undefined) setAudit(v);
  };
  // a run that is going on is never replaced; one not started yet, or ended, is
  const busyRun = r.ref !== null && r.ref.runId !== null && active(r.status);
  const open = (mode: 'live' | 'rehearsal') => { if (plan !== null && folder !== null) r.prepare({ mode, script, plan, folder }); };
  const missing = useMissing('To open the run sheet:', [folder === null && 'a ceremony folder', busyRun && 'the run in progress to end']);

  return (
    <section aria-labelledby="cer-h">
      <h2 id="cer-h">Ceremony</h2>
      <p className="lead">Review a ceremony script, rehearse it on throw-away tokens, then run it live on the run sheet. Every step goes into the audit log; the transcript is written at the end.</p>
      <OpenRun />
      <FileDrop label="Ceremony script" onText={(t) => void load(t)} />
      {plan?.valid !== true && <Beside at={at} />}
      {plan !== null && !plan.valid && (
        <section className="result invalid" aria-label="script problems">
          <h3>The script is not valid ({plan.problems.length} problems)</h3>
          <ul>{plan.problems.map((p) => <li key={`${p.path}${p.code}`}><code>{p.path}</code>: {p.code}: {p.message}</li>)}</ul>
        </section>
      )}
      {plan?.valid === true && (
        <>
          <h3>{plan.title}</h3>
          <p>Script <code>{plan.id}</code>, digest: <Digest value={plan.digest ?? ''} words={plan.digestWords} label="script digest" /></p>
          <table aria-label="participants"><thead><tr><th>Participant</th><th>Role</th></tr></thead><tbody>{plan.participants.map((p) => <tr key={p.id}><td>{p.name} ({p.id})</td><td>{p.role}</td></tr>)}</tbody></table>
          <ol aria-label="steps" className="steps">
            {plan.steps.map((s) => (
              <li key={s.id}><strong>{s.id}</strong>: {s.action}, by {s.actor}. {s.does}.{s.threshold !== null && <SetWarning threshold={s.threshold} total={s.members.length} />}</li>
            ))}
          </ol>
          <section className="grid" aria-label="Open the run sheet">
            <div className="field">
              <span className="label">Ceremony folder</span>
              {folder === null ? <span className="hint">none chosen yet</span> : <code className="chosen" aria-label="ceremony folder">{folder.path}</code>}
              <button type="button" className="secondary" onClick={() => void chooseFolder()}>{folder === null ? 'Choose the ceremony folder…' : 'Choose another folder…'}</button>
              <small className="hint">a new folder, or the folder of an interrupted run to resume it</small>
            </div>
            <button type="button" className="secondary" {...missing.button} onClick={() => open('rehearsal')}>Rehearse on the run sheet</button>
            <button type="button" className="primary" {...missing.button} onClick={() => open('live')}>Run live on the run sheet</button>
            {missing.note}
            <Beside at={at} />
          </section>
        </>
      )}
      <h3>Audit log</h3>
      <FileDrop label="Verify an audit log (with the custodian set in use)" onText={(t) => void verifyDropped(t)} />
      <Beside at={auditing.at} />
      {audit !== null && <AuditView result={audit} />}
    </section>
  );
}
