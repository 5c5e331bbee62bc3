/**
 * The step's key wrapped for each cloud KMS target under the KMS's wrapping key (an input file)
 * and written to the ceremony folder on removable media. An export folder already there is
 * adopted only when it checks out: export.json strict, every file's size and SHA-256, the
 * wrapping key the one given, the check value the one the token computes now.
 */
import { join } from 'node:path';
import { KeyceremonyError, isKeyceremonyError } from '../../errors.js';
import { parseKek } from '../../export/kek.js';
import type { Kek } from '../../export/kek.js';
import { readExportFolder } from '../../export/record.js';
import { findTarget } from '../../export/targets.js';
import type { Target } from '../../export/targets.js';
import { checkKek, exportInSession, wrapForExport } from '../../usecases/export.js';
import { readInput } from '../../files.js';
import { withSession } from '../../pkcs11/session.js';
import { pinOf, provenKey, resumeMismatch } from '../context.js';
import type { StepContext, StepResult } from '../context.js';
import { mediaRule } from '../media.js';
import { tokenKcv } from './generate-key.js';
import type { Preflight, StepKind, StepOf } from './kind.js';

type S = StepOf<'export'>;
type Item = S['targets'][number];

const readKek = (inputs: string, x: Item): Kek => parseKek(readInput(join(inputs, x.kek), 'the KMS wrapping key', 64 * 1024));

/** An export folder found in place, proven against the token's check value and the wrapping key given. */
async function proveFolder(ctx: StepContext, step: S, target: Target, kek: Kek, outDir: string): Promise<string> {
  const rec = readExportFolder(outDir);
  const kcv = (await provenKey(step.id, step.key, ctx.token(step.token).token.label, () => tokenKcv(ctx, step.token, step.key))).value;
  if (rec.target !== target.name || rec.kcv !== kcv || rec.wrappingKeySha256 !== kek.spkiSha256) {
    throw resumeMismatch(step.id, `the export for ${target.name}`, { target: target.name, kcv, wrappingKeySha256: kek.spkiSha256 }, { target: rec.target, kcv: rec.kcv, wrappingKeySha256: rec.wrappingKeySha256 });
  }
  return `${target.name}: ${rec.wrap}, kcv ${rec.kcv}`;
}

/** Wrap and write one target (write false: wrap only, to learn whether the token refuses it). Null when the token cannot do the target's mechanism. */
async function wrapTarget(ctx: StepContext, step: S, x: Item, target: Target, kek: Kek, write: boolean): Promise<string | null> {
  const t = ctx.token(step.token);
  const req = { key: { label: step.key }, target, kek, kekId: x.kekId ?? undefined, outDir: join(ctx.dir, step.out, target.name), drive: ctx.dir, force: false };
  try {
    if (!write) {
      await withSession(t.token, await pinOf(t), (s) => wrapForExport(s, req));
      return null;
    }
    const rec = await withSession(t.token, await pinOf(t), (s) => exportInSession(s, req));
    return `${target.name}: ${rec.wrap}, kcv ${rec.kcv}`;
  } catch (err) {
    if (!isKeyceremonyError(err) || err.code !== 'EXPORT_MECHANISM_UNSUPPORTED') throw err;
    return `${target.name}: refused (${err.code}): the key is never taken out in clear`;
  }
}

async function run(ctx: StepContext, step: S, write: boolean): Promise<StepResult> {
  const lines: string[] = [];
  const made: string[] = [];
  for (const x of step.targets) {
    const target = findTarget(x.target);
    if (target === undefined) continue;
    const kek = readKek(ctx.o.inputs, x);
    const outDir = join(ctx.dir, step.out, target.name);
    if (ctx.folder.exists(`${step.out}/${target.name}`)) {
      lines.push(await proveFolder(ctx, step, target, kek, outDir));
      made.push(target.name);
      continue;
    }
    const line = await wrapTarget(ctx, step, x, target, kek, write);
    if (line === null) throw new KeyceremonyError('CEREMONY_EXPORT_MISSING', `step ${step.id} is done in the journal, and the export for ${target.name} is not in ${join(ctx.dir, step.out)}`, 'stop: the folder was changed; keep it as evidence and start again in a new folder');
    lines.push(line);
    if (!line.includes('refused (')) made.push(target.name);
  }
  if (write) ctx.say(lines.map((l) => `  ${l}`).join('\n'));
  return { title: `Export ${step.key} for ${step.targets.length} cloud KMS target(s)`, outcome: `${made.length} written and read back, ${step.targets.length - made.length} refused`, lines, keys: [step.key], details: { folder: step.out, targets: made } };
}

export const exportStep: StepKind<S> = {
  inputs: (step) => step.targets.map((x) => x.kek),
  checkInputs: (p: Preflight, step: S) => step.targets.flatMap((x) => {
    const target = findTarget(x.target);
    return target === undefined ? [] : [{ what: `step ${step.id}, ${x.kek}`, run: () => checkKek(target, readKek(p.inputs, x), x.kekId ?? undefined) }];
  }),
  outputs: (step) => [step.out],
  proof: (step) => `each folder in ${step.out} against its export.json, its files' SHA-256 and the token's check value of ${step.key}`,
  async perform(ctx, step) {
    mediaRule(ctx.dir, { steps: [step], simulation: ctx.simulation, env: ctx.o.env });
    return run(ctx, step, true);
  },
  adopt: (ctx, step) => run(ctx, step, false),
};
