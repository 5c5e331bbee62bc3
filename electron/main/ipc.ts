/**
 * Registers the handler table of src/api on ipcMain through one helper: the sender frame is
 * checked, the request is validated by the table itself, and the answer is always the
 * `{ ok, value } | { ok: false, error }` envelope (Electron would pass only `message` across
 * invoke if a handler threw).
 */
import { CHANNELS, ipcName } from '../../src/api/contract.js';
import type { Result } from '../../src/api/contract.js';
import type { Handlers } from '../../src/api/handlers.js';
import { isTrustedSender } from './security.js';

export interface IpcMainLike {
  handle(channel: string, listener: (event: { senderFrame: { url: string; parent: unknown } | null }, ...args: unknown[]) => Promise<unknown>): void;
}

export const FORBIDDEN: Result<never> = Object.freeze({ ok: false, error: { code: 'IPC_FORBIDDEN', message: 'the request did not come from the app window', fix: 'nothing to do: the request was ignored' } });

export function registerIpc(ipcMain: IpcMainLike, handlers: Handlers, trusted = isTrustedSender): void {
  for (const c of CHANNELS) {
    ipcMain.handle(ipcName(c), async (event, ...args) => {
      if (!trusted(event.senderFrame)) return FORBIDDEN;
      if (args.length !== 1) return { ok: false, error: { code: 'IPC_BAD_REQUEST', message: `${c} takes exactly one request object`, fix: 'this is a bug in the app screen that sent it' } };
      return handlers[c](args[0]);
    });
  }
}
