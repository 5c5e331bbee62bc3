import { relative, dirname, resolve, sep } from 'node:path';
import { formatTime } from '../../docs/fields.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { parseEnvelope, serializeEnvelope } from '../../dsse/envelope.js';
import { usageError, KeyceremonyError } from '../../errors.js';
import { writeFileAtomic } from '../../files.js';
import { sha256File } from '../../manifest/artifacts.js';
import { defaultSupersedes, inventoryKeys } from '../../manifest/inventory.js';
import { buildManifest, parseManifest, PHASES } from '../../manifest/manifest.js';
import type { Artifact, ManifestDraft } from '../../manifest/manifest.js';
import { newestSetMembers, requireCustodian } from '../../usecases/custodians.js';
import { COMMON_OPTIONS, parse } from '../args.js';
import { atOption, CHAIN_OPTIONS, readDocument, rootDigestOption, trustedChain } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const MANIFEST_USAGE = 'keyceremony manifest new --out FILE --custodians SET [...] --ceremony ID --actor ID (--key name=N,id=ID,algorithm=A,phase=P[,supersedes=ID][,kcv=HEX][,notBefore=TIME] ... | --inventory seed --key-version N --phase P [--kcv ID=HEX ...]) [--previous FILE] [--expires TIME] [--artifact PATH ...]';

const DAY = 24 * 3600 * 1000;
type DraftKey = ManifestDraft['keys'][number];

function kcvValue(v: string): string {
  const s = v.startsWith('ecb:') ? v.slice(4) : v;
  if (!/^[0-9a-f]{6}$/.test(s)) throw usageError('USAGE', `KCV ${JSON.stringify(v)} is not 6 hex digits (ecb:1a2b3c)`, 'copy the KCV printed at key generation');
  return s;
}

function parseKeySpec(spec: string, issued: string): DraftKey {
  const fields = new Map<string, string>();
  for (const part of spec.split(',')) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw usageError('USAGE', `--key field ${JSON.stringify(part)} is not name=value`, `usage: ${MANIFEST_USAGE}`);
    const k = part.slice(0, eq);
    if (!['name', 'id', 'algorithm', 'phase', 'supersedes', 'kcv', 'notBefore'].includes(k) || fields.has(k)) throw usageError('USAGE', `--key field ${k} is unknown or repeated`, `usage: ${MANIFEST_USAGE}`);
    fields.set(k, part.slice(eq + 1));
  }
  for (const k of ['name', 'id', 'algorithm', 'phase']) if (!fields.has(k)) throw usageError('USAGE', `--key needs ${k}=`, `usage: ${MANIFEST_USAGE}`);
  const id = fields.get('id') as string;
  const sup = fields.get('supersedes');
  const kcv = fields.get('kcv');
  return { name: fields.get('name') as string, id, algorithm: fields.get('algorithm') as string, phase: fields.get('phase') as string,
    supersedes: sup === undefined ? defaultSupersedes(id) : sup === 'none' ? null : sup,
    kcv: kcv === undefined ? null : kcvValue(kcv), notBefore: fields.get('notBefore') ?? issued };
}

