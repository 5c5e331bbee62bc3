/**
 * Keys over time (issue 17 item 5): a deployment's chain read from a drive or a folder (by handle,
 * never by path), verified in the main process (FORMATS.md §8, `state.timeline`), and drawn per
 * key name: one row per version, one column per change point (every notBefore of the chain), each
 * run of one state a segment that says its state in words and carries a pattern of its own as
 * well as a colour. A segment that begins after now is scheduled. Clicking a segment shows the
 * manifest entries that moved the version then, with the manifest's digest and who signed it.
 * Nothing of §8 is computed here: the screen draws what the main process answered.
 */
import { useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Beside, useMissing, usePlace } from '../components/common.js';
import { DriveFields, useDrive } from '../components/drives.js';
import { Digest } from '../components/values.js';
import type { FolderView } from '../run.js';

type Timeline = Responses['state.timeline'];
type Name = Timeline['names'][number];
type Segment = Name['versions'][number]['segments'][number];

const DIGEST = /^sha256:[0-9a-f]{64}$/;
/** One folder name, as the main process takes it (src/api/schema.ts FOLDER_NAME). */
const FOLDER_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Each state in words (FORMATS.md §8's table); the legend shows them beside their swatches. */
const STATES = [
  ['pending', 'may be provisioned, never used'],
  ['accepted', 'accepted for verification beside the current version; does not sign'],
  ['current', 'signs, and is accepted for verification'],
  ['retired', 'kept, no longer accepted'],
  ['revoked', 'must be destroyed'],
  ['compromised', 'never accepted again'],
  ['scheduled', 'signed, but takes effect later than now'],
] as const;

/** RFC 3339 as people read it: "2026-11-30 08:29:33 UTC". */
const shown = (t: string): string => t.replace('T', ' ').replace('Z', ' UTC');
const label = (s: Segment): string => (s.scheduled ? `scheduled: ${s.state}` : s.state);

export function KeysOverTimeScreen() {
  const { run, at } = usePlace();
  const drive = useDrive('');
  const [folder, setFolder] = useState<FolderView | null>(null);
  const [root, setRoot] = useState('');
  const [result, setResult] = useState<Timeline | null>(null);
  const pinned = root.trim().toLowerCase();
  const rootBad = pinned !== '' && !DIGEST.test(pinned);
  const source = folder?.handle ?? drive.handle;
  // a drive chosen in the list replaces a folder chosen in the dialog, and the other way round
  const fromDrive = { ...drive, setHandle: (v: string) => { setFolder(null); drive.setHandle(v); } };
  const choose = async () => {
    const v = await run('Choosing the folder…', () => call('folders.choose', { purpose: 'chain' }));
    if (v !== undefined && v.folder !== null) { setFolder(v.folder); drive.setHandle(''); }
  };
  const load = async () => {
    const r = await run('Reading and verifying the chain…', () => call('state.timeline', {
      source, ...(folder === null && drive.folder !== '' ? { folder: drive.folder } : {}), ...(pinned === '' ? {} : { rootDigest: pinned }) }));
    // a chain refused leaves nothing of an earlier one on screen
    setResult(r ?? null);
  };
  const folderBad = folder === null && drive.folder !== '' && !FOLDER_NAME.test(drive.folder);
  const missing = useMissing('To show the keys over time:', [source === '' && 'choose a drive or a folder', folderBad && 'name one folder on the drive (letters, digits, . _ -) or leave it empty',
    rootBad && 'correct the root digest or leave it empty']);
  return (
    <section aria-labelledby="kot-h">
      <h2 id="kot-h">Keys over time</h2>
      <p className="lead">Each key&apos;s versions on a time line, from a chain of rotation manifests read from media and verified as <code>keyceremony state</code> verifies it. Click a segment to see the manifest that moved the version and who signed it.</p>
      <form className="grid" aria-label="Load a chain" onSubmit={(e) => { e.preventDefault(); void load(); }}>
        <DriveFields drive={fromDrive} label="Drive holding the chain" folderLabel="Folder on the drive (empty: the drive's top folder)" />
        <div className="field">
          <span className="label">Or a folder on this computer</span>
          <button type="button" className="secondary" onClick={() => void choose()}>Choose a folder…</button>
          {folder !== null && <span className="chosen" aria-label="chosen folder">{folder.path}</span>}
        </div>
        <div className="field root-digest">
          <label htmlFor="kot-root">Root set digest (optional)</label>
          <input id="kot-root" autoComplete="off" spellCheck={false} placeholder="sha256:…" value={root} onChange={(e) => setRoot(e.target.value)} aria-invalid={rootBad ? true : undefined} aria-describedby="kot-root-hint" />
          <small id="kot-root-hint" className={rootBad ? 'bad' : 'hint'}>{rootBad ? 'sha256: and 64 hex characters, from the transcript of the ceremony that formed the root set.' : pinned === '' ? 'Empty: the root set is trusted as given.' : 'Pinned: another root is refused.'}</small>
        </div>
        <button type="submit" {...missing.button}>Show keys over time</button>
        {missing.note}
        <Beside at={at} />
      </form>
      {/* a chain loaded again starts with nothing chosen */}
      {result !== null && <TimelineView key={`${result.folder} ${result.at}`} t={result} />}
    </section>
  );
}

function TimelineView({ t }: { t: Timeline }) {
  const tip = t.manifests.at(-1);
  // the column whose span holds now: from its change point until the next
  const nowCol = t.changes.findLastIndex((c) => c <= t.at);
  return (
    <section className="result valid" aria-label="verified chain">
      <h3>VALID: {t.manifests.length} manifest{t.manifests.length === 1 ? '' : 's'} from {t.folder}</h3>
      <p>Verified at {shown(t.at)} (now). Sequence 1 to {t.sequence}; the last manifest&apos;s digest: <Digest value={t.tip} label="digest of the last manifest" />.
        {tip !== undefined && ` Signed by ${tip.signers.join(', ')}.`}</p>
      {!t.rootPinned && <p className="bad">The root set is trusted as given: pin its digest to be sure it is the root set of your ceremony.</p>}
      <ul className="legend" aria-label="states">
        {STATES.map(([s, what]) => <li key={s}><span className={`swatch st-${s}`} aria-hidden="true" /><span><strong>{s}</strong>: {what}</span></li>)}
      </ul>
      <p className="hint">One column per time a manifest entry takes effect (not to scale); {nowCol < 0 ? 'now is before the first of them.' : 'the column marked "now" holds the present.'}</p>
      {t.names.map((n) => <NameView key={n.name} t={t} n={n} nowCol={nowCol} />)}
      {t.warnings.length > 0 && <><h4>Warnings</h4><ul>{t.warnings.map((w) => <li key={w}><code>{w}</code></li>)}</ul></>}
      <details>
        <summary>Files read from the folder ({t.files.length})</summary>
        <ul>{t.files.map((f) => <li key={f.name}><code>{f.name}</code>: {f.use === 'skipped' ? `skipped, ${f.why ?? ''}` : f.use}</li>)}</ul>
      </details>
    </section>
  );
}

function list(ids: readonly string[]): string {
  return ids.length === 0 ? 'none' : ids.join(', ');
}

function NameView({ t, n, nowCol }: { t: Timeline; n: Name; nowCol: number }) {
  const [chosen, setChosen] = useState<{ id: string; at: number } | null>(null);
  const picked = chosen === null ? undefined : n.versions.find((v) => v.id === chosen.id)?.segments[chosen.at];
  const captionId = `kot-${n.name}`;
  return (
    <section className="kot-name" aria-labelledby={captionId}>
      <h4 id={captionId}>{n.name}</h4>
      <p>Now: current <strong>{n.now.current ?? 'none'}</strong>; accepted {list(n.now.accept)}{n.now.scheduled.length > 0 ? `; scheduled ${list(n.now.scheduled)}` : ''}.</p>
      <div className="timeline">
        <table>
          <caption className="sr">{n.name}: each version&apos;s state from each change point on</caption>
          <thead>
            <tr>
              <th scope="col">Version</th>
              {t.changes.map((c, i) => <th key={c} scope="col" className={i === nowCol ? 'now' : undefined}>{c.slice(0, 10)}<br />{c.slice(11, 19)} UTC{i === nowCol && <><br /><span className="now-mark">now</span></>}</th>)}
            </tr>
          </thead>
          <tbody>
            {n.versions.map((v) => (
              <tr key={v.id}>
                <th scope="row">{v.id}</th>
                {v.segments[0] !== undefined && v.segments[0].from > 0 && <td colSpan={v.segments[0].from} />}
                {v.segments.map((s, i) => (
                  <td key={s.from} colSpan={s.to - s.from}>
                    <button type="button" className={`seg st-${s.scheduled ? 'scheduled' : s.state}`} aria-pressed={chosen?.id === v.id && chosen.at === i}
                      onClick={() => setChosen(chosen?.id === v.id && chosen.at === i ? null : { id: v.id, at: i })}>
                      <span className="sr">{v.id}: </span><span className="lbl">{label(s)}</span><span className="sr"> from {shown(s.since)}{s.until === null ? ' on' : ` until ${shown(s.until)}`}</span>
                    </button>
                  </td>
                ))}
                {/* the newest set's expiry ends every segment (src/state/timeline.ts): after it, `state` answers no state */}
                {(v.segments[v.segments.length - 1]?.to ?? 0) < t.changes.length && (
                  <td colSpan={t.changes.length - (v.segments[v.segments.length - 1]?.to ?? 0)} className="kot-expired">no state: the custodian set has expired</td>
                )}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {chosen !== null && picked !== undefined && <Moved t={t} id={chosen.id} s={picked} />}
    </section>
  );
}

/** The entries that moved a version into a segment's state, each with its manifest and who signed it. */
function Moved({ t, id, s }: { t: Timeline; id: string; s: Segment }) {
  return (
    <section className="moved" aria-label={`what moved ${id}`} aria-live="polite">
      <h5>{id} {s.scheduled ? 'becomes' : 'became'} {s.state} at {shown(s.since)}{s.scheduled ? ' (scheduled)' : ''}</h5>
      {s.moves.map((m) => {
        const man = t.manifests.find((x) => x.sequence === m.sequence);
        return (
          <div key={`${m.sequence}-${m.index}`} className="move">
            <p>Manifest <strong>{m.sequence}</strong>, entry {m.index + 1}: <strong>{m.phase}</strong> {m.as === 'id' ? `of ${id}` : `of another version, superseding ${id}`}; in effect from {shown(m.notBefore)}.</p>
            {man !== undefined && (
              <dl>
                <dt>Digest</dt><dd><Digest value={man.digest} label={`digest of manifest ${man.sequence}`} /></dd>
                <dt>Signed by</dt><dd>{man.signers.join(', ')} ({man.signers.length} of threshold {man.threshold}, custodian set version {man.custodianSet})</dd>
                <dt>Issued</dt><dd>{shown(man.issued)} by {man.actor}, ceremony {man.ceremony}</dd>
                <dt>File</dt><dd><code>{man.file}</code></dd>
              </dl>
            )}
          </div>
        );
      })}
    </section>
  );
}
