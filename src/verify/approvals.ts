/**
 * What a document says and who has approved it: shared by the CLI (`sign`, `status`) and the
 * app, so both show custodians the same summary before they sign.
 */
import { parseCustodianSet } from '../custodians/set.js';
import type { CustodianSet } from '../custodians/set.js';
import { DocumentError, problem } from '../docs/problems.js';
import { kindOfPayloadType } from '../docs/types.js';
import { signedBytesOf } from '../dsse/envelope.js';
import type { Envelope } from '../dsse/envelope.js';
import type { Signer } from '../dsse/sign.js';
import { KeyceremonyError } from '../errors.js';
import { parseDrillReport } from '../manifest/drill.js';
import { parseManifest } from '../manifest/manifest.js';
import { countSignatures } from './threshold.js';
import type { TrustedChain } from './verify.js';

/** Parse the payload by its type, so a custodian never signs a malformed document. */
export function describePayload(env: Envelope): string {
  const kind = kindOfPayloadType(env.payloadType);
  if (kind === null) throw new DocumentError([problem('DOCUMENT_UNKNOWN_TYPE', 'payloadType', `${JSON.stringify(env.payloadType.slice(0, 80))} is not a keyceremony payload type`)], 'the envelope');
  if (kind === 'custodians') {
    const s = parseCustodianSet(env.payload);
    return `custodian set version ${s.version}: ${s.threshold} of ${s.custodians.map((c) => c.id).join(', ')}`;
  }
  if (kind === 'rotation') {
    const m = parseManifest(env.payload);
    return `rotation manifest ${m.ceremony} #${m.sequence} under set version ${m.custodianSet}: ${m.keys.map((k) => `${k.id} ${k.phase}`).join(', ')}`;
  }
  const d = parseDrillReport(env.payload);
  return `drill report ${d.drill}: ${d.result}`;
}

/** The signer must be a custodian of a set that approves this document. */
export function checkSignerIsCustodian(env: Envelope, chain: TrustedChain, signer: Signer): void {
  const sets = [chain.newest];
  if (kindOfPayloadType(env.payloadType) === 'custodians') sets.push(parseCustodianSet(env.payload));
  if (!sets.some((s) => s.byKeyid.has(signer.keyid))) {
    throw new KeyceremonyError('SIGNER_NOT_CUSTODIAN', `the key of ${signer.description} is not a custodian key of set version ${sets.map((s) => s.version).join(' or ')}`, 'insert the card of a custodian of this set');
  }
}

/**
 * Who has approved, for one set that must: the model the CLI prints and the app shows (the IPC
 * contract's ApprovalView is this shape; src/api depends on src/verify, never the other way).
 */
export interface Approval {
  readonly set: number;
  readonly role: string;
  readonly threshold: number;
  readonly signed: readonly string[];
  readonly unsigned: readonly string[];
  readonly needed: number;
}

/** Who signed, and how many signatures are still missing, for every set that must approve. */
export function approvals(env: Envelope, newest: CustodianSet): Approval[] {
  const signed = signedBytesOf(env);
  const sets: [CustodianSet, string][] = [[newest, 'approving set']];
  if (kindOfPayloadType(env.payloadType) === 'custodians') {
    const next = parseCustodianSet(env.payload);
    if (next.digest !== newest.digest) sets.splice(0, 1, [newest, 'current set (rotation)'], [next, 'new set']);
  }
  return sets.map(([set, role]) => {
    const c = countSignatures(env, signed, set);
    return { set: set.version, role, threshold: set.threshold, signed: c.signers, unsigned: set.custodians.map((x) => x.id).filter((id) => !c.signers.includes(id)), needed: Math.max(0, set.threshold - c.signers.length) };
  });
}


/** Per-signature results against the approving set, for the app's verify screen. */
export function signatureDetails(env: Envelope, set: CustodianSet): { index: number; keyid: string; custodian: string | null; valid: boolean }[] {
  const signed = signedBytesOf(env);
  return env.signatures.map((s, index) => {
    const c = set.byKeyid.get(s.keyid);
    return { index, keyid: s.keyid, custodian: c?.id ?? null, valid: c !== undefined && c.publicKey.verify(s.sig, signed) };
  });
}
