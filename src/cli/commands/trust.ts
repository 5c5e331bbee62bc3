/**
 * `keyceremony trust URI --wrapping-key FILE [--so-pin-env NAME]`: the token's security officer
 * imports a KMS wrapping key as a trusted token object (CKA_TRUSTED, PKCS#11 2.40 §4.8), so that a
 * master key made CKA_WRAP_WITH_TRUSTED (`keygen master --extractable --wrap-with-trusted`) can be
 * exported under it, and under no key of the user's choosing (src/pkcs11/trusted.ts).
 *
 * CLI.md defines no such command; it follows CLI.md's common rules: exit 0 done, 1 the token or the
 * key file said no (wrong SO PIN, a key no KMS issues, a link at the file's name), 2 usage or an
 * unreadable file; one error line `keyceremony: CODE: what; fix`; `--json` prints one object; the
 * token by URI (its `object=` the label the trusted key gets), its library by the URI's
 * module-path, else --module, else the default. The SO PIN, like every PIN, comes only from the
 * environment variable named by `--so-pin-env` or a prompt without echo, never from argv. The key
 * file is read through the file layer (src/files.ts): a link or anything but a regular file at its
 * name is refused, since what is trusted cannot be taken back by the attribute. The key's SPKI
 * SHA-256 and words are printed before the SO PIN is asked for: the SO compares them with the KMS
 * console first. Run again with the same key, it finds it trusted already and makes nothing.
 */
import { resolve } from 'node:path';
import { zero } from '../../bytes.js';
import { usageError } from '../../errors.js';
import { MAX_KEK_BYTES, parseKek } from '../../export/kek.js';
import { Folder } from '../../files.js';
import { validateLabel } from '../../pkcs11/keys.js';
import { importTrustedWrappingKey } from '../../pkcs11/trusted.js';
import { COMMON_OPTIONS, MODULE_PARAMS_OPTION, parse } from '../args.js';
import { resolveTarget } from '../context.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';
import { readSoPin } from '../pin.js';

export const TRUST_USAGE = 'keyceremony trust URI --wrapping-key FILE [--so-pin-env NAME] [--module PATH [--module-params STRING]] [--json]';

/** The label of a trusted wrapping key when the URI names none: the start of its SPKI SHA-256, so two KMS keys never share one. */
export const defaultTrustedLabel = (spkiSha256: string): string => `kms-wrapping-${spkiSha256.slice(0, 16)}`;

/** `keyceremony trust`: the security officer imports the KMS wrapping key as trusted. */
export async function trustCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { json, debug, help } = COMMON_OPTIONS;
  const { values, positionals } = parse(argv, { json, debug, help, module: { type: 'string' }, ...MODULE_PARAMS_OPTION, 'wrapping-key': { type: 'string' }, 'so-pin-env': { type: 'string' } },
    { min: 1, max: 1, usage: TRUST_USAGE });
  if (values['wrapping-key'] === undefined) throw usageError('USAGE', 'trust needs --wrapping-key', `usage: ${TRUST_USAGE}`);
  // the key file through the folder layer: a link or special file at its name is refused (FOLDER_LINK_REFUSED, FOLDER_NOT_REGULAR)
  const { folder, rel } = Folder.anchor(resolve(values['wrapping-key']));
  const kek = parseKek(folder.read(rel, 'the KMS wrapping key', MAX_KEK_BYTES));
  const { token, uri } = resolveTarget(io, warnings, positionals[0] as string, values);
  if (uri.type !== undefined && uri.type !== 'public') throw usageError('USAGE', `a trusted wrapping key is a public key, and the URI says type=${uri.type}`, 'leave type out of the URI, or write type=public');
  if (uri.id !== undefined) throw usageError('USAGE', 'the URI names an id; a trusted wrapping key is found by its modulus and labelled by object=', 'leave id out of the URI');
  const label = validateLabel(uri.object ?? defaultTrustedLabel(kek.spkiSha256));
  // the token's label comes from the device; every line goes through writeLines
  writeLines(io.stderr, [
    `the security officer of token "${token.label}" is about to trust this KMS wrapping key (it cannot be taken back by the token's attributes):`,
    `  SPKI SHA-256 ${kek.spkiSha256}  (RSA-${kek.bits})`, `  words ${kek.fingerprint.words.join(' ')}`,
    values['so-pin-env'] === undefined ? '  compare it with the KMS console, then enter the SO PIN (not the user PIN); Ctrl-C stops here' : `  the SO PIN comes from ${values['so-pin-env']}`,
  ]);
  const soPin = await readSoPin(io, values['so-pin-env'], token.label);
  let imported;
  try {
    imported = await importTrustedWrappingKey(token, soPin, kek, label);
  } finally {
    zero(soPin);
  }
  const result = { token: token.label, serial: token.info.serial, module: token.module.path, label: imported.label, created: imported.created, wrappingKeySha256: kek.spkiSha256, wrappingKeyBits: kek.bits };
  if (values.json === true) {
    writeJson(io, result);
    return 0;
  }
  writeLines(io.stdout, [
    imported.created ? `trusted the KMS wrapping key as "${imported.label}" on token "${token.label}"` : `the KMS wrapping key is trusted on token "${token.label}" already, as "${imported.label}": nothing was made`,
    `  token library ${token.module.path}`, `  SPKI SHA-256 ${kek.spkiSha256}  (RSA-${kek.bits})`, `  words ${kek.fingerprint.words.join(' ')}`,
    '  a master key made with keygen --wrap-with-trusted now exports under it, by direct RSAES-OAEP only',
  ]);
  return 0;
}
