import { useState } from 'react';
import { call } from '../api.js';
import { Beside, Field, PinField, TokenSelect, useMissing, usePlace, useTokens } from '../components/common.js';
import { Digest, Kcv } from '../components/values.js';
import { useApp } from '../state.js';

type Kind = 'master' | 'backup' | 'custodian';

export function KeysScreen() {
  const { tokens } = useTokens();
  const { keys, addKey } = useApp();
  const { run, at } = usePlace();
  const [kind, setKind] = useState<Kind>('custodian');
  const [token, setToken] = useState('');
  const [label, setLabel] = useState('');
  const [pin, setPin] = useState('');
  const [extractable, setExtractable] = useState(false);
  const generate = async () => {
    const k = await run(`Generating the ${kind} key inside "${token}"…`, () => call('keys.generate', { kind, token: { label: token }, label, pin, ...(kind === 'custodian' ? {} : { extractable }) }), `Generated ${label} on ${token}.`);
    setPin('');
    if (k !== undefined) { addKey(k); setLabel(''); }
  };
  const missing = useMissing('To generate: choose', [token === '' && 'a token', label === '' && 'a key label', pin === '' && 'the PIN']);
  return (
    <section aria-labelledby="keys-h">
      <h2 id="keys-h">Keys</h2>
      <p className="lead">Keys are generated inside the token and never leave it. Custodians each generate their signing key on their own card.</p>
      <form className="grid" aria-label="Generate a key" onSubmit={(e) => { e.preventDefault(); void generate(); }}>
        <Field label="Kind of key">
          {(id) => (
            <select id={id} value={kind} onChange={(e) => setKind(e.target.value as Kind)}>
              <option value="custodian">Custodian signing key (Ed25519)</option>
              <option value="master">Master key (AES-256, for AES-256-GCM)</option>
              <option value="backup">Backup key (AES-256, wraps only)</option>
            </select>
          )}
        </Field>
        <TokenSelect tokens={tokens} value={token} onChange={setToken} />
        <Field label="Key label" hint="A new label, e.g. alice-sign-v1 or master-v7.">{(id) => <input id={id} value={label} onChange={(e) => setLabel(e.target.value)} />}</Field>
        <PinField value={pin} onChange={setPin} token={tokens.find((t) => t.label === token)} />
        {kind !== 'custodian' && (
          <label className="check"><input type="checkbox" checked={extractable} onChange={(e) => setExtractable(e.target.checked)} /> Allow export (wrapped) later</label>
        )}
        <button type="submit" {...missing.button}>Generate key</button>
        {missing.note}
        <Beside at={at} />
      </form>
      <h3>Generated in this session</h3>
      <ul className="keys">
        {keys.map((k) => (
          <li key={k.uri}>
            <strong>{k.label}</strong> on {k.token}: {k.kcv !== undefined ? <Kcv value={k.kcv} /> : k.fingerprint !== undefined && <>fingerprint <Digest value={k.fingerprint.hex} words={k.fingerprint.words} label={`fingerprint of ${k.label}`} /></>}
          </li>
        ))}
        {keys.length === 0 && <li>None yet.</li>}
      </ul>
      <p className="next">Next: with three custodian keys, form the custodian set under <strong>Custodians</strong>. Read each fingerprint aloud to the witness.</p>
    </section>
  );
}
