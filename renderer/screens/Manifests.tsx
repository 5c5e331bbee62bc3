import { useEffect, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Beside, DocumentBox, Field, FileDrop, useMissing, usePlace } from '../components/common.js';
import { custodiansOf } from '../components/signing.js';
import { useApp } from '../state.js';
import { SignPanel } from './SignPanel.js';

const PHASES = ['prepare', 'dual-publish', 'cutover', 'revoke', 'compromise'] as const;

export function ManifestsScreen() {
  const { chain, manifest, setManifest, keys } = useApp();
  const { run, at } = usePlace();
  const merging = usePlace();
  // nothing prefilled: the ceremony's own id, and the custodian who initiates it, chosen from the set
  const [ceremony, setCeremony] = useState('');
  const [actor, setActor] = useState('');
  const [version, setVersion] = useState(1);
  const [phase, setPhase] = useState<(typeof PHASES)[number]>('prepare');
  const [status, setStatus] = useState<Responses['documents.status'] | null>(null);

  useEffect(() => {
    if (manifest === null || chain.length === 0) return;
    void call('documents.status', { document: manifest, chain: [...chain] }).then(setStatus, () => setStatus(null));
  }, [manifest, chain]);

  const missing = useMissing('To write the manifest:', [ceremony.trim() === '' && 'give the ceremony id', actor === '' && 'choose the initiating custodian']);
  if (chain.length === 0) {
    return (
      <section aria-labelledby="man-h">
        <h2 id="man-h">Manifests</h2>
        <p className="lead">A rotation manifest needs a custodian set. Form or load one under <strong>Custodians</strong> first.</p>
      </section>
    );
  }
  const kcvs = keys.filter((k) => k.kcv !== undefined && /-v\d+$/.test(k.label)).map((k) => ({ id: k.label, kcv: k.kcv as string }));
  const create = async () => {
    const r = await run('Writing the rotation manifest…', () => call('manifest.create', { chain: [...chain], ceremony, actor, keyVersion: version, phase, kcvs: kcvs.filter((k) => k.id.endsWith(`-v${version}`)) }),
      'Manifest written: now the custodians sign it.');
    if (r !== undefined) setManifest(r.document);
  };
  const merge = async (text: string) => {
    if (manifest === null) return;
    const r = await merging.run('Merging the signed copy…', () => call('documents.merge', { documents: [manifest, text] }), 'Signatures merged.');
    if (r !== undefined) setManifest(r.document);
  };
  return (
    <section aria-labelledby="man-h">
      <h2 id="man-h">Manifests</h2>
      <p className="lead">The custodians' signed approval of one step of the rotation policy for the seed's inventory (SECRET_KEY, webhook, Redis and Celery credentials, JWT secret and refresh salt, master and backup keys).</p>
      {manifest === null ? (
        <form className="grid" aria-label="Write a rotation manifest" onSubmit={(e) => { e.preventDefault(); void create(); }}>
          <Field label="Ceremony id" hint="as on the printed script, e.g. 2026-q4-master-rotation">{(i) => <input id={i} value={ceremony} onChange={(e) => setCeremony(e.target.value)} />}</Field>
          <Field label="Initiating custodian (actor)">{(i) => <select id={i} value={actor} onChange={(e) => setActor(e.target.value)}><option value="">Who initiates it?</option>{custodiansOf(chain).map((c) => <option key={c}>{c}</option>)}</select>}</Field>
          <Field label="New key version" hint="e.g. 4 writes webhook-v4 superseding webhook-v3">{(i) => <input id={i} type="number" min={1} value={version} onChange={(e) => setVersion(Number(e.target.value))} />}</Field>
          <Field label="Phase">{(i) => <select id={i} value={phase} onChange={(e) => setPhase(e.target.value as (typeof PHASES)[number])}>{PHASES.map((p) => <option key={p}>{p}</option>)}</select>}</Field>
          <button type="submit" {...missing.button}>Write rotation manifest</button>
          {missing.note}
          <Beside at={at} />
        </form>
      ) : (
        <>
          <DocumentBox title="Rotation manifest" document={manifest} summary={status?.summary ?? ''} />
          {status?.complete === true && <p className="good">Approved: every set that must sign has signed. Verify it under <strong>Verify</strong>.</p>}
          <SignPanel document={manifest} chain={[...chain]} onSigned={setManifest} />
          <FileDrop label="Import a copy signed elsewhere" onText={(t) => void merge(t)} />
          <Beside at={merging.at} />
          <button type="button" className="secondary" onClick={() => setManifest(null)}>Start another manifest</button>
        </>
      )}
    </section>
  );
}
