/**
 * The step's key wrapped for each cloud KMS target under the KMS's wrapping key (an input file)
 * and written to the ceremony folder on removable media. An export folder already there is
 * adopted only when it checks out: export.json strict, every file's size and SHA-256, the
 * wrapping key the one given, the check value the one the token computes now.
 */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { KeyceremonyError, isKeyceremonyError } from '../../errors.js';
import { parseKek } from '../../export/kek.js';
import type { Kek } from '../../export/kek.js';
import { readExportFolder } from '../../export/record.js';
import { exportCheckValue } from '../../export/wrap.js';
import type { ExportKcv } from '../../export/wrap.js';
import { findSecretKey } from '../../pkcs11/objects.js';
import { findTarget } from '../../export/targets.js';
import type { Target } from '../../export/targets.js';
import { checkKek, exportInSession, wrapForExport } from '../../usecases/export.js';
import { readInput } from '../../files.js';
import { withSession } from '../../pkcs11/session.js';
import { pinOf, provenKey, resumeMismatch } from '../context.js';
import type { StepContext, StepResult } from '../context.js';
import { requireExactly } from '../tree.js';
import { mediaRule } from '../media.js';
import type { Preflight, StepKind, StepOf } from './kind.js';
import { keyWrapByKnownAnswer, librariesOf } from './libraries.js';
import type { KeyWrapRecord } from './libraries.js';
import { kwpRecordName } from '../../pkcs11/capabilities.js';

type S = StepOf<'export'>;
type Item = S['targets'][number];

const readKek = (inputs: string, x: Item): Kek => parseKek(readInput(join(inputs, x.kek), 'the KMS wrapping key', 64 * 1024));

/** How export.json names an AES key wrap a known answer chose (src/pkcs11/capabilities.ts kwpRecordName). */
const BY_KNOWN_ANSWER = '(RFC 5649 by known answer)';

/**
 * The check value of the step's key as an export records it, computed by the token now: the one
 * rule of src/export/wrap.ts (an AES key's `ecb`, a kept secret's `binding`), so a kept secret's
 * export is proven against its binding's KCV, as it was written.
 */
async function exportKcv(ctx: StepContext, step: S): Promise<ExportKcv> {
  const t = ctx.token(step.token);
  return withSession(t.token, await pinOf(t), async (s) => exportCheckValue(s, findSecretKey(s, { label: step.key })));
}

/**
 * An export folder found in place, proven against the token's check value, the wrapping key given
 * and the token's known answer (an AES key wrap its record names must be the one that gives RFC
 * 5649 on this token); its line and its record's digest.
 */
async function proveFolder(ctx: StepContext, step: S, target: Target, kek: Kek, kw: KeyWrapRecord): Promise<{ line: string; record: string }> {
  const rel = `${step.out}/${target.name}`;
  const rec = readExportFolder(join(ctx.dir, rel));
  const kcv = await provenKey(step.id, step.key, ctx.token(step.token).token.label, () => exportKcv(ctx, step));
  if (rec.target !== target.name || rec.kcv !== kcv.value || rec.kcvMethod !== kcv.method || rec.wrappingKeySha256 !== kek.spkiSha256) {
    throw resumeMismatch(step.id, `the export for ${target.name}`, { target: target.name, kcv: kcv.value, kcvMethod: kcv.method, wrappingKeySha256: kek.spkiSha256 },
      { target: rec.target, kcv: rec.kcv, kcvMethod: rec.kcvMethod, wrappingKeySha256: rec.wrappingKeySha256 });
  }
  const kwp = rec.mechanisms.filter((m) => m.endsWith(BY_KNOWN_ANSWER));
  if (kwp.some((m) => m !== kwpRecordName(kw.choice))) throw resumeMismatch(step.id, `the AES key wrap of the export for ${target.name}`, kwpRecordName(kw.choice), kwp);
  const digest = createHash('sha256').update(ctx.folder.read(`${rel}/export.json`, 'the export record', 64 * 1024)).digest('hex');
  return { line: `${target.name}: ${rec.wrap} (${rec.mechanisms.join(' + ')}), kcv ${rec.kcv}`, record: `${target.name}:${digest}` };
}

