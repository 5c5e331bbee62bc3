/**
 * Choosing a removable drive and a folder on it, as the export, the backup custody and the drill
 * do: the drives the main process lists (mount point and free space), listed again on demand.
 */
import { useEffect, useState } from 'react';
import { call } from '../api.js';
import type { Responses } from '../api.js';
import { Field } from './common.js';

type Medium = Responses['media.list']['media'][number];

export interface Drive {
  readonly media: readonly Medium[];
  readonly reload: () => void;
  readonly mountPoint: string;
  readonly setMountPoint: (v: string) => void;
  readonly folder: string;
  readonly setFolder: (v: string) => void;
}

export function useDrive(defaultFolder: string): Drive {
  const [media, setMedia] = useState<readonly Medium[]>([]);
  const [mountPoint, setMountPoint] = useState('');
  const [folder, setFolder] = useState(defaultFolder);
  const reload = () => void call('media.list', {}).then((r) => setMedia(r.media), () => setMedia([]));
  useEffect(reload, []);
  return { media, reload, mountPoint, setMountPoint, folder, setFolder };
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;

export function DriveFields({ drive, label, folderLabel = 'Folder on the drive' }: { drive: Drive; label: string; folderLabel?: string }) {
  return (
    <>
      <Field label={label}>{(i) => (
        <select id={i} value={drive.mountPoint} onChange={(e) => drive.setMountPoint(e.target.value)}>
          <option value="">Choose a drive…</option>
          {drive.media.map((m) => <option key={m.mountPoint} value={m.mountPoint}>{m.mountPoint} ({mb(m.freeBytes)} free)</option>)}
        </select>
      )}</Field>
      <Field label={folderLabel}>{(i) => <input id={i} value={drive.folder} onChange={(e) => drive.setFolder(e.target.value)} />}</Field>
      <button type="button" className="secondary" onClick={drive.reload}>Look for drives again</button>
      {drive.media.length === 0 && <p>No removable drive found: insert and mount one.</p>}
    </>
  );
}
