import { listMedia } from '../../export/media.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const MEDIA_USAGE = 'keyceremony media [--json]';

/** `keyceremony media`: removable drives with their mount points, size and free space. Mount points and device names come from the drives (a volume label is a mount point's name), so they print only through writeJson and writeLines. */
export async function mediaCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const { values } = parse(argv, COMMON_OPTIONS, { min: 0, max: 0, usage: MEDIA_USAGE });
  const media = listMedia(io.env);
  if (values.json === true) {
    writeJson(io, { media });
    return 0;
  }
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
  writeLines(io.stdout, media.length === 0 ? ['no removable drive is mounted: insert one and mount it'] : media.map((m) => `${m.mountPoint}  ${m.device}  ${mb(m.freeBytes)} free of ${mb(m.sizeBytes)}`));
  return 0;
}
