/**
 * Small shared pieces: token picker, PIN field, file drop, feedback beside a form and in the banner,
 * what a disabled button waits for. Values (KCVs, fingerprints, digests) are shown by ./values.tsx.
 */
import { useCallback, useEffect, useId, useState } from 'react';
import type { ChangeEvent, DragEvent, ReactNode } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { useApp } from '../state.js';
import type { AppState } from '../state.js';

type TokenList = Responses['tokens.list'];
type TokenView = TokenList['tokens'][number];

/**
 * The tokens of every library the app has (issue 16), each naming its library; the libraries, each
 * with its error when it would not open; and the ceremony profile that names libraries, if any.
 */
export function useTokens(): { tokens: readonly TokenView[]; libraries: TokenList['libraries']; profile: TokenList['profile']; reload: () => void } {
  const { run, tokenEpoch } = useApp();
  const [list, setList] = useState<TokenList>({ tokens: [], libraries: [], profile: null });
  const [n, setN] = useState(0);
  useEffect(() => {
    void run('Reading tokens…', () => call('tokens.list', {})).then((r) => { if (r !== undefined) setList(r); });
  }, [n, run]);
  useEffect(() => {
    // after a PIN error: refresh quietly (keeping the error banner) so the PIN hint shows the tries left
    if (tokenEpoch > 0) void call('tokens.list', {}).then(setList, () => undefined);
  }, [tokenEpoch]);
  return { tokens: list.tokens, libraries: list.libraries, profile: list.profile, reload: () => setN((x) => x + 1) };
}

/** A library's file name, to tell tokens apart in a list when the app has several libraries. */
export const libraryFile = (path: string): string => path.slice(path.lastIndexOf('/') + 1);

export function Field({ label, children, hint }: { label: string; children: (id: string) => ReactNode; hint?: string }) {
  const id = useId();
  return (
    <div className="field">
      <label htmlFor={id}>{label}</label>
      {children(id)}
      {hint !== undefined && <small className="hint">{hint}</small>}
    </div>
  );
}

export function TokenSelect({ tokens, value, onChange, label = 'Token' }: { tokens: readonly TokenView[]; value: string; onChange: (v: string) => void; label?: string }) {
  // tokens from several libraries: each option says which library it is in
  const several = new Set(tokens.map((t) => t.library)).size > 1;
  return (
    <Field label={label}>
      {(id) => (
        <select id={id} value={value} onChange={(e) => onChange(e.target.value)}>
          <option value="">Choose a token…</option>
          {tokens.map((t, i) => <option key={`${t.library}\u0000${t.serial}\u0000${i}`} value={t.label}>{t.label} (serial {t.serial}{several ? `, ${libraryFile(t.library)}` : ''})</option>)}
        </select>
      )}
    </Field>
  );
}

export function pinWarning(t: TokenView | undefined): string | undefined {
  if (t === undefined) return undefined;
  if (t.pinLocked) return 'This PIN is locked: the security officer must unlock the token.';
  if (t.pinFinalTry) return 'One try left before the PIN locks.';
  if (t.pinCountLow) return 'A wrong PIN was entered recently: few tries are left.';
  return 'Typed PINs are never shown, stored or logged.';
}

export function PinField({ value, onChange, token }: { value: string; onChange: (v: string) => void; token: TokenView | undefined }) {
  const hint = pinWarning(token);
  return (
    <Field label="PIN" {...(hint === undefined ? {} : { hint })}>
      {(id) => <input id={id} type="password" autoComplete="off" value={value} onChange={(e) => onChange(e.target.value)} />}
    </Field>
  );
}

export function FileDrop({ label, onText }: { label: string; onText: (text: string, name: string) => void }) {
  const id = useId();
  const [over, setOver] = useState(false);
  const read = (f: File | undefined) => { if (f !== undefined) void f.text().then((t) => onText(t, f.name)); };
  return (
    <div className={`drop${over ? ' over' : ''}`} onDragOver={(e: DragEvent) => { e.preventDefault(); setOver(true); }} onDragLeave={() => setOver(false)}
      onDrop={(e: DragEvent) => { e.preventDefault(); setOver(false); read(e.dataTransfer.files[0]); }}>
      <label htmlFor={id}>{label}</label>
      <input id={id} type="file" accept=".json,.jsonl,application/json" onChange={(e: ChangeEvent<HTMLInputElement>) => { read(e.target.files?.[0]); e.target.value = ''; }} />
      <small>Drop a file here or choose one.</small>
    </div>
  );
}

function ErrorBox() {
  const { error, clearError } = useApp();
  if (error === null) return null;
  return (
    <div className="banner error" role="alert">
      <strong>{error.code}</strong>: {error.message}.<br /><span className="fix">What to do: {error.fix}.</span>
      <button type="button" className="link" onClick={clearError}>Dismiss</button>
    </div>
  );
}

function Feedback() {
  const { error, busy, notice } = useApp();
  return (
    <>
      {busy !== null && <div className="banner busy" role="status"><span className="spinner" aria-hidden="true" />{busy}</div>}
      <ErrorBox />
      {notice !== null && error === null && busy === null && <div className="banner ok" role="status">{notice}</div>}
    </>
  );
}

/** The banner at the top: feedback that belongs to no place on screen. */
export function Banners() {
  const { at, places } = useApp();
  return <div aria-live="polite">{(at === null || !places.has(at)) && <Feedback />}</div>;
}

/**
 * A place for feedback beside a form (issue 15): `run` says that what it runs belongs at `at`, and
 * `<Beside at={at} />`, put next to the form's button, shows its progress, its error with code and
 * fix, and its outcome there instead of at the top of the page.
 */
export function usePlace(): { run: AppState['run']; at: string } {
  const { run: runAny } = useApp();
  const at = useId();
  const run = useCallback<AppState['run']>((what, fn, done) => runAny(what, fn, done, at), [runAny, at]);
  return { run, at };
}

export function Beside({ at }: { at: string }) {
  const { at: now, places, claim } = useApp();
  useEffect(() => claim(at), [claim, at]);
  return <div className="beside" aria-live="polite">{now === at && places.has(at) && <Feedback />}</div>;
}

/**
 * What a disabled button waits for (issue 15): the list, shown under the button and linked to it
 * with aria-describedby. `missing` holds a phrase per thing still missing ('' or false when given).
 * Spread `button` on every button it holds back; render `note` once, beside them.
 */
export function useMissing(lead: string, missing: readonly (string | false)[]): { ready: boolean; button: { disabled: boolean; 'aria-describedby'?: string }; note: ReactNode } {
  const id = useId();
  const items = missing.filter((m): m is string => m !== false && m !== '');
  if (items.length === 0) return { ready: true, button: { disabled: false }, note: null };
  return { ready: false, button: { disabled: true, 'aria-describedby': id }, note: <small id={id} className="hint missing">{lead} {items.join(', ')}.</small> };
}

export function DocumentBox({ title, document, summary }: { title: string; document: string; summary?: string }) {
  const href = `data:application/json;charset=utf-8,${encodeURIComponent(document)}`;
  return (
    <section className="doc" aria-label={title}>
      <h3>{title}</h3>
      {summary !== undefined && <p>{summary}</p>}
      <a className="button secondary" href={href} download={`${title.toLowerCase().replace(/[^a-z0-9]+/g, '-')}.json`}>Save as file…</a>
    </section>
  );
}
