/**
 * The key half of FORMATS.md §8: the key entries of a manifest chain applied in effect order
 * (`notBefore`, `sequence`, position in `keys`), each checked against the precondition of its
 * phase. A version's state only moves forward, pending → accepted → current → retired → revoked,
 * except that `compromise` applies from any state:
 *
 * | phase        | effect                                 | precondition, else invalid                          |
 * | prepare      | id pending                             | id not seen before                                  |
 * | dual-publish | id accepted                            | id pending                                          |
 * | cutover      | id current; old retired                | id accepted; old current, or null when the name has no current version |
 * | revoke       | old revoked                            | id current; old retired (old null is invalid)      |
 * | compromise   | id compromised (from any state)        | none                                                |
 *
 * Pure: no clock, no input but the manifests and T.
 */
import { problem } from '../docs/problems.js';
import type { Problem } from '../docs/problems.js';
import type { Manifest, ManifestKey } from '../manifest/manifest.js';
import { seqPath } from './history.js';

export type VersionState = 'pending' | 'accepted' | 'current' | 'retired' | 'revoked' | 'compromised';

/** One key name's state at T (CLI.md `state --json`): every list in version order. */
export interface NameState {
  readonly current: string | null;
  readonly accept: readonly string[];
  readonly pending: readonly string[];
  readonly retired: readonly string[];
  readonly revoked: readonly string[];
  readonly compromised: readonly string[];
  readonly scheduled: readonly string[];
}

export interface Applied {
  /** Key name → its state at T, names in code-unit order. */
  readonly keys: Readonly<Record<string, NameState>>;
  /** Precondition violations, each at `manifests[seq k].keys[i]`. */
  readonly reasons: readonly Problem[];
}

interface Entry {
  readonly key: ManifestKey;
  readonly sequence: number;
  readonly index: number;
}

/**
 * "Version order (numeric: v9 before v10)": by the number after the last `-v`, then by the id, for
 * ids of one name with different prefixes. KEY_ID writes versions without leading zeros and of any
 * length, so they compare exactly as digit strings, shorter first (no rounding beyond 2^53).
 */
