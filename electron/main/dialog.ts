/**
 * The folder dialog the handler table asks for (src/api/folders.ts): the renderer never names a
 * folder, so every folder it may use is one the user chose here, in a native dialog of the main
 * process, modal to the app window. One folder at a time; the user may make a new one in it.
 */
import type { BaseWindow, OpenDialogOptions, OpenDialogReturnValue } from 'electron';
import type { ChooseFolder } from '../../src/api/folders.js';

/** The part of Electron's `dialog` used here, so the shell test can stand in for it. */
export interface DialogLike {
  showOpenDialog(window: BaseWindow, options: OpenDialogOptions): Promise<OpenDialogReturnValue>;
}

export function dialogChooseFolder(dialog: DialogLike, parent: () => BaseWindow | null): ChooseFolder {
  return async ({ title, buttonLabel }) => {
    const win = parent();
    // no window to be modal to: nothing can have asked
    if (win === null) return null;
    const r = await dialog.showOpenDialog(win, { title, buttonLabel, properties: ['openDirectory', 'createDirectory'] });
    return r.canceled ? null : (r.filePaths[0] ?? null);
  };
}
