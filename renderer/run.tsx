/**
 * The ceremony run of this window, held above the screens (issue 15): switching screens or leaving
 * the run sheet never loses it, and a reload reconnects to it (the run's id is kept for the
 * session). While a run exists its status is polled here, so the run sheet, the workbench's banner
 * and the Ceremony screen all show the same run.
 */
import { createContext, useCallback, useContext, useEffect, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { AppError, call } from './api.js';
import type { ApiError, Responses } from './api.js';

export type Plan = Responses['ceremony.validate'];
export type Status = Responses['ceremony.status'];
export type FolderView = NonNullable<Responses['folders.choose']['folder']>;

/** A run: the script reviewed, the folder chosen, the mode; runId null until it is started. */
export interface RunRef {
  readonly mode: 'live' | 'rehearsal';
  readonly script: string;
  readonly plan: Plan;
  readonly folder: FolderView;
  readonly runId: string | null;
  /** Started again after a failed run: the step the engine resumes at (it proves the steps before again). */
  readonly resumeFrom?: number | undefined;
}

export interface RunState {
  readonly ref: RunRef | null;
  readonly status: Status | null;
  /** The run sheet covers the window (the workbench is behind it). */
  readonly sheet: boolean;
  readonly transcript: Responses['transcript.read'] | null;
  readonly audit: Responses['audit.verify'] | null;
  /** The run's id is no longer known to the app (it was restarted): start again on the same folder to resume. */
  readonly lost: ApiError | null;
  /** Opens the run sheet for a script, not started yet. */
  prepare(ref: Omit<RunRef, 'runId' | 'resumeFrom'>): void;
  started(runId: string): void;
  /** Back to the workbench; the run goes on. */
  showSheet(visible: boolean): void;
  /** Forget a run that has ended (or was never started). */
  close(): void;
  /** A failed run is started again on its folder: the same sheet, not started yet. */
  again(mode: RunRef['mode'], resumeFrom: number | undefined): void;
}

const KEY = 'keyceremony.run';
const Ctx = createContext<RunState | null>(null);

function restore(): RunRef | null {
  try {
    const v = sessionStorage.getItem(KEY);
    return v === null ? null : JSON.parse(v) as RunRef;
  } catch {
    return null;
  }
}

export const active = (s: Status | null): boolean => s !== null && (s.state === 'running' || s.state === 'waiting');

export function RunProvider({ children }: { children: ReactNode }) {
  const [ref, setRef] = useState<RunRef | null>(restore);
  const [sheet, setSheet] = useState(ref !== null);
  const [status, setStatus] = useState<Status | null>(null);
  const [transcript, setTranscript] = useState<Responses['transcript.read'] | null>(null);
  const [audit, setAudit] = useState<Responses['audit.verify'] | null>(null);
  const [lost, setLost] = useState<ApiError | null>(null);
  useEffect(() => {
    try {
      if (ref === null) sessionStorage.removeItem(KEY);
      else sessionStorage.setItem(KEY, JSON.stringify(ref));
    } catch { /* storage unavailable: the run is kept for as long as the page lives */ }
  }, [ref]);
  const runId = ref?.runId ?? null;
  useEffect(() => {
    setStatus(null); setTranscript(null); setAudit(null); setLost(null);
    if (runId === null) return undefined;
    let stop = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const poll = async () => {
      let s: Status;
      try {
        s = await call('ceremony.status', { runId });
      } catch (err) {
        if (!stop && err instanceof AppError && err.error.code === 'CEREMONY_RUN_UNKNOWN') { setLost(err.error); return; }
        if (!stop) timer = setTimeout(() => void poll(), 1000);
        return;
      }
      if (stop) return;
      setStatus(s);
      if (s.state === 'done') {
        const t = await call('transcript.read', { runId }).catch(() => null);
        if (stop || t === null) return;
        setTranscript(t);
        const a = await call('audit.verify', { log: t.audit, chain: [...t.chain], checkpoint: t.checkpoint }).catch(() => null);
        if (!stop) setAudit(a);
        return;
      }
      if (s.state !== 'failed') timer = setTimeout(() => void poll(), 250);
    };
    void poll();
    return () => { stop = true; clearTimeout(timer); };
  }, [runId]);
  const prepare = useCallback((r: Omit<RunRef, 'runId' | 'resumeFrom'>) => { setRef({ ...r, runId: null }); setSheet(true); }, []);
  const started = useCallback((id: string) => setRef((r) => (r === null ? r : { ...r, runId: id })), []);
  const close = useCallback(() => { setRef(null); setSheet(false); }, []);
  const again = useCallback((mode: RunRef['mode'], resumeFrom: number | undefined) => setRef((r) => (r === null ? r : { ...r, mode, runId: null, resumeFrom })), []);
  const value = useMemo<RunState>(() => ({ ref, status, sheet, transcript, audit, lost, prepare, started, showSheet: setSheet, close, again }),
    [ref, status, sheet, transcript, audit, lost, prepare, started, close, again]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useRun(): RunState {
  const v = useContext(Ctx);
  if (v === null) throw new Error('useRun outside RunProvider');
  return v;
}
