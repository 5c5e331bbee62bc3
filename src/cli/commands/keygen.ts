import { zero } from '../../bytes.js';
import { usageError } from '../../errors.js';
import { formatKcv, generateAesKey, generateEd25519, generateRsa } from '../../pkcs11/keys.js';
import { withSession } from '../../pkcs11/session.js';
import { probeTrustedWrap, requireTrustedWrap } from '../../pkcs11/trusted.js';
import type { TrustedWrapProbe } from '../../pkcs11/trusted.js';
import type { Token } from '../../pkcs11/tokens.js';
import { COMMON_OPTIONS, MODULE_PARAMS_OPTION, parse, TOKEN_OPTIONS } from '../args.js';
import { resolveTarget } from '../context.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';
import { readPin, readSoPin } from '../pin.js';

export const KEYGEN_USAGE = 'keyceremony keygen master|backup|custodian|rsa URI [--extractable [--wrap-with-trusted [--so-pin-env NAME]]] [--bits 2048|3072|4096] [--module PATH [--module-params STRING]] [--pin-env NAME] [--json]';

const KINDS = ['master', 'backup', 'custodian', 'rsa'] as const;
type Kind = (typeof KINDS)[number];

/**
 * Asks the security officer for their PIN (the variable named by --so-pin-env, or a prompt) and
 * measures with throw-away objects whether the token enforces trusted wrapping
 * (src/pkcs11/trusted.ts), before the user logs in to make the key: PKCS#11 allows one login per
 * token, and the probe logs in as each in turn. Refused (HSM_TRUSTED_WRAP_UNENFORCED) where it
 * does not: a key whose attribute the token ignores would only look protected.
 */
async function trustedWrapProbe(io: Io, soPinEnv: string | undefined, token: Token, pin: Uint8Array): Promise<TrustedWrapProbe> {
  if (soPinEnv === undefined) writeLines(io.stderr, [`the security officer of token "${token.label}" enters the SO PIN (not the user PIN): the token's trusted wrapping is measured before the key is made`]);
  const soPin = await readSoPin(io, soPinEnv, token.label);
  try {
    const probe = await probeTrustedWrap(token, soPin, pin);
    requireTrustedWrap(token, probe);
    return probe;
  } finally {
    zero(soPin);
  }
}

/** `keyceremony keygen`: one key generated inside the token named by the URI. */
export async function keygenCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values, positionals } = parse(argv, { ...COMMON_OPTIONS, ...TOKEN_OPTIONS, ...MODULE_PARAMS_OPTION, extractable: { type: 'boolean' }, bits: { type: 'string' },
    'wrap-with-trusted': { type: 'boolean' }, 'so-pin-env': { type: 'string' } }, { min: 2, max: 2, usage: KEYGEN_USAGE });
  const kind = positionals[0] as Kind;
  if (!KINDS.includes(kind)) throw usageError('USAGE', `unknown key kind ${JSON.stringify(kind)}`, `usage: ${KEYGEN_USAGE}`);
  if (values.extractable === true && kind !== 'master' && kind !== 'backup') throw usageError('USAGE', '--extractable applies to master and backup keys only', `usage: ${KEYGEN_USAGE}`);
  const wrapWithTrusted = values['wrap-with-trusted'] === true;
  // PKCS#11 2.40 §4.9: CKA_WRAP_WITH_TRUSTED says something only of a key that may leave the token; a backup key must wrap into backup blobs, under no trusted key
  if (wrapWithTrusted && (kind !== 'master' || values.extractable !== true)) throw usageError('USAGE', '--wrap-with-trusted applies to a master key made with --extractable only', `usage: ${KEYGEN_USAGE}`);
  if (values['so-pin-env'] !== undefined && !wrapWithTrusted) throw usageError('USAGE', '--so-pin-env applies to --wrap-with-trusted only (keyceremony trust takes its own)', `usage: ${KEYGEN_USAGE}`);
  if (values.bits !== undefined && kind !== 'rsa') throw usageError('USAGE', '--bits applies to rsa keys only', `usage: ${KEYGEN_USAGE}`);
  const bits = Number(values.bits ?? '3072');
  if (bits !== 2048 && bits !== 3072 && bits !== 4096) throw usageError('USAGE', `--bits must be 2048, 3072 or 4096, not ${JSON.stringify(values.bits)}`, `usage: ${KEYGEN_USAGE}`);
  const { token, uri } = resolveTarget(io, warnings, positionals[1] as string, values);
  if (uri.object === undefined) throw usageError('USAGE', 'the URI names no object label for the new key', 'add object=LABEL to the URI');
  const label = uri.object;
  const pin = await readPin(io, values['pin-env'], token.label);
  let result: Record<string, unknown>;
  try {
    const probe = wrapWithTrusted ? await trustedWrapProbe(io, values['so-pin-env'], token, pin) : null;
    result = await withSession(token, pin, async (s) => {
      if (kind === 'custodian') {
        const k = await generateEd25519(s, { label });
        return { kind, uri: k.uri, token: k.token, label: k.label, id: k.id, publicKey: Buffer.from(k.publicKey).toString('hex'), keyid: k.keyid, fingerprint: k.fingerprint };
      }
      if (kind === 'rsa') {
        const k = await generateRsa(s, { label, bits });
        return { kind, uri: k.uri, token: k.token, label: k.label, id: k.id, bits: k.bits, spki: Buffer.from(k.spki).toString('base64') };
      }
      const k = await generateAesKey(s, { label, role: kind, extractable: values.extractable === true, wrapWithTrusted });
      return { kind, uri: k.uri, token: k.token, label: k.label, id: k.id, algorithm: 'AES-256', extractable: k.extractable, wrapWithTrusted: k.wrapWithTrusted, kcv: formatKcv(k.kcv),
        ...(probe === null ? {} : { trustedWrapProbe: probe }) };
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
  if (result.wrapWithTrusted === true) {
    lines.push('  wrap-with-trusted: it leaves the token only by direct RSAES-OAEP under a KMS key the security officer trusted (keyceremony trust), and has no backup blob',
      '  the token enforces it: measured now with throw-away objects');
  }
  if ('fingerprint' in result) {
    const fp = result.fingerprint as { hex: string; words: string[] };
    lines.push(`  fingerprint ${fp.hex}`, `  read aloud  ${fp.words.join(' ')}`);
  }
  writeLines(io.stdout, lines);
  return 0;
}