export function versionOrder(a: string, b: string): number {
  const va = a.slice(a.lastIndexOf('-v') + 2);
  const vb = b.slice(b.lastIndexOf('-v') + 2);
  if (va.length !== vb.length) return va.length - vb.length;
  if (va !== vb) return va < vb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Effect order (§8): `notBefore`, then `sequence`, then position in `keys`. */
function effectOrder(manifests: readonly Manifest[]): Entry[] {
  const entries = manifests.flatMap((m) => m.keys.map((key, index) => ({ key, sequence: m.sequence, index })));
  return entries.sort((a, b) => a.key.notBefore - b.key.notBefore || a.sequence - b.sequence || a.index - b.index);
}

/** What the chain has said so far: each version's state and each id's key name. */
class Ledger {
  readonly state = new Map<string, VersionState>();
  readonly nameOf = new Map<string, string>();
  /** Key name → ids of that name that have a state. */
  readonly ids = new Map<string, Set<string>>();
  /** Key name → its ids in state current (one at most in a valid chain; kept apart so the lookup does not grow with the history). */
  readonly current = new Map<string, Set<string>>();
  /** Id → the key names whose ids hold it (one in a valid chain): the names whose state a move changes. */
  readonly namesOf = new Map<string, Set<string>>();

  /** Moves `id` to `to`; a compromised version stays compromised ("never accepted again"), even under an invalid entry. */
  move(id: string, name: string, to: VersionState): void {
    const from = this.state.get(id);
    if (to !== 'compromised' && from === 'compromised') return;
    this.state.set(id, to);
    setOf(this.ids, name).add(id);
    setOf(this.namesOf, id).add(name);
    if (from === 'current' && to !== 'current') for (const ids of this.current.values()) ids.delete(id);
    if (to === 'current') setOf(this.current, name).add(id);
  }

  currentOf(name: string): string[] {
    return [...(this.current.get(name) ?? [])];
  }

  snapshot(): Ledger {
    const copy = new Ledger();
    for (const [k, v] of this.state) copy.state.set(k, v);
    for (const [k, v] of this.nameOf) copy.nameOf.set(k, v);
    for (const [k, v] of this.ids) copy.ids.set(k, new Set(v));
    for (const [k, v] of this.current) copy.current.set(k, new Set(v));
    for (const [k, v] of this.namesOf) copy.namesOf.set(k, new Set(v));
    return copy;
  }
}

function setOf(map: Map<string, Set<string>>, key: string): Set<string> {
  let s = map.get(key);
  if (s === undefined) map.set(key, (s = new Set()));
  return s;
}

const described = (s: VersionState | undefined): string => (s === undefined ? 'not seen before' : s);

/** "An id belongs to one key name across the chain": the entry's id, and its `supersedes`, which names a version of the same key. */
function checkName(l: Ledger, e: Entry, path: string, reasons: Problem[]): void {
  const { key } = e;
  for (const [id, member] of [[key.id, 'id'], [key.supersedes, 'supersedes']] as const) {
    if (id === null) continue;
    const owner = l.nameOf.get(id);
    if (owner === undefined) l.nameOf.set(id, key.name);
    else if (owner !== key.name) reasons.push(problem('STATE_ID_NAME_CONFLICT', `${path}.${member}`, `${id} is a version of ${owner}, not of ${key.name}: an id belongs to one key name`));
  }
}

/** The precondition of the entry's phase (§8 table); one problem per broken condition, each with its own code. */
function checkPrecondition(l: Ledger, e: Entry, path: string, reasons: Problem[]): void {
  const { id, supersedes: old, name, phase } = e.key;
  const s = l.state.get(id);
  const add = (code: string, member: string, message: string) => reasons.push(problem(code, `${path}.${member}`, message));
  if (phase === 'prepare' && s !== undefined) add('STATE_PREPARE_SEEN', 'id', `prepare of ${id}, which is ${s} already: a version is prepared once`);
  if (phase === 'dual-publish' && s !== 'pending') add('STATE_DUAL_PUBLISH_NOT_PENDING', 'id', `dual-publish of ${id}, which is ${described(s)}, not pending`);
  if (phase === 'cutover') {
    if (s !== 'accepted') add('STATE_CUTOVER_NOT_ACCEPTED', 'id', `cutover of ${id}, which is ${described(s)}, not accepted (dual-published)`);
    const current = l.currentOf(name).filter((c) => c !== id);
    if (old !== null && l.state.get(old) !== 'current') add('STATE_CUTOVER_OLD_NOT_CURRENT', 'supersedes', `cutover of ${id} retires ${old}, which is ${described(l.state.get(old))}, not current`);
    if (old === null && current.length > 0) add('STATE_CUTOVER_SECOND_CURRENT', 'supersedes', `cutover of ${id} supersedes nothing while ${current.join(', ')} is current: a key name has at most one current version`);
  }
  if (phase === 'revoke') {
    if (s !== 'current') add('STATE_REVOKE_NOT_CURRENT', 'id', `revoke names ${id}, which is ${described(s)}, not current`);
    if (old === null) add('STATE_REVOKE_WITHOUT_OLD', 'supersedes', 'a revoke must name the retired version it revokes (supersedes is null)');
    else if (l.state.get(old) !== 'retired') add('STATE_REVOKE_OLD_NOT_RETIRED', 'supersedes', `revoke of ${old}, which is ${described(l.state.get(old))}, not retired`);
  }
}

/** The effect of the entry (§8 table), applied whether or not its precondition held, so one wrong step is reported once, not again at every later step. */
function apply(l: Ledger, e: Entry): void {
  const { id, supersedes: old, name, phase } = e.key;
  if (phase === 'prepare') l.move(id, name, 'pending');
  else if (phase === 'dual-publish') l.move(id, name, 'accepted');
  else if (phase === 'cutover') {
    if (old !== null && l.state.get(old) === 'current') l.move(old, name, 'retired');
    l.move(id, name, 'current');
  } else if (phase === 'revoke') {
    if (old !== null && l.state.has(old)) l.move(old, name, 'revoked');
  } else {
    l.move(id, name, 'compromised');
  }
}

function nameState(l: Ledger, name: string, scheduled: ReadonlySet<string> | undefined): NameState {
  const ids = [...(l.ids.get(name) ?? [])].sort(versionOrder);
  const inState = (s: VersionState) => ids.filter((id) => l.state.get(id) === s);
  const current = inState('current');
  return Object.freeze({
    // more than one only in a chain that is invalid (STATE_CUTOVER_SECOND_CURRENT), whose keys are never shown
    current: current.length === 1 ? (current[0] as string) : null,
    accept: ids.filter((id) => l.state.get(id) === 'current' || l.state.get(id) === 'accepted'),
    pending: inState('pending'),
    retired: inState('retired'),
    revoked: inState('revoked'),
    compromised: inState('compromised'),
    scheduled: [...(scheduled ?? [])].sort(versionOrder),
  });
}

/**
 * Every entry of the chain applied in effect order. Preconditions are checked for every entry,
 * those scheduled after T included ("a signed history with an impossible step is invalid whatever
 * T is"); the state reported is the one after the entries with `notBefore` ≤ T, which are a prefix
 * of the effect order. `scheduled` lists, per name, the id of each entry after T, once per id.
 */
export function applyEntries(manifests: readonly Manifest[], at: number): Applied {
  const ledger = new Ledger();
  const reasons: Problem[] = [];
  const names = new Set<string>();
  const scheduled = new Map<string, Set<string>>();
  let atT: Ledger | undefined;
  for (const e of effectOrder(manifests)) {
    const path = `${seqPath(e.sequence)}.keys[${e.index}]`;
    names.add(e.key.name);
    if (e.key.notBefore > at) {
      atT ??= ledger.snapshot();
      setOf(scheduled, e.key.name).add(e.key.id);
    }
    checkName(ledger, e, path, reasons);
    checkPrecondition(ledger, e, path, reasons);
    apply(ledger, e);
  }
  const final = atT ?? ledger;
  const keys = Object.fromEntries([...names].sort().map((n) => [n, nameState(final, n, scheduled.get(n))]));
  return { keys: Object.freeze(keys), reasons };
}

/** The names of a chain's entries, in code-unit order (applyEntries lists them all, at any T), and the states that change. */
export interface StateChanges {
  readonly names: readonly string[];
  /**
   * For each time asked (ascending), the names whose state there may differ from the time before,
   * each with its state, which is applyEntries(manifests, t).keys[name]: every name at the first
   * time, then the names an entry applied since the time before touched. A name not listed has the
   * same state (the same frozen object) as at the time before.
   */
  readonly changes: readonly ReadonlyMap<string, NameState>[];
}

/**
 * applyEntries at each of `times` (ascending), from one pass over the entries in effect order: the
 * entries are applied once, and at each time asked only the names that an entry applied since the
 * time before touched get a new state. So the cost is the sort, the entries once, and the states
 * that change, not the times asked times the entries. Identical to applyEntries at each time: the
 * same `apply`, the same lists in the same order, `scheduled` the ids of the entries after t.
 */
export function stateChanges(manifests: readonly Manifest[], times: readonly number[]): StateChanges {
  for (let i = 1; i < times.length; i++) if ((times[i] as number) < (times[i - 1] as number)) throw new RangeError('stateChanges needs its times in ascending order');
  const entries = effectOrder(manifests);
  const names = [...new Set(entries.map((e) => e.key.name))].sort();
  // per name, every id it may ever list (an entry's id or supersedes, the only ids `apply` moves under that name), in version order once
  const universe = new Map<string, string[]>();
  // per name, per id, the entries not yet in effect: the id is scheduled while any is left
  const left = new Map<string, Map<string, number>>();
  for (const { key } of entries) {
    const ids = universe.get(key.name) ?? [];
    ids.push(key.id);
    if (key.supersedes !== null) ids.push(key.supersedes);
    universe.set(key.name, ids);
    let counts = left.get(key.name);
    if (counts === undefined) left.set(key.name, (counts = new Map()));
    counts.set(key.id, (counts.get(key.id) ?? 0) + 1);
  }
  for (const [name, ids] of universe) universe.set(name, [...new Set(ids)].sort(versionOrder));
  const ledger = new Ledger();
  const stateOf = (name: string): NameState => {
    const counts = left.get(name) as Map<string, number>;
    const own = ledger.ids.get(name);
    const lists: Record<VersionState, string[]> = { current: [], accepted: [], pending: [], retired: [], revoked: [], compromised: [] };
    const accept: string[] = [];
    const scheduled: string[] = [];
    for (const id of universe.get(name) as string[]) {
      if ((counts.get(id) ?? 0) > 0) scheduled.push(id);
      if (own?.has(id) !== true) continue;
      const s = ledger.state.get(id) as VersionState;
      lists[s].push(id);
      if (s === 'current' || s === 'accepted') accept.push(id);
    }
    return Object.freeze({ current: lists.current.length === 1 ? (lists.current[0] as string) : null, accept, pending: lists.pending, retired: lists.retired,
      revoked: lists.revoked, compromised: lists.compromised, scheduled });
  };
  const changes: ReadonlyMap<string, NameState>[] = [];
  let next = 0;
  let dirty = new Set<string>(names);
  for (const t of times) {
    for (; next < entries.length && (entries[next] as Entry).key.notBefore <= t; next++) {
      const e = entries[next] as Entry;
      apply(ledger, e);
      const counts = left.get(e.key.name) as Map<string, number>;
      counts.set(e.key.id, (counts.get(e.key.id) as number) - 1);
      dirty.add(e.key.name);
      // a move changes every name that lists the id (one in a valid chain; more only where an id is given to two names)
      for (const id of [e.key.id, e.key.supersedes]) if (id !== null) for (const n of ledger.namesOf.get(id) ?? []) dirty.add(n);
    }
    changes.push(new Map([...dirty].sort().map((n) => [n, stateOf(n)])));
    dirty = new Set();
  }
  return { names, changes };
}

/** applyEntries(manifests, t).keys for each t of `times`, in their order (any order), from stateChanges' one pass. */
export function statesAt(manifests: readonly Manifest[], times: readonly number[]): Readonly<Record<string, NameState>>[] {
  const order = times.map((t, i) => [t, i] as const).sort((a, b) => a[0] - b[0]);
  const { names, changes } = stateChanges(manifests, order.map(([t]) => t));
  const now = new Map<string, NameState>();
  const out = new Array<Readonly<Record<string, NameState>>>(times.length);
  order.forEach(([, i], k) => {
    for (const [n, s] of changes[k] as ReadonlyMap<string, NameState>) now.set(n, s);
    out[i] = Object.freeze(Object.fromEntries(names.map((n) => [n, now.get(n) as NameState])));
  });
  return out;
}
