/**
 * The deployment side of the key state (issue 17 §3): from the verified chain of rotation
 * manifests, the state at T, the sealed secret files and the deployment's age identity, write what
 * the application reads (render.ts) and report what was surfaced, by id.
 *
 * In order, so that a refusal leaves nothing written:
 * 1. the chain is verified and the state computed by the one §8 implementation (`keyState`); an
 *    invalid chain is refused (DEPLOY_CHAIN_INVALID) with every reason;
 * 2. the plan: which versions are surfaced (plan.ts), and the output checked (output.ts);
 * 3. each surfaced version's file `<id>.age` is read from the secrets folder (bounded, never
 *    through a link, never a FIFO or device: src/files.ts) and opened with the identity (src/age);
 *    files of versions not surfaced are never opened;
 * 4. the binding is recomputed over the opened bytes and compared with the signed one: age says
 *    only that the file was sealed to this recipient, by anyone who knows the recipient; the
 *    binding says the bytes are the secret the custodians approved (DEPLOY_BINDING_MISMATCH);
 * 5. only then is the output written, atomically, mode 0600.
 * Plaintexts and their encodings are zeroed once written, or on any refusal.
 */
import { decrypt } from '../age/age.js';
import type { X25519Identity } from '../age/age.js';
import { zero } from '../bytes.js';
import { DocumentError } from '../docs/problems.js';
import { parseEnvelope } from '../dsse/envelope.js';
import { KeyceremonyError, usageError } from '../errors.js';
import type { Folder } from '../files.js';
import { bindingMatches, parseManifest } from '../manifest/manifest.js';
import type { Manifest } from '../manifest/manifest.js';
import { keyState } from '../state/state.js';
import type { KeyStateResult } from '../state/state.js';
import { checkDestination, writeFile, writeFolder } from './output.js';
import { planDeployment, variablesOf } from './plan.js';
import type { Plan, Version } from './plan.js';
import { ENCODING, entriesOf, k8sNameProblem, renderEnv, renderK8s, zeroEntries } from './render.js';
import type { Entry, Format, K8sMeta, Origin } from './render.js';

/** A sealed secret file larger than this is refused unread: secrets are 32 bytes by default, tokens a few hundred. */
export const MAX_SEALED_SECRET_BYTES = 64 * 1024;

export interface DeployRequest {
  readonly chainFiles: readonly Uint8Array[];
  readonly manifestFiles: readonly Uint8Array[];
  /** T, ms since the epoch. */
  readonly at: number;
  readonly rootDigest?: string | undefined;
  /** The folder of sealed files, `<id>.age`. */
  readonly secrets: Folder;
  readonly identities: readonly X25519Identity[];
  readonly format: Format;
  readonly out: string;
  readonly force: boolean;
  /** For the k8s format. */
  readonly k8s?: K8sMeta | undefined;
  readonly keys?: readonly string[] | undefined;
  readonly require?: readonly string[] | undefined;
}

/** What `--json` reports: ids and variable names, never a value. */
export interface DeployReport {
  readonly format: Format;
  readonly out: string;
  readonly encoding: typeof ENCODING;
  readonly at: string;
  readonly sequence: number;
  readonly tip: string;
  /** Per secret name, the id surfaced as NAME and as NAME_NEXT (null when none). */
  readonly keys: Readonly<Record<string, { readonly current: string | null; readonly next: string | null }>>;
  /** The variables written, in the order written. */
  readonly variables: readonly string[];
  /** Names of keys kept in the HSM, not delivered. */
  readonly skipped: readonly { readonly name: string; readonly algorithms: readonly string[] }[];
  readonly warnings: readonly string[];
}

const MAX_REASONS_SHOWN = 12;

function verifiedState(r: DeployRequest): { state: KeyStateResult; manifests: Manifest[] } {
  const state = keyState(r.chainFiles, r.manifestFiles, { at: r.at, rootDigest: r.rootDigest });
  if (!state.valid) {
    const more = state.reasons.length > MAX_REASONS_SHOWN ? ` (and ${state.reasons.length - MAX_REASONS_SHOWN} more)` : '';
    throw new KeyceremonyError('DEPLOY_CHAIN_INVALID', `the manifest chain does not verify, so nothing is deployed: ${state.reasons.slice(0, MAX_REASONS_SHOWN).join('; ')}${more}`,
      'run keyceremony state with the same files for every reason, and bring the custodian sets and every manifest of the chain');
  }
  // the state is valid, so every file is a rotation manifest that parses (an invalid one is a reason)
  const manifests = r.manifestFiles.map((b) => {
    try {
      return parseManifest(parseEnvelope(b).payload);
    } catch (err) {
      if (err instanceof DocumentError) throw new Error(`a manifest the state accepted does not parse: ${err.message}`);
      throw err;
    }
  });
  return { state, manifests };
}

