import { nextCustodianSet } from '../../custodians/rotate.js';
import { buildCustodianSet, CUSTODIAN_ID, parseCustodianSet } from '../../custodians/set.js';
import type { CustodianInput, CustodianSet } from '../../custodians/set.js';
import { publicKeyProblem } from '../../crypto/ed25519.js';
import { formatTime } from '../../docs/fields.js';
import { formatProblem } from '../../docs/problems.js';
import { PAYLOAD_TYPES } from '../../docs/types.js';
import { serializeEnvelope } from '../../dsse/envelope.js';
import { KeyceremonyError, usageError } from '../../errors.js';
import { writeFileAtomic } from '../../files.js';
import { readEd25519PublicKey } from '../../pkcs11/keys.js';
import { findPublicKey } from '../../pkcs11/objects.js';
import { withSession } from '../../pkcs11/session.js';
import { COMMON_OPTIONS, parse, TOKEN_OPTIONS } from '../args.js';
import { resolveTarget } from '../context.js';
import { atOption, CHAIN_OPTIONS, chainOption, rootDigestOption } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const CUSTODIANS_USAGE = [
  'keyceremony custodians new --out FILE --threshold M --member ID,NAME,KEY [--member ...] [--expires TIME] [--module PATH]',
  'keyceremony custodians next --custodians SET [...] --out FILE [--add ID,NAME,KEY] [--remove ID] [--replace-key ID,KEY] [--threshold M] [--expires TIME]',
].join('\n  ');

const DAY = 24 * 3600 * 1000;

/** KEY: a 64-hex Ed25519 public key, or the PKCS#11 URI of the key on the custodian's card (no PIN needed). */
async function publicKeyOf(spec: string, io: Io, warnings: Warnings, moduleFlag: string | undefined): Promise<Uint8Array> {
  if (/^[0-9a-f]{64}$/.test(spec)) {
    const pk = new Uint8Array(Buffer.from(spec, 'hex'));
    const why = publicKeyProblem(pk);
    if (why !== null) throw new KeyceremonyError('CUSTODIANS_KEY_INVALID', `the public key ${spec.slice(0, 16)}… is ${why}`, 'use the key read from the custodian card');
    return pk;
  }
  if (!/^pkcs11:/i.test(spec)) throw usageError('USAGE', `${JSON.stringify(spec.slice(0, 40))} is neither a 64-hex public key nor a PKCS#11 URI`, 'give the key as hex or as pkcs11:token=…;object=…');
  const { token, uri } = resolveTarget(io, warnings, spec, moduleFlag);
  return withSession(token, null, async (s) => readEd25519PublicKey(s, findPublicKey(s, { label: uri.object, id: uri.id })), { readWrite: false });
}

function splitMember(spec: string, parts: number, flag: string): string[] {
  const out: string[] = [];
  let rest = spec;
  for (let i = 0; i < parts - 1; i++) {
    const c = rest.indexOf(',');
    if (c < 0) throw usageError('USAGE', `${flag} ${JSON.stringify(spec.slice(0, 60))} has too few fields`, parts === 3 ? `write ${flag} ID,NAME,KEY` : `write ${flag} ID,KEY`);
    out.push(rest.slice(0, c));
    rest = rest.slice(c + 1);
  }
  out.push(rest);
  return out;
}

async function memberOf(spec: string, io: Io, warnings: Warnings, moduleFlag: string | undefined, flag: string): Promise<CustodianInput> {
  const [id, name, key] = splitMember(spec, 3, flag) as [string, string, string];
  if (!CUSTODIAN_ID.test(id)) throw usageError('USAGE', `${JSON.stringify(id)} is not a custodian id`, 'use lowercase letters, digits, . _ - (up to 64)');
  return { id, name, publicKey: await publicKeyOf(key, io, warnings, moduleFlag) };
}

function thresholdOf(v: string | undefined): number {
  const n = Number(v);
  if (!Number.isSafeInteger(n) || n < 1) throw usageError('USAGE', `--threshold ${JSON.stringify(v)} is not a whole number of at least 1`, 'give M of M-of-N');
  return n;
}

