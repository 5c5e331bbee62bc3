/** Signing a document with a custodian's card: token, key label, PIN. Used by the custodian and manifest screens. */
import { useState } from 'react';
import { call } from '../api.js';
import { Field, PinField, TokenSelect, useTokens } from '../components/common.js';
import { useApp } from '../state.js';

export function SignPanel({ document, chain, onSigned }: { document: string; chain?: string[]; onSigned: (doc: string) => void }) {
  const { tokens } = useTokens();
  const { run } = useApp();
  const [token, setToken] = useState('');
  const [keyLabel, setKeyLabel] = useState('');
  const [pin, setPin] = useState('');
  const sign = async () => {
    const r = await run(`Signing on "${token}"… follow the card's instructions`, () => call('documents.sign', { document, token: { label: token }, keyLabel, pin, ...(chain === undefined ? {} : { chain }) }));
    setPin('');
    if (r !== undefined) onSigned(r.document);
  };
  return (
    <form className="grid sign" aria-label="Sign with a card" onSubmit={(e) => { e.preventDefault(); void sign(); }}>
      <TokenSelect tokens={tokens} value={token} onChange={(v) => { setToken(v); const k = v.replace(/^(card-|custodian-)/, ''); setKeyLabel(`${k}-sign-v1`); }} label="Custodian card" />
      <Field label="Signing key label">{(id) => <input id={id} value={keyLabel} onChange={(e) => setKeyLabel(e.target.value)} />}</Field>
      <PinField value={pin} onChange={setPin} token={tokens.find((t) => t.label === token)} />
      <button type="submit" disabled={token === '' || keyLabel === '' || pin === ''}>Sign with this card</button>
    </form>
  );
}
