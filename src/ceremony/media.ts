/**
 * The removable-media rule of a ceremony (issue 13 §3), as `bundle` applies it: what the export,
 * custody and drill steps write goes on removable media; a fixed disk is allowed only in a
 * rehearsal, and the rehearsal's log says so.
 */
import { KeyceremonyError } from '../errors.js';
import { mediumOf } from '../export/media.js';
import type { Step } from './script.js';

const MEDIA_ACTIONS: readonly Step['action'][] = ['export', 'split-backup', 'drill'];

/** Null when `dir` is on removable media (or the script writes nothing there that must be); else the note a rehearsal logs. A real run on a fixed disk is refused. */
export function mediaRule(dir: string, o: { readonly steps: readonly Step[]; readonly simulation: boolean; readonly env: NodeJS.ProcessEnv }): { action: string; details: Record<string, string> } | null {
  const writers = o.steps.filter((s) => MEDIA_ACTIONS.includes(s.action));
  if (writers.length === 0 || mediumOf(dir, o.env) !== null) return null;
  if (!o.simulation) {
    throw new KeyceremonyError('EXPORT_FIXED_DISK', `the ceremony folder ${dir} is not on removable media, and steps ${writers.map((s) => s.id).join(', ')} write key material there (wrapped)`,
      'put the ceremony folder on the removable drive (keyceremony media lists them); a fixed disk is allowed only in a rehearsal');
  }
  return { action: 'media.fixed-disk', details: { folder: dir, steps: writers.map((s) => s.id).join(', '), reason: 'rehearsal' } };
}
