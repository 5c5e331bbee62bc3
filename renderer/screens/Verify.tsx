import { useRef, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Beside, FileDrop, usePlace } from '../components/common.js';
import { Digest } from '../components/values.js';
import { useApp } from '../state.js';

const DIGEST = /^sha256:[0-9a-f]{64}$/;

export function VerifyScreen() {
  const rootField = useRef<HTMLInputElement>(null);
  const app = useApp();
  const { manifest } = app;
  const { run, at } = usePlace();
  const [chain, setChain] = useState<string[]>([...app.chain]);
  const [result, setResult] = useState<(Responses['documents.verify'] & { name: string }) | null>(null);
  // the root set's digest, from the printed transcript of the ceremony that formed it (keyceremony verify --root-digest)
  const [root, setRoot] = useState('');
  const pinned = root.trim().toLowerCase();
  const rootBad = pinned !== '' && !DIGEST.test(pinned);
  const verify = async (document: string, name: string) => {
    if (rootBad) { setResult(null); rootField.current?.focus(); return; }
    const r = await run(`Verifying ${name}…`, () => call('documents.verify', { document, chain, ...(pinned === '' ? {} : { rootDigest: pinned }) }));
    if (r !== undefined) setResult({ ...r, name });
  };
  return (
    <section aria-labelledby="ver-h">
      <h2 id="ver-h">Verify</h2>
      <p className="lead">Check a signed document against the custodian chain, exactly as a deployment pipeline does with <code>keyceremony verify</code>.</p>
      <p>Custodian chain: {chain.length === 0 ? 'none loaded' : `${chain.length} set${chain.length > 1 ? 's' : ''}`}.
        {chain.length > 0 && <button type="button" className="link" onClick={() => setChain([])}>Clear</button>}</p>
      <FileDrop label="Add a custodian set to the chain (root first)" onText={(t) => setChain((c) => [...c, t])} />
      <div className="field root-digest">
        <label htmlFor="root-digest">Root set digest (optional: pins the chain&apos;s root, as <code>--root-digest</code> does)</label>
        <input id="root-digest" ref={rootField} autoComplete="off" spellCheck={false} placeholder="sha256:…" value={root} onChange={(e) => setRoot(e.target.value)}
          aria-invalid={rootBad ? true : undefined} aria-describedby="root-digest-hint" />
        <small id="root-digest-hint" className={rootBad ? 'bad' : 'hint'}>{rootBad ? 'A root digest is sha256: and 64 hex characters: copy it from the transcript of the ceremony that formed the root set. Nothing is verified until it is right or empty.'
          : pinned === '' ? 'Empty: the root set is trusted as given, and the result warns.' : 'Pinned: a chain whose root set has another digest is invalid.'}</small>
      </div>
      <FileDrop label="Drop a document to verify" onText={(t, name) => void verify(t, name)} />
      {manifest !== null && <button type="button" onClick={() => void verify(manifest, 'this ceremony\'s manifest')}>Verify this ceremony's manifest</button>}
      <Beside at={at} />
      {result !== null && (
        <section className={`result ${result.valid ? 'valid' : 'invalid'}`} aria-label="verification result">
          <h3>{result.valid ? 'VALID' : 'INVALID'}: {result.name}</h3>
          {result.valid && <p>Signed by {result.signers.join(', ')}: {result.signers.length} of threshold {result.threshold} (custodian set version {result.custodianSet}).</p>}
          {result.reasons.length > 0 && <><h4>Reasons</h4><ul>{result.reasons.map((r) => <li key={r}><code>{r}</code></li>)}</ul></>}
          <h4>Signatures</h4>
          <table>
            <thead><tr><th>#</th><th>Custodian</th><th>Key fingerprint (key id)</th><th>Result</th></tr></thead>
            <tbody>{result.signatures.map((s) => <tr key={s.index}><td>{s.index + 1}</td><td>{s.custodian ?? 'unknown key'}</td><td><Digest value={s.keyid} label={`key of signature ${s.index + 1}`} /></td><td>{s.valid ? 'valid' : 'does not verify'}</td></tr>)}</tbody>
          </table>
          {result.warnings.length > 0 && <><h4>Warnings</h4><ul>{result.warnings.map((w) => <li key={w}><code>{w}</code></li>)}</ul></>}
        </section>
      )}
    </section>
  );
}
