import { useEffect, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Beside, Field, FileDrop, PinField, TokenSelect, useMissing, usePlace, useTokens } from '../components/common.js';
import { DriveFields, useDrive } from '../components/drives.js';
import { Digest, Kcv } from '../components/values.js';
import { useApp } from '../state.js';

type Target = Responses['export.targets']['targets'][number];

export function ExportScreen() {
  const { tokens } = useTokens();
  const { keys } = useApp();
  const { run, at } = usePlace();
  const [targets, setTargets] = useState<readonly Target[]>([]);
  const [target, setTarget] = useState('');
  const [kek, setKek] = useState('');
  const [kekInfo, setKekInfo] = useState<Responses['export.inspectKek'] | null>(null);
  const [kekId, setKekId] = useState('');
  const [importToken, setImportToken] = useState('');
  const [obtained, setObtained] = useState('');
  const drive = useDrive('ceremony-export');
  const { folder } = drive;
  const [token, setToken] = useState('');
  const [keyLabel, setKeyLabel] = useState(keys.find((k) => k.kind === 'master')?.label ?? '');
  const [pin, setPin] = useState('');
  const [result, setResult] = useState<Responses['export.run'] | null>(null);

  useEffect(() => { void call('export.targets', {}).then((r) => setTargets(r.targets), () => setTargets([])); }, []);
  useEffect(() => {
    setKekInfo(null);
    if (kek.trim().length < 16) return;
    void call('export.inspectKek', { wrappingKey: kek }).then(setKekInfo, () => setKekInfo(null));
  }, [kek]);
  const t = targets.find((x) => x.name === target);
  const exportNow = async () => {
    const r = await run(`Wrapping "${keyLabel}" for ${target} and writing it to ${drive.chosen?.mountPoint ?? 'the drive'}…`, () => call('export.run', {
      token: { label: token }, keyLabel, target, wrappingKey: kek, drive: drive.handle, folder, pin,
      ...(t?.needs.includes('kekId') === true ? { kekId } : {}), ...(t?.needs.includes('importToken') === true && importToken !== '' ? { importToken } : {}),
      ...(obtained === '' ? {} : { obtained }),
    }), 'Written, read back and verified.');
    setPin('');
    if (r !== undefined) { setResult(r); drive.reload(); }
  };
  const missing = useMissing('To export:', [t === undefined && 'choose the target',
    kekInfo === null ? 'give the wrapping public key' : t !== undefined && !t.kekBits.includes(kekInfo.bits) && `give a wrapping key of ${t.kekBits.join(' or ')} bits`,
    t?.needs.includes('kekId') === true && kekId === '' && 'give the Key Vault KEK id', drive.handle === '' && 'choose the drive',
    token === '' && 'choose the token', keyLabel === '' && 'give the key label', pin === '' && 'type the PIN']);
  return (
    <section aria-labelledby="exp-h">
      <h2 id="exp-h">Export</h2>
      <p className="lead">Wrap a key for import into a cloud KMS and write it to the removable drive that leaves the room. The key never leaves the token in clear.</p>
      <h3>1. KMS import parameters</h3>
      <div className="grid">
        <Field label="Target">{(i) => <select id={i} value={target} onChange={(e) => setTarget(e.target.value)}><option value="">Choose a target…</option>{targets.map((x) => <option key={x.name} value={x.name}>{x.name}</option>)}</select>}</Field>
        {t?.needs.includes('kekId') === true && <Field label="Key Vault KEK id">{(i) => <input id={i} value={kekId} onChange={(e) => setKekId(e.target.value)} placeholder="https://…vault.azure.net/keys/…/…" />}</Field>}
        {t?.needs.includes('importToken') === true && <Field label="AWS import token (base64)">{(i) => <input id={i} value={importToken} onChange={(e) => setImportToken(e.target.value)} />}</Field>}
        <Field label="Parameters obtained at (UTC)" hint="AWS parameters last 24 h, GCP import jobs 3 days">{(i) => <input id={i} value={obtained} onChange={(e) => setObtained(e.target.value)} placeholder="2026-11-28T09:00:00Z" />}</Field>
      </div>
      <Field label="Wrapping public key (PEM)">{(i) => <textarea id={i} rows={4} value={kek} onChange={(e) => setKek(e.target.value)} />}</Field>
      <FileDrop label="Or drop the wrapping key file (PEM)" onText={setKek} />
      {kekInfo !== null && (
        <p className={t !== undefined && !t.kekBits.includes(kekInfo.bits) ? 'bad' : ''}>
          RSA-{kekInfo.bits} wrapping key. Compare its fingerprint with the cloud console: <Digest value={kekInfo.spkiSha256} words={kekInfo.words} label="wrapping key fingerprint" />
          {t !== undefined && !t.kekBits.includes(kekInfo.bits) && <><br />{t.name} takes {t.kekBits.join(' or ')} bits.</>}
        </p>
      )}
      <h3>2. Removable drive</h3>
      <div className="grid">
        <DriveFields drive={drive} label="Drive" folderLabel="New folder on the drive" />
      </div>
      <h3>3. Key and PIN</h3>
      <form className="grid" aria-label="Export" onSubmit={(e) => { e.preventDefault(); void exportNow(); }}>
        <TokenSelect tokens={tokens} value={token} onChange={setToken} />
        <Field label="Key label" hint="generated with export allowed">{(i) => <input id={i} value={keyLabel} onChange={(e) => setKeyLabel(e.target.value)} />}</Field>
        <PinField value={pin} onChange={setPin} token={tokens.find((x) => x.label === token)} />
        <button type="submit" {...missing.button}>Export to the drive</button>
        {missing.note}
        <Beside at={at} />
      </form>
      {result !== null && (
        <section className="result valid" aria-label="export result">
          <h3>Exported to {result.dir}</h3>
          <p>{result.wrap === 'token' ? 'Wrapped entirely in the token.' : 'Hybrid: the OAEP step ran in host code on an ephemeral key; AES key wrap ran in the token.'} <Kcv value={result.kcv} />. Every file was read back and matches.</p>
          <p>Wrapped for the KMS key with fingerprint <Digest value={result.wrappingKeySha256} label="wrapping key fingerprint of the export" />: the one compared above.</p>
          <table><thead><tr><th>File</th><th>Bytes</th><th>SHA-256</th></tr></thead>
            <tbody>{result.files.map((f) => <tr key={f.path}><td>{f.path}</td><td>{f.bytes}</td><td><Digest value={f.sha256} label={`SHA-256 of ${f.path}`} /></td></tr>)}<tr><td>export.json</td><td colSpan={2}>describes the export</td></tr></tbody></table>
          {result.warnings.map((w) => <p key={w} className="bad">{w}</p>)}
        </section>
      )}
    </section>
  );
}
