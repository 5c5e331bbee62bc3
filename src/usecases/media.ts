/**
 * The removable-media rule (CLI.md `bundle`, issue 13 §3): what carries wrapped key material or
 * shares leaves the room on removable media. A fixed disk is allowed only where the caller says a
 * rehearsal allows it, and the caller records that. One rule, one code: EXPORT_FIXED_DISK (exit 1).
 */
import { KeyceremonyError } from '../errors.js';
import { mediumOf } from '../export/media.js';

/**
 * `path` lies on removable media; else refused unless `allowFixedDisk`. Returns true when it is on
 * a fixed disk that was allowed, so the caller can log it.
 */
export function requireRemovableMedia(path: string, o: { readonly allowFixedDisk: boolean; readonly env: NodeJS.ProcessEnv; readonly what: string; readonly fix?: string }): boolean {
  if (mediumOf(path, o.env) !== null) return false;
  if (o.allowFixedDisk) return true;
  throw new KeyceremonyError('EXPORT_FIXED_DISK', `${path} is not on removable media, and ${o.what}`,
    o.fix ?? 'insert and mount the removable drive (keyceremony media lists them) and write there; a fixed disk is allowed only in a rehearsal');
}
