/**
 * Choosing a removable drive and a folder on it, as the export, the backup custody and the drill
 * do: the drives the main process lists (mount point and free space), listed again on demand.
 * The screens send the main process only the drive's handle and a plain folder name, never a
 * path: it writes only where it listed a drive itself.
 */
import { useEffect, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Field } from './common.js';

type Medium = Responses['media.list']['media'][number];

export interface Drive {
  readonly media: readonly Medium[];
  readonly reload: () => void;
  /** The chosen drive's handle, '' for none. */
  readonly handle: string;
  readonly setHandle: (v: string) => void;
  /** The chosen drive, for showing its mount point. */
  readonly chosen: Medium | undefined;
  readonly folder: string;
  readonly setFolder: (v: string) => void;
}

export function useDrive(defaultFolder: string): Drive {
  const [media, setMedia] = useState<readonly Medium[]>([]);
  const [handle, setHandle] = useState('');
  const [folder, setFolder] = useState(defaultFolder);
  const reload = () => void call('media.list', {}).then((r) => {
    setMedia(r.media);
    // a drive that left the list is no longer chosen (its handle was withdrawn)
    setHandle((h) => (r.media.some((m) => m.handle === h) ? h : ''));
  }, () => { setMedia([]); setHandle(''); });
  useEffect(reload, []);
  return { media, reload, handle, setHandle, chosen: media.find((m) => m.handle === handle), folder, setFolder };
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

export function DriveFields({ drive, label, folderLabel = 'Folder on the drive' }: { drive: Drive; label: string; folderLabel?: string }) {
  return (
    <>
      <Field label={label}>{(i) => (
        <select id={i} value={drive.handle} onChange={(e) => drive.setHandle(e.target.value)}>
          <option value="">Choose a drive…</option>
          {drive.media.map((m) => <option key={m.handle} value={m.handle}>{m.mountPoint} ({mb(m.freeBytes)} free)</option>)}
        </select>
      )}</Field>
      <Field label={folderLabel} hint="one name: letters, digits, . _ -">{(i) => <input id={i} value={drive.folder} onChange={(e) => drive.setFolder(e.target.value)} />}</Field>
      <button type="button" className="secondary" onClick={drive.reload}>Look for drives again</button>
      {drive.media.length === 0 && <p>No removable drive found: insert and mount one.</p>}
    </>
  );
}
