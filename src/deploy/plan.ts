/**
 * What a deployment surfaces, decided from the key state at T (FORMATS.md §8, `keyState`) and the
 * signed entries of the same verified chain, before any sealed file is opened:
 *
 * - for each key name, its current version as NAME (absent when there is none) and the one
 *   accepted version that is not current as NAME_NEXT (absent when there is none), each with its
 *   id beside it (NAME_ID, NAME_NEXT_ID); two accepted non-current versions are refused
 *   (DEPLOY_TWO_NEXT): the application could not tell which one is next;
 * - pending, retired, revoked and compromised versions are never surfaced, so their files are
 *   never read;
 * - only secrets the application holds are surfaced: the algorithms that carry a `binding`
 *   (HMAC-SHA256, JWT-HS256, TOKEN). Keys that live in the HSM (AES-256-GCM master and backup
 *   keys, Ed25519, RSA, JWT-EdDSA) are skipped with a warning, not refused;
 * - every surfaced version must have a signed `binding` (DEPLOY_BINDING_MISSING): without it
 *   nothing says that a sealed file holds the secret the custodians approved;
 * - T is never earlier than the `issued` of any manifest of the chain (DEPLOY_AT_BEFORE_TIP), and a
 *   version that any manifest compromises is never surfaced, whatever that entry's notBefore
 *   (DEPLOY_VERSION_WITHDRAWN): see `checkNotStale`.
 *
 * Pure: no file is read here.
 */
import { KeyceremonyError } from '../errors.js';
import { BINDING_ALGORITHMS } from '../manifest/manifest.js';
import type { Algorithm, Manifest } from '../manifest/manifest.js';
import type { KeyStateResult, NameState } from '../state/state.js';

/** One version to surface: its id, its key name and the binding the chain signed for it. */
export interface Version {
  readonly id: string;
  readonly name: string;
  readonly algorithm: Algorithm;
  readonly binding: string;
}

export interface NamePlan {
  readonly name: string;
  readonly current: Version | null;
  readonly next: Version | null;
}

export interface Skipped {
  readonly name: string;
  readonly algorithms: readonly Algorithm[];
}

export interface Plan {
  /** Secret names, in the state's order (code-unit order). */
  readonly names: readonly NamePlan[];
  readonly skipped: readonly Skipped[];
  /** Every variable that may be written for the names, for the collision check and the report. */
  readonly variables: readonly string[];
}

export interface PlanOptions {
  /** Only these key names (`--key`); all the chain's secret names when absent. */
  readonly keys?: readonly string[] | undefined;
  /** Ids that must be surfaced (`--require`), else DEPLOY_NOT_SURFACED. */
  readonly require?: readonly string[] | undefined;
}

/** What the signed entries of one id say, across the whole chain. */
interface IdFacts {
  readonly name: string;
  readonly algorithms: Set<Algorithm>;
  readonly bindings: Set<string>;
}

const isSecret = (a: Algorithm): boolean => BINDING_ALGORITHMS.includes(a);

export const variablesOf = (name: string): readonly string[] => [name, `${name}_ID`, `${name}_NEXT`, `${name}_NEXT_ID`];

function factsOf(manifests: readonly Manifest[]): Map<string, IdFacts> {
  const facts = new Map<string, IdFacts>();
  for (const m of manifests) {
    for (const k of m.keys) {
      let f = facts.get(k.id);
      if (f === undefined) facts.set(k.id, (f = { name: k.name, algorithms: new Set(), bindings: new Set() }));
      f.algorithms.add(k.algorithm);
      if (k.binding !== null) f.bindings.add(k.binding);
    }
  }
  return facts;
}

function refuse(code: string, message: string, fix: string): KeyceremonyError {
  return new KeyceremonyError(code, message, fix);
}

