/**
 * Signing a document with a custodian's card: token, key label, PIN, beside what is being signed
 * and who has signed. Used by the custodian and manifest screens. After each signature (or a
 * refused one) nothing of that custodian stays: no card chosen, no key label, no PIN, so the next
 * custodian never types a PIN on the previous one's card.
 */
import { useEffect, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Beside, Field, PinField, TokenSelect, useMissing, usePlace, useTokens } from '../components/common.js';
import { YouAreSigning } from '../components/signing.js';

/**
 * `status`: what is signed and by whom, when the caller knows it better than documents.status can
 * tell (a new root set, which no chain approves yet); otherwise it is read for `document` and `chain`.
 */
export function SignPanel({ document, chain, onSigned, status: given }: { document: string; chain?: string[]; onSigned: (doc: string, signer: string) => void; status?: Responses['documents.status'] | null }) {
  const { tokens } = useTokens();
  const { run, at } = usePlace();
  const [token, setToken] = useState('');
  const [keyLabel, setKeyLabel] = useState('');
  const [pin, setPin] = useState('');
  const [status, setStatus] = useState<Responses['documents.status'] | null>(null);
  const chainKey = JSON.stringify(chain ?? null);
  useEffect(() => {
    if (given !== undefined) return undefined;
    let stale = false;
    const c = JSON.parse(chainKey) as string[] | null;
    void call('documents.status', { document, chain: c ?? [document] }).then((s) => { if (!stale) setStatus(s); }, () => { if (!stale) setStatus(null); });
    return () => { stale = true; };
  }, [document, chainKey, given]);
  const sign = async () => {
    const r = await run(`Signing on "${token}"… follow the card's instructions`, () => call('documents.sign', { document, token: { label: token }, keyLabel, pin, ...(chain === undefined ? {} : { chain }) }));
    setPin('');
    setToken('');
    setKeyLabel('');
    if (r !== undefined) onSigned(r.document, r.signer);
  };
  const missing = useMissing('To sign: choose', [token === '' && 'a card', keyLabel === '' && 'its key label', pin === '' && 'the PIN']);
  return (
    <div className="sign-row">
      <form className="grid sign" aria-label="Sign with a card" onSubmit={(e) => { e.preventDefault(); void sign(); }}>
        <TokenSelect tokens={tokens} value={token} onChange={(v) => { setToken(v); setPin(''); const k = v.replace(/^(card-|custodian-)/, ''); setKeyLabel(v === '' ? '' : `${k}-sign-v1`); }} label="Custodian card" />
        <Field label="Signing key label">{(id) => <input id={id} value={keyLabel} onChange={(e) => setKeyLabel(e.target.value)} />}</Field>
        <PinField value={pin} onChange={setPin} token={tokens.find((t) => t.label === token)} />
        <button type="submit" {...missing.button}>Sign with this card</button>
        {missing.note}
        <Beside at={at} />
      </form>
      <YouAreSigning status={given === undefined ? status : given} document={document} />
    </div>
  );
}
