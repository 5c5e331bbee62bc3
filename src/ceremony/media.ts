/**
 * The removable-media rule of a ceremony (issue 13 §3), as `bundle` applies it: what the export,
 * custody and drill steps write goes on removable media; a fixed disk is allowed only in a
 * rehearsal, and the rehearsal's log says so.
 */
import { requireRemovableMedia } from '../usecases/media.js';
import type { Step } from './script.js';

const MEDIA_ACTIONS: readonly Step['action'][] = ['export', 'split-backup', 'drill'];

/** Null when `dir` is on removable media (or the script writes nothing there that must be); else the note a rehearsal logs. A real run on a fixed disk is refused. */
export function mediaRule(dir: string, o: { readonly steps: readonly Step[]; readonly simulation: boolean; readonly env: NodeJS.ProcessEnv }): { action: string; details: Record<string, string> } | null {
  const writers = o.steps.filter((s) => MEDIA_ACTIONS.includes(s.action)).map((s) => s.id).join(', ');
  if (writers === '') return null;
  const fixed = requireRemovableMedia(dir, { allowFixedDisk: o.simulation, env: o.env, what: `steps ${writers} of the ceremony write wrapped keys or shares there`,
    fix: 'put the ceremony folder on the removable drive (keyceremony media lists them); a fixed disk is allowed only in a rehearsal' });
  return fixed ? { action: 'media.fixed-disk', details: { folder: dir, steps: writers, reason: 'rehearsal' } } : null;
}
