import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { demoInProgress, runDemo } from '../../ceremony/demo.js';
import { prepareOutputDir } from '../../files.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import { writeJson, writeText } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const DEMO_USAGE = 'keyceremony demo [--dir DIR] [--module PATH-TO-SOFTHSM2] [--force] [--json]';

export async function demoCommand(argv: readonly string[], io: Io, _warnings: Warnings): Promise<number> {
  const { values } = parse(argv, { ...COMMON_OPTIONS, dir: { type: 'string' }, module: { type: 'string' } }, { min: 0, max: 0, usage: DEMO_USAGE });
  const json = values.json === true;
  const keep = values.dir !== undefined;
  const dir = keep ? resolve(values.dir as string) : mkdtempSync(join(tmpdir(), 'keyceremony-demo-'));
  // a demo interrupted in this folder resumes; anything else there is refused unless --force
  if (keep && !demoInProgress(dir)) prepareOutputDir(dir, values.force === true);
  // the demo's progress text, which may run over several lines of its own and names its tokens
  const say = (text: string): void => { writeText(json ? io.stderr : io.stdout, text); };
  try {
    const result = await runDemo({ dir, module: values.module, say });
    if (json) writeJson(io, { ok: true, kept: keep, ...result });
    else say(keep ? `Everything is in ${dir}` : `The throw-away tokens in ${dir} are removed now; pass --dir DIR to keep them.`);
    return 0;
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
}
