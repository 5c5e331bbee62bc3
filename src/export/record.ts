/**
 * Reading an export folder back (issue 13): `export.json` parsed strictly (closed, every member
 * typed) and the folder checked against it: it holds exactly export.json and the files listed,
 * each a regular file with the listed size and SHA-256. What the record claims about the key (its
 * check value, the wrapping key) is compared by the caller with what the token and the KMS key
 * file say now: an export folder is never taken on its own word.
 */
import { readdirSync, lstatSync } from 'node:fs';
import { join } from 'node:path';
import { Fields, HEX64 } from '../docs/fields.js';
import { DocumentError, formatProblem } from '../docs/problems.js';
import { readJson } from '../dsse/envelope.js';
import { KeyceremonyError } from '../errors.js';
import { readInput } from '../files.js';
import { checkArtifacts } from '../manifest/artifacts.js';
import type { ExportRecord } from './export.js';

const MEMBERS = ['target', 'key', 'kcv', 'kcvMethod', 'wrappingKeySha256', 'wrappingKeyBits', 'oaepHash', 'wrap', 'mechanisms', 'created', 'files'];
const FILE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

function readFiles(f: Fields, v: unknown): ExportRecord['files'] {
  const files = f.array(v as never, 'files', { min: 1, max: 4 }) ?? [];
  return files.flatMap((x, i) => {
    const o = f.object(x, `files[${i}]`, ['path', 'sha256', 'bytes']);
    if (o === undefined) return [];
    const path = f.string(o.path, `files[${i}].path`, { pattern: FILE_NAME, what: 'a file name' });
    const sha256 = f.string(o.sha256, `files[${i}].sha256`, { pattern: HEX64, what: '64 hex digits' });
    const bytes = f.integer(o.bytes, `files[${i}].bytes`, 1);
    return path === undefined || sha256 === undefined || bytes === undefined || path === 'export.json' ? [] : [{ path, sha256, bytes }];
  });
}

export function parseExportRecord(bytes: Uint8Array): ExportRecord {
  const f = new Fields();
  const json = readJson(bytes, 64 * 1024, 'export.json');
  const hasKek = json !== null && typeof json === 'object' && !Array.isArray(json) && Object.hasOwn(json, 'kekId');
  const o = f.object(json, '$', hasKek ? [...MEMBERS, 'kekId'] : MEMBERS);
  if (o === undefined) throw new DocumentError(f.problems, 'export.json');
  const s = (k: string, pattern: RegExp, what: string): string => f.string(o[k], k, { pattern, what }) ?? '';
  const rec: ExportRecord = {
    target: s('target', /^[a-z0-9-]{1,64}$/, 'a target name'), key: s('key', /^pkcs11:[^\s]{1,512}$/, 'a PKCS#11 URI'), kcv: s('kcv', /^[0-9a-f]{6}$/, '6 hex digits'),
    kcvMethod: s('kcvMethod', /^(?:ecb|cmac|binding)$/, 'ecb, cmac or binding'), wrappingKeySha256: s('wrappingKeySha256', HEX64, '64 hex digits'), wrappingKeyBits: f.integer(o.wrappingKeyBits, 'wrappingKeyBits', 2048) ?? 0,
    oaepHash: s('oaepHash', /^sha(?:1|256)$/, 'sha1 or sha256'), wrap: s('wrap', /^(?:token|hybrid)$/, 'token or hybrid') as ExportRecord['wrap'],
    mechanisms: (f.array(o.mechanisms, 'mechanisms', { max: 8 }) ?? []).map((m, i) => f.string(m, `mechanisms[${i}]`, { pattern: /^[A-Za-z0-9_ ()-]{1,64}$/, what: 'a mechanism name' }) ?? ''),
    ...(hasKek ? { kekId: s('kekId', /^https:\/\/[^\s]{1,2048}$/, 'a key id URL') } : {}), created: f.time(o.created, 'created') === undefined ? '' : String(o.created), files: readFiles(f, o.files),
  };
  if (f.problems.length > 0) throw new DocumentError(f.problems, 'export.json');
  return rec;
}

/** The export folder `dir` holds exactly its export.json and the files it lists, unchanged. */
export function readExportFolder(dir: string): ExportRecord {
  if (!lstatSync(dir).isDirectory() || !lstatSync(join(dir, 'export.json'), { throwIfNoEntry: false })?.isFile()) throw new KeyceremonyError('EXPORT_FOLDER_CHANGED', `${join(dir, 'export.json')} is not a regular file`, 'remove the folder and export again; never use an export that does not check out');
  let rec: ExportRecord;
  try {
    rec = parseExportRecord(readInput(join(dir, 'export.json'), 'the export record', 64 * 1024));
  } catch (err) {
    if (err instanceof DocumentError) throw new KeyceremonyError('EXPORT_RECORD_INVALID', `${join(dir, 'export.json')} is not an export record: ${err.problems.map(formatProblem).join('; ')}`, 'remove the folder and export again; never use an export that does not check out');
    throw err;
  }
  const problems = checkArtifacts(dir, rec.files);
  const extra = readdirSync(dir).filter((n) => n !== 'export.json' && !rec.files.some((x) => x.path === n));
  if (problems.length > 0 || extra.length > 0) {
    throw new KeyceremonyError('EXPORT_FOLDER_CHANGED', `${dir} differs from its export.json: ${[...problems.map(formatProblem), ...extra.map((n) => `${n} is not listed`)].join('; ')}`, 'remove the folder and export again; never use an export that does not check out');
  }
  return rec;
}