/** The plaintext of `<id>.age`, checked against the version's signed binding; the caller zeroes it. */
export function openSealed(secrets: Folder, v: Version, identities: readonly X25519Identity[]): Uint8Array {
  const file = `${v.id}.age`;
  if (secrets.kind(file) === 'absent') {
    throw new KeyceremonyError('DEPLOY_SECRET_MISSING', `the sealed secret ${file} for ${v.name} is not in the secrets folder`, `copy ${file} from the ceremony's media into the secrets folder`, { exit: 2 });
  }
  const sealed = secrets.read(file, 'the sealed secret', MAX_SEALED_SECRET_BYTES);
  let plaintext: Uint8Array;
  try {
    plaintext = decrypt(sealed, identities, { maxBytes: MAX_SEALED_SECRET_BYTES });
  } catch (err) {
    if (err instanceof KeyceremonyError) throw new KeyceremonyError(err.code, `${file}: ${err.message}`, err.fix, { exit: err.exit, cause: err });
    throw err;
  }
  if (plaintext.length === 0 || !bindingMatches(plaintext, v.id, v.binding)) {
    zero(plaintext);
    throw new KeyceremonyError('DEPLOY_BINDING_MISMATCH', `${file} opens, but its bytes are not the secret the custodians approved as ${v.id} (its binding differs from the signed one)`,
      'the file was sealed to this deployment by someone other than the ceremony, or for another version: use the file from the ceremony\'s media, and report this one');
  }
  return plaintext;
}

function openAll(plan: Plan, r: DeployRequest): Map<string, Uint8Array> {
  const opened = new Map<string, Uint8Array>();
  try {
    for (const n of plan.names) for (const v of [n.current, n.next]) if (v !== null) opened.set(v.id, openSealed(r.secrets, v, r.identities));
  } catch (err) {
    for (const p of opened.values()) zero(p);
    throw err;
  }
  return opened;
}

function report(r: DeployRequest, state: KeyStateResult, plan: Plan, variables: readonly string[]): DeployReport {
  return {
    format: r.format, out: r.out, encoding: ENCODING, at: state.at, sequence: state.sequence as number, tip: state.tip as string,
    keys: Object.fromEntries(plan.names.map((n) => [n.name, { current: n.current?.id ?? null, next: n.next?.id ?? null }])),
    variables,
    skipped: plan.skipped,
    warnings: [...state.warnings, ...plan.skipped.map((s) => `DEPLOY_KEY_SKIPPED: ${s.name} is kept in the HSM (${s.algorithms.join('/')}) and not delivered to the application: skipped`)],
  };
}

/** The k8s format's Secret name and namespace, refused (exit 2) before anything is read. */
function checkK8s(r: DeployRequest): void {
  if (r.format !== 'k8s') return;
  if (r.k8s === undefined) throw usageError('USAGE', 'the k8s format needs the Secret\'s name', 'pass --name NAME');
  for (const [v, kind] of [[r.k8s.name, 'name'], [r.k8s.namespace, 'namespace']] as const) {
    const why = v === undefined ? null : k8sNameProblem(v, kind);
    if (why !== null) throw usageError('DEPLOY_K8S_NAME_INVALID', `the Secret's ${kind} ${JSON.stringify(v)} ${why}`, `give a ${kind === 'name' ? 'DNS subdomain' : 'DNS label'} such as app-secrets`);
  }
}

/** The whole deployment: refused with a code and nothing written, or written and reported. */
export async function deploy(r: DeployRequest): Promise<DeployReport> {
  checkK8s(r);
  const { state, manifests } = verifiedState(r);
  const plan = planDeployment(state, manifests, { keys: r.keys, require: r.require });
  // a folder of files deploy wrote holds the variables of the chain's key names, whichever --key chose then
  const written = Object.keys(state.keys).flatMap(variablesOf);
  const destination = checkDestination(r.out, r.format, r.force, written);
  const opened = openAll(plan, r);
  let entries: Entry[];
  try {
    entries = entriesOf(plan, opened);
  } finally {
    for (const p of opened.values()) zero(p);
  }
  let bytes: Uint8Array | undefined;
  try {
    const origin: Origin = { at: state.at, sequence: state.sequence as number, tip: state.tip as string };
    if (r.format === 'files') await writeFolder(destination, entries, r.force, written);
    else {
      bytes = r.format === 'env' ? renderEnv(entries, origin) : renderK8s(entries, r.k8s as K8sMeta, origin);
      writeFile(destination, bytes, r.force);
    }
  } finally {
    zero(bytes);
    zeroEntries(entries);
  }
  return report(r, state, plan, entries.map((e) => e.variable));
}
