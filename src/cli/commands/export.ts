import { resolve } from 'node:path';
import { zero } from '../../bytes.js';
import { usageError } from '../../errors.js';
import { MAX_KEK_BYTES, parseKek } from '../../export/kek.js';
import type { Kek } from '../../export/kek.js';
import { MAX_PARAMS_BYTES, paramsWarnings, parseImportParams } from '../../export/params.js';
import { findTarget, TARGETS } from '../../export/targets.js';
import type { OaepHash, Target } from '../../export/targets.js';
import { mediumOf } from '../../export/media.js';
import { readInput } from '../../files.js';
import { checkExportFolder, checkKek, checkKekId, exportKey } from '../../usecases/export.js';
import { COMMON_OPTIONS, MODULE_PARAMS_OPTION, parse, TOKEN_OPTIONS } from '../args.js';
import { resolveTarget } from '../context.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';
import { readPin } from '../pin.js';

export const EXPORT_USAGE = 'keyceremony export --key URI (--target TARGET --wrapping-key FILE [--kek-id URL] [--import-token FILE] | --params FILE) --out DIR [--hash sha1|sha256] [--module PATH [--module-params STRING]] [--pin-env NAME] [--force] [--json]';
/** What `export --help` says after the usage: every target, its KMS key sizes and file (CLI.md, KMS-NOTES.md). */
export const EXPORT_HELP: readonly string[] = ['targets (TARGET):', ...TARGETS.map((t) => `  ${t.name.padEnd(34)} ${t.cloud}, KMS key RSA-${t.kekBits.join('/')}, writes ${t.file}`)];

const MAX_IMPORT_TOKEN = 6144; // AWS: ImportToken is at most 6144 bytes (KMS-NOTES.md)

/** CLI.md `export`: wraps a token key for a cloud KMS; the key never leaves the token in clear. */
export async function exportCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values } = parse(argv, { ...COMMON_OPTIONS, ...TOKEN_OPTIONS, ...MODULE_PARAMS_OPTION, key: { type: 'string' }, target: { type: 'string' }, 'wrapping-key': { type: 'string' }, out: { type: 'string' },
    'kek-id': { type: 'string' }, hash: { type: 'string' }, 'import-token': { type: 'string' }, params: { type: 'string' } }, { min: 0, max: 0, usage: EXPORT_USAGE });
  if (values.params !== undefined) {
    // the parameters file carries the target, wrapping key, import token and KEK id
    if (values.target !== undefined || values['wrapping-key'] !== undefined || values['import-token'] !== undefined || values['kek-id'] !== undefined) {
      throw usageError('USAGE', '--params replaces --target, --wrapping-key, --import-token and --kek-id', `usage: ${EXPORT_USAGE}`);
    }
    const p = parseImportParams(readInput(values.params, 'the import parameters', MAX_PARAMS_BYTES));
    for (const w of paramsWarnings(p, Date.now())) warnings.warn(`${w.code}: ${w.message}`);
    return runExport(io, warnings, values, p.target, p.kek, p.kekId, p.importToken);
  }
  for (const k of ['key', 'target', 'wrapping-key', 'out'] as const) if (values[k] === undefined) throw usageError('USAGE', `export needs --${k}`, `usage: ${EXPORT_USAGE}`);
  const target = findTarget(values.target as string);
  if (target === undefined) throw usageError('EXPORT_TARGET_UNKNOWN', `unknown target ${JSON.stringify(values.target)}`, `choose one of: ${TARGETS.map((t) => t.name).join(', ')}`);
  checkKekId(target, values['kek-id']);
  if (values['kek-id'] !== undefined && target.cloud !== 'azure') throw usageError('USAGE', '--kek-id applies to azure-byok only', `usage: ${EXPORT_USAGE}`);
  if (values['import-token'] !== undefined && target.cloud !== 'aws') throw usageError('USAGE', '--import-token applies to the AWS targets only', `usage: ${EXPORT_USAGE}`);
  // everything that can be refused without a token is refused before the PIN is asked for
  const kek = parseKek(readInput(values['wrapping-key'] as string, 'the wrapping key', MAX_KEK_BYTES));
  const importToken = values['import-token'] === undefined ? undefined : readInput(values['import-token'], 'the import token', MAX_IMPORT_TOKEN);
  return runExport(io, warnings, values, target, kek, values['kek-id'], importToken);
}

interface ExportValues { key?: string | undefined; out?: string | undefined; hash?: string | undefined; module?: string | undefined; 'module-params'?: string | undefined; 'pin-env'?: string | undefined; force?: boolean | undefined; json?: boolean | undefined }

async function runExport(io: Io, warnings: Warnings, values: ExportValues, target: Target, kek: Kek, kekId: string | undefined, importToken: Uint8Array | undefined): Promise<number> {
  if (values.key === undefined || values.out === undefined) throw usageError('USAGE', 'export needs --key and --out', `usage: ${EXPORT_USAGE}`);
  if (values.hash !== undefined && target.cloud !== 'vault') throw usageError('USAGE', '--hash applies to vault-transit only (the other targets name their hash)', `usage: ${EXPORT_USAGE}`);
  if (values.hash !== undefined && values.hash !== 'sha1' && values.hash !== 'sha256') throw usageError('USAGE', `--hash must be sha1 or sha256, not ${JSON.stringify(values.hash)}`, `usage: ${EXPORT_USAGE}`);
  checkKek(target, kek, kekId);
  if (importToken !== undefined && (importToken.length === 0 || importToken.length > MAX_IMPORT_TOKEN)) throw usageError('USAGE', `the import token has ${importToken.length} bytes (AWS issues at most ${MAX_IMPORT_TOKEN})`, 'use the ImportToken from GetParametersForImport');
  const outDir = resolve(values.out as string);
  checkExportFolder(outDir, values.force === true);
  if (mediumOf(outDir, io.env) === null) {
    warnings.warn(`${outDir} is not on removable media; the ceremony's exports belong on the removable drive that leaves the room (keyceremony media lists them)`);
  }
  const { token, uri } = resolveTarget(io, warnings, values.key as string, values);
  if (uri.object === undefined && uri.id === undefined) throw usageError('USAGE', 'the key URI names no object', 'add object=LABEL to the URI');
  const pin = await readPin(io, values['pin-env'], token.label);
  let record;
  try {
    record = await exportKey(token, pin, { key: { label: uri.object, id: uri.id }, target, kek, kekId, importToken, hash: values.hash as OaepHash | undefined, outDir, force: values.force === true });
  } finally {
    zero(pin);
  }
  // the record's key URI names the token by its label, which the device supplies
  if (values.json === true) {
    writeJson(io, { out: outDir, module: token.module.path, ...record });
  } else {
    writeLines(io.stdout, [
      `exported ${record.key} for ${target.name} (${record.wrap === 'token' ? 'wrapped entirely in the token' : 'hybrid: OAEP in host code on an ephemeral key, AES-KWP in the token'})`,
      `  token library ${token.module.path}`, `  kcv ${record.kcvMethod}:${record.kcv}`, `  wrapping key SHA-256 ${record.wrappingKeySha256} (${kek.bits} bits)`, `  words ${kek.fingerprint.words.join(' ')}`,
      ...record.files.map((f) => `  ${outDir}/${f.path}  ${f.bytes} bytes  sha256 ${f.sha256}`), `  ${outDir}/export.json`,
    ]);
  }
  return 0;
}