export async function manifestCommand(argv: readonly string[], io: Io, _w: Warnings): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub !== 'new') throw usageError('USAGE', `unknown subcommand ${JSON.stringify(sub ?? '')}`, `usage: ${MANIFEST_USAGE}`);
  const { values } = parse(rest, { ...COMMON_OPTIONS, ...CHAIN_OPTIONS, out: { type: 'string' }, ceremony: { type: 'string' }, actor: { type: 'string' }, key: { type: 'string', multiple: true },
    inventory: { type: 'string' }, 'key-version': { type: 'string' }, phase: { type: 'string' }, kcv: { type: 'string', multiple: true }, previous: { type: 'string' },
    expires: { type: 'string' }, artifact: { type: 'string', multiple: true } }, { min: 0, max: 0, usage: MANIFEST_USAGE });
  for (const k of ['out', 'ceremony', 'actor'] as const) if (values[k] === undefined) throw usageError('USAGE', `manifest new needs --${k}`, `usage: ${MANIFEST_USAGE}`);
  const out = resolve(values.out as string);
  const now = atOption(values.at);
  const issued = formatTime(now);
  const chain = trustedChain(values.custodians, rootDigestOption(values['root-digest']), now);
  requireCustodian(newestSetMembers(chain), values.actor as string, 'actor');
  let keys: DraftKey[] = (values.key ?? []).map((k) => parseKeySpec(k, issued));
  if (values.inventory !== undefined) {
    if (values.inventory !== 'seed') throw usageError('USAGE', `--inventory ${values.inventory}: the only inventory is "seed"`, `usage: ${MANIFEST_USAGE}`);
    const version = Number(values['key-version'] ?? '');
    if (!Number.isSafeInteger(version) || version < 1) throw usageError('USAGE', '--inventory seed needs --key-version N (the new version number)', `usage: ${MANIFEST_USAGE}`);
    const phase = values.phase ?? '';
    if (!(PHASES as readonly string[]).includes(phase)) throw usageError('USAGE', `--phase must be one of ${PHASES.join(', ')}`, `usage: ${MANIFEST_USAGE}`);
    const kcvs = new Map((values.kcv ?? []).map((s) => {
      const eq = s.indexOf('=');
      if (eq <= 0) throw usageError('USAGE', `--kcv ${JSON.stringify(s)} is not ID=HEX`, 'write --kcv master-v2=ecb:1a2b3c');
      return [s.slice(0, eq), kcvValue(s.slice(eq + 1))] as const;
    }));
    keys = [...keys, ...inventoryKeys(version, phase, issued, kcvs)];
    for (const id of kcvs.keys()) if (!keys.some((k) => k.id === id)) throw usageError('USAGE', `--kcv ${id}: no such key in this manifest`, 'check the key id and version');
  }
  if (keys.length === 0) throw usageError('USAGE', 'a manifest needs at least one --key, or --inventory seed', `usage: ${MANIFEST_USAGE}`);
  let sequence = 1;
  let previous: string | null = null;
  if (values.previous !== undefined) {
    const env = parseEnvelope(readDocument(values.previous, 'the previous manifest'));
    if (env.payloadType !== PAYLOAD_TYPES.rotation) throw new KeyceremonyError('DOCUMENT_UNEXPECTED_TYPE', `${values.previous} is not a rotation manifest`, 'pass the previous rotation manifest');
    const prev = parseManifest(env.payload);
    sequence = prev.sequence + 1;
    previous = prev.digest;
  }
  const base = dirname(out);
  const artifacts: Artifact[] = (values.artifact ?? []).map((p) => {
    const abs = resolve(p);
    const rel = relative(base, abs).split(sep).join('/');
    const { sha256, bytes } = sha256File(abs);
    return { path: rel, sha256, bytes };
  });
  const payload = buildManifest({ ceremony: values.ceremony as string, sequence, previous, custodianSet: chain.newest.version, issued,
    expires: values.expires === undefined ? formatTime(now + 30 * DAY) : formatTime(atOption(values.expires)), actor: values.actor as string, keys, artifacts });
  const m = parseManifest(payload);
  writeFileAtomic(out, serializeEnvelope({ payloadType: PAYLOAD_TYPES.rotation, payload, signatures: [] }), values.force === true);
  if (values.json === true) writeJson(io, { out, digest: m.digest, sequence: m.sequence, custodianSet: m.custodianSet, keys: m.keys.map((k) => k.id) });
  else {
    writeLines(io.stdout, [`wrote rotation manifest ${m.ceremony} #${m.sequence} (${m.keys.length} keys) to ${out}, unsigned`, `  digest ${m.digest}`,
      `still to sign: ${chain.newest.threshold} of ${chain.newest.custodians.map((c) => c.id).join(', ')} (set version ${chain.newest.version})`]);
  }
  return 0;
}
