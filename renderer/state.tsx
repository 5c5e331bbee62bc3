/**
 * App-wide state: the documents of this ceremony, the last error, and a busy flag for long
 * operations. Feedback (busy, error, done) belongs to a place: an operation run for a form says
 * where (`at`), and the form shows it beside itself while that place is on screen; anything else,
 * or a place no longer shown, lands in the banner at the top (issue 15: errors beside the form
 * that caused them).
 */
import { createContext, useCallback, useContext, useMemo, useState } from 'react';
import type { ReactNode } from 'react';
import { AppError } from './api.js';
import type { ApiError, Responses } from './api.js';

export interface GeneratedKey { readonly view: Responses['keys.generate'] }

export interface AppState {
  readonly keys: readonly Responses['keys.generate'][];
  /** The custodian chain in use, root first; empty until a set is signed and chosen. */
  readonly chain: readonly string[];
  readonly manifest: string | null;
  readonly error: ApiError | null;
  readonly busy: string | null;
  readonly notice: string | null;
  /** Where the feedback above belongs: a place beside a form (see `claim`), or null for the banner. */
  readonly at: string | null;
  /** The places on screen now; a place is claimed while its feedback is shown and released when it goes. */
  readonly places: ReadonlySet<string>;
  /** Bumped after a PIN error, so token lists (and their tries-left flags) are read again. */
  readonly tokenEpoch: number;
  addKey(k: Responses['keys.generate']): void;
  setChain(chain: readonly string[]): void;
  setManifest(doc: string | null): void;
  clearError(): void;
  /** Show feedback for `at` beside its form from now on; returns the release. */
  claim(at: string): () => void;
  /** Run an operation with a progress message; errors come with code and fix, beside the form `at` when it is shown, else in the banner. */
  run<T>(what: string, fn: () => Promise<T>, done?: string, at?: string): Promise<T | undefined>;
}

const Ctx = createContext<AppState | null>(null);

export function AppProvider({ children }: { children: ReactNode }) {
  const [keys, setKeys] = useState<Responses['keys.generate'][]>([]);
  const [chain, setChain] = useState<readonly string[]>([]);
  const [manifest, setManifest] = useState<string | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState<string | null>(null);
  const [notice, setNotice] = useState<string | null>(null);
  const [tokenEpoch, setTokenEpoch] = useState(0);
  const [at, setAt] = useState<string | null>(null);
  const [places, setPlaces] = useState<ReadonlySet<string>>(new Set());
  const claim = useCallback((place: string) => {
    setPlaces((ps) => new Set(ps).add(place));
    return () => setPlaces((ps) => { const next = new Set(ps); next.delete(place); return next; });
  }, []);
  const run = useCallback(async <T,>(what: string, fn: () => Promise<T>, done?: string, place?: string): Promise<T | undefined> => {
    setAt(place ?? null);
    setBusy(what);
    setError(null);
    setNotice(null);
    try {
      const v = await fn();
      if (done !== undefined) setNotice(done);
      return v;
    } catch (err) {
      setError(err instanceof AppError ? err.error : { code: 'APP_ERROR', message: String(err), fix: 'try again; if it repeats, report it' });
      if (err instanceof AppError && err.error.code.startsWith('HSM_PIN')) setTokenEpoch((n) => n + 1);
      return undefined;
    } finally {
      setBusy(null);
    }
  }, []);
  const value = useMemo<AppState>(() => ({
    keys, chain, manifest, error, busy, notice, tokenEpoch, at, places,
    addKey: (k) => setKeys((ks) => [...ks, k]),
    setChain, setManifest, clearError: () => setError(null), claim, run,
  }), [keys, chain, manifest, error, busy, notice, tokenEpoch, at, places, claim, run]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useApp(): AppState {
  const v = useContext(Ctx);
  if (v === null) throw new Error('useApp outside AppProvider');
  return v;
}
