import { zero } from '../../bytes.js';
import { usageError } from '../../errors.js';
import { formatKcv, generateAesKey, generateEd25519, generateRsa } from '../../pkcs11/keys.js';
import { withSession } from '../../pkcs11/session.js';
import { COMMON_OPTIONS, MODULE_PARAMS_OPTION, parse, TOKEN_OPTIONS } from '../args.js';
import { resolveTarget } from '../context.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';
import { readPin } from '../pin.js';

export const KEYGEN_USAGE = 'keyceremony keygen master|backup|custodian|rsa URI [--extractable] [--bits 2048|3072|4096] [--module PATH [--module-params STRING]] [--pin-env NAME] [--json]';

const KINDS = ['master', 'backup', 'custodian', 'rsa'] as const;
type Kind = (typeof KINDS)[number];

/** `keyceremony keygen`: one key generated inside the token named by the URI. */
export async function keygenCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, ...TOKEN_OPTIONS, ...MODULE_PARAMS_OPTION, extractable: { type: 'boolean' }, bits: { type: 'string' } }, { min: 2, max: 2, usage: KEYGEN_USAGE });
  const kind = positionals[0] as Kind;
  if (!KINDS.includes(kind)) throw usageError('USAGE', `unknown key kind ${JSON.stringify(kind)}`, `usage: ${KEYGEN_USAGE}`);
  if (values.extractable === true && kind !== 'master' && kind !== 'backup') throw usageError('USAGE', '--extractable applies to master and backup keys only', `usage: ${KEYGEN_USAGE}`);
  if (values.bits !== undefined && kind !== 'rsa') throw usageError('USAGE', '--bits applies to rsa keys only', `usage: ${KEYGEN_USAGE}`);
  const bits = Number(values.bits ?? '3072');
  if (bits !== 2048 && bits !== 3072 && bits !== 4096) throw usageError('USAGE', `--bits must be 2048, 3072 or 4096, not ${JSON.stringify(values.bits)}`, `usage: ${KEYGEN_USAGE}`);
  const { token, uri } = resolveTarget(io, warnings, positionals[1] as string, values);
  if (uri.object === undefined) throw usageError('USAGE', 'the URI names no object label for the new key', 'add object=LABEL to the URI');
  const label = uri.object;
  const pin = await readPin(io, values['pin-env'], token.label);
  let result: Record<string, unknown>;
  try {
    result = await withSession(token, pin, async (s) => {
      if (kind === 'custodian') {
        const k = await generateEd25519(s, { label });
        return { kind, uri: k.uri, token: k.token, label: k.label, id: k.id, publicKey: Buffer.from(k.publicKey).toString('hex'), keyid: k.keyid, fingerprint: k.fingerprint };
      }
      if (kind === 'rsa') {
        const k = await generateRsa(s, { label, bits });
        return { kind, uri: k.uri, token: k.token, label: k.label, id: k.id, bits: k.bits, spki: Buffer.from(k.spki).toString('base64') };
      }
      const k = await generateAesKey(s, { label, role: kind, extractable: values.extractable === true });
      return { kind, uri: k.uri, token: k.token, label: k.label, id: k.id, algorithm: 'AES-256', extractable: k.extractable, kcv: formatKcv(k.kcv) };
    });
  } finally {
    zero(pin);
  }
  if (values.json === true) {
    writeJson(io, { ...result, module: token.module.path });
    return 0;
  }
  // the token's label comes from the device
  const lines = [`generated ${kind} key "${label}" on token "${token.label}"`, `  uri ${String(result.uri)}`, `  token library ${token.module.path}`];
  if ('kcv' in result) lines.push(`  kcv ${String(result.kcv)}  (extractable: ${String(result.extractable)})`);
  if ('fingerprint' in result) {
    const fp = result.fingerprint as { hex: string; words: string[] };
    lines.push(`  fingerprint ${fp.hex}`, `  read aloud  ${fp.words.join(' ')}`);
  }
  writeLines(io.stdout, lines);
  return 0;
}
