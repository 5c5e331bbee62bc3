/**
 * `keyceremony deploy --custodians SET [--custodians SET ...] --manifests FILE [FILE ...]
 *  [--root-digest sha256:HEX] [--at TIME] --secrets DIR --identity-env NAME
 *  --format env|files|k8s [--name SECRET-NAME [--namespace NS]] --out PATH
 *  [--key NAME ...] [--require ID ...] [--force] [--json]`
 *
 * Writes what an application reads from the key state at TIME (FORMATS.md §8, as `state`):
 * - `--custodians`, `--root-digest`, `--at`, `--manifests` as for `state`; a chain that is not
 *   valid is refused (DEPLOY_CHAIN_INVALID, exit 1) with every reason. A TIME before the chain's
 *   last manifest was issued is refused (DEPLOY_AT_BEFORE_TIP, exit 1), and so is surfacing a
 *   version any manifest compromises (DEPLOY_VERSION_WITHDRAWN, exit 1): src/deploy/plan.ts.
 * - `--secrets DIR`: the sealed files, one age v1 file per secret version, `DIR/<id>.age`. Only the
 *   files of surfaced versions are opened; each is at most 64 KiB, a regular file, not a link.
 * - `--identity-env NAME`: the environment variable holding the deployment's age identity
 *   (`AGE-SECRET-KEY-1…`, or an age-keygen identity file's text). Never an argument: one on the
 *   command line is refused (AGE_IDENTITY_ON_COMMAND_LINE, exit 2) without being repeated.
 *   (The variable's string stays in the process environment: JavaScript cannot clear it; the
 *   decoded key is zeroed when the command ends.)
 * - `--format`: `env` (an env file), `files` (a folder, one file per variable), `k8s` (a `v1`
 *   Secret manifest, `--name` required, `--namespace` optional). Variables: NAME (current version)
 *   and NAME_ID, NAME_NEXT (the accepted version that is not current) and NAME_NEXT_ID, each absent
 *   when there is no such version. Values are the lowercase hex of the secret's bytes in every
 *   format (src/deploy/render.ts).
 * - `--out PATH`: the file or folder written, atomically, mode 0600 (folder 0700). An existing
 *   file or non-empty folder is refused (OUTPUT_EXISTS / OUTPUT_NOT_EMPTY, exit 1) unless
 *   `--force`, which replaces a file, or a folder deploy wrote: its marker `.keyceremony-deploy`
 *   and only the variable files of the chain's key names (DEPLOY_OUTPUT_FOREIGN otherwise).
 * - `--key NAME` (repeatable): deploy only these key names. `--require ID` (repeatable): refuse
 *   (DEPLOY_NOT_SURFACED) unless version ID is surfaced, as NAME or NAME_NEXT.
 * - `--json`: `{"format", "out", "encoding": "hex", "at", "sequence", "tip", "keys": {NAME:
 *   {"current": id|null, "next": id|null}}, "variables": [..], "skipped": [{"name", "algorithms"}],
 *   "warnings": [..]}`: ids and names, never a value. A refusal prints its error line on stderr
 *   and nothing on stdout, as every command does.
 * - Keys kept in the HSM (no binding: AES-256-GCM, Ed25519, RSA, JWT-EdDSA) are skipped with a
 *   warning (DEPLOY_KEY_SKIPPED).
 * - Exit 0 when written; 1 when refused (chain, binding, state, sealed file, output); 2 on usage
 *   or an unreadable or missing input (the identity variable included). Nothing is written when
 *   anything is refused.
 */
import { resolve } from 'node:path';
import { parseIdentities } from '../../age/age.js';
import type { X25519Identity } from '../../age/age.js';
import { usageError } from '../../errors.js';
import { Folder } from '../../files.js';
import { deploy } from '../../deploy/deploy.js';
import type { DeployReport } from '../../deploy/deploy.js';
import { FORMATS } from '../../deploy/render.js';
import type { Format } from '../../deploy/render.js';
import { COMMON_OPTIONS, parseWithFileList } from '../args.js';
import type { Parsed } from '../args.js';
import { atOption, CHAIN_OPTIONS, readDocument, rootDigestOption } from '../docs.js';
import { writeJson, writeLines } from '../io.js';
import type { Io, Warnings } from '../io.js';

export const DEPLOY_USAGE = 'keyceremony deploy --custodians SET [--custodians SET ...] --manifests FILE [FILE ...] [--root-digest sha256:HEX] [--at TIME] --secrets DIR --identity-env NAME '
  + '--format env|files|k8s [--name SECRET-NAME [--namespace NS]] --out PATH [--key NAME ...] [--require ID ...] [--force] [--json]';

const OPTIONS = {
  ...COMMON_OPTIONS, ...CHAIN_OPTIONS,
  manifests: { type: 'string', multiple: true },
  secrets: { type: 'string' },
  'identity-env': { type: 'string' },
  format: { type: 'string' },
  name: { type: 'string' },
  namespace: { type: 'string' },
  out: { type: 'string' },
  key: { type: 'string', multiple: true },
  require: { type: 'string', multiple: true },
} as const;

type Values = Parsed<typeof OPTIONS>['values'];
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]{0,127}$/;

