import { useEffect, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { DocumentBox, Field, FileDrop, TokenSelect, useTokens, Words } from '../components/common.js';
import { useApp } from '../state.js';
import { SignPanel } from './SignPanel.js';

interface Member { id: string; name: string; publicKey: string; words: readonly string[] }

export function CustodiansScreen() {
  const { tokens } = useTokens();
  const { run, custodianSet, setCustodianSet } = useApp();
  const [members, setMembers] = useState<Member[]>([]);
  const [token, setToken] = useState('');
  const [keyLabel, setKeyLabel] = useState('');
  const [id, setId] = useState('');
  const [name, setName] = useState('');
  const [threshold, setThreshold] = useState(2);
  const [draft, setDraft] = useState<string | null>(custodianSet);
  const [check, setCheck] = useState<Responses['documents.verify'] | null>(null);

  useEffect(() => {
    if (draft === null) return;
    void call('documents.verify', { document: draft, chain: [draft] }).then(setCheck, () => setCheck(null));
  }, [draft]);

  const addMember = async () => {
    const pk = await run(`Reading the public key of ${keyLabel} from "${token}"…`, () => call('keys.publicKey', { token: { label: token }, label: keyLabel }));
    if (pk === undefined) return;
    setMembers((m) => [...m, { id, name, publicKey: pk.publicKey, words: pk.fingerprint.words }]);
    setId(''); setName(''); setKeyLabel('');
  };
  const create = async () => {
    const r = await run('Writing the custodian set…', () => call('custodians.create', { threshold, members: members.map(({ id, name, publicKey }) => ({ id, name, publicKey })) }), 'Custodian set written: now each custodian signs it on their card.');
    if (r !== undefined) setDraft(r.document);
  };
  const needed = check?.threshold ?? threshold;
  const signed = check?.signatures.filter((s) => s.valid).map((s) => s.custodian) ?? [];

  return (
    <section aria-labelledby="cust-h">
      <h2 id="cust-h">Custodians</h2>
      <p className="lead">The custodian set is the trust root: who the custodians are, their keys, and how many must sign (M of N).</p>
      {draft === null && (
        <>
          <h3>1. Add each custodian's key, read from their card</h3>
          <form className="grid" onSubmit={(e) => { e.preventDefault(); void addMember(); }}>
            <TokenSelect tokens={tokens} value={token} onChange={(v) => { setToken(v); const c = v.replace(/^(card-|custodian-)/, ''); setId(c); setKeyLabel(`${c}-sign-v1`); }} label="Custodian card" />
            <Field label="Key label">{(i) => <input id={i} value={keyLabel} onChange={(e) => setKeyLabel(e.target.value)} />}</Field>
            <Field label="Custodian id" hint="lowercase, e.g. alice">{(i) => <input id={i} value={id} onChange={(e) => setId(e.target.value)} />}</Field>
            <Field label="Full name">{(i) => <input id={i} value={name} onChange={(e) => setName(e.target.value)} />}</Field>
            <button type="submit" disabled={token === '' || keyLabel === '' || id === '' || name === ''}>Add custodian</button>
          </form>
          <table>
            <thead><tr><th>Id</th><th>Name</th><th>Fingerprint (read aloud)</th></tr></thead>
            <tbody>{members.map((m) => <tr key={m.id}><td>{m.id}</td><td>{m.name}</td><td><Words words={m.words} /></td></tr>)}</tbody>
          </table>
          <h3>2. Choose the threshold and write the set</h3>
          <form className="grid" onSubmit={(e) => { e.preventDefault(); void create(); }}>
            <Field label={`Signatures required (of ${members.length})`}>{(i) => <input id={i} type="number" min={1} max={Math.max(1, members.length)} value={threshold} onChange={(e) => setThreshold(Number(e.target.value))} />}</Field>
            <button type="submit" disabled={members.length === 0}>Write custodian set</button>
          </form>
          <FileDrop label="Or load an existing custodian set" onText={(t) => setDraft(t)} />
        </>
      )}
      {draft !== null && (
        <>
          <DocumentBox title="Custodian set" document={draft} summary={`${signed.length} of ${needed} required signatures${signed.length > 0 ? ` (${signed.join(', ')})` : ''}.`} />
          {check?.valid === true ? (
            <>
              <p className="good">The set is signed by its own threshold and is ready.</p>
              <button type="button" onClick={() => setCustodianSet(draft)} disabled={custodianSet === draft}>{custodianSet === draft ? 'This is the ceremony\'s custodian set' : 'Use this set for the ceremony'}</button>
            </>
          ) : (
            <p>Each custodian signs the set on their own card; it is ready when {needed} have signed.</p>
          )}
          <SignPanel document={draft} onSigned={setDraft} />
          <p className="next">Next: once the set is in use, write a rotation manifest under <strong>Manifests</strong>.</p>
        </>
      )}
    </section>
  );
}
