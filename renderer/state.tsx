/** App-wide state: the documents of this ceremony, the last error, and a busy flag for long operations. */
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
  /** Bumped after a PIN error, so token lists (and their tries-left flags) are read again. */
  readonly tokenEpoch: number;
  addKey(k: Responses['keys.generate']): void;
  setChain(chain: readonly string[]): void;
  setManifest(doc: string | null): void;
  clearError(): void;
  /** Run an operation with a progress message; errors land in the banner with code and fix. */
  run<T>(what: string, fn: () => Promise<T>, done?: string): Promise<T | undefined>;
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
  const run = useCallback(async <T,>(what: string, fn: () => Promise<T>, done?: string): Promise<T | undefined> => {
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
    keys, chain, manifest, error, busy, notice, tokenEpoch,
    addKey: (k) => setKeys((ks) => [...ks, k]),
    setChain, setManifest, clearError: () => setError(null), run,
  }), [keys, chain, manifest, error, busy, notice, tokenEpoch, run]);
  return <Ctx.Provider value={value}>{children}</Ctx.Provider>;
}

export function useApp(): AppState {
  const v = useContext(Ctx);
  if (v === null) throw new Error('useApp outside AppProvider');
  return v;
}
