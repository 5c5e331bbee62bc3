/**
 * The renderer's only way out: `window.keyceremony`, one function per channel of the contract
 * (exposed by the preload in Electron, by the test bridge in Chromium). Types come from the
 * shared contract; nothing of Node or the core is imported here.
 */
import type { ApiError, Channel, KeyceremonyApi, Requests, Responses } from '../src/api/contract.js';

declare global {
  interface Window { readonly keyceremony?: KeyceremonyApi }
}

export class AppError extends Error {
  constructor(readonly error: ApiError) {
    super(error.message);
  }
}

export async function call<C extends Channel>(channel: C, request: Requests[C]): Promise<Responses[C]> {
  const api = window.keyceremony;
  if (api === undefined) throw new AppError({ code: 'APP_NO_BRIDGE', message: 'the app core is not connected', fix: 'start the app with npm start' });
  const r = await api[channel](request);
  if (!r.ok) throw new AppError(r.error);
  return r.value;
}

export type { ApiError, Responses };
