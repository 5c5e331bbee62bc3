import { listMedia } from '../../export/media.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import type { Io, Warnings } from '../io.js';

export const MEDIA_USAGE = 'keyceremony media [--json]';

/** `keyceremony media`: removable drives with their mount points, size and free space. */
export async function mediaCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const { values } = parse(argv, COMMON_OPTIONS, { min: 0, max: 0, usage: MEDIA_USAGE });
  const media = listMedia(io.env);
  if (values.json === true) {
    io.stdout.write(`${JSON.stringify({ media })}\n`);
    return 0;
  }
  if (media.length === 0) io.stdout.write('no removable drive is mounted: insert one and mount it\n');
  const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
  for (const m of media) io.stdout.write(`${m.mountPoint}  ${m.device}  ${mb(m.freeBytes)} free of ${mb(m.sizeBytes)}\n`);
  return 0;
}