/** Wrap one target and (write) write it. Null when wrapping only and the token did it; a line when the token cannot do the target's mechanism. */
async function wrapTarget(ctx: StepContext, step: S, x: Item, target: Target, kek: Kek, write: boolean): Promise<string | null> {
  const t = ctx.token(step.token);
  const req = { key: { label: step.key }, target, kek, kekId: x.kekId ?? undefined, outDir: join(ctx.dir, step.out, target.name), drive: ctx.dir, force: false };
  try {
    if (write) await withSession(t.token, await pinOf(t), (s) => exportInSession(s, req));
    else await withSession(t.token, await pinOf(t), (s) => wrapForExport(s, req));
    return null;
  } catch (err) {
    if (!isKeyceremonyError(err) || err.code !== 'EXPORT_MECHANISM_UNSUPPORTED') throw err;
    return `${target.name}: refused (${err.code}): the key is never taken out in clear`;
  }
}

/**
 * write: every target exported anew (what an interrupted attempt left was removed first); else
 * (a done step) each folder proven, and a missing one must be a target the token refuses. Either
 * way each folder is read back and proven, the step's folder holds exactly them, and the digest of
 * each export.json goes into the journal, so a folder swapped later is caught at the next resume.
 */
async function run(ctx: StepContext, step: S, write: boolean): Promise<StepResult> {
  const lines: string[] = [];
  const made: string[] = [];
  const records: string[] = [];
  // which AES key wrap is RFC 5649 on this token, asked of it now: the journal and the transcript record it
  const kw = await keyWrapByKnownAnswer(ctx, step.token);
  for (const x of step.targets) {
    const target = findTarget(x.target);
    if (target === undefined) continue;
    const kek = parseKek(ctx.input(x.kek)); // the bytes pinned when the run began
    const present = !write && ctx.folder.exists(`${step.out}/${target.name}`);
    const refused = present ? null : await wrapTarget(ctx, step, x, target, kek, write);
    if (refused !== null) { lines.push(refused); continue; }
    if (!write && !present) throw new KeyceremonyError('CEREMONY_EXPORT_MISSING', `step ${step.id} is done in the journal, and the export for ${target.name} is not in ${join(ctx.dir, step.out)}`, 'stop: the folder was changed; keep it as evidence and start again in a new folder');
    const proven = await proveFolder(ctx, step, target, kek, kw);
    lines.push(proven.line);
    records.push(proven.record);
    made.push(target.name);
  }
  requireExactly(ctx.folder.exists(step.out) ? ctx.folder.list(step.out) : [], made, `the export folder ${step.out} of step ${step.id}`);
  lines.push(kw.line);
  if (write) ctx.say(lines.map((l) => `  ${l}`).join('\n'));
  return { title: `Export ${step.key} for ${step.targets.length} cloud KMS target(s)`, outcome: `${made.length} written and read back, ${step.targets.length - made.length} refused`, lines, keys: [step.key],
    details: { folder: step.out, targets: made, records, ...kw.details, libraries: librariesOf(ctx, [step.token]) } };
}

export const exportStep: StepKind<S> = {
  inputs: (step) => step.targets.map((x) => x.kek),
  checkInputs: (p: Preflight, step: S) => step.targets.flatMap((x) => {
    const target = findTarget(x.target);
    return target === undefined ? [] : [{ what: `step ${step.id}, ${x.kek}`, run: () => checkKek(target, readKek(p.inputs, x), x.kekId ?? undefined) }];
  }),
  needs: (step) => [{ token: step.token, need: 'rsa-oaep-wrap' }],
  outputs: (step) => [step.out],
  proof: (step) => `each folder in ${step.out} against its export.json, its files' SHA-256 and the token's check value of ${step.key}`,
  async perform(ctx, step) {
    mediaRule(ctx.dir, { steps: [step], simulation: ctx.simulation, env: ctx.o.env });
    if (ctx.folder.exists(step.out)) {
      ctx.requireBegun(step, step.out);
      ctx.folder.remove(step.out); // an interrupted export is never adopted: its folders are made again
    }
    return run(ctx, step, true);
  },
  adopt: (ctx, step) => run(ctx, step, false),
};
