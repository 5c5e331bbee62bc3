/**
 * Backup custody (issue 6): split the backup key onto the custodians' cards one custodian at a
 * time, each share read back and checked as it is stored; and run a restoration drill, shares
 * presented one custodian at a time and checked on entry, progress towards M, the KCV comparison,
 * and the drill report for the custodians to sign.
 */
import { useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Beside, DocumentBox, Field, FileDrop, PinField, TokenSelect, useMissing, usePlace, useTokens } from '../components/common.js';
import { DriveFields, useDrive } from '../components/drives.js';
import { custodiansOf } from '../components/signing.js';
import { Digest, Kcv } from '../components/values.js';
import { useApp } from '../state.js';
import { SignPanel } from './SignPanel.js';

type Receipt = Responses['backup.splitStore'];

function SplitPanel() {
  const { tokens } = useTokens();
  const { chain, keys } = useApp();
  const { run, at } = usePlace();
  const drive = useDrive('backup-custody');
  const members = custodiansOf(chain);
  const [hsm, setHsm] = useState('');
  const [hsmPin, setHsmPin] = useState('');
  const [backupKey, setBackupKey] = useState('backup-v1');
  const [masterKey, setMasterKey] = useState(keys.find((k) => k.kind === 'master')?.label ?? 'master-v1');
  const [threshold, setThreshold] = useState(2);
  const [ceremony, setCeremony] = useState('');
  const [actor, setActor] = useState('');
  const [begun, setBegun] = useState<Responses['backup.splitBegin'] | null>(null);
  const [receipts, setReceipts] = useState<Receipt[]>([]);
  const [card, setCard] = useState('');
  const [cardPin, setCardPin] = useState('');
  const [done, setDone] = useState<Responses['backup.splitFinish'] | null>(null);
  const [custodyManifest, setCustodyManifest] = useState<string | null>(null);
  const [cleanUp, setCleanUp] = useState<readonly string[]>([]);

  const next = receipts.length === 0 ? begun?.next ?? null : receipts[receipts.length - 1]?.next ?? null;
  const toBegin = useMissing('To split:', [hsm === '' && 'choose the HSM', hsmPin === '' && 'type its PIN', backupKey === '' && 'give the backup key id', masterKey === '' && 'give the master key',
    ceremony.trim() === '' && 'give the custody ceremony id', members.length < 2 && 'use a custodian set of at least two', (threshold < 2 || threshold > members.length) && members.length >= 2 && `choose M from 2 to ${members.length}`]);
  const toStore = useMissing('To store the share:', [card === '' && `choose the card of ${next ?? 'the custodian'}`, cardPin === '' && 'type its PIN']);
  const toFinish = useMissing('To write the custody folder:', [drive.handle === '' && 'choose the custody drive', actor === '' && 'choose the initiating custodian', hsmPin === '' && 'type the HSM PIN']);
  const begin = async () => {
    const r = await run(`Generating ${backupKey} in "${hsm}" and splitting it ${threshold} of ${members.length}…`, () => call('backup.splitBegin', {
      hsm: { label: hsm }, hsmPin, chain: [...chain], ceremony, backupKey, keys: [masterKey], threshold, custodians: members,
    }), 'Backup key generated and split: each custodian now stores their share on their card.');
    setHsmPin('');
    if (r !== undefined) setBegun(r);
  };
  const store = async () => {
    if (begun === null || next === null) return;
    const r = await run(`Storing the share of ${next} on "${card}", then reading it back…`, () => call('backup.splitStore', { splitId: begun.splitId, custodian: next, token: { label: card }, pin: cardPin }),
      `The share of ${next} is on the card and reads back intact.`);
    setCardPin('');
    if (r !== undefined) { setReceipts((xs) => [...xs, r]); setCard(''); }
  };
  const finish = async () => {
    if (begun === null) return;
    const r = await run(`Recombining ${threshold} shares in "${hsm}" and writing the custody folder…`, () => call('backup.splitFinish', {
      splitId: begun.splitId, hsm: { label: hsm }, hsmPin, chain: [...chain], actor, drive: drive.handle, folder: drive.folder,
    }), 'Custody checked and written: the custodians sign its manifest.');
    setHsmPin('');
    if (r !== undefined) { setDone(r); setCustodyManifest(r.manifest.document); }
  };
  const [cancelling, setCancelling] = useState(false);
  const cancel = async () => {
    if (begun === null) return;
    const r = await run('Cancelling the split…', () => call('backup.splitCancel', { splitId: begun.splitId }));
    if (r !== undefined) { setBegun(null); setReceipts([]); setCleanUp(r.cleanUp); }
  };

  if (chain.length === 0) return <p>Splitting the backup key needs the custodian set: form or load it under <strong>Custodians</strong> first.</p>;
  if (begun === null) {
    return (
      <>
      {cleanUp.length > 0 && <p className="bad" role="status">Split cancelled. Left to clean up: {cleanUp.join('; ')}.</p>}
      <form className="grid" aria-label="Split the backup key" onSubmit={(e) => { e.preventDefault(); void begin(); }}>
        <TokenSelect tokens={tokens} value={hsm} onChange={setHsm} label="HSM" />
        <PinField value={hsmPin} onChange={setHsmPin} token={tokens.find((t) => t.label === hsm)} />
        <Field label="Backup key id">{(i) => <input id={i} value={backupKey} onChange={(e) => setBackupKey(e.target.value)} />}</Field>
        <Field label="Master key to back up">{(i) => <input id={i} value={masterKey} onChange={(e) => setMasterKey(e.target.value)} />}</Field>
        <Field label="Shares needed to restore (M)" hint={`of ${members.length}: ${members.join(', ')}`}>{(i) => <input id={i} type="number" min={2} max={members.length} value={threshold} onChange={(e) => setThreshold(Number(e.target.value))} />}</Field>
        <Field label="Custody ceremony id" hint="as on the printed script, e.g. 2026-q4-backup-custody">{(i) => <input id={i} value={ceremony} onChange={(e) => setCeremony(e.target.value)} />}</Field>
        <button type="submit" {...toBegin.button}>Generate and split the backup key</button>
        {toBegin.note}
        <Beside at={at} />
      </form>
      </>
    );
  }
  return (
    <>
      <p>Backup key <strong>{begun.backupKey}</strong>, <Kcv value={begun.backupKcv} />, split {begun.threshold} of {begun.total}.</p>
      <ol className="checklist" aria-label="Shares placed">
        {members.map((m) => {
          const r = receipts.find((x) => x.custodian === m);
          return <li key={m} className={r !== undefined ? 'good' : m === next ? 'now' : ''}>{m}: {r !== undefined ? <>on {r.holder}; read back in a new session, matches its commitment <Digest value={r.commitment} label={`commitment of ${m}'s share`} /></> : m === next ? 'next' : 'waiting'}</li>;
        })}
      </ol>
      {next !== null && (
        <form className="grid" aria-label="Store a share" onSubmit={(e) => { e.preventDefault(); void store(); }}>
          <p className="now"><strong>Next: {next}</strong>, insert your card and type your PIN.</p>
          <TokenSelect tokens={tokens} value={card} onChange={setCard} label={`Card of ${next}`} />
          <PinField value={cardPin} onChange={setCardPin} token={tokens.find((t) => t.label === card)} />
          <button type="submit" {...toStore.button}>Store the share of {next}</button>
          {toStore.note}
          <Beside at={at} />
        </form>
      )}
      {next === null && done === null && (
        <form className="grid" aria-label="Finish the split" onSubmit={(e) => { e.preventDefault(); void finish(); }}>
          <DriveFields drive={drive} label="Custody drive" />
          <Field label="Initiating custodian (actor)">{(i) => <select id={i} value={actor} onChange={(e) => setActor(e.target.value)}><option value="">Who initiates it?</option>{members.map((m) => <option key={m}>{m}</option>)}</select>}</Field>
          <PinField value={hsmPin} onChange={setHsmPin} token={tokens.find((t) => t.label === hsm)} />
          <button type="submit" {...toFinish.button}>Check the shares and write the custody folder</button>
          {toFinish.note}
          <Beside at={at} />
        </form>
      )}
      {done === null && !cancelling && <button type="button" className="danger" onClick={() => setCancelling(true)}>Cancel the split…</button>}
      {done === null && cancelling && (
        <div className="danger-zone" role="group" aria-labelledby="cancel-split-h">
          <p id="cancel-split-h" className="check">Cancel the split? It cannot be taken up again: the backup key in the HSM and the {receipts.length} share{receipts.length === 1 ? '' : 's'} already on cards stay behind as objects to remove by hand (they are listed next), and a new split starts from the beginning.</p>
          <button type="button" className="danger" onClick={() => { setCancelling(false); void cancel(); }}>Yes, abandon this split</button>{' '}
          <button type="button" className="secondary" onClick={() => setCancelling(false)}>No, go on with the split</button>
        </div>
      )}
      {done !== null && custodyManifest !== null && (
        <section className="result valid" aria-label="custody result">
          <h3>Custody written to {done.dir}</h3>
          <p>{threshold} shares read back from the cards rebuild a key with the backup key&apos;s check value: <Kcv value={done.backupKcv} />.</p>
          <table><thead><tr><th>File</th><th>Bytes</th><th>SHA-256</th></tr></thead>
            <tbody>{done.files.map((f) => <tr key={f.path}><td>{f.path}</td><td>{f.bytes}</td><td><Digest value={f.sha256} label={`SHA-256 of ${f.path}`} /></td></tr>)}</tbody></table>
          <DocumentBox title="Custody manifest" document={custodyManifest} summary={done.manifest.summary} />
          <SignPanel document={custodyManifest} chain={[...chain]} onSigned={setCustodyManifest} />
        </section>
      )}
    </>
  );
}

