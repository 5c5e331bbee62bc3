/**
 * The room's window (issue 15): a second window, for a projector or a screen facing the room, that
 * shows only the run's "now" card and, while a witness question of a value made in this run waits,
 * the words to read aloud (renderer/screens/Room.tsx). It is made exactly as the app window is: the
 * same webPreferences (./security.ts), hardened by the same web-contents-created handler and the same
 * session (navigation, window.open, webviews and permissions refused, every request that is not
 * app:// cancelled), served the same files with the same CSP. Its page names the run in its fragment,
 * app://keyceremony/index.html#room=<run id>, 32 hex digits checked here as well as by the handler
 * table. One room window at most: asked again for the same run, it is focused; for another run (a
 * resumed run has a new id), the same window is moved to it. It closes with the app window.
 *
 * The room window is read-only by more than its screen: IPC from it is answered only on the
 * channels its page uses (ceremony.status); every other channel refuses it (limitRoomIpc), so no
 * answer, PIN, stop or new window can come from the projector's page.
 */
import { BrowserWindow } from 'electron';
import type { Channel, Result } from '../../src/api/contract.js';
import { APP_START_URL, webPreferences } from './security.js';

/** A run id as the handler table gives it out (src/api/schema.ts RUN_ID): the room window's fragment. */
const RUN_ID = /^[0-9a-f]{32}$/;

/** The only channels the room window's page may call: it polls the run's status, and nothing else. */
export const ROOM_CHANNELS: ReadonlySet<Channel> = new Set<Channel>(['ceremony.status']);

/** The room window's URL for a run: its id in the fragment, refused unless it is 32 lower-case hex digits. */
export function roomUrl(runId: unknown): string {
  if (typeof runId !== 'string') throw new TypeError(`"runId" expected a string, got ${typeof runId}`);
  if (!RUN_ID.test(runId)) throw new RangeError(`"runId" expected 32 lower-case hex digits, got ${runId.length} characters`);
  return `${APP_START_URL}#room=${runId}`;
}

export interface RoomOptions {
  /** The bundled preload, the app window's own. */
  readonly preload: string;
  /** The window's title, read when it opens: it says NO SANDBOX as the app window's does (./sandbox.ts). */
  readonly title: () => string;
}

/** The one room window of the app, if open, and the run it shows. */
export class RoomWindow {
  #win: BrowserWindow | null = null;
  #runId: string | null = null;
  readonly #o: RoomOptions;

  constructor(o: RoomOptions) {
    this.#o = o;
  }

  /** Opens the room window on a run, or moves the one open to it; focused if it shows that run already. */
  async open(runId: string): Promise<'opened' | 'focused'> {
    const url = roomUrl(runId);
    const open = this.#win !== null && !this.#win.isDestroyed() ? this.#win : null;
    if (open !== null && this.#runId === runId) {
      open.focus();
      return 'focused';
    }
    if (open !== null) {
      // another run: the same window (where the room placed it) shows it; a load from here is no navigation the page made
      this.#runId = runId;
      open.focus();
      await open.loadURL(url);
      return 'opened';
    }
    // the security settings spelled out here too, as for the app window, where reviewers and scanners look for them
    const win = new BrowserWindow({ width: 1280, height: 720, minWidth: 640, minHeight: 400, show: false, title: this.#o.title(), autoHideMenuBar: true,
      webPreferences: { ...webPreferences(this.#o.preload), sandbox: true, contextIsolation: true, nodeIntegration: false, webSecurity: true } });
    this.#win = win;
    this.#runId = runId;
    win.on('closed', () => {
      if (this.#win === win) { this.#win = null; this.#runId = null; }
    });
    win.once('ready-to-show', () => win.show());
    await win.loadURL(url);
    return 'opened';
  }

  /** Whether an IPC request comes from the room window's page (by its WebContents id, which its page cannot change). */
  isRoom(sender: { readonly id: number } | null | undefined): boolean {
    const win = this.#win;
    return win !== null && !win.isDestroyed() && sender !== null && sender !== undefined && sender.id === win.webContents.id;
  }

  /** Closes the room window, if open (the app window closed). */
  close(): void {
    const win = this.#win;
    this.#win = null;
    this.#runId = null;
    if (win !== null && !win.isDestroyed()) win.close();
  }
}

export const ROOM_FORBIDDEN: Result<never> = Object.freeze({ ok: false, error: Object.freeze({ code: 'IPC_FORBIDDEN',
  message: "the room's window only shows the run: it cannot act on it", fix: 'act from the app window' }) });

/** The part of ipcMain that registerIpc uses, with the sending WebContents Electron gives each event. */
export interface IpcMainWithSender {
  handle(channel: string, listener: (event: { senderFrame: { url: string; parent: unknown } | null; sender?: { id: number } }, ...args: unknown[]) => Promise<unknown>): void;
}

/**
 * ipcMain as registerIpc (./ipc.ts) sees it, with the room window's page limited to ROOM_CHANNELS:
 * a request from it on any other channel is refused before the sender check and the handler table.
 */
export function limitRoomIpc(ipcMain: IpcMainWithSender, room: Pick<RoomWindow, 'isRoom'>, channelOf: (ipcName: string) => Channel | undefined): IpcMainWithSender {
  return {
    handle: (name, listener) => {
      const channel = channelOf(name);
      ipcMain.handle(name, async (event, ...args) => {
        if (room.isRoom(event.sender) && (channel === undefined || !ROOM_CHANNELS.has(channel))) return ROOM_FORBIDDEN;
        return listener(event, ...args);
      });
    },
  };
}