/** The version `id` as the entries describe it; a conflict between entries or a missing binding is refused. */
function versionOf(id: string, facts: Map<string, IdFacts>): Version {
  const f = facts.get(id);
  if (f === undefined) throw new Error(`the state names ${id}, which no entry of the chain names`); // a bug: the state comes from these entries
  const algorithms = [...f.algorithms];
  if (algorithms.length !== 1) {
    throw refuse('DEPLOY_ENTRY_CONFLICT', `the entries of ${id} give it ${algorithms.length} algorithms (${algorithms.join(', ')})`, 'the chain must describe a version one way; have the custodians correct it in a new manifest');
  }
  const bindings = [...f.bindings];
  if (bindings.length > 1) {
    throw refuse('DEPLOY_BINDING_CONFLICT', `the entries of ${id} sign ${bindings.length} different bindings`, 'the chain must bind a version to one secret; have the custodians mark it compromised and make a new version');
  }
  const binding = bindings[0];
  if (binding === undefined) {
    throw refuse('DEPLOY_BINDING_MISSING', `${id} (${f.name}) is surfaced but no entry of the chain gives its binding`,
      'a delivered secret is authenticated only by its signed binding: make its versions in the ceremony, whose manifests carry the binding (FORMATS.md §4)');
  }
  return Object.freeze({ id, name: f.name, algorithm: algorithms[0] as Algorithm, binding });
}

/** The ids a name surfaces: its current version and its accepted versions that are not current. */
function surfacedIds(name: string, s: NameState): { current: string | null; next: string | null } {
  const next = s.accept.filter((id) => id !== s.current);
  if (next.length > 1) {
    throw refuse('DEPLOY_TWO_NEXT', `${name} has ${next.length} accepted versions that are not current (${next.join(', ')}): only one can be ${name}_NEXT`,
      'cut over to one of them, or mark the other compromised, in a new manifest before deploying');
  }
  return { current: s.current, next: next[0] ?? null };
}

/** The state a version is in at T, for DEPLOY_NOT_SURFACED's message. */
function stateOf(id: string, keys: Readonly<Record<string, NameState>>): string {
  for (const [name, s] of Object.entries(keys)) {
    if (s.accept.includes(id)) return `${s.current === id ? 'current' : 'accepted'}, but ${name} is not among the keys deployed (--key)`;
    for (const what of ['pending', 'retired', 'revoked', 'compromised'] as const) if (s[what].includes(id)) return `${what} (a version of ${name})${s.scheduled.includes(id) ? ', with a later step scheduled' : ''}`;
    if (s.scheduled.includes(id)) return `not yet in effect (scheduled, a version of ${name})`;
  }
  return 'not named by the chain';
}

function selectedNames(keys: Readonly<Record<string, NameState>>, wanted: readonly string[] | undefined): string[] {
  const all = Object.keys(keys);
  if (wanted === undefined || wanted.length === 0) return all;
  const unknown = wanted.filter((n) => !Object.hasOwn(keys, n));
  if (unknown.length > 0) throw refuse('DEPLOY_KEY_UNKNOWN', `the chain names no key ${unknown.map((n) => JSON.stringify(n)).join(', ')}`, `choose among: ${all.join(', ')}`);
  return all.filter((n) => wanted.includes(n));
}

/** The names' variables; the same variable from two names (A_ID, and A's id) is refused. */
function variables(names: readonly string[]): string[] {
  const owner = new Map<string, string>();
  for (const name of names) {
    for (const v of variablesOf(name)) {
      const other = owner.get(v);
      if (other !== undefined) {
        throw refuse('DEPLOY_NAME_COLLISION', `${v} would be written for both ${other} and ${name}`, 'deploy the two keys separately (--key NAME), or rename one of them in a new ceremony');
      }
      owner.set(v, name);
    }
  }
  return [...owner.keys()];
}

/**
 * Deploy acts on the state at T, and the state at T is right per §8 for T; but a state before the
 * chain's last word is one the custodians have since overtaken: at a T before the tip was issued,
 * a version the tip compromises, revokes or retires is still current there, and deploying it puts
 * back into service a secret the chain already withdrew (review finding: `--at` before a
 * compromise delivered the compromised secret).
 *
 * Of the two ways to refuse that, deploy refuses a T earlier than the `issued` of any manifest of
 * the chain (the tip's, or a later one should `issued` not grow with the sequence), rather than
 * refusing only the versions some manifest revokes or compromises:
 * - a pipeline that deploys "now" runs after the tip was issued, so it is never refused; and the
 *   state at now keeps every entry the chain schedules for later (a cutover and the revoke of the
 *   old version signed together, effective next week) as scheduled. Refusing every version that
 *   any manifest revokes, whatever its notBefore, would refuse the current version today because
 *   its revoke is planned for next week, breaking the ordinary rotation;
 * - a pipeline that redeploys a past state gets a state the chain no longer stands behind, and the
 *   danger is wider than revoke and compromise: a version retired since T would go back to
 *   signing, which no revoke or compromise entry names. Only the tip's view is safe to deploy, so
 *   such a pipeline is refused with a code and redeploys the current state instead (a deliberate
 *   rollback is a new manifest, signed by the custodians).
 * Deploy cannot tell a chain cut short from a whole one (only manifests 1..k given): the pipeline
 * must bring every manifest, as for `state`.
 *
 * Compromise is different from revoke: it says the secret is known to others, a fact from the
 * moment it is signed, and a notBefore after T does not make the secret safe until then. So a
 * version that any manifest compromises is refused too, at any T (DEPLOY_VERSION_WITHDRAWN).
 */
