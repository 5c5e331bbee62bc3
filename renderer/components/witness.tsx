/**
 * Witness checks that prove something (issue 15): the witness types what they heard, one word per
 * slot, on a view that never shows the words; the main process compares them (ceremony.answer) and
 * names each slot that differs. `yes` is no answer to a fingerprint, a check value or a digest.
 * Questions without words (the clock, a resume, the checkpoint) are confirmed yes or no.
 */
import { useEffect, useRef, useState } from 'react';
import type { FormEvent } from 'react';
import type { Status } from '../run.js';

type Question = NonNullable<Status['question']>;

export const KIND_NAME: Record<Question['kind'], string> = {
  fingerprint: 'fingerprint', 'check-value': 'check value', digest: 'digest', clock: 'clock', resume: 'resume', checkpoint: 'checkpoint', other: 'value',
};

/** Words as the room reads them: numbered, one per cell, in the same order as the witness's slots. */
export function WordList({ words, label }: { words: readonly string[]; label: string }) {
  return (
    <ol className="wordlist" aria-label={label}>
      {words.map((w, i) => <li key={i}><span className="n" aria-hidden="true">{i + 1}</span><span className="w">{w}</span></li>)}
    </ol>
  );
}

/** What the witness types: as many slots as words, none of them shown; a slot the main process found wrong is named. */
export function WitnessSlots({ q, who, onSubmit, onRefuse, onShowWords }: {
  q: Question;
  /** The witness, by name. */
  who: string;
  onSubmit: (words: string[]) => Promise<readonly number[] | null>;
  onRefuse: () => void;
  onShowWords?: (() => void) | undefined;
}) {
  const [typed, setTyped] = useState<string[]>(() => Array.from({ length: q.slots }, () => ''));
  const [wrong, setWrong] = useState<readonly number[]>([]);
  const [sending, setSending] = useState(false);
  const first = useRef<HTMLInputElement>(null);
  const slots = useRef<(HTMLInputElement | null)[]>([]);
  useEffect(() => { first.current?.focus(); }, []);
  const set = (i: number, v: string) => {
    // several words typed or pasted into one slot fill the slots after it
    const parts = v.split(/\s+/);
    if (parts.length > 1 && parts.slice(1).some((p) => p !== '')) {
      const words = parts.filter((p) => p !== '');
      setTyped((t) => t.map((x, j) => (j >= i && j < i + words.length ? words[j - i] as string : x)));
      slots.current[Math.min(q.slots - 1, i + words.length)]?.focus();
    } else setTyped((t) => t.map((x, j) => (j === i ? v : x)));
    setWrong((w) => w.filter((n) => n !== i + 1));
  };
  const missing = typed.map((t, i) => (t.trim() === '' ? i + 1 : 0)).filter((n) => n > 0);
  const yes = typed.some((t) => /^(yes|y|ok|oui|ja)$/i.test(t.trim()));
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    if (missing.length > 0 || yes || sending) return;
    setSending(true);
    const w = await onSubmit(typed.map((t) => t.trim()));
    setSending(false);
    if (w !== null && w.length > 0) {
      setWrong(w);
      slots.current[(w[0] as number) - 1]?.focus();
    }
  };
  const name = KIND_NAME[q.kind];
  return (
    <form className="witness" aria-label="Witness check" onSubmit={(e) => void submit(e)}>
      <p className="who-acts"><strong>{who}</strong> types the {q.slots} words of the {name} {q.source === 'record' ? 'as printed in the transcript of the ceremony that made it' : 'as heard'}: one word in each slot. The words are not shown here.</p>
      <div className="slots">
        {typed.map((t, i) => (
          <label key={i} className={`slot${wrong.includes(i + 1) ? ' wrong' : ''}`}>
            <span>Word {i + 1}</span>
            <input ref={(el) => { slots.current[i] = el; if (i === 0) first.current = el; }} autoComplete="off" autoCapitalize="off" spellCheck={false} value={t}
              aria-invalid={wrong.includes(i + 1) ? true : undefined} onChange={(e) => set(i, e.target.value)} />
          </label>
        ))}
      </div>
      {wrong.length > 0 && (
        <p className="bad" role="alert">{wrong.length === 1 ? `Word ${wrong[0]} does not match` : `Words ${wrong.join(', ')} do not match`}: ask for {wrong.length === 1 ? 'it' : 'them'} again, slowly. If {wrong.length === 1 ? 'it still differs' : 'they still differ'}, stop the ceremony.</p>
      )}
      {yes && <p className="bad" role="alert">&quot;yes&quot; does not confirm a {name}: type the words you heard.</p>}
      <div className="actions">
        <button type="submit" className="primary" disabled={missing.length > 0 || yes || sending}{...(missing.length > 0 ? { 'aria-describedby': 'witness-missing' } : {})}>Check the words</button>
        {onShowWords !== undefined && <button type="button" className="secondary" onClick={onShowWords}>Read the words again</button>}
        <button type="button" className="danger" onClick={onRefuse}>The words do not match: stop</button>
      </div>
      {missing.length > 0 && <p id="witness-missing" className="hint">{missing.length === q.slots ? `Type all ${q.slots} words.` : `Still to type: word${missing.length > 1 ? 's' : ''} ${missing.join(', ')}.`}</p>}
    </form>
  );
}
