import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { zero } from '../../bytes.js';
import { formatTime } from '../../docs/fields.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { serializeEnvelope } from '../../dsse/envelope.js';
import { KeyceremonyError, usageError } from '../../errors.js';
import { MAX_KEK_BYTES, parseKek } from '../../export/kek.js';
import type { Kek } from '../../export/kek.js';
import { checkFreeSpace, mediumOf } from '../../export/media.js';
import { findTarget } from '../../export/targets.js';
import type { OaepHash, Target } from '../../export/targets.js';
import { buildFolderAtomically, checkOutputDir, filesUnder, readInput, writeFileAtomic } from '../../files.js';
import { defaultSupersedes, SEED_INVENTORY } from '../../manifest/inventory.js';
import { buildManifest, KEY_ID, PHASES, splitKeyId } from '../../manifest/manifest.js';
import { withSession } from '../../pkcs11/session.js';
import { newestSetMembers, requireCustodian } from '../../usecases/custodians.js';
import { checkKek, exportInSession } from '../../usecases/export.js';
import { COMMON_OPTIONS, MODULE_PARAMS_OPTION, parse, TOKEN_OPTIONS } from '../args.js';
import { objectArgument, resolveTarget } from '../context.js';
import { atOption, CHAIN_OPTIONS, rootDigestOption, trustedChain } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';
import { readPin } from '../pin.js';

export const BUNDLE_USAGE = 'keyceremony bundle --key URI [--key URI ...] --target TARGET=KEKFILE [--target ...] --out DIR --custodians SET [...] --ceremony ID --actor ID [--phase P] [--kek-id URL] [--hash sha1|sha256] [--allow-fixed-disk] [--pin-env NAME] [--module PATH [--module-params STRING]] [--json]';

const DAY = 86400_000;

/**
 * The media for the room's exit: for each key and target a folder `TARGET/KEY/` with the wrapped
 * key and its export.json, a SHA256SUMS over every file, and an unsigned rotation manifest whose
 * artifacts list every file (FORMATS.md §4), ready for the custodians to sign and for
 * `keyceremony verify --artifacts DIR` to check the media afterwards. Staged, then renamed.
 */