/**
 * An identity is never an argument (shell history, process lists): anything that looks like one is
 * refused before parsing, without quoting it (a parse error would print the argument).
 */
function refuseIdentityArgument(argv: readonly string[]): void {
  if (argv.some((a) => /AGE-SECRET-KEY-/i.test(a))) {
    throw usageError('AGE_IDENTITY_ON_COMMAND_LINE', 'an age identity was given as an argument, where shell history and process lists keep it',
      'put it in an environment variable and name the variable with --identity-env NAME (the argument is not repeated here)');
  }
}

/** As `state`: the files after --manifests up to the next option (repeatable); any other bare argument is a usage error. */
function readArgs(argv: readonly string[]): { values: Values; paths: string[] } {
  refuseIdentityArgument(argv);
  return parseWithFileList(argv, OPTIONS, 'manifests', DEPLOY_USAGE);
}

function formatOption(values: Values): Format {
  const f = values.format;
  if (f === undefined) throw usageError('USAGE', 'deploy needs --format', `choose one of ${FORMATS.join(', ')}`);
  if (!(FORMATS as readonly string[]).includes(f)) throw usageError('USAGE', `--format ${JSON.stringify(f)} is not one of ${FORMATS.join(', ')}`, `usage: ${DEPLOY_USAGE}`);
  if (f !== 'k8s' && (values.name !== undefined || values.namespace !== undefined)) throw usageError('USAGE', '--name and --namespace apply to --format k8s only', `usage: ${DEPLOY_USAGE}`);
  if (f === 'k8s' && values.name === undefined) throw usageError('USAGE', '--format k8s needs --name, the Secret\'s name', `usage: ${DEPLOY_USAGE}`);
  return f as Format;
}

/** The identities in the environment variable named by --identity-env: never from argv, never quoted. */
function identitiesFrom(io: Io, name: string | undefined): X25519Identity[] {
  if (name === undefined) throw usageError('USAGE', 'deploy needs --identity-env NAME, the environment variable that holds the deployment\'s age identity', `usage: ${DEPLOY_USAGE}`);
  if (!ENV_NAME.test(name)) throw usageError('USAGE', '--identity-env takes the name of an environment variable (letters, digits, _)', 'pass the variable\'s name, not its value');
  const text = io.env[name];
  if (text === undefined || text.trim() === '') {
    throw usageError('DEPLOY_IDENTITY_MISSING', `the environment variable ${name} is ${text === undefined ? 'not set' : 'empty'}`, `set ${name} to the deployment's age identity (the AGE-SECRET-KEY-1… line, or its whole identity file)`);
  }
  return parseIdentities(text);
}

/** `keyceremony deploy`: exit 0 when written, 1 when refused (chain, binding, state, output), 2 on usage or unreadable input. */
export async function deployCommand(argv: readonly string[], io: Io, warnings: Warnings): Promise<number> {
  const { values, paths } = readArgs(argv);
  const format = formatOption(values);
  const at = atOption(values.at);
  const rootDigest = rootDigestOption(values['root-digest']);
  for (const k of ['secrets', 'out'] as const) if (values[k] === undefined) throw usageError('USAGE', `deploy needs --${k}`, `usage: ${DEPLOY_USAGE}`);
  if (values.custodians === undefined || values.custodians.length === 0) {
    throw usageError('USAGE', 'no custodian set was given', 'pass the chain from the trusted root: --custodians custodians.v1.json [--custodians custodians.v2.json …]');
  }
  if (paths.length === 0) throw usageError('USAGE', 'no rotation manifest was given', 'pass every manifest of the chain, in any order: --manifests FILE [FILE ...]');
  const identities = identitiesFrom(io, values['identity-env']);
  try {
    const chainFiles = values.custodians.map((f) => readDocument(f, 'the custodian set'));
    const manifestFiles = paths.map((f) => readDocument(f, 'the rotation manifest'));
    const secrets = Folder.open(values.secrets as string);
    const r = await deploy({ chainFiles, manifestFiles, at, rootDigest, secrets, identities, format, out: resolve(values.out as string), force: values.force === true,
      k8s: format === 'k8s' ? { name: values.name as string, namespace: values.namespace } : undefined, keys: values.key, require: values.require });
    if (values.json === true) writeJson(io, r);
    else {
      for (const w of r.warnings) warnings.warn(w);
      writeLines(io.stdout, describe(r));
    }
    return 0;
  } finally {
    for (const id of identities) id.dispose();
  }
}

function describe(r: DeployReport): string[] {
  const what = { env: 'an env file', files: 'a folder of files', k8s: 'a Kubernetes Secret manifest' }[r.format];
  const lines = [`deployed ${Object.keys(r.keys).length} secret name(s) as ${what}: ${r.out} (mode 0600; values are lowercase hex)`, `  chain 1..${r.sequence}, tip ${r.tip}, at ${r.at}`];
  const width = Math.max(0, ...Object.keys(r.keys).map((n) => n.length));
  for (const [name, k] of Object.entries(r.keys)) lines.push(`  ${name.padEnd(width)}  current ${k.current ?? '(none)'}  next ${k.next ?? '(none)'}`);
  for (const s of r.skipped) lines.push(`  skipped ${s.name} (${s.algorithms.join('/')}, kept in the HSM)`);
  return lines;
}
