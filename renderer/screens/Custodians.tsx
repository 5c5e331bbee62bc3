import { useEffect, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Beside, DocumentBox, Field, FileDrop, TokenSelect, useMissing, usePlace, useTokens } from '../components/common.js';
import { DocumentContents, SetWarning } from '../components/signing.js';
import { Digest } from '../components/values.js';
import { useApp } from '../state.js';
import { SignPanel } from './SignPanel.js';

interface Member { id: string; name: string; publicKey: string; fingerprint: Responses['keys.publicKey']['fingerprint'] }

/** Read a custodian's public key from their card: token, key label, id and name. */
function AddMemberForm({ onAdd, submit }: { onAdd: (m: Member) => void; submit: string }) {
  const { tokens } = useTokens();
  const { run, at } = usePlace();
  const [token, setToken] = useState('');
  const [keyLabel, setKeyLabel] = useState('');
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const missing = useMissing('To add: give', [token === '' && 'the custodian card', keyLabel === '' && 'the key label', id === '' && 'the custodian id', name === '' && 'the full name']);
  const add = async () => {
    const pk = await run(`Reading the public key of ${keyLabel} from "${token}"…`, () => call('keys.publicKey', { token: { label: token }, label: keyLabel }));
    if (pk === undefined) return;
    onAdd({ id, name, publicKey: pk.publicKey, fingerprint: pk.fingerprint });
    setId(''); setName(''); setKeyLabel(''); setToken('');
  };
  return (
    <form className="grid" aria-label="Add a custodian" onSubmit={(e) => { e.preventDefault(); void add(); }}>
      <TokenSelect tokens={tokens} value={token} onChange={(v) => { setToken(v); const c = v.replace(/^(card-|custodian-)/, ''); setId(c); setKeyLabel(`${c}-sign-v1`); }} label="Custodian card" />
      <Field label="Key label">{(i) => <input id={i} value={keyLabel} onChange={(e) => setKeyLabel(e.target.value)} />}</Field>
      <Field label="Custodian id" hint="lowercase, e.g. alice">{(i) => <input id={i} value={id} onChange={(e) => setId(e.target.value)} />}</Field>
      <Field label="Full name">{(i) => <input id={i} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
      <button type="submit" {...missing.button}>{submit}</button>
      {missing.note}
      <Beside at={at} />
    </form>
  );
}

function MemberTable({ members }: { members: readonly Member[] }) {
  return (
    <table>
      <thead><tr><th>Id</th><th>Name</th><th>Fingerprint (read aloud)</th></tr></thead>
      <tbody>{members.map((m) => <tr key={m.id}><td>{m.id}</td><td>{m.name}</td><td><Digest value={m.fingerprint.hex} words={m.fingerprint.words} label={`fingerprint of ${m.id}'s key`} /></td></tr>)}</tbody>
    </table>
  );
}

function CreateRoot() {
  const { setChain } = useApp();
  const { run, at } = usePlace();
  const [members, setMembers] = useState<Member[]>([]);
  const [threshold, setThreshold] = useState(2);
  const [draft, setDraft] = useState<string | null>(null);
  const [check, setCheck] = useState<Responses['documents.verify'] | null>(null);
  /** Who signed in this window: a root set signed by fewer than its threshold does not verify yet, so its verification names no signer. */
  const [signers, setSigners] = useState<readonly string[]>([]);
  useEffect(() => {
    if (draft !== null) void call('documents.verify', { document: draft, chain: [draft] }).then(setCheck, () => setCheck(null));
  }, [draft]);
  const create = async () => {
    const r = await run('Writing the custodian set…', () => call('custodians.create', { threshold, members: members.map(({ id, name, publicKey }) => ({ id, name, publicKey })) }), 'Custodian set written: now each custodian signs it on their card.');
    if (r !== undefined) setDraft(r.document);
  };
  const writing = useMissing('To write the set:', [members.length === 0 && 'add at least one custodian',
    (threshold < 1 || threshold > members.length) && members.length > 0 && `choose between 1 and ${members.length} signatures`]);
  if (draft === null) {
    return (
      <>
        <h3>1. Add each custodian's key, read from their card</h3>
        <AddMemberForm submit="Add custodian" onAdd={(m) => setMembers((ms) => [...ms, m])} />
        <MemberTable members={members} />
        <h3>2. Choose the threshold and write the set</h3>
        <form className="grid" aria-label="Write the set" onSubmit={(e) => { e.preventDefault(); void create(); }}>
          <Field label={`Signatures required (of ${members.length})`}>{(i) => <input id={i} type="number" min={1} max={Math.max(1, members.length)} value={threshold} onChange={(e) => setThreshold(Number(e.target.value))} />}</Field>
          <button type="submit" {...writing.button}>Write custodian set</button>
          {writing.note}
          <div className="span"><SetWarning threshold={threshold} total={members.length} /></div>
          <Beside at={at} />
        </form>
        <FileDrop label="Or load an existing custodian set (the root)" onText={(t) => { setSigners([]); setDraft(t); }} />
      </>
    );
  }
  const signed = [...new Set([...(check?.signatures.filter((s) => s.valid && s.custodian !== null).map((s) => s.custodian as string) ?? []), ...signers])];
  return (
    <>
      <DocumentBox title="Custodian set" document={draft} summary={`Signed by ${signed.length === 0 ? 'nobody yet' : signed.join(', ')}; ${check?.threshold ?? threshold} signatures needed.`} />
      {check?.valid === true
        ? <><p className="good">The set is signed by its own threshold and is ready.</p><button type="button" onClick={() => setChain([draft])}>Use this set for the ceremony</button></>
        : <p>Each custodian signs the set on their own card; it is ready when {check?.threshold ?? threshold} have signed.</p>}
      <SignPanel document={draft} onSigned={(d, who) => { setDraft(d); setSigners((s) => [...s, who]); }} status={rootStatus(check, members, threshold, signed)} />
    </>
  );
}

/** A new root set approves itself: its own members and threshold, from its verification (no chain approves it yet). */
function rootStatus(check: Responses['documents.verify'] | null, members: readonly Member[], threshold: number, signed: readonly string[]): Responses['documents.status'] | null {
  if (check === null) return null;
  const all = members.length > 0 ? members.map((m) => m.id) : signed;
  const t = check.threshold ?? threshold;
  return {
    summary: `Custodian set version 1 (the root): ${members.length > 0 ? members.map((m) => `${m.name} (${m.id})`).join(', ') : 'as loaded'}; ${t} of ${all.length} must sign it`,
    complete: check.valid,
    approvals: [{ set: 1, role: 'set itself', threshold: t, signed: [...signed], unsigned: all.filter((id) => !signed.includes(id)), needed: Math.max(0, t - signed.length) }],
  };
}

function Rotate() {
  const { chain, setChain } = useApp();
  const { run, at } = usePlace();
  const [current, setCurrent] = useState<Responses['documents.status'] | null>(null);
  const [remove, setRemove] = useState('');
  const [added, setAdded] = useState<Member[]>([]);
  const [threshold, setThreshold] = useState(0);
  const [draft, setDraft] = useState<string | null>(null);
  const [status, setStatus] = useState<Responses['documents.status'] | null>(null);
  const newest = chain[chain.length - 1] as string;
  useEffect(() => { void call('documents.status', { document: newest, chain: [...chain] }).then(setCurrent, () => setCurrent(null)); }, [newest, chain]);
  useEffect(() => { if (draft !== null) void call('documents.status', { document: draft, chain: [...chain] }).then(setStatus, () => setStatus(null)); }, [draft, chain]);
  const members = current === null ? [] : [...(current.approvals[0]?.signed ?? []), ...(current.approvals[0]?.unsigned ?? [])];
  const write = async () => {
    const r = await run('Writing the next version of the custodian set…', () => call('custodians.next', { chain: [...chain], ...(remove === '' ? {} : { remove: [remove] }),
      add: added.map(({ id, name, publicKey }) => ({ id, name, publicKey })), ...(threshold > 0 ? { threshold } : {}) }), 'Next version written: the current and the new custodians sign it.');
    if (r !== undefined) setDraft(r.document);
  };
  const writing = useMissing('To write the next version:', [remove === '' && added.length === 0 && threshold === 0 && 'remove a custodian, add one, or change the threshold']);
  return (
    <>
      <p className="good">Custodian chain in use: {chain.length} version{chain.length > 1 ? 's' : ''}.</p>
      <section className="doc" aria-label="custodian set in use"><DocumentContents document={newest} summary={current?.summary ?? ''} /></section>
      <h3>Rotate the set</h3>
      {draft === null ? (
        <>
          <p>Remove a custodian, add one from their card, or change the threshold. The new version must be signed by the threshold of the current set and by its own.</p>
          <form className="grid" aria-label="Rotation" onSubmit={(e) => { e.preventDefault(); void write(); }}>
            <Field label="Remove custodian">{(i) => <select id={i} value={remove} onChange={(e) => setRemove(e.target.value)}><option value="">Nobody</option>{members.map((m) => <option key={m}>{m}</option>)}</select>}</Field>
            <Field label="New threshold" hint="0 keeps the current one">{(i) => <input id={i} type="number" min={0} value={threshold} onChange={(e) => setThreshold(Number(e.target.value))} />}</Field>
            <button type="submit" {...writing.button}>Write next version</button>
            {writing.note}
            <Beside at={at} />
          </form>
          <AddMemberForm submit="Add to the next version" onAdd={(m) => setAdded((a) => [...a, m])} />
          <MemberTable members={added} />
        </>
      ) : (
        <>
          <DocumentBox title="Next custodian set" document={draft} summary={status?.summary ?? ''} />
          {status?.complete === true && <button type="button" onClick={() => { setChain([...chain, draft]); setDraft(null); setAdded([]); setRemove(''); setThreshold(0); }}>Use the new version</button>}
          <SignPanel document={draft} chain={[...chain]} onSigned={setDraft} />
        </>
      )}
    </>
  );
}

export function CustodiansScreen() {
  const { chain } = useApp();
  return (
    <section aria-labelledby="cust-h">
      <h2 id="cust-h">Custodians</h2>
      <p className="lead">The custodian set is the trust root: who the custodians are, their keys, and how many must sign (M of N).</p>
      {chain.length === 0 ? <CreateRoot /> : <Rotate />}
      <p className="next">Next: {chain.length === 0 ? 'once the set is signed and in use' : 'with the set in use'}, write a rotation manifest under <strong>Manifests</strong>.</p>
    </section>
  );
}