function DrillPanel() {
  const { tokens } = useTokens();
  const { chain } = useApp();
  const { run, at } = usePlace();
  const restoring = usePlace();
  const drive = useDrive('backup-custody');
  const [manifest, setManifest] = useState('');
  const [plan, setPlan] = useState<Responses['drill.begin'] | null>(null);
  const [presented, setPresented] = useState<Responses['drill.present'][]>([]);
  const [custodian, setCustodian] = useState('');
  const [card, setCard] = useState('');
  const [cardPin, setCardPin] = useState('');
  const [target, setTarget] = useState('');
  const [targetPin, setTargetPin] = useState('');
  const [outcome, setOutcome] = useState<Responses['drill.run'] | null>(null);
  const [report, setReport] = useState<string | null>(null);

  const begin = async () => {
    const r = await run('Checking the custody manifest and every file it lists…', () => call('drill.begin', { manifest, chain: [...chain], drive: drive.handle, folder: drive.folder }),
      'The custody folder matches its signed manifest: custodians present their shares.');
    if (r !== undefined) setPlan(r);
  };
  const present = async () => {
    if (plan === null) return;
    const r = await run(`Reading the share of ${custodian} from "${card}" and checking it…`, () => call('drill.present', { drillId: plan.drillId, custodian, token: { label: card }, pin: cardPin }),
      `The share of ${custodian} matches its commitment.`);
    setCardPin('');
    if (r !== undefined) { setPresented((xs) => [...xs, r]); setCustodian(''); setCard(''); }
  };
  const drill = async () => {
    if (plan === null) return;
    const r = await restoring.run(`Restoring ${plan.backupKey} into "${target}" and checking every key…`, () => call('drill.run', { drillId: plan.drillId, token: { label: target }, pin: targetPin }));
    setTargetPin('');
    if (r !== undefined) { setOutcome(r); setReport(r.report.document); }
  };
  const count = presented[presented.length - 1]?.count ?? 0;
  const toCheck = useMissing('To check the custody folder:', [manifest === '' && 'drop the signed custody manifest', drive.handle === '' && 'choose the drive']);
  const toPresent = useMissing('To present a share:', [custodian === '' && 'choose who is presenting', card === '' && 'choose their card', cardPin === '' && 'type its PIN']);
  const toRestore = useMissing('To restore:', [target === '' && 'choose the drill token', targetPin === '' && 'type its PIN']);

  if (chain.length === 0) return <p>A drill needs the custodian set: load it under <strong>Custodians</strong> first.</p>;
  if (plan === null) {
    return (
      <form className="grid" aria-label="Start a drill" onSubmit={(e) => { e.preventDefault(); void begin(); }}>
        <FileDrop label="Signed custody manifest" onText={setManifest} />
        <DriveFields drive={drive} label="Drive with the custody folder" />
        <button type="submit" {...toCheck.button}>Check the custody folder</button>
        {toCheck.note}
        <Beside at={at} />
      </form>
    );
  }
  const waiting = plan.receipts.filter((r) => !presented.some((p) => p.custodian === r.custodian));
  return (
    <>
      <p>Backup key <strong>{plan.backupKey}</strong> (<Kcv value={plan.backupKcv} />), {plan.threshold} of {plan.total}; custody manifest signed by {plan.signers.join(', ')}.</p>
      <p role="status" aria-label="drill progress"><strong>{count} of {plan.threshold}</strong> shares presented{count >= plan.threshold ? ': ready to restore' : ''}.</p>
      <progress max={plan.threshold} value={count} aria-label="shares presented" />
      <ul className="checklist">{presented.map((p) => <li key={p.custodian} className="good">{p.custodian} (share {p.index}): matches its commitment</li>)}</ul>
      {outcome === null && (
        <form className="grid" aria-label="Present a share" onSubmit={(e) => { e.preventDefault(); void present(); }}>
          <Field label="Custodian presenting">{(i) => <select id={i} value={custodian} onChange={(e) => setCustodian(e.target.value)}><option value="">Who is presenting?</option>{waiting.map((r) => <option key={r.custodian} value={r.custodian}>{r.custodian} ({r.holder})</option>)}</select>}</Field>
          <TokenSelect tokens={tokens} value={card} onChange={setCard} label="Their card" />
          <PinField value={cardPin} onChange={setCardPin} token={tokens.find((t) => t.label === card)} />
          <button type="submit" {...toPresent.button}>Present the share</button>
          {toPresent.note}
          <Beside at={at} />
        </form>
      )}
      {outcome === null && count >= plan.threshold && (
        <form className="grid" aria-label="Run the drill" onSubmit={(e) => { e.preventDefault(); void drill(); }}>
          <TokenSelect tokens={tokens} value={target} onChange={setTarget} label="Drill token" />
          <PinField value={targetPin} onChange={setTargetPin} token={tokens.find((t) => t.label === target)} />
          <button type="submit" {...toRestore.button}>Restore into the drill token and check</button>
          {toRestore.note}
          <Beside at={restoring.at} />
        </form>
      )}
      {outcome !== null && report !== null && (
        <section className={`result ${outcome.result === 'pass' ? 'valid' : 'invalid'}`} aria-label="drill result">
          <h3>{outcome.result === 'pass' ? 'PASS' : `FAIL: ${outcome.failures.join(', ')}`}</h3>
          <table><thead><tr><th>Key</th><th>Check value in the manifest</th><th>Check value restored</th><th>Canary</th></tr></thead>
            <tbody>
              <tr><td>{plan.backupKey}</td><td><Kcv value={plan.backupKcv} /></td><td><Kcv value={outcome.backupKcv} /> {outcome.backupKcvMatches ? 'matches' : 'DIFFERS'}</td><td>n/a</td></tr>
              {outcome.restored.map((r) => <tr key={r.id}><td>{r.id}</td><td><Kcv value={plan.keys.find((k) => k.id === r.id)?.kcv ?? ''} /></td><td><Kcv value={r.kcv} /> {r.kcvMatches ? 'matches' : 'DIFFERS'}</td><td>{r.canary ? 'decrypted' : 'FAILED'}</td></tr>)}
            </tbody></table>
          <p>Every drill object was destroyed. The custodians sign the report.</p>
          <DocumentBox title="Drill report" document={report} summary={outcome.report.summary} />
          <SignPanel document={report} chain={[...chain]} onSigned={setReport} />
        </section>
      )}
    </>
  );
}

export function BackupScreen() {
  return (
    <section aria-labelledby="bak-h">
      <h2 id="bak-h">Backup</h2>
      <p className="lead">The backup key is split among the custodians; only a drill that restores it proves the backup works.</p>
      <h3>Split the backup key</h3>
      <SplitPanel />
      <h3>Restoration drill</h3>
      <DrillPanel />
    </section>
  );
}
