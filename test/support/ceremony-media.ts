/** The ceremony media a later ceremony reads, as tests lay them out. */
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { RECIPIENTS } from '../../src/ceremony/templates.js';

/**
 * Into `dir`: the custodian set (`set`), the chain's last manifest (`previous`, from the folder of the
 * ceremony before) and, when given, the deployment's age recipient. Returns `dir`.
 */
export function placeMedia(dir: string, o: { readonly set: string; readonly previous: string; readonly recipients?: string | undefined }): string {
  mkdirSync(dir, { recursive: true });
  copyFileSync(o.set, join(dir, basename(o.set)));
  copyFileSync(o.previous, join(dir, basename(o.previous)));
  if (o.recipients !== undefined) {
    mkdirSync(dirname(join(dir, RECIPIENTS)), { recursive: true });
    writeFileSync(join(dir, RECIPIENTS), `# the test deployment's age recipient\n${o.recipients}\n`);
  }
  return dir;
}