function expiresOf(v: string | undefined, issued: number): string {
  if (v === undefined) return formatTime(issued + 365 * DAY);
  return formatTime(atOption(v));
}

function writeUnsigned(io: Io, out: string, payload: Uint8Array, force: boolean, json: boolean, signers: string): void {
  const set = parseCustodianSet(payload);
  writeFileAtomic(out, serializeEnvelope({ payloadType: PAYLOAD_TYPES.custodians, payload, signatures: [] }), force);
  if (json) writeJson(io, { out, version: set.version, digest: set.digest, threshold: set.threshold, custodians: set.custodians.map((c) => ({ id: c.id, keyid: c.keyid, words: c.fingerprint.words })) });
  else {
    writeLines(io.stdout, [`wrote custodian set version ${set.version} (${set.threshold} of ${set.custodians.length}) to ${out}, unsigned`, `  digest ${set.digest}`,
      ...set.custodians.map((c) => `  ${c.id.padEnd(12)} ${c.fingerprint.words.join(' ')}`), `still to sign: ${signers}`]);
  }
}

export async function custodiansCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const [sub, ...rest] = argv;
  const opts = { ...COMMON_OPTIONS, module: TOKEN_OPTIONS.module, ...CHAIN_OPTIONS, out: { type: 'string' }, threshold: { type: 'string' }, member: { type: 'string', multiple: true },
    add: { type: 'string', multiple: true }, remove: { type: 'string', multiple: true }, 'replace-key': { type: 'string', multiple: true }, expires: { type: 'string' } } as const;
  if (sub !== 'new' && sub !== 'next') throw usageError('USAGE', `unknown subcommand ${JSON.stringify(sub ?? '')}`, `usage:\n  ${CUSTODIANS_USAGE}`);
  const { values } = parse(rest, opts, { min: 0, max: 0, usage: CUSTODIANS_USAGE });
  if (values.out === undefined) throw usageError('USAGE', `custodians ${sub} needs --out FILE`, `usage:\n  ${CUSTODIANS_USAGE}`);
  const issued = atOption(undefined);
  if (sub === 'new') {
    const members = [];
    for (const m of values.member ?? []) members.push(await memberOf(m, io, warnings, values.module, '--member'));
    if (members.length === 0) throw usageError('USAGE', 'a custodian set needs at least one --member ID,NAME,KEY', `usage:\n  ${CUSTODIANS_USAGE}`);
    const threshold = thresholdOf(values.threshold);
    const payload = buildCustodianSet({ version: 1, issued: formatTime(issued), expires: expiresOf(values.expires, issued), threshold, custodians: members });
    writeUnsigned(io, values.out, payload, values.force === true, values.json === true, `${threshold} of ${members.map((m) => m.id).join(', ')} (the root is signed by its own threshold)`);
    return 0;
  }
  // the next set replaces the newest, which may have expired (FORMATS.md §3.5): that is how an expired set is replaced
  const given = chainOption(values.custodians, rootDigestOption(values['root-digest']), atOption(values.at), 'replaced');
  for (const w of given.warnings) if (w.code === 'CHAIN_NEWEST_EXPIRED') warnings.warn(formatProblem(w));
  const current: CustodianSet = given.chain.newest;
  const replaceKeys = [];
  for (const spec of values['replace-key'] ?? []) {
    const [id, key] = splitMember(spec, 2, '--replace-key') as [string, string];
    replaceKeys.push({ id, publicKey: await publicKeyOf(key, io, warnings, values.module) });
  }
  const add = [];
  for (const spec of values.add ?? []) add.push(await memberOf(spec, io, warnings, values.module, '--add'));
  const payload = nextCustodianSet(current, { remove: values.remove, replaceKeys, add, threshold: values.threshold === undefined ? undefined : thresholdOf(values.threshold),
    issued: formatTime(issued), expires: expiresOf(values.expires, issued) });
  const next = parseCustodianSet(payload);
  const threshold = next.threshold;
  const members = next.custodians;
  writeUnsigned(io, values.out, payload, values.force === true, values.json === true,
    `${current.threshold} of set version ${current.version} (${current.custodians.map((c) => c.id).join(', ')}) and ${threshold} of the new set (${members.map((m) => m.id).join(', ')})`);
  return 0;
}