export async function bundleCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values } = parse(argv, { ...COMMON_OPTIONS, ...TOKEN_OPTIONS, ...MODULE_PARAMS_OPTION, ...CHAIN_OPTIONS, key: { type: 'string', multiple: true }, target: { type: 'string', multiple: true }, out: { type: 'string' },
    ceremony: { type: 'string' }, actor: { type: 'string' }, phase: { type: 'string' }, 'kek-id': { type: 'string' }, hash: { type: 'string' }, 'allow-fixed-disk': { type: 'boolean' } },
  { min: 0, max: 0, usage: BUNDLE_USAGE });
  for (const k of ['out', 'ceremony', 'actor'] as const) if (values[k] === undefined) throw usageError('USAGE', `bundle needs --${k}`, `usage: ${BUNDLE_USAGE}`);
  if ((values.key ?? []).length === 0 || (values.target ?? []).length === 0) throw usageError('USAGE', 'bundle needs at least one --key and one --target TARGET=KEKFILE', `usage: ${BUNDLE_USAGE}`);
  const phase = values.phase ?? 'prepare';
  if (!(PHASES as readonly string[]).includes(phase)) throw usageError('USAGE', `--phase must be one of ${PHASES.join(', ')}`, `usage: ${BUNDLE_USAGE}`);
  const targets: { target: Target; kek: Kek }[] = (values.target ?? []).map((spec) => {
    const eq = spec.indexOf('=');
    const target = eq < 0 ? undefined : findTarget(spec.slice(0, eq));
    if (target === undefined) throw usageError('EXPORT_TARGET_UNKNOWN', `--target ${JSON.stringify(spec)} is not TARGET=KEKFILE with a known target`, 'write --target aws-rsa-aes-key-wrap-sha256=kek.pem');
    const kek = parseKek(readInput(spec.slice(eq + 1), 'the wrapping key', MAX_KEK_BYTES));
    checkKek(target, kek, values['kek-id']);
    return { target, kek };
  });
  const keys = (values.key ?? []).map((k) => {
    const uri = objectArgument(k);
    const label = uri.object ?? '';
    const prefix = splitKeyId(label)?.prefix;
    const entry = SEED_INVENTORY.find((e) => e.prefix === prefix);
    if (!KEY_ID.test(label) || entry === undefined) throw usageError('USAGE', `the key label ${JSON.stringify(label)} is not an inventory key id such as master-v7 or backup-v2`, 'label keys that leave the room as PREFIX-vN (master, backup)');
    return { arg: k, label, entry };
  });
  const outDir = resolve(values.out as string);
  checkOutputDir(outDir, false);
  if (existsSync(outDir) && readdirSync(outDir).length > 0) throw new KeyceremonyError('OUTPUT_NOT_EMPTY', `${outDir} is not empty`, 'bundle onto an empty drive folder');
  if (mediumOf(outDir, io.env) === null && values['allow-fixed-disk'] !== true) {
    throw new KeyceremonyError('EXPORT_FIXED_DISK', `${outDir} is not on removable media`, 'insert and mount the removable drive (keyceremony media lists them), or pass --allow-fixed-disk for a rehearsal');
  }
  checkFreeSpace(outDir, 64 * 1024 * keys.length * targets.length);
  const now = atOption(values.at);
  const chain = trustedChain(values.custodians, rootDigestOption(values['root-digest']), now);
  requireCustodian(newestSetMembers(chain), values.actor as string, 'actor');

  const kcvs = new Map<string, string>();
  const artifacts = await buildFolderAtomically(outDir, async (staging) => {
    for (const k of keys) {
      const { token, uri } = resolveTarget(io, warnings, k.arg, values);
      const pin = await readPin(io, values['pin-env'], token.label);
      try {
        await withSession(token, pin, async (s) => {
          for (const { target, kek } of targets) {
            const record = await exportInSession(s, { key: { label: uri.object, id: uri.id }, target, kek, kekId: values['kek-id'], hash: values.hash as OaepHash | undefined,
              outDir: join(staging, target.name, k.label), force: false, now });
            kcvs.set(k.label, record.kcv);
          }
        });
      } finally {
        zero(pin);
      }
    }
    const files = filesUnder(staging);
    const sums = files.map((f) => `${createHash('sha256').update(readFileSync(join(staging, f))).digest('hex')}  ${f}\n`).join('');
    writeFileAtomic(join(staging, 'SHA256SUMS'), sums, false);
    const listed = [...files, 'SHA256SUMS'].map((f) => {
      const data = readFileSync(join(staging, f));
      return { path: f, sha256: createHash('sha256').update(data).digest('hex'), bytes: data.length };
    });
    const issued = formatTime(now);
    const payload = buildManifest({ ceremony: values.ceremony as string, sequence: 1, previous: null, custodianSet: chain.newest.version, issued, expires: formatTime(now + 30 * DAY), actor: values.actor as string, artifacts: listed,
      keys: keys.map((k) => ({ name: k.entry.name, id: k.label, supersedes: defaultSupersedes(k.label), algorithm: k.entry.algorithm, phase, kcv: kcvs.get(k.label) ?? null, notBefore: issued })) });
    writeFileAtomic(join(staging, 'rotation.json'), serializeEnvelope({ payloadType: PAYLOAD_TYPES.rotation, payload, signatures: [] }), false);
    return listed;
  });
  if (values.json === true) writeJson(io, { out: outDir, files: artifacts.length, manifest: join(outDir, 'rotation.json'), kcvs: Object.fromEntries(kcvs) });
  else {
    writeLines(io.stdout, [`wrote ${artifacts.length} files and an unsigned rotation manifest to ${outDir}`,
      `  custodians sign ${join(outDir, 'rotation.json')}; afterwards check the media with: keyceremony verify rotation.json --custodians … --artifacts ${outDir}`]);
  }
  return 0;
}
