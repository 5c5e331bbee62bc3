import { parseEnvelope } from '../../dsse/envelope.js';
import { formatProblem } from '../../docs/problems.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { checkArtifacts } from '../../manifest/artifacts.js';
import { parseManifest } from '../../manifest/manifest.js';
import { verifyDocument } from '../../verify/verify.js';
import type { VerifyResult } from '../../verify/verify.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import { atOption, CHAIN_OPTIONS, folderOption, readDocument, rootDigestOption } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const VERIFY_USAGE = 'keyceremony verify FILE --custodians SET [--custodians SET ...] [--previous FILE] [--root-digest sha256:HEX] [--at TIME] [--artifacts DIR] [--json]';

/** CLI.md `verify`: exit 0 valid, 1 invalid (including malformed or truncated FILE), 2 a file cannot be read. */
export async function verifyCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, ...CHAIN_OPTIONS, previous: { type: 'string' }, artifacts: { type: 'string' } }, { min: 1, max: 1, usage: VERIFY_USAGE });
  const at = atOption(values.at);
  const rootDigest = rootDigestOption(values['root-digest']);
  const artifactsDir = values.artifacts === undefined ? undefined : folderOption(values.artifacts, '--artifacts');
  const doc = readDocument(positionals[0] as string);
  const chain = (values.custodians ?? []).map((f) => readDocument(f, 'the custodian set'));
  const previous = values.previous === undefined ? undefined : readDocument(values.previous, 'the previous manifest');
  let result = verifyDocument(doc, chain, { at, rootDigest, previous });
  if (artifactsDir !== undefined) result = withArtifacts(result, doc, artifactsDir);
  if (values.json === true) {
    writeJson(io, { valid: result.valid, type: result.type, reasons: result.reasons, signers: result.signers, threshold: result.threshold, custodianSet: result.custodianSet, warnings: result.warnings });
  } else {
    const what = { custodians: 'custodian set', rotation: 'rotation manifest', drill: 'drill report', unknown: 'document' }[result.type];
    writeLines(io.stdout, [
      ...(result.valid
        ? [`valid ${what}: signed by ${result.signers.join(', ')} (${result.signers.length} of threshold ${result.threshold}, custodian set version ${result.custodianSet})`]
        : [`INVALID ${what}:`, ...result.reasons.map((r) => `  - ${r}`)]),
      ...result.warnings.map((w) => `  warning: ${w}`),
    ]);
  }
  return result.valid ? 0 : 1;
}

function withArtifacts(result: VerifyResult, doc: Uint8Array, dir: string): VerifyResult {
  if (result.type !== 'rotation') return { ...result, warnings: [...result.warnings, 'ARTIFACTS_NOT_APPLICABLE: only rotation manifests list artifacts'] };
  let problems;
  try {
    const env = parseEnvelope(doc);
    if (env.payloadType !== PAYLOAD_TYPES.rotation) return result;
    problems = checkArtifacts(dir, parseManifest(env.payload).artifacts);
  } catch {
    return result; // already invalid for that reason
  }
  if (problems.length === 0) return result;
  const reasons = [...result.reasons, ...problems.map(formatProblem)];
  return { ...result, valid: false, reasons, signers: [] };
}
