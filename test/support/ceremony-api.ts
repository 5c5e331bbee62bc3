/**
 * The handler table over throw-away SoftHSM2 tokens, as the ceremony channel tests use it: a work
 * folder, a folder dialog that answers with the folder a test names, the PIN of each token by its
 * label, and polling a run's status until it waits for a person.
 */
import { mkdirSync, mkdtempSync, realpathSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import type { CeremonyStatusView } from '../../src/api/contract.js';
import { createHandlers } from '../../src/api/handlers.js';
import type { Handlers } from '../../src/api/handlers.js';
import { ok } from './result.js';
import { createSoftHsm } from './softhsm.js';
import type { SoftHsm } from './softhsm.js';

export interface TokenSpec { readonly label: string; readonly pin: string; readonly soPin: string }

export interface ApiRoom {
  readonly hsm: SoftHsm;
  readonly work: string;
  readonly h: Handlers;
  /** The PIN of a token of this room, by its label. */
  pinOf(label: string): string;
  /** The status once `done` holds (polled every 25 ms, 10 s at most). */
  until(runId: string, done: (s: CeremonyStatusView) => boolean): Promise<CeremonyStatusView>;
  /** A new folder NAME in the work folder, chosen in the dialog for a ceremony: its handle. */
  folder(name: string): Promise<string>;
  close(): void;
}

/** The run waits for a person (or has ended). */
export const waiting = (s: CeremonyStatusView): boolean => s.state !== 'running';

export function openApiRoom(prefix: string, tokens: readonly TokenSpec[]): ApiRoom {
  const hsm = createSoftHsm([...tokens]);
  const work = realpathSync(mkdtempSync(join(tmpdir(), prefix)));
  let chosen: string | null = null;
  const h = createHandlers({ env: { KEYCEREMONY_PKCS11_MODULE: hsm.module }, version: 'test', interfaces: () => [], chooseFolder: async () => chosen });
  return {
    hsm, work, h,
    pinOf: (label) => tokens.find((t) => t.label === label)!.pin,
    until: async (runId, done) => {
      let s = ok(await h['ceremony.status']({ runId }));
      for (let i = 0; i < 400 && !done(s); i++) { await new Promise((r) => setTimeout(r, 25)); s = ok(await h['ceremony.status']({ runId })); }
      return s;
    },
    folder: async (name) => {
      mkdirSync(join(work, name));
      chosen = join(work, name);
      return ok(await h['folders.choose']({ purpose: 'ceremony' })).folder!.handle;
    },
    close: () => { hsm.cleanup(); rmSync(work, { recursive: true, force: true }); },
  };
}

/**
 * A room for a whole test file: made before its tests, closed after them. `h` and the functions
 * reach the room once it is made, so a file can take them apart at its top.
 */
export function apiRoomFor(prefix: string, tokens: readonly TokenSpec[]): Omit<ApiRoom, 'close'> {
  let room: ApiRoom | undefined;
  beforeAll(() => { room = openApiRoom(prefix, tokens); });
  afterAll(() => room?.close());
  const made = (): ApiRoom => {
    if (room === undefined) throw new Error('the room is made in beforeAll: use it inside a test');
    return room;
  };
  const h = new Proxy({}, { get: (_, channel) => made().h[channel as keyof Handlers] }) as Handlers;
  return {
    get hsm() { return made().hsm; },
    get work() { return made().work; },
    h,
    pinOf: (label) => made().pinOf(label),
    until: (runId, done) => made().until(runId, done),
    folder: (name) => made().folder(name),
  };
}
