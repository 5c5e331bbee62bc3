/**
 * The small import-parameters file an operator brings into the room from the cloud console
 * (issue 5): the wrapping public key, the AWS import token, the Azure KEK id, and when the
 * parameters were obtained, because they expire (AWS: 24 h after GetParametersForImport; GCP:
 * an import job lasts 3 days). Closed and strictly parsed like every document.
 *
 *   { "target": "aws-rsa-aes-key-wrap-sha256", "obtained": "2026-11-28T09:00:00Z",
 *     "wrappingKey": "<PEM, or base64 of DER SubjectPublicKeyInfo>", "importToken": "<base64>" }
 */
import { Fields } from '../docs/fields.js';
import { formatTime } from '../docs/fields.js';
import { DocumentError, problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';
import { decodeBase64Strict, readJson } from '../dsse/envelope.js';
import { parseKek } from './kek.js';
import type { Kek } from './kek.js';
import { findTarget, TARGETS } from './targets.js';
import type { Target } from './targets.js';

export const MAX_PARAMS_BYTES = 128 * 1024;
const HOUR = 3600_000;
/** How long import parameters stay usable after they were obtained (KMS-NOTES.md). */
export const VALIDITY: Readonly<Record<Target['cloud'], number | null>> = { aws: 24 * HOUR, gcp: 72 * HOUR, azure: null, vault: null };

export interface ImportParams {
  readonly target: Target;
  readonly obtained: number;
  readonly kek: Kek;
  readonly importToken?: Uint8Array;
  readonly kekId?: string;
}

export function parseImportParams(bytes: Uint8Array): ImportParams {
  const json = readJson(bytes, MAX_PARAMS_BYTES, 'the import parameters');
  const f = new Fields();
  const o = f.object(json, '$', ['target', 'obtained', 'wrappingKey', ...(json !== null && typeof json === 'object' && !Array.isArray(json) ? ['importToken', 'kekId'].filter((k) => k in json) : [])]);
  if (o === undefined) throw new DocumentError(f.problems, 'the import parameters');
  const name = f.oneOf(o.target, 'target', TARGETS.map((t) => t.name));
  const obtained = f.time(o.obtained, 'obtained');
  const wk = f.string(o.wrappingKey, 'wrappingKey', { max: 16_384 });
  let kek: Kek | undefined;
  if (wk !== undefined) {
    const der = wk.includes('-----BEGIN') ? Buffer.from(wk, 'utf8') : decodeBase64Strict(wk.replace(/\s+/g, ''));
    if (der === null) f.add('DOCUMENT_BAD_BASE64', 'wrappingKey', 'neither PEM nor base64 of DER');
    else kek = parseKek(der);
  }
  let importToken: Uint8Array | undefined;
  if (o.importToken !== undefined) {
    const t = f.string(o.importToken, 'importToken', { max: 8_200 });
    if (t !== undefined) importToken = decodeBase64Strict(t) ?? f.add('DOCUMENT_BAD_BASE64', 'importToken', 'not standard base64');
  }
  const kekId = o.kekId === undefined ? undefined : f.string(o.kekId, 'kekId', { max: 1024, pattern: /^https:\/\/[^\s/]+\/keys\/\S+$/, what: 'a Key Vault key id URL' });
  const target = name === undefined ? undefined : findTarget(name);
  if (target !== undefined && importToken !== undefined && target.cloud !== 'aws') f.add('DOCUMENT_UNKNOWN_MEMBER', 'importToken', 'only AWS uses an import token');
  if (target !== undefined && kekId !== undefined && target.cloud !== 'azure') f.add('DOCUMENT_UNKNOWN_MEMBER', 'kekId', 'only Azure uses a KEK id');
  if (target?.cloud === 'azure' && kekId === undefined) f.add('DOCUMENT_MISSING_MEMBER', 'kekId', 'Azure BYOK needs the KEK id');
  if (f.problems.length > 0 || target === undefined || obtained === undefined || kek === undefined) throw new DocumentError(f.problems, 'the import parameters');
  return Object.freeze({ target, obtained, kek, ...(importToken === undefined ? {} : { importToken }), ...(kekId === undefined ? {} : { kekId }) });
}

/** Warnings about the validity window by the ceremony clock (not a refusal: the cloud decides). */
export function paramsWarnings(p: ImportParams, now: number): Problem[] {
  const window = VALIDITY[p.target.cloud];
  if (p.obtained > now) return [problem('EXPORT_PARAMS_FROM_THE_FUTURE', 'obtained', `the parameters say they were obtained at ${formatTime(p.obtained)}, after the ceremony clock (${formatTime(now)}): check the clock`)];
  if (window !== null && now > p.obtained + window) {
    return [problem('EXPORT_PARAMS_EXPIRED', 'obtained', `${p.target.cloud.toUpperCase()} import parameters obtained at ${formatTime(p.obtained)} expired at ${formatTime(p.obtained + window)}: the cloud will refuse this import; fetch new parameters`)];
  }
  return [];
}