function checkNotStale(at: string, manifests: readonly Manifest[]): void {
  const t = Date.parse(at);
  const last = manifests.reduce<Manifest | undefined>((a, m) => (a === undefined || m.issued > a.issued ? m : a), undefined);
  if (last !== undefined && t < last.issued) {
    throw refuse('DEPLOY_AT_BEFORE_TIP', `--at ${at} is before manifest ${last.sequence} of the chain was issued (${new Date(last.issued).toISOString().replace('.000Z', 'Z')}): the state then is one the chain has since overtaken, and may surface versions it has retired, revoked or compromised; nothing was written`,
      'deploy the chain\'s current state (leave out --at, or give a time after the last manifest was issued)');
  }
}

/** The ids any manifest of the chain marks compromised, whatever the entry's notBefore. */
function compromisedIds(manifests: readonly Manifest[]): Set<string> {
  return new Set(manifests.flatMap((m) => m.keys.filter((k) => k.phase === 'compromise').map((k) => k.id)));
}

/** The deployment plan at T; `state` must be valid (the caller refuses an invalid chain first). */
export function planDeployment(state: KeyStateResult, manifests: readonly Manifest[], o: PlanOptions = {}): Plan {
  if (!state.valid) throw new Error('planDeployment needs a valid key state');
  checkNotStale(state.at, manifests);
  const compromised = compromisedIds(manifests);
  const facts = factsOf(manifests);
  const names: NamePlan[] = [];
  const skipped: Skipped[] = [];
  for (const name of selectedNames(state.keys, o.keys)) {
    const s = state.keys[name] as NameState;
    const ids = surfacedIds(name, s);
    const surfaced = [ids.current, ids.next].filter((id): id is string => id !== null);
    const algorithms = [...new Set((surfaced.length > 0 ? surfaced : [...facts.entries()].filter(([, f]) => f.name === name).map(([id]) => id))
      .flatMap((id) => [...(facts.get(id)?.algorithms ?? [])]))];
    if (algorithms.every((a) => !isSecret(a))) {
      if (o.keys?.includes(name) === true) throw refuse('DEPLOY_KEY_NOT_SECRET', `${name} (${algorithms.join('/')}) lives in the HSM and is not delivered`, 'leave it out of --key');
      skipped.push({ name, algorithms });
      continue;
    }
    if (!algorithms.every(isSecret)) {
      throw refuse('DEPLOY_ALGORITHM_MIXED', `${name} surfaces versions delivered to the application and versions kept in the HSM (${algorithms.join(', ')})`, 'a key name is either a delivered secret or an HSM key; deploy after the chain moves it wholly to one');
    }
    for (const id of surfaced) {
      if (compromised.has(id)) {
        throw refuse('DEPLOY_VERSION_WITHDRAWN', `${id} (${name}) would be surfaced at ${state.at}, but a manifest of the chain marks it compromised; nothing was written`,
          'a compromised secret is never delivered: have the custodians cut over to a new version in a new manifest, and deploy that');
      }
    }
    const version = (id: string | null) => (id === null ? null : versionOf(id, facts));
    names.push(Object.freeze({ name, current: version(ids.current), next: version(ids.next) }));
  }
  for (const id of o.require ?? []) {
    const where = names.find((n) => n.current?.id === id || n.next?.id === id);
    if (where === undefined) {
      const skip = skipped.find((k) => facts.get(id)?.name === k.name);
      throw refuse('DEPLOY_NOT_SURFACED', `${id} is required but is not surfaced at ${state.at}: it is ${skip !== undefined ? `an HSM key (${skip.name})` : stateOf(id, state.keys)}`,
        'deploy at a time when the chain makes it current or accepted (--at), or bring the manifests that do');
    }
  }
  return Object.freeze({ names, skipped, variables: variables(names.map((n) => n.name)) });
}
