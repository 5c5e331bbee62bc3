import { zero } from '../../bytes.js';
import { parseEnvelope, serializeEnvelope } from '../../dsse/envelope.js';
import type { Envelope } from '../../dsse/envelope.js';
import { addSignature, mergeEnvelopes, SoftwareSigner } from '../../dsse/sign.js';
import type { Signer } from '../../dsse/sign.js';
import { usageError } from '../../errors.js';
import { readInput, writeFileAtomic } from '../../files.js';
import { withSession } from '../../pkcs11/session.js';
import { tokenSigner } from '../../pkcs11/signer.js';
import { checkSignerIsCustodian, describePayload } from '../../verify/approvals.js';
import { COMMON_OPTIONS, parse, TOKEN_OPTIONS } from '../args.js';
import { resolveTarget } from '../context.js';
import { atOption, CHAIN_OPTIONS, readDocument, readEnvelopeFile, rootDigestOption, trustedChain } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';
import { readPin } from '../pin.js';

export const SIGN_USAGE = 'keyceremony sign FILE (--key URI [--pin-env NAME] [--module PATH] | --software-key FILE) --out FILE [--custodians SET ...] [--force] [--json]';
export const MERGE_USAGE = 'keyceremony merge FILE FILE [FILE ...] --out FILE [--force]';

export async function signCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, ...TOKEN_OPTIONS, ...CHAIN_OPTIONS, key: { type: 'string' }, 'software-key': { type: 'string' }, out: { type: 'string' } }, { min: 1, max: 1, usage: SIGN_USAGE });
  if (values.out === undefined) throw usageError('USAGE', 'sign needs --out FILE (the signed copy)', `usage: ${SIGN_USAGE}`);
  if ((values.key === undefined) === (values['software-key'] === undefined)) throw usageError('USAGE', 'give exactly one of --key URI (a token) or --software-key FILE (development only)', `usage: ${SIGN_USAGE}`);
  const doc = readDocument(positionals[0] as string);
  const env = parseEnvelope(doc);
  const summary = describePayload(env);
  // a next custodian set is signed against the chain it extends, whose newest set may have expired (as verify reads it)
  const chain = values.custodians === undefined ? undefined : trustedChain(values.custodians, rootDigestOption(values['root-digest']), atOption(values.at), { forDocument: doc });
  if (chain === undefined) warnings.warn('no --custodians given: the signer is not checked against the custodian set');
  writeLines(io.stderr, [`signing ${summary}`]);
  const finish = async (signer: Signer): Promise<number> => {
    if (chain !== undefined) checkSignerIsCustodian(env, chain, signer);
    const signed = await addSignature(env, signer);
    writeFileAtomic(values.out as string, serializeEnvelope(signed), values.force === true);
    // the description names the signer's token by its label, which the device supplies
    if (values.json === true) writeJson(io, { signed: true, keyid: signer.keyid, out: values.out, signatures: signed.signatures.length });
    else writeLines(io.stdout, [`signed by ${signer.description} (key id ${signer.keyid}); ${signed.signatures.length} signature(s) in ${values.out}`]);
    return 0;
  };
  if (values['software-key'] !== undefined) {
    warnings.warn('signing with a software key: for development only, never in a real ceremony');
    const text = Buffer.from(readInput(values['software-key'], 'the software key', 200)).toString('utf8').trim();
    if (!/^[0-9a-f]{64}$/.test(text)) throw usageError('USAGE', 'the software key file must hold a 32-byte Ed25519 seed as 64 lowercase hex digits', 'generate one with: openssl rand -hex 32');
    const seed = new Uint8Array(Buffer.from(text, 'hex'));
    const signer = new SoftwareSigner(seed, `software key ${values['software-key']}`);
    zero(seed);
    try { return await finish(signer); } finally { signer.dispose(); }
  }
  const { token, uri } = resolveTarget(io, warnings, values.key as string, values.module);
  if (uri.object === undefined && uri.id === undefined) throw usageError('USAGE', 'the key URI names no object', 'add object=LABEL to the URI');
  const pin = await readPin(io, values['pin-env'], token.label);
  try {
    return await withSession(token, pin, async (s) => finish(tokenSigner(s, { label: uri.object, id: uri.id })));
  } finally {
    zero(pin);
  }
}

/** Offline collection: combine envelopes of the same payload; different payloads are refused. */
export async function mergeCommand(argv: readonly string[], io: Io): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, out: { type: 'string' } }, { min: 2, max: 64, usage: MERGE_USAGE });
  if (values.out === undefined) throw usageError('USAGE', 'merge needs --out FILE', `usage: ${MERGE_USAGE}`);
  const envs = positionals.map((p) => readEnvelopeFile(p));
  describePayload(envs[0] as Envelope);
  const merged = mergeEnvelopes(envs, positionals);
  const signatures = merged.signatures;
  writeFileAtomic(values.out, serializeEnvelope(merged), values.force === true);
  if (values.json === true) writeJson(io, { out: values.out, signatures: signatures.length });
  else writeLines(io.stdout, [`merged ${envs.length} copies: ${signatures.length} distinct signature(s) in ${values.out}`]);
  return 0;
}
